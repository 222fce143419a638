"""The one place pixels leave the server: decide (reveal or not), redact, encode, audit.

Invariant: every method here that hands out pixels (JPEG bytes, a redacted MP4's path, a live
viewing session, an export clip) writes its audit entry itself before the first byte is returned,
so no caller can get pixels without an audit entry. Routes in ``oversight.web`` are thin callers
of ``egress(ctx)``; a test reads the code to check that no other module redacts or encodes.

Reveals stay with their grantee: a frame is shown unredacted only when the requesting principal
holds an approved reveal covering that camera at that frame's time, and everything made for a
revealed view (a cached JPEG, a cached MP4) is keyed by the reveal, the grantee and the camera's
redaction settings, so nobody else can ever be handed it. Redaction fails closed: when the
redactor fails, the whole frame is blurred.

Live H.264 feeds (``live_feed``) are part of the gate: subscribed to only through an audited
``LiveSession``, fed only from the gate's own live frames and reveal decisions.

Recorded footage is redacted with the camera's stored privacy track (``privacy.track``: regions
found once at ingest) instead of running a face detector again; a recorded frame the track has no
sample near is blurred whole. Footage recorded without any track (older recordings, cameras
without the privacy stage) falls back to detecting faces frame by frame.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import cv2
import numpy as np

from oversight.config.schema import RedactionConfig
from oversight.i18n import N_, TextError
from oversight.privacy import audit, hooks, masks
from oversight.privacy.live_feed import H264Feed, Subscription
from oversight.privacy.track import TrackView, read_track
from oversight.recording.playback import frames_from
from oversight.store.base import utcnow
from oversight.store.models import Event, Segment

log = logging.getLogger(__name__)
JPEG_QUALITY = 75
STALE_S = 5.0  # a live frame older than this is not shown: the tile says the camera stalled
LIVE_WAIT_S = 1.0  # a first look after a pause waits this long for a fresh frame
# how far past the privacy stage's newest sample a live frame may be and still be shown with its
# regions (moved on at their speed): a rounding allowance, not a guess at a new face (issue #10)
LIVE_LEAD_S = 0.01
STREAMS = ("sub", "main")  # live H.264: small tiles / a large tile or fullscreen


class Who(Protocol):
    """The requesting principal (``oversight.web.auth.Principal``)."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def ip(self) -> str | None: ...


class OutOfScope(TextError, LookupError):
    """A camera outside the principal's scope: the web app answers it as 404, like no camera."""


def in_scope(who: Who, camera_id: str) -> bool:
    """Whether ``who`` may see ``camera_id`` at all (camera groups, ``permissions.camera_scope``).
    The routes check first; the gate checks again so that no pixel of an out-of-scope camera leaves
    whatever a route forgot. A principal without ``sees`` is the console (CLI), which sees all."""
    sees = getattr(who, "sees", None)
    return True if sees is None else bool(sees(camera_id))


def _scoped(who: Who, camera_id: str) -> None:
    if not in_scope(who, camera_id):
        raise OutOfScope(N_("no camera '{camera_id}'"), camera_id=camera_id)


class FrameRedactor(Protocol):
    def redact(self, frame_bgr: np.ndarray, tracks: Any = None) -> np.ndarray: ...


@dataclass(frozen=True)
class Encoded:
    """One outgoing JPEG. ``state`` is "live", "stalled" (no fresh frame) or "offline"."""

    ts: datetime | None
    jpeg: bytes
    state: str = "live"


class WholeFrameBlur:
    """Fallback redactor: blur everything (shapes and motion stay visible, people do not)."""

    def __init__(self, cfg: RedactionConfig | None = None):
        self.cfg = cfg

    def redact(self, frame_bgr: np.ndarray, tracks: Any = None) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def view_fingerprint(cam: Any) -> str:
    """What a redacted picture of a camera depends on: its redaction settings and privacy masks
    (cache keys and shared export clips carry it)."""
    cfg = cam.redaction if cam is not None else RedactionConfig()
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True) + masks.fingerprint(cam)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def default_redactor_factory(cfg: RedactionConfig) -> FrameRedactor:
    from oversight.privacy.redaction import Redactor

    return Redactor(cfg)


def _encode_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())


def placeholder_frame(text: str, width: int = 640, height: int = 360) -> np.ndarray:
    """A dark card with a message, for cameras that have no picture (offline, starting)."""
    img = np.full((height, width, 3), (34, 28, 24), np.uint8)
    size = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2)[0]
    org = ((width - size[0]) // 2, (height + size[1]) // 2)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.8, (150, 160, 170), 2, cv2.LINE_AA)
    return img


class LiveSession:
    """One viewer watching live cameras: one audit entry when it opens (cameras, purpose) and one
    when it closes (start, end, frames sent). Frames come only from here."""

    def __init__(self, gate: Egress, who: Who, camera_ids: Sequence[str], kind: str, purpose: str | None):
        self.gate, self.who, self.camera_ids, self.kind = gate, who, list(camera_ids), kind
        self.purpose = purpose
        self.started = utcnow()
        self.frames = 0
        self.closed = False
        self.entry_id = gate._audit(
            who,
            f"footage.{kind}",
            "camera",
            ",".join(self.camera_ids)[:255],
            purpose=purpose,
            detail={"cameras": self.camera_ids, "start": self.started.isoformat(), "phase": "start"},
        )

    def h264(self, camera_id: str, loop: Any, stream: str = "sub") -> Subscription:
        """Subscribe to the camera's shared H.264 encode for this viewer's pixels (fragmented MP4):
        ``sub`` for a small tile (at most ``SUB_MAX_WIDTH`` wide), ``main`` for a large one."""
        if camera_id not in self.camera_ids or self.closed:
            raise PermissionError(f"camera {camera_id} is not part of this viewing session")
        return self.gate._subscribe_h264(camera_id, self.who, loop, self, stream)

    def frame(self, camera_id: str) -> Encoded:
        """The newest picture of one of the session's cameras, redacted unless this viewer holds a
        covering reveal; a card saying "offline" or "stalled" when there is no fresh picture."""
        if camera_id not in self.camera_ids or self.closed:
            raise PermissionError(f"camera {camera_id} is not part of this viewing session")
        enc = self.gate._live(camera_id, self.who)
        self.frames += 1
        return enc

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        end = utcnow()
        self.gate._audit(
            self.who,
            f"footage.{self.kind}.end",
            "camera",
            ",".join(self.camera_ids)[:255],
            purpose=self.purpose,
            detail={
                "cameras": self.camera_ids,
                "start": self.started.isoformat(),
                "end": end.isoformat(),
                "frames": self.frames,
                "opened_entry": self.entry_id,
            },
        )

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Egress:
    """The gate. One per app (``egress(ctx)``); thread-safe."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self._lock = threading.Lock()
        self._cam_locks: dict[str, threading.Lock] = {}
        self._redactors: dict[tuple[str, str], FrameRedactor] = {}
        self._shared: dict[tuple[str, str], Encoded] = {}  # (camera, view key) -> newest JPEG
        self._cards: dict[str, bytes] = {}
        self._feeds: dict[tuple[str, str, str], H264Feed] = {}  # (camera, view key, stream) -> encode
        self.feed_restarts = 0  # stuck live encodes replaced
        self.live_from_track = 0  # live frames redacted with the privacy stage's regions
        self.live_detected = 0  # ... and with a detector run for the live frame itself

    def close(self, timeout: float = 5.0) -> None:
        """End every live encode and wait for its thread: a feed thread left running inside OpenCV
        when the interpreter exits aborts the process (``FATAL: exception not rethrown``)."""
        with self._lock:
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.abandon()
        deadline = time.monotonic() + timeout
        for feed in feeds:
            feed.join(max(0.0, deadline - time.monotonic()))

    # -- decisions -------------------------------------------------------

    def _settings(self, camera_id: str) -> tuple[RedactionConfig, str]:
        """The camera's redaction settings and a fingerprint of them and of its privacy masks."""
        cam = self._camera(camera_id)
        return (cam.redaction if cam is not None else RedactionConfig()), view_fingerprint(cam)

    def _camera(self, camera_id: str) -> Any:
        try:
            return self.ctx.cfg.camera(camera_id)
        except KeyError:
            return None

    def _masked(
        self, camera_id: str, img: np.ndarray, revealed: bool, recorded: bool, worker: Any = None
    ) -> np.ndarray:
        """The last step of every picture: the camera's privacy masks painted black (permanent ones
        whatever the reveal; the whole picture when a live PTZ view is off its presets)."""
        return masks.apply_masks(img, self._camera(camera_id), revealed, recorded, worker)

    def _redactor(self, camera_id: str) -> FrameRedactor:
        """One redactor per camera, rebuilt when the camera's redaction settings change."""
        cfg, fp = self._settings(camera_id)
        with self._lock:
            found = self._redactors.get((camera_id, fp))
            if found is None:
                factory = self.ctx.redactor_factory or default_redactor_factory
                try:
                    found = factory(cfg)
                except Exception:
                    log.exception("camera %s: no redactor; every frame is blurred whole", camera_id)
                    found = WholeFrameBlur(cfg)
                for k in [k for k in self._redactors if k[0] == camera_id]:
                    del self._redactors[k]
                self._redactors[(camera_id, fp)] = found
        return found

    def _view(self, camera_id: str, ts: datetime | None, who: Who | None) -> tuple[bool, str]:
        """(reveal?, key). The key names exactly who may share these pixels: everybody for the
        redacted view (per redaction settings), only this grantee under this reveal otherwise."""
        _, fp = self._settings(camera_id)
        reveal = hooks.frame_reveal(self.ctx, camera_id, ts, who) if who is not None else None
        if reveal is None:
            return False, f"redacted-{fp}"
        return True, f"reveal{reveal.id}-{who.username if who else ''}-{fp}"

    def _redact(self, camera_id: str, frame: np.ndarray, tracks: Any = None) -> np.ndarray:
        try:
            out = self._redactor(camera_id).redact(frame, tracks)
        except Exception:
            log.exception("redaction failed on camera %s; sending a fully blurred frame", camera_id)
            out = WholeFrameBlur().redact(frame)
        if out is frame or np.shares_memory(out, frame):
            out = out.copy()  # never hand out the shared (read-only) buffer
        return out

    def _pixels(
        self,
        camera_id: str,
        frame: np.ndarray,
        ts: datetime | None,
        who: Who | None,
        tracks: Any = None,
        track: TrackView | None = None,
    ) -> tuple[np.ndarray, str]:
        revealed, key = self._view(camera_id, ts, who)
        if revealed:
            out = frame.copy()
        elif track is not None and ts is not None:
            out = track.apply(frame, ts.timestamp())
        else:
            out = self._redact(camera_id, frame, tracks)
        return self._masked(camera_id, out, revealed, recorded=True), key

    def _track(self, camera_id: str, start: datetime, end: datetime) -> TrackView | None:
        """The stored privacy track over [start, end], or None when nothing was stored there."""
        tol = self._tolerance(camera_id)  # a frame between two samples takes both samples' regions
        root = Path(self.ctx.cfg.site.data_dir).expanduser() / "privacy"
        samples = read_track(root, camera_id, start.timestamp() - tol, end.timestamp() + tol)
        return TrackView(samples, tol) if samples else None

    def _audit(
        self,
        who: Who,
        action: str,
        object_type: str,
        object_id: Any,
        purpose: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        with self.ctx.db.session() as s:
            entry = audit.record(
                s,
                who.username,
                action,
                object_type,
                str(object_id),
                purpose=purpose,
                source=f"web {who.ip}" if getattr(who, "ip", None) else "web",
                role=getattr(who, "role", None),
                detail=detail,
            )
            s.flush()
            return int(entry.id)

    def _tracks(self, camera_id: str) -> Any:
        worker = self.ctx.worker(camera_id)
        return getattr(getattr(worker, "analytics", None), "tracks", None)

    def card(self, text: str) -> bytes:
        """A message card (no camera pixels, so not audited)."""
        with self._lock:
            jpeg = self._cards.get(text)
            if jpeg is None:
                jpeg = self._cards[text] = _encode_jpeg(placeholder_frame(text))
        return jpeg

    # -- live ------------------------------------------------------------

    def _cam_lock(self, camera_id: str) -> threading.Lock:
        with self._lock:
            return self._cam_locks.setdefault(camera_id, threading.Lock())

    def _raw_live(
        self, camera_id: str, wait: float, main: bool = False, after: datetime | None = None
    ) -> tuple[np.ndarray, datetime] | None:
        """The newest live frame; with a privacy stage, the newest one its regions already cover:
        a sampled frame or one between two samples, at most ``LIVE_LEAD_S`` after the newest
        sample (the stage lags the decoder by its detection time: the view waits for it, never
        guesses ahead). ``main``: at the decoded stream's own resolution where the runtime offers
        it; ``after``: the oldest covered frame after that time (a feed plays frames in order)."""
        worker = self.ctx.worker(camera_id)
        if worker is None:
            return None
        samples = getattr(worker, "privacy_samples", None)
        found = samples() if callable(samples) else []
        more: dict[str, Any] = {"main": True} if main else {}
        try:
            if found:
                cover = datetime.fromtimestamp(found[-1].ts + LIVE_LEAD_S, UTC)
                if after is not None:
                    more["after"] = after
                return worker.latest_frame(max_wait=wait, not_after=cover, **more)
            return worker.latest_frame(max_wait=wait, **more)
        except TypeError:  # runtimes without the wait or the main stream (synthetic, cluster proxies)
            return worker.latest_frame()

    def _tolerance(self, camera_id: str) -> float:
        """How far from a privacy sample its regions still apply: 1.5 sampling periods."""
        try:
            return 1.5 / float(self.ctx.cfg.camera(camera_id).detect.fps)
        except KeyError:
            return 0.3

    def _live_source(
        self, camera_id: str, stream: str = "sub", after: datetime | None = None, wait: float = 0.0
    ) -> tuple[str, Any, np.ndarray | None, datetime | None]:
        """(state, worker, newest frame, its time); the frame only when the state is "live".
        ``after``: the oldest covered frame after that time instead (see ``_raw_live``)."""
        worker = self.ctx.worker(camera_id)
        status: dict[str, Any] = {}
        if worker is not None:
            try:
                status = dict(worker.status())
            except Exception:
                status = {}
        got = self._raw_live(camera_id, wait, main=stream == "main", after=after)
        if worker is None or status.get("online") is False:
            return "offline", worker, None, None
        if got is None:  # nothing yet, or nothing the privacy stage has covered yet
            return ("stalled" if status.get("online") else "offline"), worker, None, None
        frame, ts = got
        if ts is not None and (utcnow() - ts).total_seconds() > STALE_S:
            return "stalled", worker, None, ts
        return "live", worker, frame, ts

    def _live(self, camera_id: str, who: Who, wait: float = 0.0) -> Encoded:
        state, worker, frame, ts = self._live_source(camera_id, wait=wait)
        if state == "offline":
            return Encoded(None, self.card("camera offline"), "offline")
        if state == "stalled" or frame is None or ts is None:
            return Encoded(
                ts, self.card(f"no picture since {ts:%H:%M:%S} UTC" if ts else "stalled"), "stalled"
            )
        revealed, key = self._view(camera_id, ts, who)
        with self._cam_lock(camera_id):
            hit = self._shared.get((camera_id, key))
            if hit is not None and hit.ts == ts:
                return hit
            out = frame.copy() if revealed else self._live_redacted(camera_id, worker, frame, ts)
            out = self._masked(camera_id, out, revealed, recorded=False, worker=worker)
            enc = Encoded(ts, _encode_jpeg(out))
            self._shared[(camera_id, key)] = enc
            for k, v in list(self._shared.items()):  # nothing made for a lapsed view lingers
                old = v.ts is not None and (ts - v.ts).total_seconds() > STALE_S
                if k[0] == camera_id and k[1] != key and old:
                    del self._shared[k]
            return enc

    def _live_redacted(self, camera_id: str, worker: Any, frame: np.ndarray, ts: datetime) -> np.ndarray:
        """Regions the camera's privacy stage found for this moment (found once, shared with the
        recording); a face detector on this frame when the stage has no sample close enough, or
        when the frame is newer than its newest sample (a runtime that cannot pick a covered
        frame): regions are never moved on past the newest sample to guess where a face went."""
        samples = getattr(worker, "privacy_samples", None)
        found = samples() if callable(samples) else []
        if found and ts.timestamp() <= found[-1].ts + LIVE_LEAD_S:
            view = TrackView(found, self._tolerance(camera_id))
            if view.boxes(ts.timestamp()) is not None:
                self.live_from_track += 1
                return view.apply(frame, ts.timestamp())
        self.live_detected += 1
        return self._redact(camera_id, frame, self._tracks(camera_id))

    def _subscribe_h264(
        self, camera_id: str, who: Who, loop: Any, session: LiveSession, stream: str = "sub"
    ) -> Subscription:
        import asyncio

        if stream not in STREAMS:
            raise ValueError(f"unknown live stream {stream!r} (one of {', '.join(STREAMS)})")
        state, _worker, _frame, ts = self._live_source(camera_id, wait=LIVE_WAIT_S, stream=stream)
        key = (
            self._view(camera_id, ts, who)[1]
            if ts is not None
            else f"redacted-{self._settings(camera_id)[1]}"
        )
        fps = 15.0  # polls at most this often; only new frames are encoded (the source's rate)
        with self._lock:
            feed = self._feeds.get((camera_id, key, stream))
            if feed is not None and feed.alive and feed.stalled():
                log.warning("live H.264 encode of camera %s stalled; restarting it", camera_id)
                self.feed_restarts += 1
                feed.abandon()
            if feed is None or not feed.alive:
                feed = H264Feed(self, camera_id, who, key, fps, stream)
                self._feeds[(camera_id, key, stream)] = feed
        queue: asyncio.Queue[Any] = asyncio.Queue()
        codec, init, gop = feed.subscribe(loop, queue)
        return Subscription(feed, queue, codec, init, gop)

    def open_live(
        self, who: Who, camera_ids: Sequence[str], kind: str = "live", purpose: str | None = None
    ) -> LiveSession:
        """Start watching cameras live (the wall, a single view, MJPEG): audited now and at close."""
        for cid in camera_ids:
            _scoped(who, cid)
        return LiveSession(self, who, camera_ids, kind, purpose)

    def still(
        self, who: Who, camera_id: str, action: str = "footage.snapshot", purpose: str | None = None
    ) -> Encoded:
        """The newest live picture of a camera, once (snapshots, configuration stills). Audited."""
        _scoped(who, camera_id)
        enc = self._live(camera_id, who, wait=LIVE_WAIT_S)
        self._audit(who, action, "camera", camera_id, purpose=purpose, detail={"state": enc.state})
        return enc

    # -- recorded --------------------------------------------------------

    def thumbnail(self, who: Who, event_id: int) -> bytes:
        """An event's snapshot, redacted unless the viewer holds a reveal covering its time.

        Raises LookupError when the event or its snapshot does not exist."""
        with self.ctx.db.session() as s:
            e = s.get(Event, event_id)
            if e is None or not in_scope(who, e.camera_id):
                raise LookupError("no such event")
            path, camera_id, ts = e.snapshot_path, e.camera_id, e.start
        if not path or not Path(path).is_file():
            raise LookupError("this event has no snapshot")
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise LookupError("the snapshot cannot be read")
        out, key = self._pixels(camera_id, img, ts, who)
        self._audit(
            who, "footage.thumbnail", "event", event_id, detail={"camera_id": camera_id, "view": key[:6]}
        )
        return _encode_jpeg(out)

    def playback(
        self, who: Who, camera_id: str, start: datetime, size: tuple[int, int] | None
    ) -> Iterator[tuple[bytes, datetime]]:
        """Recorded frames from ``start`` as JPEGs, each redacted unless a reveal of the viewer covers
        its time. Audited when called (before the first frame)."""
        _scoped(who, camera_id)
        self._audit(who, "footage.playback", "camera", camera_id, detail={"start": start.isoformat()})
        it = frames_from(self.ctx.db, self.ctx.segment_file, camera_id, start, size)

        def gen() -> Iterator[tuple[bytes, datetime]]:
            track: TrackView | None = None
            until = start
            for frame, ts in it:
                if ts >= until:  # the stored track, ten minutes at a time
                    until = ts + timedelta(minutes=10)
                    track = self._track(camera_id, ts, until)
                out, _ = self._pixels(camera_id, frame, ts, who, track=track)
                yield _encode_jpeg(out), ts

        return gen()

    def segment(self, who: Who, segment_id: int) -> tuple[Path, str]:
        """One recorded segment as a browser-playable MP4, redacted frame by frame unless a reveal of
        the viewer covers the frame. Made once per view key and cached. Audited. Returns the file
        and the name to download it as.

        Raises LookupError (no such segment) or FileNotFoundError (removed by retention)."""
        with self.ctx.db.session() as s:
            seg = s.get(Segment, segment_id)
            if seg is None or not in_scope(who, seg.camera_id):
                raise LookupError("no such segment")
            s.expunge(seg)
        self._audit(who, "footage.segment", "segment", segment_id, detail={"camera_id": seg.camera_id})
        src = self.ctx.segment_file(seg)
        if src is None:
            raise FileNotFoundError(f"segment {seg.id} is gone")
        _, fp = self._settings(seg.camera_id)
        # a reveal of the viewer touching this segment: the file is theirs alone, keyed by its reveals
        ids = hooks.overlapping_reveals(self.ctx, seg.camera_id, seg.start, seg.end, who)
        key = f"reveal{'-'.join(map(str, sorted(ids)))}-{who.username}-{fp}" if ids else f"redacted-{fp}"
        out = self.ctx.web_cache_dir() / seg.camera_id / f"{seg.id}-{key}.mp4"
        name = f"{seg.camera_id}-{seg.start:%Y%m%dT%H%M%SZ}.mp4"
        with _lock_for(out):  # concurrent requests for one file wait for one transcode
            if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
                return Path(out), name
            out.parent.mkdir(parents=True, exist_ok=True)
            track = self._track(seg.camera_id, seg.start, seg.end)

            def per_frame(img: np.ndarray, rel: float) -> np.ndarray:
                ts = seg.start + timedelta(seconds=rel)
                pix, view = self._pixels(seg.camera_id, img, ts, who, track=track)
                revealed = view.startswith("reveal")  # this frame is unredacted: say whose it is
                return watermark(pix, f"{who.username} {ts:%Y-%m-%d %H:%M:%S}Z") if revealed else pix

            with _playback_slots:  # bounded CPU: playback never starves the cameras
                _transcode(src, out, per_frame, crf=26)
        return Path(out), name

    def export_clip(
        self,
        actor: str,
        role: str | None,
        segment: Segment,
        dst: Path,
        windows: Sequence[Any],
        purpose: str,
        shared: Path | None = None,
        subject: Any = None,
        stats: dict[str, int] | None = None,
        tick: Callable[[float], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Write one evidence clip and return the unredacted parts it holds (empty: all redacted).

        ``subject`` (``privacy.sar.SubjectTrack``, a subject access request's marked person) keeps
        that person's region unredacted in every frame the stored track covers; everyone else is
        redacted as always; ``stats["subject_frames"]`` counts those frames. Privacy masks are
        painted last on every frame (permanent ones inside reveal windows too), so a camera with a
        permanent mask never hands out its original bytes.

        ``windows`` are the exporter's approved reveals cut to the request (``camera_id``, ``start``,
        ``end``, ``reveal_id``): a clip wholly inside one is the original bytes; a clip a window cuts
        is re-encoded with every frame outside it redacted (stored privacy track, else the detector).
        A fully redacted clip is made once per segment and settings when ``shared`` names the file
        (concurrent exports wait for it). Audited per clip. ``tick`` hears each frame's offset in
        seconds; an exception it raises stops the clip (no file is left)."""
        cam = segment.camera_id
        mine = [w for w in windows if w.camera_id == cam and w.start < segment.end and segment.start < w.end]
        with self.ctx.db.session() as s:
            detail = {"camera_id": cam, "unredacted_windows": [w.as_dict() for w in mine]}
            audit.record(
                s, actor, "footage.export_clip", "segment", str(segment.id), purpose=purpose,
                source="export", role=role, detail=detail,
            )  # fmt: skip
        src = Path(segment.path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        whole = next((w for w in mine if w.start <= segment.start and segment.end <= w.end), None)
        if whole is not None and not masks.has_permanent(self._camera(cam)):
            dst.write_bytes(src.read_bytes())  # original evidence bytes
            return [
                {
                    "start": _iso(segment.start),
                    "end": _iso(segment.end),
                    "reveal_id": whole.reveal_id,
                    "frames": None,
                }
            ]
        kept: dict[int, int] = {}
        per_frame, i420 = self._export_frames(segment, mine, kept, subject, stats, tick)
        if mine or shared is None or subject is not None:
            _export_transcode(src, dst, per_frame, i420)
        else:
            _shared_transcode(src, dst, shared, per_frame, i420)
        return _kept_windows(segment, mine, kept)

    def _export_frames(
        self,
        segment: Segment,
        mine: list[Any],
        kept: dict[int, int],
        subject: Any = None,
        stats: dict[str, int] | None = None,
        tick: Callable[[float], None] | None = None,
    ) -> tuple[Callable[[np.ndarray, float], np.ndarray], bool]:
        """Per-frame pixels of an export clip: a frame inside a window stays (counted in ``kept`` per
        reveal), every other is redacted by the stored track (but for the marked subject), else the
        detector; then the masks. With the track, no subject and no masks the frames stay planar YUV
        as decoded (no colour conversion either way): the bool says so."""
        cam = segment.camera_id
        track = self._track(cam, segment.start, segment.end)
        stats = stats if stats is not None else {}
        camera = self._camera(cam)
        planar = track is not None and subject is None and not (camera is not None and camera.masks)

        def per_frame(img: np.ndarray, rel: float) -> np.ndarray:
            if tick is not None:
                tick(rel)
            ts = segment.start + timedelta(seconds=rel)
            inside = next((w for w in mine if w.start <= ts < w.end), None)
            if inside is not None:
                kept[inside.reveal_id] = kept.get(inside.reveal_id, 0) + 1
                out = img
            elif track is None:
                out = self._redact(cam, img)  # no stored track: the subject is not kept either
            elif planar:
                return track.apply_i420(img, ts.timestamp(), inplace=True)  # a fresh array
            else:
                keep = _grown(subject.box(ts.timestamp())) if subject is not None else None
                stats["subject_frames"] = stats.get("subject_frames", 0) + (keep is not None)
                out = track.apply(img, ts.timestamp(), keep=keep)
            return out if planar else self._masked(cam, out, inside is not None, recorded=True)

        return per_frame, planar

    def export_package(self, who: Who, export_id: int, source: str | None = None) -> Path:
        """A finished, signed evidence package (its clips were made by ``export_clip``) for download.
        Audited, refusals too. Raises LookupError when the export or its file does not exist, and
        PermissionError when it holds unredacted footage that was not revealed to ``who``."""
        from oversight.privacy.export import download_refusal
        from oversight.privacy.models import ExportRecord

        with self.ctx.db.session() as s:
            rec = s.get(ExportRecord, export_id)
            if rec is None or not all(in_scope(who, c) for c in rec.camera_ids or []):
                raise LookupError("no such export")
            if not Path(rec.path).is_file():
                raise LookupError("no such export file")
            refusal = download_refusal(s, rec, who.username, getattr(who, "via", ""))
            audit.record(
                s,
                who.username,
                "export.download_refused" if refusal else "export.download",
                "export",
                export_id,
                purpose=rec.purpose,
                source=source,
                role=who.role,
                detail={"manifest_sha256": rec.manifest_sha256, "refused": refusal},
            )
            path = Path(rec.path)
        if refusal is not None:
            raise PermissionError(refusal)
        return path


MAX_EXPORT_TRANSCODES = 2  # export transcodes at once, whatever the number of requests: bounded CPU
_export_slots = threading.BoundedSemaphore(MAX_EXPORT_TRANSCODES)
MAX_PLAYBACK_TRANSCODES = 2  # segment files made for playback at once, on their own slots
_playback_slots = threading.BoundedSemaphore(MAX_PLAYBACK_TRANSCODES)
_file_locks: dict[Path, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def watermark(frame: np.ndarray, text: str) -> np.ndarray:
    """Burn ``UNREDACTED · <viewer> <time>`` into a revealed frame's top edge: a copy that leaves the
    console still says whose reveal it came from. Never on exports (evidence stays as recorded)."""
    h, w = frame.shape[:2]
    scale = max(0.35, w / 1600)
    thick = max(1, int(round(scale * 2)))
    label = f"UNREDACTED - {text}"
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    band = frame[: th + base + 8, : min(w, tw + 12)]
    band[:] = (band * 0.4).astype(frame.dtype)  # darken behind the text so it reads on any picture
    cv2.putText(
        frame, label, (6, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA
    )
    return frame


def _lock_for(path: Path) -> threading.Lock:
    with _file_locks_guard:
        return _file_locks.setdefault(path, threading.Lock())


def _export_transcode(
    src: Path, dst: Path, per_frame: Callable[[np.ndarray, float], np.ndarray], i420: bool = False
) -> int:
    with _export_slots:
        return _transcode(src, dst, per_frame, crf=23, i420=i420)


def _shared_transcode(
    src: Path,
    dst: Path,
    shared: Path,
    per_frame: Callable[[np.ndarray, float], np.ndarray],
    i420: bool = False,
) -> None:
    """A fully redacted clip, made once per segment and settings into ``shared`` (concurrent
    exports wait for it, later ones reuse it while it is newer than the segment), copied to ``dst``."""
    with _lock_for(shared):  # one transcode per segment and settings, reused by later exports
        if not (shared.is_file() and shared.stat().st_mtime >= src.stat().st_mtime):
            shared.parent.mkdir(parents=True, exist_ok=True)
            _export_transcode(src, shared, per_frame, i420)
    dst.write_bytes(shared.read_bytes())


def _kept_windows(segment: Segment, mine: list[Any], kept: dict[int, int]) -> list[dict[str, Any]]:
    """The windows a re-encoded clip left unredacted, cut to the segment, with their frame counts."""
    return [
        {
            "start": _iso(max(w.start, segment.start)),
            "end": _iso(min(w.end, segment.end)),
            "reveal_id": w.reveal_id,
            "frames": kept[w.reveal_id],
        }
        for w in mine
        if w.reveal_id in kept
    ]


def _grown(box: Any, by: float = 0.25) -> Any:
    """A normalised box grown by ``by`` of its size each side (None stays None)."""
    if box is None:
        return None
    w, h = box[2] - box[0], box[3] - box[1]
    return (box[0] - w * by, box[1] - h * by, box[2] + w * by, box[3] + h * by)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()  # as the export manifest writes times


def _transcode(
    src: Path, dst: Path, per_frame: Callable[[np.ndarray, float], np.ndarray], crf: int, i420: bool = False
) -> int:
    """Decode ``src``, pass each frame through ``per_frame`` and encode a browser-playable H.264 MP4
    (yuv420p, faststart). Written under a temporary name first. Returns frames written.

    ``per_frame`` gets BGR frames, or with ``i420`` planar YUV 4:2:0 ones as the decoder gives and
    the encoder takes them (no colour conversion either way); each is a fresh array of its own, so
    it may change it in place. It runs on the decoding thread, not the caller's."""
    tmp = dst.with_name(dst.name + ".part")
    try:
        n = _transcode_to(src, tmp, per_frame, crf, i420)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed or cancelled transcode leaves no half file
        raise
    tmp.replace(dst)
    return n


X264 = {"preset": "veryfast", "threads": "1"}  # every file transcode, floor and redacted alike
QUEUED_FRAMES = 8  # decoded frames waiting for the encoder: bounded memory (8 x 1.4 MB at 720p)
_DONE = object()


@dataclass(frozen=True)
class _SourceInfo:
    rate: Fraction
    width: int  # even
    height: int  # even


def _decode_into(
    src: Path,
    per_frame: Callable[[np.ndarray, float], np.ndarray],
    i420: bool,
    put: Callable[[Any], None],
) -> None:
    """The decoding side of ``_transcode_to`` (its own thread, its own container): the source's
    rate and size, then each frame through ``per_frame`` as an array no other thread holds, then
    ``_DONE``; or the exception that stopped it."""
    try:
        with av.open(str(src)) as inp:
            vin: Any = inp.streams.video[0]
            rate = vin.average_rate or vin.guessed_rate or Fraction(10)
            info = _SourceInfo(
                Fraction(rate), (vin.codec_context.width // 2) * 2, (vin.codec_context.height // 2) * 2
            )
            put(info)
            base = vin.start_time or 0
            tb = float(vin.time_base) if vin.time_base else 1 / 90000
            for frame in inp.decode(vin):
                img = _picture(frame, info.width, info.height, i420)
                put(np.ascontiguousarray(per_frame(img, ((frame.pts or 0) - base) * tb)))
        put(_DONE)
    except BaseException as exc:  # handed to the encoding side, which raises it
        put(exc)


def _transcode_to(
    src: Path, tmp: Path, per_frame: Callable[[np.ndarray, float], np.ndarray], crf: int, i420: bool
) -> int:
    """Decode and ``per_frame`` in one thread, encode in this one: the two overlap (x264 runs one
    thread per file; a file is never split across threads, so the CPU spent is the same as in
    sequence). Each side owns its native objects; only arrays cross, each held by one side at a time."""
    frames: queue.Queue[Any] = queue.Queue(maxsize=QUEUED_FRAMES)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        if isinstance(item, np.ndarray):
            raise _Stopped

    worker = threading.Thread(
        target=_decode_into, args=(src, per_frame, i420, put), name="transcode-decode", daemon=True
    )
    worker.start()
    try:
        return _encode_from(frames.get, tmp, crf, i420)
    finally:
        stop.set()
        worker.join()


class _Stopped(Exception):
    """The encoding side gave up: the decoding side stops too."""


def _encode_from(get: Callable[[], Any], tmp: Path, crf: int, i420: bool) -> int:
    """The encoding side of ``_transcode_to``: a browser-playable H.264 MP4 of the frames ``get``
    hands over, until ``_DONE``; an exception handed over is raised here."""
    info = get()
    if isinstance(info, BaseException):
        raise info
    n = 0
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        codec = "libx264" if "libx264" in av.codecs_available else "h264"
        vout: Any = out.add_stream(codec, rate=info.rate)
        vout.width, vout.height, vout.pix_fmt = info.width, info.height, "yuv420p"
        vout.options = {"crf": str(crf), **X264} if codec == "libx264" else {}
        tb = Fraction(1) / info.rate
        while (img := get()) is not _DONE:
            if isinstance(img, BaseException):
                raise img
            vf = av.VideoFrame.from_ndarray(img, format="yuv420p" if i420 else "bgr24")
            vf.pts, vf.time_base = n, tb
            for pkt in vout.encode(vf):
                out.mux(pkt)
            n += 1
        for pkt in vout.encode():
            out.mux(pkt)
    return n


def _picture(frame: Any, w: int, h: int, i420: bool) -> np.ndarray:
    """A decoded frame cut to the even ``w`` x ``h``: BGR, or planar YUV 4:2:0."""
    if not i420:
        return np.asarray(frame.to_ndarray(format="bgr24")[:h, :w])
    if frame.width == w and frame.height == h:
        return np.asarray(frame.to_ndarray(format="yuv420p"))
    bgr = np.ascontiguousarray(frame.to_ndarray(format="bgr24")[:h, :w])  # odd size: rare
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420))


@dataclass
class OfflineContext:
    """What the gate needs outside the web app (the export command): no live cameras."""

    cfg: Any
    db: Any
    redactor_factory: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def worker(self, camera_id: str) -> Any:
        return None

    def segment_file(self, segment: Any) -> Path | None:
        path = Path(segment.path)
        return path if path.is_file() else None


_gates_lock = threading.Lock()


def egress(ctx: Any) -> Egress:
    """The app's gate (one per ``AppContext``)."""
    with _gates_lock:
        found = ctx.extras.get("egress")
        if found is None:
            found = ctx.extras["egress"] = Egress(ctx)
    assert isinstance(found, Egress)
    return found
