"""One camera: a reader thread per stream (record, and detect when separate), a decode thread
for analytics and the live view, reconnect with backoff forever, and a queryable status.

Threads per camera keep one slow or dead camera from touching the others. Recording runs on the
reader thread (packet copy is cheap); decoding runs behind a dropping queue (see ``frames``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import numpy as np

from oversight.cameras.backoff import Backoff
from oversight.cameras.clock import PacketClock
from oversight.cameras.fallbacks import model_status
from oversight.cameras.frames import AnalyticsFactory, FrameSampler, StreamInfo
from oversight.cameras.load import LoadMeter
from oversight.cameras.source import Source, SourceError, open_source, parse_source
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.recording.index import close_gaps, open_gap
from oversight.recording.packet import RecPacket
from oversight.recording.recorder import Recorder
from oversight.recording.segment import UnsupportedCodec
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database

log = logging.getLogger(__name__)
RECORD_RETRY_S = 5.0  # after a failed write (full disk), recording tries again this often


@dataclass(slots=True)
class _Pass:
    """State of one read loop (a connection, or one pass over a file); owned by its reader thread."""

    stream: Any
    clock: PacketClock
    primary: bool
    feed_sampler: bool
    backoff: Backoff
    record: bool  # writing now (False when unsupported, or paused after a failed write)
    pace: bool  # a realtime file: hold packets to their own rate
    block: bool  # a file read as fast as analytics take it: the sampler may block, not drop
    written: int  # segments written when recording last paused: more means it resumed
    first: bool = True
    pace_origin: tuple[float, float] | None = None  # (monotonic, media wall) of the first paced packet
    last_wall: float | None = None
    paused_until: float | None = None  # recording failed (full disk): when to try again


def _iso(wall: float | None) -> str | None:
    return datetime.fromtimestamp(wall, UTC).isoformat() if wall is not None else None


class _Meter:
    """Packets and bytes over the last few seconds -> fps and kbit/s. The ingest thread adds while
    status readers (web, health checks) read: one lock, or a reader iterating the deque while a
    packet is appended dies with "deque mutated during iteration" (seen in the 16-camera soak)."""

    def __init__(self, window: float = 5.0):
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self.samples and now - self.samples[0][0] > self.window:
            self.samples.popleft()

    def add(self, nbytes: int, now: float) -> None:
        with self._lock:
            self.samples.append((now, nbytes))
            self._trim(now)

    def rates(self, now: float) -> tuple[float, float]:
        with self._lock:
            self._trim(now)
            if len(self.samples) < 2:
                return 0.0, 0.0
            span = max(now - self.samples[0][0], 1e-3)
            return len(self.samples) / span, sum(b for _, b in self.samples) * 8 / 1000 / span


class CameraWorker:
    def __init__(
        self,
        cam: CameraConfig,
        db: Database,
        bus: EventBus | None,
        storage: LocalStorage,
        analytics_factory: AnalyticsFactory | None = None,
        *,
        privacy_factory: Any = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
    ):
        self.cam = cam
        self.db = db
        self.bus = bus
        self.storage = storage
        self.analytics_factory = analytics_factory
        self.privacy_factory = privacy_factory  # (cam, analytics) -> privacy stage, or None
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.recorder = Recorder(cam, db, bus, storage)
        self.sampler: FrameSampler | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._meter = _Meter()
        self._clock: PacketClock | None = None  # the recording stream's clock (restamping shows here)
        self._load = LoadMeter(cam.detect.fps if cam.detect.enabled else 0.0)
        # status
        self.state = "created"  # created|connecting|online|offline|ended|stopped|disabled
        self.online = False
        self.last_frame_wall: float | None = None
        self.reconnects = 0
        self.error: str | None = None
        self.record_error: str | None = None
        self.detect_error: str | None = None
        self.codec: str | None = None  # of the record stream, for the health page
        self._gap_open = False
        self._published: tuple[Any, ...] | None = None
        # watchdog: monotonic times each stage last advanced, and when its work in hand began
        self.last_packet: float | None = None
        self.last_recorded: float | None = None
        self.record_busy_since: float | None = None
        self.restarts: dict[str, int] = {}
        self.manual_until = 0.0  # POSIX time an operator's "record this now" runs to (events mode)

    # -- public ----------------------------------------------------------

    @property
    def id(self) -> str:
        return self.cam.id

    def start(self) -> None:
        if self._threads:
            return
        if not self.cam.enabled:
            self._set(state="disabled")
            return
        self.sampler = self._new_sampler()
        self.sampler.start()
        close_gaps(self.db, self.cam.id, datetime.now(UTC))  # stale gaps from a previous run
        record = parse_source(self.cam.streams.record)
        detect_url = self.cam.streams.detect
        separate = bool(detect_url) and detect_url != self.cam.streams.record
        self._threads.append(
            threading.Thread(
                target=self._run, args=(record, True, not separate), name=f"rec-{self.cam.id}", daemon=True
            )
        )
        if separate and detect_url:
            self._threads.append(
                threading.Thread(
                    target=self._run,
                    args=(parse_source(detect_url), False, True),
                    name=f"det-{self.cam.id}",
                    daemon=True,
                )
            )
        self._set(state="connecting")
        for t in self._threads:
            t.start()

    def _new_sampler(self) -> FrameSampler:
        analytics = None
        if self.analytics_factory is not None and self.cam.detect.enabled:
            try:
                analytics = self.analytics_factory(self.cam)
            except Exception as exc:  # no analytics, but keep recording
                self.detect_error = f"analytics unavailable: {exc}"
                log.exception("camera %s: analytics factory failed", self.cam.id)
        privacy = None
        if self.privacy_factory is not None and self.cam.redaction.faces:
            try:
                privacy = self.privacy_factory(self.cam, analytics)
            except Exception as exc:  # playback and export then detect faces themselves
                self.detect_error = f"privacy track unavailable: {exc}"
                log.exception("camera %s: privacy stage factory failed", self.cam.id)
        return FrameSampler(self.cam, analytics, privacy=privacy)

    def restart_sampler(self) -> None:
        """Replace a stalled decode/analytics/live stage with fresh threads (the watchdog's remedy).

        The reader keeps recording; the new decoder waits for the next keyframe of the current
        stream. The stuck threads are abandoned (daemon threads: they cannot be killed) and asked to
        stop in the background, so a hung stage never blocks the camera.
        """
        old = self.sampler
        new = self._new_sampler()
        if old is not None and old.stream is not None:
            new.new_stream(old.stream)
        new.start()
        self.sampler = new
        if old is not None:
            threading.Thread(target=old.stop, args=(1.0,), name=f"stop-{self.cam.id}", daemon=True).start()

    def stage_ages(self, now: float | None = None) -> dict[str, float | None]:
        """Seconds since each stage last produced output (None: never, or not running)."""
        now = time.monotonic() if now is None else now
        sp = self.sampler

        def age(t: float | None) -> float | None:
            return None if t is None else round(max(0.0, now - t), 3)

        return {
            "ingest": age(self.last_packet),
            "recording": age(self.last_recorded),
            "decode": age(sp.last_decoded if sp else None),
            "analytics": age(sp.analytics_last_done if sp else None),
            "privacy": age(sp.privacy_last_done if sp else None),
            "live": age(sp.last_live if sp else None),
        }

    def stalled(self, stall_s: float, now: float | None = None) -> dict[str, float]:
        """Stages that have held one piece of work (or, for ingest and live, been due to produce)
        for more than ``stall_s`` seconds, with how long. A stage merely waiting for input is not
        stalled: the stage upstream of it is."""
        now = time.monotonic() if now is None else now
        out: dict[str, float] = {}
        sp = self.sampler

        def over(since: float | None) -> float | None:
            return now - since if since is not None and now - since > stall_s else None

        checks = {
            "ingest": over(self.last_packet) if self.state == "online" else None,
            "recording": over(self.record_busy_since),
            "decode": over(sp.busy_since) if sp else None,
            "analytics": over(sp.analytics_busy_since) if sp else None,
            "privacy": over(sp.privacy_busy_since) if sp else None,
            "live": over(sp.last_live)
            if sp
            and sp.watched
            and sp.busy_since is None
            and sp.last_decoded is not None
            and now - sp.last_decoded < stall_s
            else None,
        }
        if checks["recording"] is not None:
            checks["ingest"] = None  # the reader waits on the recorder: recording is the cause
        for stage, late in checks.items():
            if late is not None:
                out[stage] = round(late, 3)
        return out

    def stop(self, timeout: float | None = None) -> None:
        """Stop reading; the open segment is closed and indexed; the downtime becomes an open gap."""
        self._stop.set()
        wait = timeout if timeout is not None else self.open_timeout + self.read_timeout + 5
        for t in self._threads:
            t.join(wait)
        if self.sampler is not None:
            self.sampler.stop()
        if self.online or self.state == "online":
            start = datetime.fromtimestamp(self.last_frame_wall or time.time(), UTC)
            try:
                open_gap(self.db, self.cam.id, start, "recorder stopped")
            except Exception:
                log.exception("camera %s: could not record the stop gap", self.cam.id)
        self._set(online=False, state="stopped")

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def latest_frame(
        self,
        max_wait: float = 0.0,
        not_after: datetime | None = None,
        main: bool = False,
        after: datetime | None = None,
    ) -> tuple[np.ndarray, datetime] | None:
        """The newest live frame, read-only (see ``FrameSampler.latest``); ``main``: full resolution."""
        return self.sampler.latest(max_wait, not_after, main, after) if self.sampler is not None else None

    def privacy_samples(self) -> list[Any]:
        """The privacy stage's newest face-region samples (``privacy.track.Sample``), or []."""
        stage = self.sampler.privacy if self.sampler is not None else None
        recent = getattr(stage, "recent", None)
        return list(recent()) if recent is not None else []

    @property
    def analytics(self) -> Any | None:
        return self.sampler.analytics if self.sampler is not None else None

    def status(self) -> dict[str, Any]:
        fps, kbps = self._meter.rates(time.monotonic()) if self.online else (0.0, 0.0)
        return {
            "id": self.cam.id,
            "name": self.cam.display_name,
            "state": self.state,
            "online": self.online,
            "last_frame_at": _iso(self.last_frame_wall),
            "fps": round(fps, 2),
            "bitrate_kbps": round(kbps, 1),
            "reconnects": self.reconnects,
            "error": self.error or self.record_error or self.recorder.error,
            "recording": self.online
            and self.record_error is None
            and self.cam.record.mode == "continuous"
            or self.recorder.current is not None,
            "record_mode": self.cam.record.mode,
            "segments_written": self.recorder.segments_written,
            "last_segment_at": self.recorder.last_segment_at.isoformat()
            if self.recorder.last_segment_at
            else None,
            "detect_error": self.detect_error or (self.sampler.error if self.sampler else None),
            "frames_analyzed": self.sampler.frames_processed if self.sampler else 0,
            "timestamps": self._clock.note if self._clock is not None else None,
            "clock_skew_s": self._clock.skew_s if self._clock is not None else None,
            "decode_queue": self.sampler.q.qsize() if self.sampler is not None else 0,
            **self._load.status(self.sampler),
            **model_status(self.cam),
            "codec": self.codec,
            "transcoding": self.recorder.transcoding,
            "transcode_cpu_s": round(self.recorder.transcode_cpu_s, 2),
            "stage_age_s": self.stage_ages(),
            "stage_restarts": dict(self.restarts),
        }

    # -- internals -------------------------------------------------------

    def record_now(self, seconds: float, now: float | None = None) -> float:
        """Record as if an event were on for ``seconds`` from now: an events-only camera keeps its
        pre-roll and post-roll around it. Called from the web; the worker thread reads one float."""
        until = (time.time() if now is None else now) + seconds
        with self._lock:
            self.manual_until = max(self.manual_until, until)
        return until

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self, k, v)
            key = (self.state, self.online, self.error, self.record_error)
            changed = key != self._published
            self._published = key
        if changed and self.bus is not None:
            self.bus.publish("camera.status", self.status())

    def _run(self, src: Source, primary: bool, feed_sampler: bool) -> None:
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        continue_wall: float | None = None
        while not self._stop.is_set():
            try:
                end_wall = self._session(src, primary, feed_sampler, backoff, continue_wall)
                if self._stop.is_set():
                    break
                if src.kind == "file" and self.cam.loop:
                    continue_wall = None if self.cam.realtime else end_wall
                    continue
                if src.kind == "file":
                    if primary:
                        self._set(online=False, state="ended")
                    return
                raise SourceError("stream ended")
            except Exception as exc:
                if self._stop.is_set():
                    break
                msg = (
                    str(exc)
                    if isinstance(exc, (SourceError, UnsupportedCodec))
                    else f"{type(exc).__name__}: {exc}"
                )
                if primary:
                    self._on_failure(msg)
                else:
                    self.detect_error = msg
                delay = backoff.next_delay()
                log.info("camera %s: %s; retrying in %.1fs", self.cam.id, msg, delay)
                if self._stop.wait(delay):
                    break
                if primary:
                    with self._lock:
                        self.reconnects += 1

    def _on_failure(self, msg: str) -> None:
        if not self._gap_open:  # stored before the status says offline: whoever sees it finds the gap
            start = datetime.fromtimestamp(self.last_frame_wall or time.time(), UTC)
            try:
                open_gap(self.db, self.cam.id, start, msg)
                self._gap_open = True
            except Exception:
                log.exception("camera %s: could not store the recording gap", self.cam.id)
        self._set(online=False, state="offline", error=msg)

    def _on_first_packet(self) -> None:
        if self._gap_open:
            try:
                close_gaps(self.db, self.cam.id, datetime.now(UTC))
                self._gap_open = False
            except Exception:
                log.exception("camera %s: could not close the recording gap", self.cam.id)
        self._set(online=True, state="online", error=None)

    def _session(
        self, src: Source, primary: bool, feed_sampler: bool, backoff: Backoff, continue_wall: float | None
    ) -> float | None:
        """Read one connection (or one pass over a file) until it ends; returns the last wall time."""
        opened_at = time.time()
        container = open_source(src, self.open_timeout, self.read_timeout)
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        clock = PacketClock(
            stream.time_base or Fraction(1, 90000),
            rate,
            live=src.live,
            start_wall=opened_at if src.live else continue_wall,
        )
        if primary:
            self._clock = clock
            self.codec = stream.codec_context.name
        record = self._begin_recording(stream) if primary else False
        if feed_sampler and self.sampler is not None:
            cc = stream.codec_context
            self.sampler.new_stream(
                StreamInfo(cc.name, cc.extradata, cc.width, cc.height, clock.time_base, clock.wall_of)
            )
        st = _Pass(
            stream=stream,
            clock=clock,
            primary=primary,
            feed_sampler=feed_sampler,
            backoff=backoff,
            record=record,
            pace=src.kind == "file" and self.cam.realtime,
            block=src.kind == "file" and not self.cam.realtime,
            written=self.recorder.segments_written,
        )
        try:
            for pkt in container.demux(stream):
                if self._stop.is_set():
                    break
                if not pkt.size:
                    continue
                rp = clock.stamp(pkt)
                if rp is None:
                    continue
                if st.pace and self._wait_for_pace(st, rp):
                    break
                self._on_packet(st, rp)
        finally:
            self._end_session(st, container)
        if st.first and primary and not self._stop.is_set():
            raise SourceError(f"no video packets from {src.url if src.kind == 'file' else 'the stream'}")
        return st.last_wall

    def _begin_recording(self, stream: Any) -> bool:
        """Open the recorder on a new stream; an unsupported codec disables recording, not analytics."""
        try:
            self.recorder.begin(stream)
            self.record_error = None
            return True
        except UnsupportedCodec as exc:
            self._set(record_error=str(exc))
            return False

    def _wait_for_pace(self, st: _Pass, rp: RecPacket) -> bool:
        """Hold a realtime file at its own rate (by decode time); True when stopped while waiting."""
        dts_wall = st.clock.wall_of(rp.dts)
        if st.pace_origin is None:
            st.pace_origin = (time.monotonic(), dts_wall)
        delay = st.pace_origin[0] + (dts_wall - st.pace_origin[1]) - time.monotonic()
        return delay > 0 and self._stop.wait(delay)

    def _on_packet(self, st: _Pass, rp: RecPacket) -> None:
        """One stamped packet: liveness, recording (with its pause/retry), then analytics."""
        if st.primary:
            self._note_alive(st, rp)
        if st.paused_until is not None and time.monotonic() >= st.paused_until:
            st.paused_until, st.record = None, True  # space may be back: try again
            self.recorder.begin(st.stream)
        if st.record:
            self._record(st, rp)
        if st.feed_sampler and self.sampler is not None:
            self.sampler.submit(rp.data, rp.pts, rp.keyframe, block=st.block)
        end = rp.wall + rp.duration_s
        st.last_wall = end if st.last_wall is None else max(st.last_wall, end)
        if not st.primary:
            self.detect_error = None

    def _note_alive(self, st: _Pass, rp: RecPacket) -> None:
        """The watchdog's and the status's view of the primary stream (first packet: back online)."""
        if st.first:
            st.first = False
            st.backoff.reset()
            self._on_first_packet()
        self.last_packet = time.monotonic()
        self._meter.add(len(rp.data), self.last_packet)
        self.last_frame_wall = rp.wall

    def _record(self, st: _Pass, rp: RecPacket) -> None:
        """Write one packet; a failed write (full disk) pauses recording, analytics keep running."""
        event = self.sampler.event_active if self.sampler is not None else False
        event = event or rp.wall < self.manual_until
        self.record_busy_since = time.monotonic()
        try:
            self.recorder.feed(rp, event)
            self.last_recorded = time.monotonic()
        except Exception as exc:  # a disk problem: keep analytics running, report, retry
            self.recorder.abandon()
            self._set(record_error=f"recording paused: {exc} (retrying every {RECORD_RETRY_S:g} s)")
            log.warning("camera %s: recording paused: %s", self.cam.id, exc)
            st.record, st.paused_until = False, time.monotonic() + RECORD_RETRY_S
            st.written = self.recorder.segments_written
        finally:
            self.record_busy_since = None
        if self.record_error and self.recorder.segments_written > st.written:
            self._set(record_error=None)  # recording resumed by itself

    def _end_session(self, st: _Pass, container: Any) -> None:
        """Close and index the open segment (primary only), then the connection."""
        if st.primary:
            try:
                self.recorder.end(st.last_wall)
            except Exception:
                log.exception("camera %s: closing the segment failed", self.cam.id)
        container.close()
