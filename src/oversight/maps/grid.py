"""The gazetteer and road network of a generated street grid (``tiles.street_grid``).

A real city makes these from OpenStreetMap (docs/map.md); the demo and the tests derive them from
the same GeoJSON as their tiles, so the address typed, the street drawn and the road driven agree.
Numbers follow the Argentine custom: 100 per block from the street's start, odd on the left side.
"""

from __future__ import annotations

import math
from typing import Any

SIDE_M = 8.0  # house points sit this far off the street's centre line
STEP = 10  # an address point every 10 numbers


def _lines(grid: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        f for f in grid["features"] if f["geometry"]["type"] == "LineString" and f["properties"].get("name")
    ]


def _along(a: list[float], b: list[float], f: float, side: float) -> list[float]:
    """The point a fraction ``f`` from a to b, ``side`` metres to the left (negative: right)."""
    k = math.cos(math.radians(a[1]))
    dx, dy = (b[0] - a[0]) * k, b[1] - a[1]
    n = math.hypot(dx, dy) or 1.0
    off = side / 111_320.0
    return [
        round(a[0] + f * (b[0] - a[0]) - dy / n * off / k, 7),
        round(a[1] + f * (b[1] - a[1]) + dx / n * off, 7),
    ]


def grid_gazetteer(grid: dict[str, Any], blocks: int) -> dict[str, Any]:
    """Address points along every named straight street of ``grid``, plus the streets themselves."""
    feats: list[dict[str, Any]] = []
    for line in _lines(grid):
        name = line["properties"]["name"]
        a, b = line["geometry"]["coordinates"][0], line["geometry"]["coordinates"][-1]
        for block in range(blocks):
            for k in range(0, 100, STEP):
                for num, side in ((100 * (block + 1) + k + 1, SIDE_M), (100 * (block + 1) + k, -SIDE_M)):
                    f = (block + (num % 100) / 100) / blocks
                    props = {"addr:street": name, "addr:housenumber": str(num)}
                    geom = {"type": "Point", "coordinates": _along(a, b, f, side)}
                    feats.append({"type": "Feature", "geometry": geom, "properties": props})
        feats.append({"type": "Feature", "geometry": line["geometry"], "properties": {"name": name}})
    return {"type": "FeatureCollection", "features": feats}


def grid_roads(grid: dict[str, Any], blocks: int) -> dict[str, Any]:
    """The grid's streets as a road network: primary streets at 60 km/h, the rest at 40, with a
    vertex at every crossing (as OpenStreetMap ways share their junction nodes)."""
    feats = []
    for line in _lines(grid):
        speed = "60" if line["properties"].get("class") == "primary" else "40"
        props = {"name": line["properties"]["name"], "maxspeed": speed}
        a, b = line["geometry"]["coordinates"][0], line["geometry"]["coordinates"][-1]
        coords = [_along(a, b, i / blocks, 0.0) for i in range(blocks + 1)]
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": feats}
