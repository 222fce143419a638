"""The optional ``incidents:`` section of the site config.

Lives here (not in ``config/schema.py``) so the emergency-response vocabulary stays with the code
that uses it; ``SiteConfig.incidents`` points at :class:`IncidentSettings`. Every default works
without any configuration: a city gets the standard catalogue and NFPA-based targets out of the box.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UnitType = Literal["police", "fire", "medical", "other"]
Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
UNIT_TYPES: tuple[UnitType, ...] = ("police", "fire", "medical", "other")
Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentType(_Strict):
    id: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    unit_types: list[UnitType] = Field(
        default_factory=lambda: list[UnitType](["police"])
    )  # suitable responders, best first
    priority: Priority = "P2"  # default priority for a new incident of this type


DEFAULT_TYPES: list[dict[str, object]] = [
    {"id": "assault", "label": "Assault", "unit_types": ["police", "medical"], "priority": "P1"},
    {"id": "medical", "label": "Medical emergency", "unit_types": ["medical"], "priority": "P1"},
    {"id": "fire", "label": "Fire", "unit_types": ["fire"], "priority": "P1"},
    {
        "id": "traffic_collision",
        "label": "Traffic collision",
        "unit_types": ["police", "medical", "fire"],
        "priority": "P2",
    },
    {"id": "fall", "label": "Fall / person down", "unit_types": ["medical"], "priority": "P2"},
    {"id": "crowd_surge", "label": "Crowd surge", "unit_types": ["police", "medical"], "priority": "P1"},
    {"id": "intrusion", "label": "Intrusion", "unit_types": ["police"], "priority": "P2"},
    {"id": "theft", "label": "Theft", "unit_types": ["police"], "priority": "P3"},
    {"id": "disturbance", "label": "Disturbance", "unit_types": ["police"], "priority": "P3"},
    {"id": "hazard", "label": "Hazard / obstruction", "unit_types": ["fire", "other"], "priority": "P3"},
    {"id": "other", "label": "Other", "unit_types": ["police", "medical", "fire", "other"], "priority": "P4"},
]


class StepTargets(_Strict):
    """Seconds allowed for each step; a running or finished step past its target is overdue."""

    dispatch: float = Field(gt=0, le=86_400)  # call received -> first unit dispatched (alarm processing)
    turnout: float = Field(gt=0, le=86_400)  # dispatched -> en route
    travel: float = Field(gt=0, le=86_400)  # en route -> on scene
    total: float = Field(gt=0, le=86_400)  # call received -> first unit on scene


# P1 follows NFPA 1221 (2019) alarm processing 64 s and NFPA 1710 (2020) turnout 80 s (fire; 60 s
# for EMS) and first-engine travel 240 s. P2 uses NFPA's 95th-percentile processing time (106 s) and
# the 480 s travel benchmark (ALS unit / full first alarm). P3/P4 are local defaults, not NFPA.
# See docs/incidents.md.
DEFAULT_TARGETS: dict[Priority, dict[str, float]] = {
    "P1": {"dispatch": 64, "turnout": 80, "travel": 240, "total": 384},
    "P2": {"dispatch": 106, "turnout": 80, "travel": 480, "total": 666},
    "P3": {"dispatch": 300, "turnout": 180, "travel": 900, "total": 1380},
    "P4": {"dispatch": 900, "turnout": 300, "travel": 1800, "total": 3000},
}


class District(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str | None = None
    polygon: list[Point] | None = Field(default=None, min_length=3)  # (lat, lon) corners
    plan_polygon: list[Point] | None = Field(
        default=None, min_length=3
    )  # (x, y) corners on the site plan, 0..1


class MapBounds(_Strict):
    """The area the center serves; a lat/lon outside it is 'off the map'."""

    min_lat: float = Field(ge=-90, le=90)
    max_lat: float = Field(ge=-90, le=90)
    min_lon: float = Field(ge=-180, le=180)
    max_lon: float = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _ordered(self) -> MapBounds:
        if self.min_lat >= self.max_lat or self.min_lon >= self.max_lon:
            raise ValueError("bounds need min_lat < max_lat and min_lon < max_lon")
        return self


class UnitSeed(_Strict):
    """A response unit declared in the config; created in the database at startup if missing."""

    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")  # call sign
    name: str | None = None
    type: UnitType
    station: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    x: float | None = Field(default=None, ge=0, le=1)
    y: float | None = Field(default=None, ge=0, le=1)


class WebhookConfig(_Strict):
    url: str
    secret: str | None = None  # HMAC-SHA256 of the body in X-Oversight-Signature
    topics: list[Literal["incident", "unit"]] = ["incident", "unit"]
    timeout: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=5, ge=1, le=20)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        return v


class EvidencePolicy(_Strict):
    """What happens to evidence holds of attached footage when the incident closes: kept until a
    supervisor releases them with a reason (``keep``, the default), released, or kept N days."""

    on_close: Literal["keep", "release", "keep_days"] = "keep"
    keep_days: float = Field(default=30.0, gt=0, le=3650)  # with on_close: keep_days
    alert_pre_seconds: float = Field(default=30.0, ge=0, le=3600)  # footage window held around an alert
    alert_post_seconds: float = Field(default=120.0, ge=0, le=3600)


class IncidentSettings(_Strict):
    types: list[IncidentType] = Field(default_factory=lambda: [IncidentType(**t) for t in DEFAULT_TYPES])
    targets: dict[Priority, StepTargets] = Field(default_factory=dict)  # missing priorities use defaults
    travel_times: dict[str, dict[str, float]] = Field(default_factory=dict)  # station -> district -> seconds
    travel_speed_kmh: float = Field(default=40.0, gt=0)  # straight-line distance -> estimated seconds
    site_plan_width_m: float = Field(default=1000.0, gt=0)  # metres across the site plan (x/y distances)
    districts: list[District] = Field(default_factory=list)
    bounds: MapBounds | None = None
    units: list[UnitSeed] = Field(default_factory=list)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    mqtt: bool = True  # publish on site.mqtt when that is configured
    evidence: EvidencePolicy = Field(default_factory=lambda: EvidencePolicy())
    nearest_cameras: int = Field(default=4, ge=0, le=32)

    @field_validator("types")
    @classmethod
    def _unique_types(cls, v: list[IncidentType]) -> list[IncidentType]:
        ids = [t.id for t in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate incident type id(s): {', '.join(sorted(dup))}")
        if not v:
            raise ValueError("at least one incident type is needed")
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> IncidentSettings:
        for what, ids in (("unit", [u.id for u in self.units]), ("district", [d.id for d in self.districts])):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {what} id(s): {', '.join(dup)}")
        return self

    def type(self, type_id: str) -> IncidentType | None:
        return next((t for t in self.types if t.id == type_id), None)

    def target(self, priority: str) -> StepTargets:
        for p, t in self.targets.items():
            if p == priority:
                return t
        defaults = {str(k): v for k, v in DEFAULT_TARGETS.items()}
        return StepTargets(**defaults.get(priority, DEFAULT_TARGETS["P4"]))
