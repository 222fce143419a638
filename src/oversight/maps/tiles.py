"""Write a PMTiles file of vector tiles from GeoJSON, and read tiles back from one.

The city's own file normally comes from OpenStreetMap through planetiler or tippecanoe (docs/map.md);
this writer exists so the demo and the tests have real streets with no download: a few hundred lines
of GeoJSON become a few dozen Mapbox Vector Tiles, gzip-compressed as those tools write them.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from shapely.geometry import box, shape

R = 6378137.0  # the Web Mercator sphere, metres
HALF = math.pi * R  # half the world's width in Web Mercator metres
BUFFER = 1 / 16  # each tile carries this fraction of its width beyond its edges, so lines join cleanly


class TileError(ValueError):
    """The input or the tile file is not what it should be; the message says what to fix."""


def _merc(lonlat: np.ndarray) -> np.ndarray:
    lon, lat = lonlat[:, 0], np.clip(lonlat[:, 1], -85.05112878, 85.05112878)
    return np.column_stack([R * np.radians(lon), R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))])


def _unmerc(xy: np.ndarray) -> np.ndarray:
    lon = np.degrees(xy[:, 0] / R)
    return np.column_stack([lon, np.degrees(2 * np.arctan(np.exp(xy[:, 1] / R)) - np.pi / 2)])


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * HALF / (1 << z)
    return -HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size


def _tile_range(z: int, bounds: tuple[float, float, float, float]) -> Iterator[tuple[int, int]]:
    """Tiles at zoom z that touch a Web Mercator box."""
    n, size = 1 << z, 2 * HALF / (1 << z)
    x0, x1 = int((bounds[0] + HALF) // size), int((bounds[2] + HALF) // size)
    y0, y1 = int((HALF - bounds[3]) // size), int((HALF - bounds[1]) // size)
    for x in range(max(x0, 0), min(x1, n - 1) + 1):
        for y in range(max(y0, 0), min(y1, n - 1) + 1):
            yield x, y


@dataclass(frozen=True)
class _Feature:
    layer: str
    geom: Any  # shapely geometry in Web Mercator metres
    props: dict[str, Any]


def _features(geojson: dict[str, Any]) -> list[_Feature]:
    if geojson.get("type") != "FeatureCollection" or not isinstance(geojson.get("features"), list):
        raise TileError("the GeoJSON must be a FeatureCollection")
    out = []
    for i, f in enumerate(geojson["features"]):
        try:
            geom = shapely.transform(shape(f["geometry"]), _merc)
        except Exception as e:  # shapely raises its own error types for unknown or malformed geometry
            raise TileError(f"feature {i} has no valid geometry: {e}") from None
        props = {k: v for k, v in (f.get("properties") or {}).items() if isinstance(v, str | int | float)}
        out.append(_Feature(str(props.pop("layer", "streets")), geom, props))
    if not out:
        raise TileError("the GeoJSON has no features")
    return out


def _encode(feats: list[_Feature], z: int, x: int, y: int) -> bytes | None:
    b = _tile_bounds(z, x, y)
    pad = (b[2] - b[0]) * BUFFER
    clip = box(b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
    layers: dict[str, list[dict[str, Any]]] = {}
    for f in feats:
        if not f.geom.intersects(clip):
            continue
        part = f.geom.intersection(clip)
        if not part.is_empty:
            layers.setdefault(f.layer, []).append({"geometry": part, "properties": f.props})
    if not layers:
        return None
    opts = {"quantize_bounds": b, "extents": 4096}
    data = mapbox_vector_tile.encode(
        [{"name": k, "features": v} for k, v in layers.items()], default_options=opts
    )
    return gzip.compress(data, mtime=0)


def write_pmtiles(geojson: dict[str, Any], out: Path, min_zoom: int = 12, max_zoom: int = 17) -> int:
    """Tile a GeoJSON FeatureCollection (WGS84) into ``out``; the layer of a feature is its ``layer``
    property (default ``streets``). Returns the number of tiles written."""
    if not 0 <= min_zoom <= max_zoom <= 20:
        raise TileError("zooms must satisfy 0 <= min <= max <= 20")
    feats = _features(geojson)
    minx, miny, maxx, maxy = feats[0].geom.bounds
    for f in feats[1:]:
        bx = f.geom.bounds
        minx, miny, maxx, maxy = min(minx, bx[0]), min(miny, bx[1]), max(maxx, bx[2]), max(maxy, bx[3])
    tiles = []
    for z in range(min_zoom, max_zoom + 1):
        for x, y in _tile_range(z, (minx, miny, maxx, maxy)):
            data = _encode(feats, z, x, y)
            if data is not None:
                tiles.append((zxy_to_tileid(z, x, y), data))
    tiles.sort()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        w = Writer(fh)
        for tid, data in tiles:
            w.write_tile(tid, data)
        w.finalize(_header(feats, min_zoom, max_zoom), _metadata(feats))
    return len(tiles)


def _header(feats: list[_Feature], min_zoom: int, max_zoom: int) -> dict[str, Any]:
    lons, lats = [], []
    for f in feats:
        a, b, c, d = shapely.transform(f.geom, _unmerc).bounds
        lons += [a, c]
        lats += [b, d]
    e7 = 10_000_000
    return {
        "tile_type": TileType.MVT,
        "tile_compression": Compression.GZIP,
        "min_zoom": min_zoom,
        "max_zoom": max_zoom,
        "min_lon_e7": int(min(lons) * e7),
        "min_lat_e7": int(min(lats) * e7),
        "max_lon_e7": int(max(lons) * e7),
        "max_lat_e7": int(max(lats) * e7),
        "center_zoom": (min_zoom + max_zoom) // 2,
        "center_lon_e7": int((min(lons) + max(lons)) / 2 * e7),
        "center_lat_e7": int((min(lats) + max(lats)) / 2 * e7),
    }


def _metadata(feats: list[_Feature]) -> dict[str, Any]:
    layers = sorted({f.layer for f in feats})
    return {"vector_layers": [{"id": name, "fields": {}} for name in layers], "attribution": "local data"}


def write_pmtiles_from_file(geojson_path: Path, out: Path, min_zoom: int = 12, max_zoom: int = 17) -> int:
    try:
        data = json.loads(geojson_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TileError(f"cannot read GeoJSON {geojson_path}: {e}") from None
    return write_pmtiles(data, out, min_zoom, max_zoom)


def street_grid(
    lat: float,
    lon: float,
    blocks: int = 6,
    block_m: float = 110.0,
    names: tuple[list[str], list[str]] | None = None,
) -> dict[str, Any]:
    """A small street grid around a point, as GeoJSON: the demo's streets and the tests' ground truth.
    ``names``: the east-west and the north-south streets' names, west/south first (blocks + 1 each)."""
    dlat = block_m / 111_320.0
    dlon = block_m / (111_320.0 * math.cos(math.radians(lat)))
    half = blocks / 2
    feats: list[dict[str, Any]] = []
    for i in range(blocks + 1):
        kind = "primary" if i == blocks // 2 else "residential"
        la, lo = lat + (i - half) * dlat, lon + (i - half) * dlon
        ew = [[lon - half * dlon, la], [lon + half * dlon, la]]
        ns = [[lo, lat - half * dlat], [lo, lat + half * dlat]]
        ew_name, ns_name = (names[0][i], names[1][i]) if names else (f"Calle {i + 1}", f"Avenida {i + 1}")
        for name, coords in ((ew_name, ew), (ns_name, ns)):
            geom = {"type": "LineString", "coordinates": coords}
            feats.append({"type": "Feature", "geometry": geom, "properties": {"name": name, "class": kind}})
    for i in range(blocks):
        for j in range(blocks):
            a, b = lon + (i - half) * dlon, lat + (j - half) * dlat
            m = 0.15
            ring = [
                [a + m * dlon, b + m * dlat],
                [a + (1 - m) * dlon, b + m * dlat],
                [a + (1 - m) * dlon, b + (1 - m) * dlat],
                [a + m * dlon, b + (1 - m) * dlat],
            ]
            ring.append(ring[0])
            geom = {"type": "Polygon", "coordinates": [ring]}
            feats.append({"type": "Feature", "geometry": geom, "properties": {"layer": "blocks"}})
    return {"type": "FeatureCollection", "features": feats}


class TileFile:
    """Tiles read from one PMTiles file by memory map; safe to share between request threads
    because it only ever reads."""

    def __init__(self, path: Path) -> None:
        try:
            self._fh = path.open("rb")
            self._reader = Reader(MmapSource(self._fh))
            header = self._reader.header()
        except Exception as e:  # the pmtiles reader raises its own types, struct and index errors
            raise TileError(f"{path} is not a readable PMTiles file: {e}") from None
        self.gzip = header["tile_compression"] == Compression.GZIP
        self.min_zoom, self.max_zoom = int(header["min_zoom"]), int(header["max_zoom"])
        e7 = 10_000_000
        self.bounds = (
            header["min_lon_e7"] / e7,
            header["min_lat_e7"] / e7,
            header["max_lon_e7"] / e7,
            header["max_lat_e7"] / e7,
        )
        self.layers = [str(v.get("id")) for v in self._reader.metadata().get("vector_layers", [])]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        if not (0 <= z <= 30 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
            return None
        data = self._reader.get(z, x, y)
        return bytes(data) if data else None
