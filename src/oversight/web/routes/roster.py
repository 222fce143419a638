"""HTTP API of the unit roster: edit, retire and shift units (/api/units/{id}), and stations.

Supervisors and admins keep the roster (``units.manage``); dispatchers start and end shifts
(``units.shift``). The register itself, statuses and AVL are in ``routes/incidents.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy.orm import Session

from oversight.incidents.serialize import station_dict, unit_dict
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.routes.incidents import UnitLocationIn as _Place
from oversight.web.routes.incidents import _Body, _errors, _tx, service_for

router = APIRouter(tags=["incidents"])


class UnitPatch(_Body):
    name: str | None = Field(default=None, max_length=128)
    type: str | None = None
    station: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None
    x: float | None = None
    y: float | None = None


class RetireIn(_Body):
    reason: str = Field(default="", max_length=2000)


class ShiftIn(_Body):
    on_duty: bool


class StationIn(_Place):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)


class StationPatch(_Place):
    name: str = Field(min_length=1, max_length=128)


def _unit_change(request: Request, change: Any) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    return _tx(ctx, lambda s: unit_dict(change(svc, s)))


@router.patch("/api/units/{unit_id}")
def edit_unit(
    unit_id: str, body: UnitPatch, request: Request, who: Principal = Depends(require("units.manage"))
) -> dict[str, Any]:
    """Only the fields sent change; a unit given a station and no position starts at the station."""
    changes = body.model_dump(exclude_unset=True)
    return _unit_change(request, lambda svc, s: svc.update_unit(s, unit_id, who.username, **changes))


@router.post("/api/units/{unit_id}/retire")
def retire_unit(
    unit_id: str, body: RetireIn, request: Request, who: Principal = Depends(require("units.manage"))
) -> dict[str, Any]:
    """Soft: the unit leaves the map and the recommendation; its history stays."""
    return _unit_change(request, lambda svc, s: svc.retire_unit(s, unit_id, who.username, body.reason))


@router.post("/api/units/{unit_id}/shift")
def unit_shift(
    unit_id: str, body: ShiftIn, request: Request, who: Principal = Depends(require("units.shift"))
) -> dict[str, Any]:
    return _unit_change(request, lambda svc, s: svc.set_duty(s, unit_id, body.on_duty, who.username))


@router.get("/api/stations")
def list_stations(
    request: Request, who: Principal = Depends(require("incidents.read"))
) -> list[dict[str, Any]]:
    ctx = get_ctx(request)
    svc = service_for(ctx)
    with _errors(), ctx.db.session() as s:
        return [station_dict(st) for st in svc.stations(s)]


@router.post("/api/stations", status_code=201)
def create_station(
    body: StationIn, request: Request, who: Principal = Depends(require("units.manage"))
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        return station_dict(svc.save_station(s, who.username, **body.model_dump()))

    return _tx(ctx, work)


@router.put("/api/stations/{station_id}")
def edit_station(
    station_id: str, body: StationPatch, request: Request, who: Principal = Depends(require("units.manage"))
) -> dict[str, Any]:
    ctx = get_ctx(request)
    svc = service_for(ctx)

    def work(s: Session) -> Any:
        st = svc.save_station(s, who.username, id=station_id, create=False, **body.model_dump())
        return station_dict(st)

    return _tx(ctx, work)
