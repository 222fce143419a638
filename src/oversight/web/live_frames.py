"""Encode each new camera frame once and share the JPEG between every viewer with the same view key.

A 16-camera wall watched by several operators would otherwise blur and encode the same frame
once per viewer; here the cost per extra viewer is only sending bytes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oversight.web import frames
from oversight.web.auth import Principal
from oversight.web.context import AppContext


@dataclass
class Encoded:
    ts: datetime | None
    jpeg: bytes


class LiveFrames:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._cache: dict[tuple[str, str], tuple[Any, Encoded]] = {}
        self._placeholders: dict[str, bytes] = {}

    def _cam_lock(self, camera_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(camera_id, threading.Lock())

    def latest(self, ctx: AppContext, camera_id: str, principal: Principal | None) -> Encoded | None:
        """The newest frame of a camera, redacted and JPEG-encoded; None when there is no picture."""
        worker = ctx.worker(camera_id)
        got = worker.latest_frame() if worker is not None else None
        if got is None:
            return None
        frame, ts = got
        key = (camera_id, frames.view_key(ctx, camera_id, principal))
        with self._cam_lock(camera_id):
            hit = self._cache.get(key)
            if hit is not None and hit[0] == ts:
                return hit[1]
            out = frames.outgoing_frame(
                ctx, camera_id, frame, ts, principal, frames.current_tracks(ctx, camera_id)
            )
            enc = Encoded(ts, frames.encode_jpeg(out))
            self._cache[key] = (ts, enc)
            return enc

    def placeholder(self, text: str) -> bytes:
        jpeg = self._placeholders.get(text)
        if jpeg is None:
            jpeg = frames.encode_jpeg(frames.placeholder_frame(text))
            self._placeholders[text] = jpeg
        return jpeg


def live_frames(ctx: AppContext) -> LiveFrames:
    found = ctx.extras.get("live_frames")
    if found is None:
        found = ctx.extras.setdefault("live_frames", LiveFrames())
    assert isinstance(found, LiveFrames)
    return found
