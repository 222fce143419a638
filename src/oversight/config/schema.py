"""The configuration model. Every camera and every analytic rule declares a purpose.

Pydantic models with ``extra="forbid"`` so an unknown key is an error, not silently ignored.
Cross-field checks (zones inside the frame, unique ids) live in ``loader.semantic_issues``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oversight.config.cluster import ClusterConfig  # the optional cluster: section (no Ray)
from oversight.config.incidents import IncidentSettings  # the optional incidents: section

Point = tuple[float, float]

# Every duration and size has an upper bound: a typo such as ``retention_days: 1e6`` is a config
# error naming its line, never an OverflowError inside retention that stops it for every camera.
MAX_RETENTION_DAYS = 3650.0  # ten years; longer keeping needs an evidence export, not retention
MAX_STORAGE_GB = 1_000_000.0  # one petabyte
MAX_RULE_SECONDS = 86_400.0  # one day


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = "oversight"
    username: str | None = None
    password: str | None = None


class AuditS3Settings(Strict):
    """A third copy of every audit digest in an S3 bucket with Object Lock (write once, read many)."""

    bucket: str = Field(min_length=3, description="created with Object Lock enabled")
    endpoint_url: str | None = None  # e.g. http://minio.internal:9000; None: AWS
    prefix: str = "audit-digests"
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"  # names of environment variables, never the secrets
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    retain_days: int = Field(3650, ge=1, description="COMPLIANCE-mode retention of each digest object")


class AuditSyslogSettings(Strict):
    """A copy of every audit digest sent to another host's syslog (RFC 5424), outside this one's reach."""

    host: str = Field(min_length=1, description="the collector's name or address")
    port: int = Field(514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = Field(
        "udp", description="udp: RFC 5426, one datagram per digest; tcp: RFC 6587 octet counting"
    )
    facility: int = Field(13, ge=0, le=23, description="13 is 'log audit'")
    app_name: str = Field("oversight", pattern=r"^[!-~]{1,48}$")


class AuditSettings(Strict):
    """How often the audit log's head is signed into a chained digest (see privacy/audit_trail)."""

    digest_every_entries: int = Field(100, ge=1, description="sign after this many new entries")
    digest_every_minutes: float = Field(
        15.0, gt=0, le=1440, description="sign at least this often, even when nothing happened"
    )
    s3: AuditS3Settings | None = None
    syslog: AuditSyslogSettings | None = None


class OidcSettings(Strict):
    """Single sign-on through an OpenID Connect provider; roles come from its groups claim."""

    issuer: str = Field(min_length=8, description="the provider's issuer URL (discovery is read from it)")
    client_id: str = Field(min_length=1)
    client_secret: str | None = Field(None, description="for client_secret_basic at the token endpoint")
    redirect_uri: str | None = Field(
        None, description="default: <this server>/api/auth/oidc/callback as the browser reached it"
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "groups"])
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    role_map: dict[str, Literal["viewer", "operator", "supervisor", "auditor", "admin"]] = Field(
        min_length=1, description="provider group -> Oversight role; the first listed group a user has wins"
    )


class SecuritySettings(Strict):
    """Access control knobs: proxies, login throttling, second factor, sessions, reveal windows."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For is believed",
    )
    login_hash_concurrency: int = Field(2, ge=1, le=64, description="password checks at once")
    login_hash_queue: int = Field(4, ge=0, le=256, description="logins that may wait; more get 429")
    login_throttle: Literal["auto", "memory", "database"] = Field(
        "auto", description="where failure counts live; auto: the database in a cluster, else memory"
    )
    totp_roles: list[str] = Field(
        default_factory=list, description="roles that must log in with a TOTP second factor"
    )
    session_idle_minutes: float = Field(30, gt=0, description="a session unused this long locks")
    session_max_hours: float = Field(12, gt=0, description="no session lives longer, used or not")
    reveal_ahead_minutes: float = Field(
        60, ge=0, description="how far past now one approval may reveal live footage"
    )
    reveal_ahead_max_minutes: float = Field(
        24 * 60, ge=0, description="the furthest past now a reveal may reach, with two approvers"
    )
    oidc: OidcSettings | None = None
    ungrouped_cameras: Literal["everyone", "nobody"] = Field(
        "everyone",
        description="when camera_groups are configured, who sees a camera in no group "
        "(admins always see every camera)",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"'{item}' is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return v


class CopiesConfig(Strict):
    """How long each copy made from footage lives (``oversight.privacy.copies`` applies it)."""

    snapshot_days: float | None = Field(None, gt=0, le=MAX_RETENTION_DAYS)  # None: event retention
    export_days: float = Field(90.0, gt=0, le=MAX_RETENTION_DAYS)
    report_hours: float = Field(24.0, gt=0, le=24 * 365)
    cache_hours: float = Field(24.0, gt=0, le=24 * 30)
    cache_max_gb: float = Field(2.0, gt=0, le=MAX_STORAGE_GB)


class PortalSettings(Strict):
    """The public transparency portal under /public (``oversight.web.portal``)."""

    enabled: bool = True  # the site's duty to publish; switch off only where another site publishes it
    contact: str | None = None  # where the public asks questions (an office, never a person's account)
    legal_basis: str | None = None  # default for cameras that state none (e.g. a bylaw and its article)
    sharing: list[str] = Field(default_factory=list)  # who footage may go to, and on what condition
    months: int = Field(12, ge=1, le=60)  # monthly statistics published
    cache_minutes: float = Field(10.0, ge=0, le=1440)  # anonymous requests never recompute more often


class CameraGroup(Strict):
    """A district or site: a set of cameras that people are granted as a whole.

    A person sees a group's cameras when an admin assigned them the group (``/api/users``), or when
    their role is listed in ``roles`` here. Nothing configured: everyone sees every camera."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field("", max_length=200)
    cameras: list[str] = Field(
        default_factory=list, description="camera ids; a camera may be in several groups"
    )
    roles: list[Literal["viewer", "operator", "supervisor", "auditor", "admin"]] = Field(
        default_factory=list, description="roles whose every holder is granted this group"
    )


class PushSettings(Strict):
    """Web Push to the app installed on phones (``oversight.web.push``): a title and a link, never
    footage. ``contact`` is the VAPID ``sub`` claim, how a push service reaches the operator of this
    server about its traffic."""

    enabled: bool = True
    contact: str = Field("mailto:oversight@localhost", pattern=r"^(mailto:\S+@\S+|https://\S+)$")
    ttl_s: int = Field(3600, ge=0, le=86400)  # how long a push service keeps an undelivered notice


class SiteSettings(Strict):
    name: str = "Oversight site"
    timezone: str = "UTC"
    data_dir: str = "var"
    database_url: str | None = None  # default: sqlite:///<data_dir>/oversight.db
    storage_cap_gb: float | None = Field(None, gt=0, le=MAX_STORAGE_GB)
    min_free_gb: float = Field(0.5, ge=0, le=MAX_STORAGE_GB)  # oldest footage goes before the disk fills
    max_hold_days: float = Field(365.0, gt=0, le=MAX_RETENTION_DAYS)  # an evidence hold lapses unless renewed
    mqtt: MqttConfig | None = None
    site_plan: str | None = None  # image path for the map page
    map_tiles: str | None = None  # a PMTiles file of vector tiles (streets) for the map page; docs/map.md
    gazetteer: str | None = None  # GeoJSON of address points / named streets: call intake's address lookup
    road_network: str | None = None  # GeoJSON road LineStrings: dispatch's travel time by road (docs/map.md)
    controller: str = "the city"  # the data controller named in reports (this default is shown translated)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    copies: CopiesConfig = Field(default_factory=CopiesConfig)  # snapshots, caches, exports, reports
    portal: PortalSettings = Field(default_factory=PortalSettings)
    push: PushSettings = Field(default_factory=PushSettings)


class GeoLocation(Strict):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    x: float | None = Field(None, ge=0, le=1)  # position on the site plan, 0..1
    y: float | None = Field(None, ge=0, le=1)
    address: str | None = None


class FieldOfView(Strict):
    """What a camera sees, as published: compass direction, opening angle and useful range."""

    direction_deg: float = Field(ge=0, lt=360)  # 0 north, 90 east
    angle_deg: float = Field(60.0, gt=0, le=360)
    range_m: float | None = Field(None, gt=0, le=10_000)
    description: str | None = None  # e.g. "the square and the bus stop, not the houses behind"


class Streams(Strict):
    record: str
    detect: str | None = None  # defaults to the record stream

    @field_validator("record", "detect")
    @classmethod
    def _known_scheme(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if "://" in v and v.split("://", 1)[0].lower() not in {"rtsp", "rtsps", "http", "https", "file"}:
            raise ValueError("stream URL must be rtsp://, rtsps://, http(s)://, file:// or a file path")
        return v


class DetectConfig(Strict):
    enabled: bool = True
    fps: float = Field(5.0, gt=0, le=60)
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(360, ge=64, le=4096)
    # auto: the model_path file, else the packaged YOLOX-nano (oversight-models), else HOG (degraded)
    detector: Literal["auto", "hog", "onnx", "none"] = "auto"
    model_path: str | None = None
    providers: list[str] | None = None  # ONNX Runtime providers; default picks CUDA/TensorRT when present
    min_confidence: float = Field(0.4, ge=0, le=1)
    classes: list[str] = Field(
        default_factory=lambda: ["person", "car", "truck", "bus", "bicycle", "motorcycle"]
    )


class MotionConfig(Strict):
    threshold: int = Field(25, ge=1, le=255)  # per-pixel difference
    min_area: float = Field(0.002, ge=0, le=1)  # fraction of the frame that must change
    masks: list[list[Point]] = Field(default_factory=list)  # polygons excluded from motion


class RecordConfig(Strict):
    mode: Literal["continuous", "events"] = "continuous"
    segment_seconds: float = Field(10.0, ge=1, le=600)
    pre_roll: float = Field(5.0, ge=0, le=120)
    post_roll: float = Field(5.0, ge=0, le=600)
    retention_days: float = Field(7.0, gt=0, le=MAX_RETENTION_DAYS)
    event_retention_days: float | None = Field(30.0, gt=0, le=MAX_RETENTION_DAYS)


class RedactionConfig(Strict):
    faces: bool = True
    persons: bool = False
    plates: bool = False
    style: Literal["blur", "pixelate"] = "blur"
    face_model_path: str | None = None
    plate_model_path: str | None = None


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: list[Day] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Schedule(Strict):
    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS))
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parts = v.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError("time must be HH:MM")
        h, m = int(parts[0]), int(parts[1])
        if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
            raise ValueError("time must be between 00:00 and 24:00")
        return v


Priority = Literal["P1", "P2", "P3", "P4"]  # P1 most urgent
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
Sound = Literal["siren", "alarm", "chime", "beep", "none"]


class RuleBase(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    purpose: str = Field(min_length=3)
    classes: list[str] = Field(default_factory=lambda: ["person"])
    schedule: Schedule | None = None
    # Every rule records searchable events; only ``alert: true`` puts them in the alert queue.
    alert: bool = False
    priority: Priority = "P3"
    sound: Sound | None = None  # None: the priority's sound (alarms.sounds)
    cooldown_s: float = Field(60.0, ge=0, le=86400)  # a recurrence this soon updates the last alert


class ZoneRule(RuleBase):
    type: Literal["zone"]
    polygon: list[Point] = Field(min_length=3)


class LineRule(RuleBase):
    type: Literal["line"]
    line: tuple[Point, Point]
    direction: Literal["any", "a_to_b", "b_to_a"] = "any"  # a = left of the line walking from p1 to p2
    # A counting line alerts only when crossings within ``per_minutes`` exceed ``alert_above``.
    alert_above: int | None = Field(None, ge=0)
    per_minutes: float = Field(60.0, gt=0, le=1440)


class DwellRule(RuleBase):
    type: Literal["dwell"]
    polygon: list[Point] = Field(min_length=3)
    seconds: float = Field(gt=0, le=MAX_RULE_SECONDS)


class CrowdRule(RuleBase):
    type: Literal["crowd"]
    polygon: list[Point] = Field(min_length=3)
    max_count: int = Field(ge=1)


AnyRule = ZoneRule | LineRule | DwellRule | CrowdRule

NormPoint = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class PrivacyMask(Strict):
    """A private place in the picture (a window, a door, a yard), as a polygon in normalised
    coordinates (0..1 of width and height). ``permanent``: black at every exit, no reveal lifts it;
    ``liftable``: black unless the viewer holds an approved reveal. ``preset``: on a PTZ camera, the
    preset the mask was drawn for (it applies only while the camera is there)."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    polygon: list[NormPoint] = Field(min_length=3, max_length=64)
    kind: Literal["permanent", "liftable"] = "permanent"
    preset: str | None = None


Rule = Annotated[AnyRule, Field(discriminator="type")]


class PtzSettings(Strict):
    """A pan-tilt-zoom camera steered over ONVIF (the camera's ``onvif`` URL, credentials in it)."""

    home_preset: str | None = Field(
        None, description="the preset whose picture the zones and lines are drawn on; None: the device's home"
    )
    pause_analytics_off_home: bool = Field(
        True, description="zones no longer match the picture while the camera looks elsewhere"
    )
    presets: list[str] = Field(
        default_factory=list, description="the presets privacy masks may be drawn for (privacy.masks)"
    )
    preset: str | None = Field(
        None, description="where the camera is at start; PTZ control keeps the current one per camera"
    )


class CameraConfig(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    name: str | None = None
    purpose: str = Field(min_length=3)
    enabled: bool = True
    streams: Streams
    location: GeoLocation | None = None
    legal_basis: str | None = None  # published on the portal; site.portal.legal_basis when absent
    field_of_view: FieldOfView | None = None
    manufacturer: str | None = None
    model: str | None = None
    onvif: str | None = None  # ONVIF device service URL for device information
    ptz: PtzSettings | None = None  # steerable over ONVIF (needs ``onvif``)
    loop: bool = False  # loop file sources (tests, demos)
    # Record a stream browsers cannot play (MJPEG, MPEG-4 part 2) by transcoding it to H.264 (costs CPU);
    # without it such a camera is watched and analysed but not recorded.
    transcode: bool = False
    realtime: bool = True  # pace file sources at their frame rate
    detect: DetectConfig = Field(default_factory=DetectConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    redaction: RedactionConfig = Field(default_factory=RedactionConfig)
    rules: list[Rule] = Field(default_factory=list)
    masks: list[PrivacyMask] = Field(default_factory=list)  # privacy masks (privacy.masks)

    @model_validator(mode="after")
    def _mask_presets(self) -> CameraConfig:
        known = set(self.ptz.presets) if self.ptz else set()
        ids = [m.id for m in self.masks]
        if len(set(ids)) != len(ids):
            raise ValueError("privacy mask ids must be unique per camera")
        for m in self.masks:
            if m.preset is not None and m.preset not in known:
                raise ValueError(f"mask {m.id!r} names preset {m.preset!r}, not one of ptz.presets")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def detect_url(self) -> str:
        return self.streams.detect or self.streams.record


ESCALATE_AFTER_S: dict[Priority, float] = {"P1": 60.0, "P2": 180.0, "P3": 600.0, "P4": 1800.0}
SOUNDS: dict[Priority, Sound] = {"P1": "siren", "P2": "alarm", "P3": "chime", "P4": "none"}


class AlarmSettings(Strict):
    """Alarm discipline for the whole site: storm control, escalation and sounds per priority."""

    storm_per_minute: int = Field(10, ge=1, le=1000)  # beyond this, a camera's alerts are grouped
    escalate_after_s: dict[Priority, float] = Field(default_factory=lambda: dict(ESCALATE_AFTER_S))
    sounds: dict[Priority, Sound] = Field(default_factory=lambda: dict(SOUNDS))
    repeat_sound_s: float = Field(10.0, ge=2, le=600)  # an unacknowledged alert sounds again this often
    storage_min_days: float = Field(2.0, ge=0)  # a health alert when less footage than this still fits
    clock_skew_max_s: float = Field(2.0, gt=0)  # a health alert when a clock is off by more than this
    time_reference: str | None = (
        None  # NTP server ("host" or "host:port") the server's clock is checked against
    )
    time_check_s: float = Field(300.0, ge=5)  # how often the time reference is asked
    queue_fill_max: float = Field(0.8, gt=0, le=1)  # a health alert when a queue is fuller than this
    decode_drops_per_min: float = Field(120.0, ge=0)  # a health alert when a camera's decoder drops more
    host_disk_min_free_gb: float = Field(1.0, ge=0)  # a cluster camera host with less free disk alerts


class SiteConfig(Strict):
    site: SiteSettings = Field(default_factory=SiteSettings)
    cameras: list[CameraConfig] = Field(default_factory=list)
    incidents: IncidentSettings | None = None  # emergency response; defaults apply when absent
    cluster: ClusterConfig | None = None  # scale-out (Ray, PostgreSQL, S3, broker); absent: embedded
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    camera_groups: list[CameraGroup] = Field(
        default_factory=list, description="districts or sites that scope who sees which cameras"
    )

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


def database_url(cfg: SiteConfig) -> str:
    """The site's database: ``site.database_url``, else SQLite under ``site.data_dir``."""
    if cfg.site.database_url:
        return cfg.site.database_url
    return f"sqlite:///{(Path(cfg.site.data_dir) / 'oversight.db').resolve()}"
