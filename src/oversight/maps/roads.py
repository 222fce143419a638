"""Travel time over the city's road network: a directed graph (networkx) of GeoJSON LineStrings.

The city supplies ``site.road_network`` (docs/map.md): LineStrings of the roads, optionally with
``maxspeed`` (km/h, or "30 mph") and ``oneway`` ("yes", "-1"), as OpenStreetMap exports them. Each
vertex is a node; each segment an edge weighted by its seconds at the road's speed. A unit and an
incident are snapped to their nearest nodes; the walk from the point to the node counts at the
default speed. One Dijkstra from the incident over the reversed graph times every unit at once.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

EARTH_M_PER_DEG = 111_320.0
ONEWAY_FORWARD = {"yes", "true", "1"}
ONEWAY_BACKWARD = {"-1", "reverse"}


class RoadError(ValueError):
    """The road file is not what docs/map.md describes; the message says what to fix."""


def _speed_kmh(value: Any, default: float) -> float:
    m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(mph)?", str(value or ""))
    if not m:
        return default
    v = float(m.group(1)) * (1.609344 if m.group(2) else 1.0)
    return v if v > 0 else default


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular metres between (lon, lat) points: exact enough within a city."""
    k = math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot((b[0] - a[0]) * k, b[1] - a[1]) * EARTH_M_PER_DEG


def _lines(geom: dict[str, Any]) -> list[list[tuple[float, float]]]:
    if geom.get("type") == "LineString":
        return [[(float(c[0]), float(c[1])) for c in geom["coordinates"]]]
    if geom.get("type") == "MultiLineString":
        return [[(float(c[0]), float(c[1])) for c in part] for part in geom["coordinates"]]
    return []


class RoadNetwork:
    """The graph and a node index for snapping; read-only after construction (thread-safe)."""

    def __init__(self, geojson: dict[str, Any], default_kmh: float = 40.0) -> None:
        if geojson.get("type") != "FeatureCollection" or not isinstance(geojson.get("features"), list):
            raise RoadError("the road network must be a GeoJSON FeatureCollection")
        self.default_ms = default_kmh / 3.6
        self.graph: nx.DiGraph = nx.DiGraph()
        for f in geojson["features"]:
            self._add(f.get("properties") or {}, f.get("geometry") or {}, default_kmh)
        if self.graph.number_of_nodes() == 0:
            raise RoadError("the road network has no LineString features")
        self._nodes = list(self.graph.nodes)
        self._xy = np.array(self._nodes, dtype=float)  # (lon, lat)
        self._reversed = self.graph.reverse(copy=False)  # a view: no second copy of every edge

    def _add(self, props: dict[str, Any], geom: dict[str, Any], default_kmh: float) -> None:
        ms = _speed_kmh(props.get("maxspeed"), default_kmh) / 3.6
        oneway = str(props.get("oneway", "")).lower()
        for coords in _lines(geom):
            pts = [(round(lo, 7), round(la, 7)) for lo, la in coords]
            for a, b in zip(pts, pts[1:], strict=False):
                if a == b:
                    continue
                s = _metres(a, b) / ms
                if oneway not in ONEWAY_BACKWARD:
                    self._edge(a, b, s)
                if oneway not in ONEWAY_FORWARD:
                    self._edge(b, a, s)

    def _edge(self, a: tuple[float, float], b: tuple[float, float], s: float) -> None:
        if not self.graph.has_edge(a, b) or self.graph[a][b]["s"] > s:
            self.graph.add_edge(a, b, s=s)

    def nearest(self, lat: float, lon: float) -> tuple[tuple[float, float], float]:
        """The nearest node and the metres to it."""
        k = math.cos(math.radians(lat))
        d2 = ((self._xy[:, 0] - lon) * k) ** 2 + (self._xy[:, 1] - lat) ** 2
        i = int(np.argmin(d2))
        return self._nodes[i], math.sqrt(float(d2[i])) * EARTH_M_PER_DEG

    def travel_seconds(
        self, to: tuple[float, float], sources: list[tuple[float, float]]
    ) -> list[float | None]:
        """Seconds from each (lat, lon) source to ``to`` over the roads; None where no road leads."""
        goal, goal_m = self.nearest(*to)
        reach = nx.single_source_dijkstra_path_length(self._reversed, goal, weight="s")
        out: list[float | None] = []
        for lat, lon in sources:
            node, m = self.nearest(lat, lon)
            s = reach.get(node)
            out.append(None if s is None else s + (m + goal_m) / self.default_ms)
        return out

    @property
    def size(self) -> tuple[int, int]:
        return self.graph.number_of_nodes(), self.graph.number_of_edges()


@lru_cache(maxsize=4)
def _load(path: str, mtime: float, default_kmh: float) -> RoadNetwork:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RoadError(f"cannot read the road network {path}: {e}") from None
    return RoadNetwork(data, default_kmh)


def load(path: str | Path, default_kmh: float = 40.0) -> RoadNetwork:
    """The network of a file, built once and again only when the file changes."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError as e:
        raise RoadError(f"cannot read the road network {p}: {e}") from None
    return _load(str(p), mtime, default_kmh)
