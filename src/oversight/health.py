"""Health of the site in numbers an operator can trust, and health problems as alerts.

Per camera: receiving (age of the newest frame), recording (age of the newest segment, bytes a
minute over the last ten minutes), analysing (frames a second against the configured rate),
reconnects, codec and the last error in plain words. Per server: disk free, the days of footage
that still fit at the current bitrate, database size.

``HealthMonitor`` checks every ``interval_s`` and turns each problem (camera down, not recording,
analysis stalled, storage low) into a health alert through the ``AlertManager``; the alert closes
itself when a later check finds the problem gone. Problems are only raised after a grace period
from start (cameras take a few seconds to connect) and after they persist for two checks, so a
single slow check does not page anyone.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from oversight.config.schema import CameraConfig, Priority, SiteConfig
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import Segment

log = logging.getLogger(__name__)

GRACE_S = 30.0  # no camera problems in the first seconds after start
FRAME_STALE_S = 15.0
WINDOW = timedelta(minutes=10)  # bytes/min are measured over this window
STALLED_RATIO = 0.25  # analysing below a quarter of the configured rate is a stall

# code -> (priority, what an operator reads)
PROBLEMS: dict[str, tuple[Priority, str]] = {
    "camera_down": ("P2", "Camera {name} is not sending video"),
    "not_recording": ("P2", "Camera {name} is not being recorded"),
    "analysis_stalled": ("P3", "Analytics on camera {name} have stalled"),
    "storage_low": ("P2", "Storage low: {days} days of footage left at the current bitrate"),
}


def _parse(ts: Any) -> datetime | None:
    if isinstance(ts, datetime):
        return ts
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts)
        except ValueError:
            return None
    return None


def plain_error(error: Any) -> str | None:
    """A status error as a sentence for an operator (the raw text stays in the log)."""
    if not error:
        return None
    e = str(error)
    low = e.lower()
    for needle, words in (
        ("connection refused", "The camera refused the connection (wrong address or port, or it is off)."),
        ("timed out", "The camera did not answer in time (network down or camera off)."),
        ("timeout", "The camera did not answer in time (network down or camera off)."),
        ("401", "The camera rejected the user name or password."),
        ("unauthorized", "The camera rejected the user name or password."),
        ("404", "The stream address was not found on the camera."),
        ("no such file", "The video file does not exist."),
        ("cannot be recorded", e),
        ("not recordable", e),
    ):
        if needle in low:
            return words
    return e[:300]


def _db_bytes(db: Database) -> int | None:
    try:
        url = db.engine.url
        if url.get_backend_name() == "sqlite":
            path = Path(url.database or "")
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file())
        with db.engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
    except Exception:  # a health check must not fail on a metric
        return None


def camera_health(
    cam: CameraConfig,
    st: dict[str, Any],
    newest_segment: datetime | None,
    recent_bytes: int,
    analytics_fps: float | None,
    now: datetime,
) -> dict[str, Any]:
    frame_at = _parse(st.get("last_frame_at"))
    seg_at = _parse(st.get("last_segment_at")) or newest_segment
    return {
        "id": cam.id,
        "name": cam.display_name,
        "enabled": cam.enabled,
        "state": st.get("state") or ("online" if st.get("online") else "not running"),
        "online": bool(st.get("online")),
        "frame_age_s": round((now - frame_at).total_seconds(), 1) if frame_at else None,
        "fps": st.get("fps"),
        "codec": st.get("codec"),
        "transcoding": bool(st.get("transcoding")),
        "recording": bool(st.get("recording")),
        "record_mode": cam.record.mode,
        "segment_age_s": round((now - seg_at).total_seconds(), 1) if seg_at else None,
        "bytes_per_min": round(recent_bytes / (WINDOW.total_seconds() / 60)),
        "analytics_fps": None if analytics_fps is None else round(analytics_fps, 2),
        "analytics_fps_configured": cam.detect.fps if cam.detect.enabled else None,
        "reconnects": int(st.get("reconnects") or 0),
        "last_error": plain_error(st.get("error") or st.get("detect_error")),
    }


def camera_problems(c: dict[str, Any], cam: CameraConfig) -> list[str]:
    if not cam.enabled:
        return []
    age = c["frame_age_s"]
    if not c["online"] or age is None or age > FRAME_STALE_S:
        return ["camera_down"]  # the rest follows from it
    out = []
    if cam.record.mode == "continuous":
        seg_age = c["segment_age_s"]
        late = 3 * cam.record.segment_seconds + 20
        if not c["recording"] or seg_age is None or seg_age > late:
            out.append("not_recording")
    want = c["analytics_fps_configured"]
    if want and c["analytics_fps"] is not None and c["analytics_fps"] < STALLED_RATIO * want:
        out.append("analysis_stalled")
    return out


class HealthMonitor:
    """Periodic checks over the runtime's camera statuses, the segment index and the disk."""

    def __init__(
        self,
        cfg: SiteConfig,
        db: Database,
        status: Callable[[], list[dict[str, Any]]],
        alerts: Any = None,
        data_dir: str | Path | None = None,
        interval_s: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.cfg, self.db, self.status, self.alerts = cfg, db, status, alerts
        self.data_dir = Path(data_dir or cfg.site.data_dir).expanduser()
        self.interval_s, self.clock = interval_s, clock
        self.started = clock()
        self.latest: dict[str, Any] | None = None
        self._analysed: dict[str, tuple[datetime, float]] = {}  # counter -> (checked at, value)
        self._seen: set[tuple[str | None, str]] = set()  # problems found by the previous check
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self.started = self.clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:
                log.exception("health check failed")

    def _rate(self, key: str, value: Any, now: datetime) -> float | None:
        """Per-second rate of a growing counter between this check and the previous one."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        prev = self._analysed.get(key)
        self._analysed[key] = (now, value)
        if prev is None or value < prev[1]:
            return None
        dt = (now - prev[0]).total_seconds()
        return (value - prev[1]) / dt if dt > 0 else None

    def server(self, now: datetime) -> dict[str, Any]:
        with self.db.session() as s:
            hour = int(
                s.scalar(select(func.sum(Segment.bytes)).where(Segment.end >= now - timedelta(hours=1))) or 0
            )
        try:
            usage = shutil.disk_usage(self.data_dir if self.data_dir.exists() else Path.cwd())
            free, total = int(usage.free), int(usage.total)
        except OSError:
            free = total = 0
        per_day = hour * 24
        cap = self.cfg.site.storage_cap_gb
        room = free if cap is None else min(free, int(cap * 1e9))
        return {
            "disk_free_bytes": free,
            "disk_total_bytes": total,
            "bytes_per_day": per_day,
            "days_left": round(room / per_day, 1) if per_day else None,
            "db_bytes": _db_bytes(self.db),
        }

    def check(self, now: datetime | None = None) -> dict[str, Any]:
        """One check: the health snapshot (also kept in ``latest``); raises and clears alerts."""
        now = now or self.clock()
        statuses = {str(st.get("id")): st for st in self.status()}
        with self.db.session() as s:
            newest = dict(
                s.execute(select(Segment.camera_id, func.max(Segment.end)).group_by(Segment.camera_id)).all()
            )
            recent = dict(
                s.execute(
                    select(Segment.camera_id, func.sum(Segment.bytes))
                    .where(Segment.end >= now - WINDOW)
                    .group_by(Segment.camera_id)
                ).all()
            )
        cams: list[dict[str, Any]] = []
        problems: set[tuple[str | None, str]] = set()
        for cam in list(self.cfg.cameras):
            st = statuses.get(cam.id, {})
            fps = self._rate(cam.id, st.get("frames_analyzed"), now)
            c = camera_health(cam, st, newest.get(cam.id), int(recent.get(cam.id) or 0), fps, now)
            load = self._rate(cam.id + "/transcode", st.get("transcode_cpu_s"), now)
            c["transcode_load"] = None if load is None else round(load, 3)  # cores used by transcoding
            c["problems"] = camera_problems(c, cam) if (now - self.started).total_seconds() >= GRACE_S else []
            cams.append(c)
            problems |= {(cam.id, p) for p in c["problems"]}
        server = self.server(now)
        days = server["days_left"]
        server["problems"] = (
            ["storage_low"] if days is not None and days < self.cfg.alarms.storage_min_days else []
        )
        problems |= {(None, p) for p in server["problems"]}
        self._alert(problems, server)
        self.latest = {"checked_at": now.isoformat(), "cameras": cams, "server": server}
        return self.latest

    def _alert(self, problems: set[tuple[str | None, str]], server: dict[str, Any]) -> None:
        if self.alerts is None:
            return
        names = {c.id: c.display_name for c in self.cfg.cameras}
        for cam_id, code in problems & self._seen:  # found twice in a row: raise (once)
            prio, words = PROBLEMS[code]
            title = words.format(name=names.get(cam_id or "", cam_id), days=server.get("days_left"))
            self.alerts.raise_health(cam_id, code, title, prio)
        for cam_id, code in self.alerts.open_health() - problems:
            if code in PROBLEMS:  # others (subject access reminders) are raised and cleared elsewhere
                self.alerts.clear_health(cam_id, code)
        self._seen = problems

    def metrics(self) -> dict[str, dict[str, float]]:
        """For Prometheus (``Runtime.metrics``): health numbers and open problems, 1 per problem."""
        h = self.latest
        if h is None:
            return {}
        out: dict[str, dict[str, float]] = {
            "health_problem": {},
            "camera_frame_age_seconds": {},
            "camera_segment_age_seconds": {},
            "camera_recorded_bytes_per_minute": {},
            "camera_analytics_fps": {},
        }
        for c in h["cameras"]:
            for p in c["problems"]:
                out["health_problem"][f"{c['id']}:{p}"] = 1.0
            for key, name in (
                ("frame_age_s", "camera_frame_age_seconds"),
                ("segment_age_s", "camera_segment_age_seconds"),
                ("bytes_per_min", "camera_recorded_bytes_per_minute"),
                ("analytics_fps", "camera_analytics_fps"),
            ):
                if c[key] is not None:
                    out[name][c["id"]] = float(c[key])
        srv = h["server"]
        for p in srv["problems"]:
            out["health_problem"][f"server:{p}"] = 1.0
        out["server_health"] = {
            k: float(srv[k])
            for k in ("disk_free_bytes", "days_left", "db_bytes", "bytes_per_day")
            if srv[k] is not None
        }
        return out
