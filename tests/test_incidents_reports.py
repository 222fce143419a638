"""Response-time reports: percentiles by group, CSV, SVG chart and the transparency summary."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from oversight.incidents.models import Incident
from oversight.incidents.reports import (
    incident_summary,
    incidents_csv,
    report_csv,
    report_svg,
    response_report,
)
from oversight.store.db import Database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


def add(
    db: Database,
    type_: str,
    prio: str,
    start: datetime,
    dispatch: float | None,
    turnout: float | None,
    travel: float | None,
    district: str = "centre",
    disposition: str | None = "resolved",
) -> None:
    t = start
    stamps: dict[str, datetime | None] = {"dispatched_at": None, "en_route_at": None, "on_scene_at": None}
    for key, secs in (("dispatched_at", dispatch), ("en_route_at", turnout), ("on_scene_at", travel)):
        if secs is None:
            break
        t = t + timedelta(seconds=secs)
        stamps[key] = t
    with db.session() as s:
        s.add(
            Incident(
                type=type_,
                priority=prio,
                status="closed" if disposition else "new",
                source="call",
                address="x",
                district=district,
                reported_at=start,
                created_by="t",
                created_at=start,
                updated_at=start,
                disposition=disposition,
                **stamps,
            )
        )


@pytest.fixture
def data(db: Database) -> Database:
    # five medical calls with call->dispatch 10..50 s, turnout 60 s, travel 100..500 s
    for i in range(5):
        add(db, "medical", "P1", T0 + timedelta(hours=i), 10 * (i + 1), 60, 100 * (i + 1))
    add(db, "fire", "P1", T0 + timedelta(days=1), 30, 90, 200, district="north")  # turnout 90 > 80
    add(db, "fire", "P2", T0 + timedelta(days=8), 40, None, None, district="north", disposition="cancelled")
    add(db, "theft", "P3", T0 - timedelta(days=1), 5, 5, 5)  # before the period
    return db


def test_percentiles_by_type(data: Database) -> None:
    with data.session() as s:
        rep = response_report(s, T0, T0 + timedelta(days=30), group_by="type")
    assert rep["overall"]["count"] == 7
    med = next(g for g in rep["groups"] if g["key"] == "medical")
    assert med["count"] == 5
    assert med["steps"]["dispatch"] == {"n": 5, "p50": 30.0, "p90": 46.0, "within_target_pct": 100.0}
    assert med["steps"]["travel"]["p50"] == 300.0 and med["steps"]["travel"]["p90"] == 460.0
    assert med["steps"]["travel"]["within_target_pct"] == 40.0  # 100 and 200 of 100..500 are <= 240
    assert med["steps"]["total"]["p50"] == 30 + 60 + 300
    fire = next(g for g in rep["groups"] if g["key"] == "fire")
    assert fire["count"] == 2 and fire["steps"]["dispatch"]["n"] == 2 and fire["steps"]["turnout"]["n"] == 1
    assert fire["steps"]["turnout"]["within_target_pct"] == 0.0


def test_groups_by_priority_district_and_period(data: Database) -> None:
    with data.session() as s:
        end = T0 + timedelta(days=30)
        by_p = response_report(s, T0, end, group_by="priority")
        by_d = response_report(s, T0, end, group_by="district")
        by_w = response_report(s, T0, end, group_by="period", period="week")
        by_day = response_report(s, T0, end, group_by="period", period="day")
        with pytest.raises(ValueError, match="group_by"):
            response_report(s, T0, end, group_by="caller")
    assert {g["key"]: g["count"] for g in by_p["groups"]} == {"P1": 6, "P2": 1}
    assert {g["key"]: g["count"] for g in by_d["groups"]} == {"centre": 5, "north": 2}
    assert {g["key"]: g["count"] for g in by_w["groups"]} == {"2026-W10": 6, "2026-W11": 1}
    assert {g["key"]: g["count"] for g in by_day["groups"]} == {
        "2026-03-02": 5,
        "2026-03-03": 1,
        "2026-03-10": 1,
    }


def test_csv_exports_and_chart(data: Database) -> None:
    with data.session() as s:
        rows = list(csv.DictReader(io.StringIO(incidents_csv(s, T0, T0 + timedelta(days=30)))))
        rep = response_report(s, T0, T0 + timedelta(days=30), group_by="type")
    assert len(rows) == 7
    first = rows[0]
    assert (first["type"], first["dispatch_s"], first["turnout_s"], first["travel_s"], first["total_s"]) == (
        "medical",
        "10.0",
        "60.0",
        "100.0",
        "170.0",
    )
    cancelled = next(r for r in rows if r["disposition"] == "cancelled")
    assert cancelled["turnout_s"] == "" and cancelled["dispatch_s"] == "40.0"
    grouped = list(csv.DictReader(io.StringIO(report_csv(rep))))
    med_total = next(r for r in grouped if r["key"] == "medical" and r["step"] == "total")
    assert med_total["p50_s"] == "390.0" and med_total["n"] == "5"
    svg = report_svg(rep, "total")
    assert svg.startswith("<svg") and svg.count("<rect") == 4  # medical and fire, p50 + p90 each
    assert "medical: 390 s" in svg


def test_incident_summary_for_the_transparency_report(data: Database) -> None:
    with data.session() as s:
        summ = incident_summary(s, T0, T0 + timedelta(days=30))
    assert summ["count"] == 7 and summ["open"] == 0
    assert summ["by_type"] == {"medical": 5, "fire": 2}
    assert summ["by_disposition"] == {"resolved": 6, "cancelled": 1}
    assert summ["response_seconds"]["dispatch"]["n"] == 7
    assert summ["response_seconds"]["total"]["p50"] == 355.0  # 170 280 [320 390] 500 610
    assert "caller" not in str(summ)
