"""Health of the site in numbers an operator can trust, and health problems as alerts.

Per camera: receiving (age of the newest frame), recording (age of the newest segment, bytes a
minute over the last ten minutes), analysing (frames a second against the configured rate),
reconnects, codec, the camera clock's skew against the server's, the decode queue and its drops,
and the last error in plain words. Per server: disk free, the days of footage that still fit at the
current bitrate, database size, the depth of every bounded queue fed from the bus (bus and web
subscribers, MQTT clients), and, where ``alarms.time_reference`` names an NTP server, the server
clock's offset from it. (Recording has no queue of its own: segments are written on the camera's
reader thread, so a slow disk shows as the watchdog's "recording" stall, not as a backlog.)

``HealthMonitor`` checks every ``interval_s`` and turns each problem (camera down, not recording,
analysis stalled, storage low) into a health alert through the ``AlertManager``; the alert closes
itself when a later check finds the problem gone. Problems are only raised after a grace period
from start (cameras take a few seconds to connect) and after they persist for two checks, so a
single slow check does not page anyone. Clock skew, queue backlog and decode drops alert above
their thresholds in ``alarms`` and close like the others.
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

from oversight.config.schema import AlarmSettings, CameraConfig, Priority, SiteConfig
from oversight.i18n import N_, Message
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
    "camera_down": ("P2", N_("Camera {name} is not sending video")),
    "not_recording": ("P2", N_("Camera {name} is not being recorded")),
    "analysis_stalled": ("P3", N_("Analytics on camera {name} have stalled")),
    "storage_low": ("P2", N_("Storage low: {days} days of footage left at the current bitrate")),
    "clock_skew": ("P3", N_("The clock of camera {name} is {skew} s off the server's")),
    "decode_dropping": ("P3", N_("Camera {name}: the decoder is dropping video ({drops} packets a minute)")),
    "server_clock": ("P2", N_("The server's clock is {offset} s off the time reference {ref}")),
    "queue_backlog": ("P2", N_("Queue {queue} is {fill}% full: a consumer is falling behind")),
    # a cluster head about its camera hosts; the alert's code is "<problem>@<host>"
    "host_clock": ("P2", N_("The clock of camera host {host} is {offset} s off the cluster head's")),
    "host_disk": ("P2", N_("Camera host {host} has {free_gb} GB of disk left")),
    "host_queue": ("P2", N_("Queue {queue} on camera host {host} is {fill}% full")),
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
        (
            "connection refused",
            N_("The camera refused the connection (wrong address or port, or it is off)."),
        ),
        ("timed out", N_("The camera did not answer in time (network down or camera off).")),
        ("timeout", N_("The camera did not answer in time (network down or camera off).")),
        ("401", N_("The camera rejected the user name or password.")),
        ("unauthorized", N_("The camera rejected the user name or password.")),
        ("404", N_("The stream address was not found on the camera.")),
        ("no such file", N_("The video file does not exist.")),
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
        "clock_skew_s": st.get("clock_skew_s"),
        "decode_queue": st.get("decode_queue"),
        "decode_drops": int(st.get("packets_dropped_decode") or 0),
        "detector": st.get("detector"),
        "detector_model": st.get("detector_model"),
        "detector_source": st.get("detector_source"),
        "face_detector": st.get("face_detector"),
        "face_model": st.get("face_model"),
        "face_model_source": st.get("face_model_source"),
        "degraded": list(st.get("degraded") or []),
    }


def camera_problems(c: dict[str, Any], cam: CameraConfig, alarms: AlarmSettings | None = None) -> list[str]:
    alarms = alarms or AlarmSettings()
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
    skew = c.get("clock_skew_s")
    if isinstance(skew, int | float) and abs(skew) > alarms.clock_skew_max_s:
        out.append("clock_skew")
    drops = c.get("decode_drops_per_min")
    if drops is not None and drops > alarms.decode_drops_per_min:
        out.append("decode_dropping")
    return out


def server_problems(server: dict[str, Any], alarms: AlarmSettings) -> list[str]:
    out = []
    days = server["days_left"]
    if days is not None and days < alarms.storage_min_days:
        out.append("storage_low")
    offset = server.get("clock_offset_s")
    if offset is not None and abs(offset) > alarms.clock_skew_max_s:
        out.append("server_clock")
    if any(q["depth"] >= alarms.queue_fill_max * max(1, q["capacity"]) for q in server["queues"].values()):
        out.append("queue_backlog")
    return out


def problem_words(cam: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    """The numbers a health alert's title names (``PROBLEMS``)."""
    fullest, fill = _fullest(server.get("queues") or {})
    free = server.get("disk_free_bytes")
    return {
        "name": cam.get("name"),
        "host": server.get("host"),
        "free_gb": None if free is None else round(free / 1e9, 1),
        "days": server.get("days_left"),
        "skew": cam.get("clock_skew_s"),
        "drops": cam.get("decode_drops_per_min"),
        "offset": server.get("clock_offset_s"),
        "ref": server.get("time_reference"),
        "queue": fullest,
        "fill": round(100 * fill),
    }


def _fullest(queues: dict[str, dict[str, int]]) -> tuple[str, float]:
    """The fullest queue's name and how full it is (0..1)."""
    name = max(queues, key=lambda n: queues[n]["depth"] / max(1, queues[n]["capacity"]), default="")
    return name, (queues[name]["depth"] / max(1, queues[name]["capacity"]) if name else 0.0)


def host_problems(host: dict[str, Any], alarms: AlarmSettings) -> list[str]:
    """What is wrong with one cluster camera host's report (``ClusterDeployment.host_reports``):
    its clock against the head's (beyond the threshold plus the round trip's uncertainty), its disk,
    its queues."""
    out = []
    offset = host.get("clock_offset_s")
    if offset is not None and abs(offset) > alarms.clock_skew_max_s + host.get("rtt_s", 0.0) / 2:
        out.append("host_clock")
    free = host.get("disk_free_bytes")
    if free is not None and free < alarms.host_disk_min_free_gb * 1e9:
        out.append("host_disk")
    if _fullest(host.get("queues") or {})[1] >= alarms.queue_fill_max:
        out.append("host_queue")
    return out


class TimeReference:
    """The server's clock against an NTP server (``host`` or ``host:port``), asked at most every
    ``every_s`` seconds: a clock that is off makes every timestamp in the evidence wrong."""

    def __init__(self, spec: str, every_s: float = 300.0, timeout_s: float = 2.0):
        host, _, port = spec.rpartition(":") if spec.count(":") == 1 else (spec, "", "")
        self.spec, self.host, self.port = spec, host or spec, int(port) if port.isdigit() else 123
        self.every_s, self.timeout_s = every_s, timeout_s
        self.offset_s: float | None = None
        self.error: str | None = None
        self._asked: float | None = None

    def check(self, force: bool = False) -> tuple[float | None, str | None]:
        """(offset of our clock from the reference in seconds, or None; the last error, or None)."""
        import time

        import ntplib

        if not force and self._asked is not None and time.monotonic() - self._asked < self.every_s:
            return self.offset_s, self.error
        self._asked = time.monotonic()
        try:
            reply = ntplib.NTPClient().request(self.host, version=3, port=self.port, timeout=self.timeout_s)
            self.offset_s, self.error = -round(float(reply.offset), 3), None
        except (ntplib.NTPException, OSError) as exc:
            self.offset_s, self.error = None, f"time reference {self.spec} did not answer: {exc}"
        return self.offset_s, self.error


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
        queues: Callable[[], dict[str, dict[str, int]]] | None = None,
        hosts: Callable[[], list[dict[str, Any]]] | None = None,
    ):
        """``queues``: the bounded queues to watch (``EventBus.queue_depths``); ``hosts``: a cluster
        head's reports from its camera hosts (``ClusterDeployment.host_reports``)."""
        self.cfg, self.db, self.status, self.alerts = cfg, db, status, alerts
        self.queues, self.hosts = queues or dict, hosts or list
        ref = cfg.alarms.time_reference
        self.time_reference = TimeReference(ref, cfg.alarms.time_check_s) if ref else None
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
        offset, time_error = self.time_reference.check() if self.time_reference else (None, None)
        return {
            "disk_free_bytes": free,
            "disk_total_bytes": total,
            "bytes_per_day": per_day,
            "days_left": round(room / per_day, 1) if per_day else None,
            "db_bytes": _db_bytes(self.db),
            "queues": self.queues(),
            "time_reference": self.time_reference.spec if self.time_reference else None,
            "clock_offset_s": offset,
            "time_error": time_error,
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
            drops = self._rate(cam.id + "/drops", st.get("packets_dropped_decode"), now)
            c["decode_drops_per_min"] = None if drops is None else round(drops * 60, 1)
            settled = (now - self.started).total_seconds() >= GRACE_S
            c["problems"] = camera_problems(c, cam, self.cfg.alarms) if settled else []
            cams.append(c)
            problems |= {(cam.id, p) for p in c["problems"]}
        server = self.server(now)
        server["problems"] = server_problems(server, self.cfg.alarms)
        problems |= {(None, p) for p in server["problems"]}
        # host names are cut to 40 characters: "<problem>@<host>" must fit an alert's rule_id (64)
        hosts = [
            {**h, "host": str(h["host"])[:40], "problems": host_problems(h, self.cfg.alarms)}
            for h in self.hosts()
        ]
        problems |= {(None, f"{p}@{h['host']}") for h in hosts for p in h["problems"]}
        self._alert(problems, cams, server, (now - self.started).total_seconds() >= GRACE_S, hosts)
        self.latest = {"checked_at": now.isoformat(), "cameras": cams, "server": server, "hosts": hosts}
        return self.latest

    def _alert(
        self,
        problems: set[tuple[str | None, str]],
        cams: list[dict[str, Any]],
        server: dict[str, Any],
        settled: bool,
        hosts: list[dict[str, Any]] | None = None,
    ) -> None:
        if self.alerts is None:
            return
        by_id = {c["id"]: c for c in cams}
        by_host = {h["host"]: h for h in hosts or []}
        for cam_id, code in problems & self._seen:  # found twice in a row: raise (once)
            base, _, host = code.partition("@")
            prio, words = PROBLEMS[base]
            about = by_host[host] if host else server  # a camera host's report, or this server
            title = Message(words, problem_words(by_id.get(cam_id or "", {"name": cam_id}), about))
            self.alerts.raise_health(cam_id, code, title, prio)
        self._seen = problems
        if not settled:
            return  # cameras still connecting: alerts open before a restart stay open for now
        for cam_id, code in self.alerts.open_health() - problems:
            if (
                code.partition("@")[0] in PROBLEMS
            ):  # others (subject access reminders) are raised and cleared elsewhere
                self.alerts.clear_health(cam_id, code)

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
            "camera_clock_skew_seconds": {},
            "camera_decode_queue": {},
            "camera_decode_drops_per_minute": {},
            "queue_depth": {},
            "queue_capacity": {},
            "queue_dropped": {},
        }
        for c in h["cameras"]:
            for p in c["problems"]:
                out["health_problem"][f"{c['id']}:{p}"] = 1.0
            for key, name in (
                ("frame_age_s", "camera_frame_age_seconds"),
                ("segment_age_s", "camera_segment_age_seconds"),
                ("bytes_per_min", "camera_recorded_bytes_per_minute"),
                ("analytics_fps", "camera_analytics_fps"),
                ("clock_skew_s", "camera_clock_skew_seconds"),
                ("decode_queue", "camera_decode_queue"),
                ("decode_drops_per_min", "camera_decode_drops_per_minute"),
            ):
                if c.get(key) is not None:
                    out[name][c["id"]] = float(c[key])
        srv = h["server"]
        for p in srv["problems"]:
            out["health_problem"][f"server:{p}"] = 1.0
        for host in h.get("hosts") or []:
            for p in host["problems"]:
                out["health_problem"][f"{p}@{host['host']}"] = 1.0
            if host.get("clock_offset_s") is not None:
                out.setdefault("host_clock_offset_seconds", {})[host["host"]] = float(host["clock_offset_s"])
        out["server_health"] = {
            k: float(srv[k])
            for k in ("disk_free_bytes", "days_left", "db_bytes", "bytes_per_day", "clock_offset_s")
            if srv.get(k) is not None
        }
        for name, q in (srv.get("queues") or {}).items():
            out["queue_depth"][name] = float(q["depth"])
            out["queue_capacity"][name] = float(q["capacity"])
            out["queue_dropped"][name] = float(q["dropped"])
        return out
