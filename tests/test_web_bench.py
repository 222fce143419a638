"""`oversight bench web` runs end to end on a small scale (figures are printed, not asserted)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import backend
from oversight.cli import app

pytestmark = pytest.mark.both_backends


def test_bench_web_event_list_and_live_wall_small():
    args = ["bench", "web", "--parts", "events,wall", "--events", "3000", "--backend", backend()]
    r = CliRunner().invoke(app, [*args, "--cameras", "2", "--viewers", "2", "--cpu-seconds", "1"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    ev = out["event_list"][backend()]
    assert ev["events"] == 3000 and ev["items_returned"] >= 50 * 150  # every query found a full page
    assert ev["api_first_page_ms"]["n"] == 200 and ev["floor_db_query_ms"]["n"] == 200
    wall = out["live_wall"]
    assert wall["cameras"] == 2 and all(fps > 0 for fps in wall["delivered_fps_per_camera_per_viewer"])
