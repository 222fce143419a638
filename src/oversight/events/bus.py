"""In-process publish/subscribe. Camera threads publish; the web app, MQTT and the store subscribe.

Subscribers are plain callables (called on the publisher's thread, so keep them quick) or
queues obtained with ``subscribe_queue`` (thread-safe; an asyncio consumer polls or uses
``loop.call_soon_threadsafe`` through ``subscribe_async``).

Every bounded queue fed from the bus (its own queue subscriptions, and queues other parts register
with ``watch_queue``, such as the MQTT clients') is listed by ``queue_depths`` for the health check:
a queue that stays full means a consumer is falling behind and messages are being dropped.
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


@dataclass
class _Watched:
    name: str
    depth: Callable[[], int]
    capacity: int
    dropped: Callable[[], int]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: list[tuple[str, Handler]] = []
        self._watched: list[_Watched] = []
        self._drops: dict[str, int] = {}  # bus queue name -> messages dropped because it was full

    def watch_queue(
        self, name: str, depth: Callable[[], int], capacity: int, dropped: Callable[[], int] = lambda: 0
    ) -> Callable[[], None]:
        """List a bounded queue in ``queue_depths``; returns the call that removes it."""
        entry = _Watched(name, depth, capacity, dropped)
        with self._lock:
            self._watched.append(entry)

        def unwatch() -> None:
            with self._lock:
                if entry in self._watched:
                    self._watched.remove(entry)

        return unwatch

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """name -> {queues, depth (the fullest one's), capacity, dropped (all of them)}."""
        with self._lock:
            watched = list(self._watched)
        out: dict[str, dict[str, int]] = {}
        for w in watched:
            try:
                depth, dropped = int(w.depth()), int(w.dropped())
            except Exception:  # a queue going away while we look
                continue
            row = out.setdefault(w.name, {"queues": 0, "depth": 0, "capacity": w.capacity, "dropped": 0})
            row["queues"] += 1
            row["dropped"] += dropped
            if depth / max(1, w.capacity) >= row["depth"] / max(1, row["capacity"]):
                row["depth"], row["capacity"] = depth, w.capacity
        return out

    def _dropped(self, name: str) -> None:
        with self._lock:
            self._drops[name] = self._drops.get(name, 0) + 1

    def _watched_subscription(
        self, name: str, prefix: str, put: Handler, depth: Callable[[], int], capacity: int
    ) -> Callable[[], None]:
        unwatch = self.watch_queue(name, depth, capacity, lambda: self._drops.get(name, 0))
        unsubscribe = self.subscribe(prefix, put)

        def both() -> None:
            unsubscribe()
            unwatch()

        return both

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
        name = f"bus:{prefix or '*'}"

        def put(msg: Message) -> None:
            try:
                q.put_nowait(msg)
            except queue.Full:
                self._dropped(name)
                log.warning("bus queue full for prefix %r; dropping %s", prefix, msg.topic)

        return q, self._watched_subscription(name, prefix, put, q.qsize, maxsize)

    def subscribe_async(
        self, prefix: str, loop: asyncio.AbstractEventLoop, maxsize: int = 10000
    ) -> tuple[asyncio.Queue[Message], Callable[[], None]]:
        """An asyncio queue fed from any thread, for WebSocket handlers."""
        q: asyncio.Queue[Message] = asyncio.Queue(maxsize)
        name = f"web:{prefix or '*'}"

        def put(msg: Message) -> None:
            def _put() -> None:
                if q.full():
                    self._dropped(name)
                else:
                    q.put_nowait(msg)

            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(_put)

        return q, self._watched_subscription(name, prefix, put, q.qsize, maxsize)

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
