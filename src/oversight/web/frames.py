"""The ONE place pixels leave the server. Live MJPEG, snapshots, thumbnails and playback all call
``outgoing_frame``; segment downloads call ``outgoing_segment``.

Fail closed: when the privacy package (``oversight.privacy.redaction.Redactor``) is not
installed, every frame is blurred so heavily that nobody can be recognised. The privacy work
replaces or wraps these functions to add reveals (``principal`` is passed for that reason).
``view_key`` says which principals may share one encoded frame (all of them by default, since
everyone gets the same redacted picture); a reveal must return a distinct key.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oversight.config.schema import RedactionConfig
from oversight.web.auth import Principal
from oversight.web.context import AppContext, FrameRedactor

log = logging.getLogger(__name__)
JPEG_QUALITY = 75


class WholeFrameBlur:
    """Fallback redactor: blur everything (shapes and motion stay visible, people do not)."""

    def __init__(self, cfg: RedactionConfig | None = None):
        self.cfg = cfg

    def redact(self, frame_bgr: np.ndarray, tracks: Any = None) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def default_redactor_factory(cfg: RedactionConfig) -> FrameRedactor:
    try:
        from oversight.privacy.redaction import Redactor
    except ModuleNotFoundError as exc:
        if exc.name not in ("oversight.privacy.redaction", "oversight.privacy"):
            raise
        return WholeFrameBlur(cfg)
    redactor: FrameRedactor = Redactor(cfg)
    return redactor


_redactor_lock = threading.Lock()


def redactor_for(ctx: AppContext, camera_id: str) -> FrameRedactor:
    """One redactor per camera, rebuilt when the camera's redaction settings change."""
    try:
        cfg = ctx.cfg.camera(camera_id).redaction
    except KeyError:
        cfg = RedactionConfig()
    key = (camera_id, json.dumps(cfg.model_dump(mode="json"), sort_keys=True))
    cache: dict[tuple[str, str], FrameRedactor] = ctx.extras.setdefault("redactors", {})
    with _redactor_lock:
        found = cache.get(key)
        if found is None:
            factory = ctx.redactor_factory or default_redactor_factory
            found = factory(cfg)
            for k in [k for k in cache if k[0] == camera_id]:
                del cache[k]
            cache[key] = found
    return found


def current_tracks(ctx: AppContext, camera_id: str) -> Any:
    """The latest tracked boxes of a camera when the runtime exposes them (helps person blurring)."""
    worker = ctx.worker(camera_id)
    analytics = getattr(worker, "analytics", None)
    return getattr(analytics, "tracks", None)


def outgoing_frame(
    ctx: AppContext,
    camera_id: str,
    frame: np.ndarray,
    ts: datetime | None,
    principal: Principal | None,
    tracks: Any = None,
) -> np.ndarray:
    """Filter one BGR frame before it leaves the server. Never returns the input unredacted."""
    hooks = _privacy_hooks()
    if hooks is not None and hooks.frame_reveal(ctx, camera_id, ts, principal) is not None:
        return frame.copy()  # an approved four-eyes reveal covers this camera at this footage time
    redactor = redactor_for(ctx, camera_id)
    try:
        out = redactor.redact(frame, tracks)
    except Exception:
        log.exception("redaction failed on camera %s; sending a fully blurred frame", camera_id)
        out = WholeFrameBlur().redact(frame)
    if out is frame:  # a redactor must return a copy; never hand out the shared buffer
        out = frame.copy()
    return out


def view_key(ctx: AppContext, camera_id: str, principal: Principal | None) -> str:
    """Principals with the same key see the same pixels, so one encoded frame serves them all."""
    hooks = _privacy_hooks()
    return "redacted" if hooks is None else str(hooks.view_key(ctx, camera_id, principal))


def _privacy_hooks() -> Any:
    """``oversight.privacy.hooks`` (reveals) when installed, else None (everything stays redacted)."""
    try:
        from oversight.privacy import hooks
    except ModuleNotFoundError as exc:
        if exc.name not in ("oversight.privacy.hooks", "oversight.privacy"):
            raise
        return None
    return hooks


def encode_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def placeholder_frame(text: str, width: int = 640, height: int = 360) -> np.ndarray:
    """A dark card with a message, for cameras that have no picture (offline, starting)."""
    img = np.full((height, width, 3), (34, 28, 24), np.uint8)
    size = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2)[0]
    org = ((width - size[0]) // 2, (height + size[1]) // 2)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.8, (150, 160, 170), 2, cv2.LINE_AA)
    return img


def outgoing_segment(ctx: AppContext, segment: Any, principal: Principal | None) -> Path:
    """A redacted copy of a recorded segment, made once and cached, for download/playback.

    Every decoded frame goes through ``outgoing_frame`` (tracks unknown: None), then is encoded
    as H.264 in MP4. Raw segment files are never served.
    """
    import av

    src = ctx.segment_file(segment)
    if src is None:
        raise FileNotFoundError(f"segment {segment.id} is gone")
    hooks = _privacy_hooks()
    key = (
        view_key(ctx, segment.camera_id, principal)
        if hooks is None
        else hooks.view_key(ctx, segment.camera_id, principal, segment.start, segment.end)
    )
    out = ctx.web_cache_dir() / segment.camera_id / f"{segment.id}-{key}.mp4"
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as dst:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 10
        vout = dst.add_stream("libx264", rate=rate)
        vout.width = vin.codec_context.width - vin.codec_context.width % 2
        vout.height = vin.codec_context.height - vin.codec_context.height % 2
        vout.pix_fmt = "yuv420p"
        vout.options = {"preset": "veryfast", "crf": "26"}
        for frame in inp.decode(vin):
            bgr = frame.to_ndarray(format="bgr24")[: vout.height, : vout.width]
            ts = (
                segment.start + timedelta(seconds=float(frame.time or 0.0))
                if not key.startswith("redacted")
                else None
            )
            red = outgoing_frame(ctx, segment.camera_id, bgr, ts, principal)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(red), format="bgr24")
            for pkt in vout.encode(vf):
                dst.mux(pkt)
        for pkt in vout.encode():
            dst.mux(pkt)
    tmp.replace(out)
    return out
