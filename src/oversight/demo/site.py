"""Build the demo's site config from whatever footage is at hand."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av

from oversight.config.schema import SiteConfig
from oversight.demo.footage import generate
from oversight.maps.grid import grid_gazetteer, grid_roads
from oversight.maps.tiles import street_grid, write_pmtiles
from oversight.recording.segment import RECORDABLE_CODECS

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".ts"}
MAX_CAMERAS = 4
# The demo's streets: a grid of blocks around a square in San Salvador de Jujuy, tiled offline at start.
DEMO_CENTER = (-24.1858, -65.2995)
BLOCK_DEG = 110.0 / 111_320.0  # one 110 m block in latitude


def find_footage(explicit: Path | None) -> list[Path]:
    """Clips from --footage, $OVERSIGHT_FOOTAGE, or ../shared/assets/video near the cwd or the checkout."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    if os.environ.get("OVERSIGHT_FOOTAGE"):
        candidates.append(Path(os.environ["OVERSIGHT_FOOTAGE"]))
    repo = Path(__file__).resolve().parents[3]
    for base in (Path.cwd(), Path.cwd().parent, repo, repo.parent):
        candidates.append(base / "shared" / "assets" / "video")
    for c in candidates:
        if c.is_file() and c.suffix.lower() in VIDEO_SUFFIXES:
            return [c]
        if c.is_dir():
            clips = sorted(p for p in c.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if clips:
                return clips[:MAX_CAMERAS]
        if explicit is not None and c == explicit:
            raise FileNotFoundError(f"no video found at {explicit}")
    return []


def _probe(path: Path) -> tuple[int, int, str]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return int(s.codec_context.width), int(s.codec_context.height), str(s.codec_context.name)


def _detect_size(w: int, h: int, max_w: int = 480) -> tuple[int, int]:
    if w <= max_w:
        return w, h
    return max_w, max(64, int(round(h * max_w / w / 2)) * 2)


def _location(index: int) -> dict:
    """On the site plan (x, y) and at a street corner of the demo grid (lat, lon)."""
    corner = ((index % 2) - 0.5, (index // 2 % 2) - 0.5)  # around the central square
    lat = DEMO_CENTER[0] + corner[1] * 2 * BLOCK_DEG
    lon = DEMO_CENTER[1] + corner[0] * 2 * BLOCK_DEG / 0.9121  # cos(24.19°): metres per degree east
    return {
        "x": round(0.15 + 0.22 * (index % 4), 2),
        "y": 0.35 + 0.3 * (index // 4 % 2),
        "lat": round(lat, 6),
        "lon": round(lon, 6),
    }


# Street names of the centre of San Salvador de Jujuy, laid on the demo's square grid (south/west first)
DEMO_STREETS = (
    ["Güemes", "Alvear", "Lamadrid", "Belgrano", "San Martín", "Independencia", "Otero"],
    [
        "Balcarce",
        "Necochea",
        "Gorriti",
        "Avenida Senador Pérez",
        "Lavalle",
        "Sarmiento",
        "Ramírez de Velasco",
    ],
)
DEMO_BLOCKS = 6


def demo_map(data_dir: Path) -> dict[str, str]:
    """The demo's street tiles, gazetteer and road network, written into its data dir (a fraction
    of a second): site settings ``map_tiles``, ``gazetteer`` and ``road_network``."""
    out = data_dir / "map"
    grid = street_grid(*DEMO_CENTER, blocks=DEMO_BLOCKS, names=DEMO_STREETS)
    write_pmtiles(grid, out / "streets.pmtiles")
    (out / "gazetteer.geojson").write_text(json.dumps(grid_gazetteer(grid, DEMO_BLOCKS)), encoding="utf-8")
    (out / "roads.geojson").write_text(json.dumps(grid_roads(grid, DEMO_BLOCKS)), encoding="utf-8")
    return {
        "map_tiles": str(out / "streets.pmtiles"),
        "gazetteer": str(out / "gazetteer.geojson"),
        "road_network": str(out / "roads.geojson"),
    }


def _grid_point(east_blocks: float, north_blocks: float) -> dict[str, float]:
    lat = DEMO_CENTER[0] + north_blocks * BLOCK_DEG
    return {"lat": round(lat, 6), "lon": round(DEMO_CENTER[1] + east_blocks * BLOCK_DEG / 0.9121, 6)}


def demo_units() -> list[dict]:
    """A few response units at street corners of the grid, so dispatch has someone to send."""
    return [
        {"id": "MOV-1", "name": "Móvil 1", "type": "police", "station": "Comisaría 1", **_grid_point(-2, 2)},
        {"id": "MOV-2", "name": "Móvil 2", "type": "police", "station": "Comisaría 2", **_grid_point(3, -3)},
        {
            "id": "SAME-1",
            "name": "Ambulancia 1",
            "type": "medical",
            "station": "Hospital",
            **_grid_point(1, -1),
        },
        {"id": "BOMB-1", "name": "Autobomba 1", "type": "fire", "station": "Cuartel", **_grid_point(-3, -2)},
    ]


def camera_entry(index: int, cam_id: str, clip: Path, detector: str, model: Path | None) -> dict:
    w0, h0, codec = _probe(clip)
    w, h = _detect_size(w0, h0)
    detect: dict = {
        "fps": 5,
        "width": w,
        "height": h,
        "detector": detector,
        "classes": ["person", "car", "truck", "bus"],
    }
    if model is not None:
        detect["model_path"] = str(model)
    mid_x, mid_y = w // 2, h // 2
    return {
        "id": cam_id,
        "name": clip.stem.replace("_", " ").replace("-", " ").title(),
        "purpose": "Demonstration: emergency response on a public square",
        "streams": {"record": str(clip)},
        "transcode": codec
        not in RECORDABLE_CODECS,  # the demo records all its footage, says so when it costs
        "loop": True,
        "realtime": True,
        "location": _location(index),
        "field_of_view": {"direction_deg": (45 + 90 * index) % 360, "angle_deg": 70, "range_m": 70},
        "detect": detect,
        "record": {"segment_seconds": 6, "retention_days": 1, "event_retention_days": 2},
        "rules": [
            {
                "id": "plaza-zone",
                "type": "zone",
                "purpose": "Alert when someone enters the closed area",
                "alert": True,
                "priority": "P2",
                "polygon": [[mid_x, mid_y // 2], [w - 1, mid_y // 2], [w - 1, h - 1], [mid_x, h - 1]],
            },
            {
                "id": "crossing",
                "type": "line",
                "purpose": "Count people crossing the square for crowd safety",
                "line": [[mid_x, 0], [mid_x, h - 1]],
            },
            {
                "id": "lingering",
                "type": "dwell",
                "purpose": "Find people who may need help",
                "polygon": [[w // 4, h // 4], [3 * w // 4, h // 4], [3 * w // 4, h - 1], [w // 4, h - 1]],
                "seconds": 8,
            },
            {
                "id": "crowding",
                "type": "crowd",
                "purpose": "Warn of dangerous crowd density",
                "alert": True,
                "priority": "P1",
                "polygon": [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]],
                "max_count": 3,
            },
        ],
    }


def demo_site(
    data_dir: Path,
    footage: Path | None,
    detector: str = "auto",
    model: Path | None = None,
    synthetic: bool = False,
) -> SiteConfig:
    clips = [] if synthetic else find_footage(footage)
    if not clips:
        gen = data_dir / "footage"
        clips = [generate(gen / f"street-{i}.mp4", seed=i) for i in range(2)]
    cameras = [
        camera_entry(i, f"cam{i + 1}-{c.stem[:24].lower().replace('_', '-')}", c, detector, model)
        for i, c in enumerate(clips)
    ]
    return SiteConfig.model_validate(
        {
            "site": {
                "name": "Oversight demo",
                "data_dir": str(data_dir),
                "controller": "Demo city",
                **demo_map(data_dir),
            },
            "cameras": cameras,
            "incidents": {"units": demo_units()},
        }
    )
