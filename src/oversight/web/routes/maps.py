"""The street map: vector tiles from the PMTiles file named by ``site.map_tiles``, one per request.

Tiles leave gzip-compressed as the file holds them, so the server never inflates them; the browser
(MapLibre) asks for z/x/y with the session cookie like any other API call.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from oversight.i18n import N_
from oversight.maps import gazetteer
from oversight.maps.tiles import TileError, TileFile
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.errors import http_error, service_error

router = APIRouter(prefix="/api/map", tags=["map"])


class MapInfo(BaseModel):
    tiles: bool  # a tile file is configured and readable
    error: str | None = None  # why not, when one is configured but unreadable
    min_zoom: int = 0
    max_zoom: int = 0
    bounds: list[float] = []  # west, south, east, north
    layers: list[str] = []


@lru_cache(maxsize=4)
def _open(path: str, mtime_ns: int) -> TileFile:  # a replaced file has a new mtime: opened afresh
    return TileFile(Path(path))


def _tiles(request: Request) -> TileFile:
    path = get_ctx(request).cfg.site.map_tiles
    if not path:
        raise http_error(404, N_("no map tiles configured (site.map_tiles)"))
    try:
        return _open(path, Path(path).stat().st_mtime_ns)
    except OSError as e:
        raise http_error(404, N_("map tiles unreadable: {strerror}"), strerror=e.strerror) from None
    except TileError as e:
        raise service_error(e, 404) from None


@router.get("", response_model=MapInfo)
def map_info(request: Request, who: Principal = Depends(require("site.view"))) -> MapInfo:
    """What the map page needs to show streets: whether there are tiles, their zooms and extent."""
    if not get_ctx(request).cfg.site.map_tiles:
        return MapInfo(tiles=False)
    try:
        tf = _tiles(request)
    except HTTPException as e:
        return MapInfo(tiles=False, error=str(e.detail))
    return MapInfo(
        tiles=True, min_zoom=tf.min_zoom, max_zoom=tf.max_zoom, bounds=list(tf.bounds), layers=tf.layers
    )


@router.get("/tiles/{z}/{x}/{y}.pbf")
def tile(
    z: int, x: int, y: int, request: Request, who: Principal = Depends(require("site.view"))
) -> Response:
    data = _tiles(request).tile(z, x, y)
    if data is None:
        return Response(status_code=204)  # no streets there: MapLibre draws an empty tile
    headers = {"Cache-Control": "private, max-age=3600"}
    if _tiles(request).gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(data, media_type="application/x-protobuf", headers=headers)


class AddressMatches(BaseModel):
    configured: bool  # a gazetteer file is configured (site.gazetteer)
    query: str
    candidates: list[dict[str, object]]  # kind, text (as the file spells it), lat, lon, score, approximate


@router.get("/address", response_model=AddressMatches)
def find_address(
    request: Request,
    q: str = Query(min_length=1, max_length=200, description="'Av. Belgrano 450', 'Belgrano y Lamadrid'"),
    limit: int = Query(5, ge=1, le=20),
    who: Principal = Depends(require("addresses.search")),
) -> AddressMatches:
    """Offline address lookup for call intake; an empty list means nothing in the city's file matched."""
    path = get_ctx(request).cfg.site.gazetteer
    if not path:
        return AddressMatches(configured=False, query=q, candidates=[])
    try:
        gz = gazetteer.load(path)
    except gazetteer.GazetteerError as e:
        raise HTTPException(503, str(e)) from None
    return AddressMatches(configured=True, query=q, candidates=[c.as_dict() for c in gz.search(q, limit)])
