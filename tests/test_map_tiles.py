"""Street tiles without the internet: GeoJSON becomes a PMTiles file whose tiles decode back to the
same streets, Oversight serves them per z/x/y to a signed-in user (gzip as stored, 204 where empty),
and the CLI and the API explain bad input plainly."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import mapbox_vector_tile
import pytest
from typer.testing import CliRunner

from oversight.cli import app as cli_app
from oversight.maps.tiles import TileError, TileFile, street_grid, write_pmtiles
from web_support import add_users, client, login, make_ctx

CENTER = (-24.1858, -65.2995)


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("map") / "streets.pmtiles"
    assert write_pmtiles(street_grid(*CENTER), out, 12, 17) > 6  # at least one tile per zoom
    return out


def test_tiles_decode_back_to_the_streets(tiles: Path) -> None:
    tf = TileFile(tiles)
    assert (tf.min_zoom, tf.max_zoom) == (12, 17) and tf.gzip
    assert tf.layers == ["blocks", "streets"]
    west, south, east, north = tf.bounds
    assert west < CENTER[1] < east and south < CENTER[0] < north
    for z in (12, 15, 17):
        raw = tf.tile(z, *tile_of(*CENTER, z))
        assert raw is not None, f"no tile at the centre at zoom {z}"
        layers = mapbox_vector_tile.decode(gzip.decompress(raw))
        names = {f["properties"]["name"] for f in layers["streets"]["features"]}
        assert "Calle 4" in names and "Avenida 4" in names  # the two primary streets cross at the centre
    far = tile_of(CENTER[0] + 1, CENTER[1] + 1, 15)
    assert tf.tile(15, *far) is None and tf.tile(15, -1, 0) is None and tf.tile(3, 99, 0) is None


@pytest.mark.parametrize(
    ("geojson", "message"),
    [
        ({"type": "Feature"}, "FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "FeatureCollection", "features": [{"geometry": {"type": "Nope"}}]}, "feature 0"),
    ],
)
def test_bad_geojson_is_a_clear_error(tmp_path: Path, geojson: dict, message: str) -> None:
    with pytest.raises(TileError, match=message):
        write_pmtiles(geojson, tmp_path / "x.pmtiles")


def test_cli_makes_tiles_and_refuses_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "in.geojson"
    src.write_text(json.dumps(street_grid(*CENTER, blocks=2)))
    out = tmp_path / "streets.pmtiles"
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["map", "tiles", "--geojson", str(src), "--out", str(out)])
    assert ok.exit_code == 0 and "wrote" in ok.output and TileFile(out).layers == ["blocks", "streets"]
    src.write_text("{not json")
    bad = runner.invoke(cli_app, ["map", "tiles", "--geojson", str(src), "--out", str(out)])
    assert bad.exit_code == 1 and "cannot read GeoJSON" in bad.output and "Traceback" not in bad.output
    grid = runner.invoke(cli_app, ["map", "tiles", "--grid", "north", "--out", str(out)])
    assert grid.exit_code == 1 and "LAT,LON" in grid.output


def test_api_serves_tiles_to_signed_in_users(db, tmp_path: Path, tiles: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(db, tmp_path, cameras=1, runtime=False)
    add_users(db, ("viewer",))
    c = client(ctx)
    assert c.get("/api/map/tiles/15/0/0.pbf").status_code == 401
    login(c, "viewer")
    assert c.get("/api/map").json()["tiles"] is False
    assert c.get("/api/map/tiles/15/0/0.pbf").status_code == 404
    ctx.cfg.site.map_tiles = str(tiles)
    info = c.get("/api/map").json()
    assert info["tiles"] and info["layers"] == ["blocks", "streets"] and info["max_zoom"] == 17
    x, y = tile_of(*CENTER, 16)
    r = c.get(f"/api/map/tiles/16/{x}/{y}.pbf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert r.headers["content-encoding"] == "gzip"  # httpx inflated it: the body is the plain tile
    assert "streets" in mapbox_vector_tile.decode(r.content)
    assert c.get("/api/map/tiles/16/0/0.pbf").status_code == 204
    ctx.cfg.site.map_tiles = str(tmp_path / "site.yaml")  # not a PMTiles file
    broken = c.get("/api/map").json()
    assert broken["tiles"] is False and "not a readable PMTiles file" in broken["error"]


def test_cameras_carry_their_field_of_view(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from oversight.config.schema import FieldOfView

    ctx = make_ctx(db, tmp_path, cameras=1, runtime=False)
    ctx.cfg.cameras[0].field_of_view = FieldOfView(direction_deg=90, angle_deg=50, range_m=40)
    add_users(db, ("viewer",))
    c = client(ctx)
    login(c, "viewer")
    fov = c.get("/api/cameras").json()[0]["field_of_view"]
    assert (fov["direction_deg"], fov["angle_deg"], fov["range_m"]) == (90, 50, 40)


def test_demo_site_has_streets_under_its_cameras(tmp_path: Path) -> None:
    from oversight.demo.site import demo_site

    cfg = demo_site(tmp_path, None, synthetic=True)
    assert cfg.site.map_tiles and Path(cfg.site.map_tiles).is_relative_to(tmp_path)
    tf = TileFile(Path(cfg.site.map_tiles))
    west, south, east, north = tf.bounds
    for cam in cfg.cameras:
        loc, fov = cam.location, cam.field_of_view
        assert loc and loc.lat is not None and loc.lon is not None and fov is not None
        assert west < loc.lon < east and south < loc.lat < north, cam.id
        raw = tf.tile(16, *tile_of(loc.lat, loc.lon, 16))
        assert raw and mapbox_vector_tile.decode(gzip.decompress(raw))["streets"]["features"]


def test_demo_site_ships_a_gazetteer_a_road_network_and_units(tmp_path: Path) -> None:
    """The demo's call intake finds Jujuy's streets on its grid, and dispatch has units and roads."""
    from oversight.demo.site import DEMO_CENTER, demo_site
    from oversight.maps import gazetteer, roads

    cfg = demo_site(tmp_path, None, synthetic=True)
    assert cfg.site.gazetteer and cfg.site.road_network and cfg.incidents
    (hit,) = gazetteer.load(cfg.site.gazetteer).search("Belgrano y Av. Senador Pérez")
    assert (round(hit.lat, 5), round(hit.lon, 5)) == (round(DEMO_CENTER[0], 5), round(DEMO_CENTER[1], 5))
    net = roads.load(cfg.site.road_network)
    units = [(u.lat, u.lon) for u in cfg.incidents.units]
    assert len(units) >= 3 and all(s is not None for s in net.travel_seconds(DEMO_CENTER, units))  # type: ignore[arg-type]
