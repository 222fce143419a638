"""``oversight map tiles``: a PMTiles street file from GeoJSON, made offline (demo, tests, small towns).

A city's full map comes from OpenStreetMap through planetiler or tippecanoe (docs/map.md); this command
covers the case of a few streets drawn by hand or exported as GeoJSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from oversight.maps.tiles import TileError, street_grid, write_pmtiles, write_pmtiles_from_file

map_app = typer.Typer(help="Street maps for the map page, without the internet.", no_args_is_help=True)


@map_app.command("tiles")
def tiles(
    out: Path = typer.Option(..., "--out", help="The PMTiles file to write (site.map_tiles names it)"),
    geojson: Path | None = typer.Option(None, "--geojson", help="A GeoJSON FeatureCollection in WGS84"),
    grid: str | None = typer.Option(None, "--grid", help="LAT,LON: a demo street grid around this point"),
    min_zoom: int = typer.Option(12, "--min-zoom"),
    max_zoom: int = typer.Option(17, "--max-zoom"),
) -> None:
    """Tile GeoJSON lines and polygons (layer from each feature's `layer` property, default
    `streets`; lines with `class: primary` draw wider)."""
    try:
        if (geojson is None) == (grid is None):
            raise TileError("give exactly one of --geojson or --grid")
        if geojson is not None:
            n = write_pmtiles_from_file(geojson, out, min_zoom, max_zoom)
        else:
            lat, lon = _point(str(grid))
            n = write_pmtiles(street_grid(lat, lon), out, min_zoom, max_zoom)
    except TileError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {n} tiles to {out}")


@map_app.command("grid")
def grid_geojson(lat: float = typer.Argument(...), lon: float = typer.Argument(...)) -> None:
    """Print the demo street grid around LAT LON as GeoJSON (a starting point to edit)."""
    typer.echo(json.dumps(street_grid(lat, lon)))


def _point(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise TileError("--grid wants LAT,LON, e.g. -24.1858,-65.2995") from None
    if not (-85 <= lat <= 85 and -180 <= lon <= 180):
        raise TileError("--grid: latitude must be within ±85 and longitude within ±180")
    return lat, lon
