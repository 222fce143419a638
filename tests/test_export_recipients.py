"""Recipient categories of evidence exports: the web app offers exactly the published list, and
migration 0013_recipients gives existing exports "not_recorded" (or "data_subject" where a subject
access request names the export), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import text

from conftest import PG_ADMIN_URL, backend
from oversight.privacy.recipients import CATEGORIES, LABELS, NOT_RECORDED
from oversight.store.db import Database, scratch_postgres

JS = Path(__file__).resolve().parents[1] / "src" / "oversight" / "web" / "static" / "lib" / "recipients.js"


def test_the_web_app_offers_the_published_list_with_the_same_words() -> None:
    js = JS.read_text()
    listed = re.search(r"RECIPIENTS = \[([^\]]*)\]", js)
    assert listed is not None
    assert tuple(re.findall(r'"(\w+)"', listed.group(1))) == CATEGORIES
    table = js[js.index("function recipientLabel") : js.index("export function recipientFields")]
    labels = dict(re.findall(r'(\w+): t\("([^"]+)"\)', table))
    assert labels == LABELS  # one msgid per category, in the web and the server catalogues


@contextmanager
def _fresh_db(tmp_path: Path) -> Iterator[Database]:
    if backend() == "postgres":
        with scratch_postgres(PG_ADMIN_URL, "oversight_mig") as url:
            db = Database(url)
            yield db
            db.dispose()
    else:
        db = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield db
        db.dispose()


def test_migration_marks_old_exports_not_recorded_and_sar_answers_data_subject(tmp_path: Path) -> None:
    with _fresh_db(tmp_path) as db, db.engine.begin() as conn:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012_one_head")
        for i in (1, 2):
            conn.execute(
                text(
                    'INSERT INTO evidence_exports (id, created_at, exporter, camera_ids, start, "end",'
                    " purpose, redacted, path, manifest_sha256) VALUES (:i, :t, 'sue', '[]', :t, :t,"
                    " 'old export', true, '/x', :h)"
                ),
                {"i": i, "t": "2026-01-01 00:00:00+00:00", "h": "0" * 64},
            )
        conn.execute(
            text(
                "INSERT INTO subject_requests (id, received_at, recorded_by, contact, camera_ids, start,"
                ' "end", places, description, jurisdiction, deadline_at, identity_check, status,'
                " export_id) VALUES (1, :t, 'a', 'c', '[]', :t, :t, '', '', 'ar', :t, 'checked id',"
                " 'answered', 2)"
            ),
            {"t": "2026-01-01 00:00:00+00:00"},
        )
        command.upgrade(cfg, "0013_recipients")
        got = dict(conn.execute(text("SELECT id, recipient FROM evidence_exports ORDER BY id")).all())
        refs = conn.execute(text("SELECT recipient_ref FROM evidence_exports")).scalars().all()
        command.downgrade(cfg, "0012_one_head")  # and back down cleanly
    assert got == {1: NOT_RECORDED, 2: "data_subject"} and refs == [None, None]
