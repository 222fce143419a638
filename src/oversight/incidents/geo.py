"""Locations: validation ('off the map'), distances, districts.

A place is either geographic (lat/lon) or a point on the site plan (x/y in 0..1). Distances are
straight lines: haversine metres for lat/lon, plan units scaled by the plan's width for x/y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from oversight.config.incidents import IncidentSettings
from oversight.i18n import N_, TextError

EARTH_RADIUS_M = 6_371_008.8


class LocationError(TextError, ValueError):
    """A location that cannot be placed on the map."""


class Located(Protocol):
    lat: float | None
    lon: float | None
    x: float | None
    y: float | None


@dataclass
class Place:
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def validate_location(
    settings: IncidentSettings,
    lat: float | None,
    lon: float | None,
    x: float | None,
    y: float | None,
    address: str | None,
) -> None:
    """Raise LocationError unless the place is on the map (or only an address is given)."""
    if (lat is None) != (lon is None):
        raise LocationError(N_("give both latitude and longitude, or neither"))
    if (x is None) != (y is None):
        raise LocationError(N_("give both site-plan x and y, or neither"))
    if lat is None and x is None and not (address and address.strip()):
        raise LocationError(N_("a location is required: latitude/longitude, a site-plan point or an address"))
    if lat is not None and lon is not None:
        for v, name in ((lat, "latitude"), (lon, "longitude")):
            if not math.isfinite(v):
                raise LocationError(N_("{name} must be a number"), name=name)
        if not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
            raise LocationError(
                N_("location ({lat}, {lon}) is off the map: latitude -90..90, longitude -180..180"),
                lat=lat,
                lon=lon,
            )
        b = settings.bounds
        if b and not (b.min_lat <= lat <= b.max_lat and b.min_lon <= lon <= b.max_lon):
            raise LocationError(
                N_(
                    "location ({lat:.6f}, {lon:.6f}) is off the map: the served area is "
                    "latitude {min_lat}..{max_lat}, longitude {min_lon}..{max_lon}"
                ),
                lat=lat,
                lon=lon,
                min_lat=b.min_lat,
                max_lat=b.max_lat,
                min_lon=b.min_lon,
                max_lon=b.max_lon,
            )
    if (
        x is not None
        and y is not None
        and not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1)
    ):
        raise LocationError(
            N_("site-plan point ({x}, {y}) is off the map: x and y must be within 0..1"), x=x, y=y
        )


def distance_m(a: Located, b: Located, settings: IncidentSettings) -> float | None:
    """Straight-line metres between two places, or None when they share no coordinate system."""
    if a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None:
        return haversine_m(a.lat, a.lon, b.lat, b.lon)
    if a.x is not None and a.y is not None and b.x is not None and b.y is not None:
        return math.hypot(a.x - b.x, a.y - b.y) * settings.site_plan_width_m
    return None


def _inside(px: float, py: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > py) != (yj > py) and px < (xj - xi) * (py - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def district_for(settings: IncidentSettings, place: Located) -> str | None:
    """The first configured district whose polygon holds the place."""
    for d in settings.districts:
        if (
            d.polygon
            and place.lat is not None
            and place.lon is not None
            and _inside(place.lat, place.lon, d.polygon)
        ):
            return d.id
        if (
            d.plan_polygon
            and place.x is not None
            and place.y is not None
            and _inside(place.x, place.y, d.plan_polygon)
        ):
            return d.id
    return None
