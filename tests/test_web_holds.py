"""Evidence holds have a maximum: a hold lapses after ``max_hold_days`` and retention then deletes
the footage, unless a supervisor (in person) renewed it; renewals are audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from oversight.privacy import audit
from oversight.recording.index import insert_segment
from oversight.recording.retention import run_retention
from oversight.recording.storage import LocalStorage
from oversight.store.base import utcnow
from oversight.store.models import EvidenceHold
from oversight.web.auth import create_api_token
from web_support import add_users, client, login, make_ctx


@pytest.fixture
def ctx(db, tmp_path):  # type: ignore[no-untyped-def]
    c = make_ctx(db, tmp_path, runtime=False)
    c.cfg.site.max_hold_days = 30
    add_users(db, ("operator", "supervisor"))
    return c


def _held_segment(ctx: Any, tmp_path: Path, hold_age_days: float) -> tuple[int, Path]:
    """A 60-day-old segment (retention 7 days) under a hold placed ``hold_age_days`` ago."""
    storage = LocalStorage(tmp_path / "rec")
    start = utcnow() - timedelta(days=60)
    path = storage.new_segment_path("cam0", start)
    path.write_bytes(b"x" * 10)
    insert_segment(ctx.db, "cam0", start, start + timedelta(minutes=1), path, 10, False)
    with ctx.db.session() as s:
        h = EvidenceHold(
            camera_id="cam0",
            start=start,
            end=start + timedelta(hours=1),
            reason="case 4",
            created_by="olga",
            created_at=utcnow() - timedelta(days=hold_age_days),
        )
        s.add(h)
        s.flush()
        return h.id, path


def test_a_lapsed_hold_no_longer_protects_footage(ctx: Any, tmp_path: Path) -> None:
    _, path = _held_segment(ctx, tmp_path, hold_age_days=31)
    res = run_retention(ctx.db, ctx.cfg, utcnow(), LocalStorage(tmp_path / "rec"))
    assert res.by_reason == {"retention": 1} and not path.exists()


def test_a_supervisor_renews_a_hold_and_the_footage_stays(ctx: Any, tmp_path: Path) -> None:
    hold_id, path = _held_segment(ctx, tmp_path, hold_age_days=29)
    op, sup = client(ctx), client(ctx)
    body = {"reason": "the trial was postponed to next month"}
    assert op.post(f"/api/holds/{hold_id}/renew", json=body, headers=login(op, "operator")).status_code == 403
    with ctx.db.session() as s:
        _, secret = create_api_token(s, "bot", "supervisor", "cli")
    bot = client(ctx)
    assert (
        bot.post(
            f"/api/holds/{hold_id}/renew", json=body, headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 403
    )
    r = sup.post(f"/api/holds/{hold_id}/renew", json=body, headers=login(sup, "supervisor"))
    assert r.status_code == 200 and r.json()["in_force"], r.text
    later = utcnow() + timedelta(days=5)  # the original 30 days have passed: the renewal holds it
    res = run_retention(ctx.db, ctx.cfg, later, LocalStorage(tmp_path / "rec"))
    assert res.deleted == [] and res.held == 1 and path.exists()
    with ctx.db.session() as s:
        [e] = [e for e in audit.query(s) if e.action == "evidence.renew"]
        assert e.actor == "supervisor" and e.detail["expires_after"] > e.detail["expires_before"]
    lapsed_id, _ = _held_segment(ctx, tmp_path, hold_age_days=40)
    assert (
        sup.post(f"/api/holds/{lapsed_id}/renew", json=body, headers=login(sup, "supervisor")).status_code
        == 409
    )
