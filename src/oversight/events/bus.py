"""In-process publish/subscribe. Camera threads publish; the web app, MQTT and the store subscribe.

Subscribers are plain callables (called on the publisher's thread, so keep them quick) or
queues obtained with ``subscribe_queue`` (thread-safe; an asyncio consumer polls or uses
``loop.call_soon_threadsafe`` through ``subscribe_async``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    topic: str  # e.g. "event", "camera.status", "segment", "incident", "unit"
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Message], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: list[tuple[str, Handler]] = []

    def subscribe(self, prefix: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every message whose topic starts with ``prefix``; returns an unsubscribe."""
        entry = (prefix, handler)
        with self._lock:
            self._handlers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)

        return unsubscribe

    def subscribe_queue(
        self, prefix: str = "", maxsize: int = 10000
    ) -> tuple[queue.Queue[Message], Callable[[], None]]:
        q: queue.Queue[Message] = queue.Queue(maxsize)

        def put(msg: Message) -> None:
            try:
                q.put_nowait(msg)
            except queue.Full:
                log.warning("bus queue full for prefix %r; dropping %s", prefix, msg.topic)

        return q, self.subscribe(prefix, put)

    def subscribe_async(
        self, prefix: str, loop: asyncio.AbstractEventLoop, maxsize: int = 10000
    ) -> tuple[asyncio.Queue[Message], Callable[[], None]]:
        """An asyncio queue fed from any thread, for WebSocket handlers."""
        q: asyncio.Queue[Message] = asyncio.Queue(maxsize)

        def put(msg: Message) -> None:
            def _put() -> None:
                if not q.full():
                    q.put_nowait(msg)

            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(_put)

        return q, self.subscribe(prefix, put)

    def publish(self, topic: str, data: Mapping[str, Any] | None = None) -> None:
        """``topic`` is one of ``events.topics.TOPICS``, ``data`` its payload (copied: the message is
        the subscribers', not the publisher's)."""
        msg = Message(topic, dict(data) if data else {})
        with self._lock:
            handlers = [h for p, h in self._handlers if topic.startswith(p)]
        for h in handlers:
            try:
                h(msg)
            except Exception:  # one broken subscriber must not stop the camera thread
                log.exception("event bus subscriber failed on %s", topic)
