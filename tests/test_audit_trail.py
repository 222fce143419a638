"""Signed digest chain from genesis: each way an insider with database access can tamper with the
audit log, done with plain SQL, is caught by ``verify_trail`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from conftest import PG_ADMIN_URL, backend
from oversight.privacy import audit, audit_trail
from oversight.privacy.keys import load_or_create_signing_key
from oversight.privacy.models import AuditEntry
from oversight.store.base import utcnow
from oversight.store.db import Database, scratch_postgres

EVERY_S = 900.0


def _add(db: Database, n: int, actor: str = "olga") -> None:
    with db.session() as s:
        for i in range(n):
            audit.record(s, actor, "footage.view", "camera", f"cam{i % 3}", purpose="patrol", detail={"i": i})


def _build(db: Database, data_dir: Path) -> audit_trail.Sealer:
    """genesis (seq 1) + digest 1, entries 2-11 + digest 2, 12-16 + digest 3, 17-18 unsigned."""
    sealer = audit_trail.Sealer(db, load_or_create_signing_key(data_dir), data_dir, every_s=EVERY_S)
    sealer.seal("start")
    _add(db, 10)
    sealer.seal("tick")
    _add(db, 5)
    sealer.seal("tick")
    _add(db, 2)
    return sealer


def _verify(db: Database, data_dir: Path, later_s: float = 0.0) -> audit.VerifyResult:
    with db.session() as s:
        return audit_trail.verify_trail(s, data_dir, EVERY_S, now=utcnow() + timedelta(seconds=later_s))


def _rehash_from(conn: Connection, seq: int) -> None:
    """What a careful insider does after an edit: recompute every later hash and the head row."""
    from sqlalchemy.orm import Session

    with Session(bind=conn) as s:
        prev = s.execute(text("SELECT hash FROM audit_entries WHERE seq = :q"), {"q": seq - 1}).scalar()
        rows = s.query(AuditEntry).filter(AuditEntry.seq >= seq).order_by(AuditEntry.seq).all()
        for e in rows:
            e.prev_hash = prev or audit.GENESIS
            h = audit.compute_hash(e)
            conn.execute(
                text("UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": e.prev_hash, "h": h, "i": e.id},
            )
            prev = h
        s.expunge_all()
    _fix_head(conn)


def _fix_head(conn: Connection) -> None:
    last = conn.execute(text("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")).first()
    conn.execute(text("DELETE FROM audit_head"))
    if last is not None:
        conn.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :s, :h)"), {"s": last[0], "h": last[1]}
        )


def _empty(conn: Connection, dialect: str) -> None:
    for table in ("audit_entries", "audit_head", "audit_checkpoints"):
        conn.execute(text(f"DELETE FROM {table}"))


def _truncate_fix_head(conn: Connection, dialect: str) -> None:
    conn.execute(text("DELETE FROM audit_entries WHERE seq > 13"))
    _fix_head(conn)


def _truncate_fix_head_drop_digest(conn: Connection, dialect: str) -> None:
    _truncate_fix_head(conn, dialect)
    conn.execute(text("DELETE FROM audit_checkpoints WHERE number = 3"))


def _drop_checkpoints_rewrite_old(conn: Connection, dialect: str) -> None:
    conn.execute(text("DELETE FROM audit_checkpoints"))
    conn.execute(text("UPDATE audit_entries SET actor = 'nobody' WHERE seq = 4"))
    _rehash_from(conn, 4)


def _rewrite_everything(conn: Connection, dialect: str) -> None:
    """Delete the whole log and its digests, and write a plausible new one from genesis."""
    conn.execute(text("DELETE FROM audit_checkpoints"))
    conn.execute(text("UPDATE audit_entries SET purpose = 'routine' WHERE seq >= 2"))
    _rehash_from(conn, 1)


def _forged_suffix(conn: Connection, dialect: str) -> None:
    """Entries appended after the last digest, dated an hour back to blend into history."""
    from sqlalchemy.orm import Session

    with Session(bind=conn) as s:
        head = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
        when = utcnow() - timedelta(hours=1)
        prev = head[1]
        for k in range(1, 3):
            e = AuditEntry(
                seq=head[0] + k, ts=when, actor="ghost", action="footage.view", detail={}, prev_hash=prev
            )
            e.hash = audit.compute_hash(e)
            s.add(e)
            prev = e.hash
        s.flush()
        s.expunge_all()
    _fix_head(conn)


def _drop_head(conn: Connection, dialect: str) -> None:
    conn.execute(text("DELETE FROM audit_head"))


def _duplicate_seq(conn: Connection, dialect: str) -> None:
    """Drop the unique constraint (a DBA can) and add a second, well-hashed entry with seq 7."""
    from sqlalchemy.orm import Session

    if dialect == "postgresql":
        conn.execute(text("ALTER TABLE audit_entries DROP CONSTRAINT uq_audit_entries_seq"))
    else:
        conn.execute(text("CREATE TABLE audit_copy AS SELECT * FROM audit_entries"))
        conn.execute(text("DROP TABLE audit_entries"))
        conn.execute(text("ALTER TABLE audit_copy RENAME TO audit_entries"))
    with Session(bind=conn) as s:
        orig = s.query(AuditEntry).filter(AuditEntry.seq == 7).one()
        forged = AuditEntry(
            id=100000,
            seq=7,
            ts=orig.ts,
            actor="ghost",
            action=orig.action,
            detail={},
            prev_hash=orig.prev_hash,
        )
        forged.hash = audit.compute_hash(forged)
        s.add(forged)
        s.flush()
        s.expunge_all()


def _delete_middle_digest(conn: Connection, dialect: str) -> None:
    conn.execute(text("DELETE FROM audit_checkpoints WHERE number = 2"))


def _forge_digest_signature(conn: Connection, dialect: str) -> None:
    conn.execute(text("UPDATE audit_checkpoints SET signature = :z WHERE number = 2"), {"z": "00" * 64})


def _edit_in_place(conn: Connection, dialect: str) -> None:
    conn.execute(text("UPDATE audit_entries SET purpose = 'none' WHERE seq = 5"))


def _delete_middle(conn: Connection, dialect: str) -> None:
    conn.execute(text("DELETE FROM audit_entries WHERE seq = 6"))


def _reorder(conn: Connection, dialect: str) -> None:
    conn.execute(text("UPDATE audit_entries SET seq = 1000000 WHERE seq = 8"))
    conn.execute(text("UPDATE audit_entries SET seq = 8 WHERE seq = 9"))
    conn.execute(text("UPDATE audit_entries SET seq = 9 WHERE seq = 1000000"))


def _nothing(conn: Connection, dialect: str) -> None:
    pass


Tamper = Callable[[Connection, str], None]

# (name, tampering, seconds after now at which verify runs, text expected in some problem)
CASES: list[tuple[str, Tamper, float, str]] = [
    ("empty log", _empty, 0, "empty"),
    ("tail deleted, head fixed", _truncate_fix_head, 0, "signed in digest 3"),
    ("tail deleted, head fixed, digest dropped", _truncate_fix_head_drop_digest, 0, "not in the database"),
    ("all digests deleted, old entry rewritten", _drop_checkpoints_rewrite_old, 0, "not in the database"),
    ("whole log rewritten from genesis", _rewrite_everything, 0, "differs from the one signed"),
    ("forged entries after the last digest", _forged_suffix, 0, "unsigned suffix"),
    ("head row dropped", _drop_head, 0, "head row is missing"),
    ("duplicated sequence number", _duplicate_seq, 0, "appears twice"),
    ("digest deleted from the database", _delete_middle_digest, 0, "digest 2"),
    ("digest signature forged", _forge_digest_signature, 0, "differs from the append-only file"),
    ("no digest for over an interval", _nothing, EVERY_S + 120, "older than one interval"),
    ("entry edited in place", _edit_in_place, 0, "seq 5"),
    ("entry deleted in the middle", _delete_middle, 0, "seq 6 is missing"),
    ("entries reordered", _reorder, 0, "seq 8"),
]


@pytest.fixture
def private_db(tmp_path: Path) -> Iterator[Database]:
    """A database of its own, for tampering that changes the schema."""
    if backend() == "postgres":
        with scratch_postgres(PG_ADMIN_URL, "oversight_tamper") as url:
            d = Database(url)
            d.migrate()
            yield d
            d.dispose()
    else:
        d = Database(f"sqlite:///{tmp_path / 'private.db'}")
        d.migrate()
        yield d
        d.dispose()


def test_clean_trail_verifies(db: Database, tmp_path: Path) -> None:
    _build(db, tmp_path)
    r = _verify(db, tmp_path)
    assert r.ok, r.problems
    assert r.entries == 18 and r.digests == 3


@pytest.mark.parametrize(("name", "tamper", "later_s", "expect"), CASES, ids=[c[0] for c in CASES])
def test_tampering_is_detected(
    name: str, tamper: Tamper, later_s: float, expect: str, db: Database, tmp_path: Path, request: Any
) -> None:
    if tamper is _duplicate_seq:
        db = request.getfixturevalue("private_db")
    _build(db, tmp_path)
    assert _verify(db, tmp_path).ok
    with db.engine.begin() as conn:
        tamper(conn, db.dialect)
    r = _verify(db, tmp_path, later_s)
    assert not r.ok, name
    assert any(expect in p for p in r.problems), r.problems


def test_missing_genesis_fails(db: Database, tmp_path: Path) -> None:
    _build(db, tmp_path)
    (tmp_path / "audit" / "genesis.json").unlink()
    r = _verify(db, tmp_path)
    assert not r.ok and "no genesis record" in r.message


def test_expected_genesis_fingerprint_is_checked(db: Database, tmp_path: Path) -> None:
    sealer = _build(db, tmp_path)
    with db.session() as s:
        ok = audit_trail.verify_trail(s, tmp_path, EVERY_S, expect_genesis=sealer.genesis.fingerprint)
        bad = audit_trail.verify_trail(s, tmp_path, EVERY_S, expect_genesis="ab" * 32)
    assert ok.ok and not bad.ok and "not the expected" in bad.message


def test_clean_stop_allows_downtime_and_unclean_gap_only_warns(db: Database, tmp_path: Path) -> None:
    sealer = _build(db, tmp_path)
    sealer.seal("stop")
    assert _verify(db, tmp_path, later_s=5 * EVERY_S).ok  # a stopped server owes no ticks


def test_digest_file_is_private_and_append_only(db: Database, tmp_path: Path) -> None:
    _build(db, tmp_path)
    path = tmp_path / "audit" / "digests.jsonl"
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    path.unlink()  # lost (or a crash between commit and append): the next start restores it
    sealer = audit_trail.Sealer(db, load_or_create_signing_key(tmp_path), tmp_path)
    assert sealer.sync_file() == 3
    assert path.read_text().splitlines() == lines and _verify(db, tmp_path).ok


def test_ticker_signs_idle_intervals_and_every_n_entries(db: Database, tmp_path: Path) -> None:
    sealer = audit_trail.Sealer(
        db, load_or_create_signing_key(tmp_path), tmp_path, every_entries=5, every_s=0.2
    )
    sealer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _reasons(db).count("tick") < 2:
            time.sleep(0.05)
        sealer.every_s = 3600.0  # from now on only entries wake it
        time.sleep(0.3)
        before = _reasons(db).count("entries")
        _add(db, 5)
        while time.monotonic() < deadline and _reasons(db).count("entries") == before:
            time.sleep(0.05)
    finally:
        sealer.stop()
    reasons = _reasons(db)
    assert reasons[0] == "start" and reasons[-1] == "stop"
    assert reasons.count("tick") >= 2 and reasons.count("entries") > before
    with db.session() as s:
        r = audit_trail.verify_trail(s, tmp_path, 0.2, slack_s=60)
    assert r.ok, r.problems


def _reasons(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.execute(text("SELECT reason FROM audit_checkpoints ORDER BY number")).scalars())


def test_latest_digest_is_published(db: Database, tmp_path: Path) -> None:
    sealer = _build(db, tmp_path)
    with db.session() as s:
        d = audit_trail.latest_digest(s, tmp_path)
    assert d is not None and d["number"] == 3 and d["genesis"] == sealer.genesis.fingerprint
    assert d["digest"] == audit_trail.digest_hash({k: d[k] for k in d if k not in ("digest", "signature")})


def test_transparency_report_publishes_latest_digest(db: Database, tmp_path: Path) -> None:
    from oversight.config.schema import SiteConfig
    from oversight.privacy.reports import collect_usage

    _build(db, tmp_path)
    cfg = SiteConfig.model_validate({"site": {"data_dir": str(tmp_path)}})
    with db.session() as s:
        d = audit_trail.latest_digest(s, tmp_path)
    assert d is not None
    u = collect_usage(db, utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1), cfg)
    assert u.audit_ok, u.audit_message
    assert u.last_checkpoint is not None and d["digest"] in u.last_checkpoint
    assert d["genesis"] in u.last_checkpoint


def test_s3_object_lock_copy_survives_a_rewrite_of_database_and_file(db: Database, tmp_path: Path) -> None:
    """Whoever controls the database and the server's disk rewrites both consistently; the copy in
    a bucket under Object Lock still names the digests they removed."""
    from cluster_helpers import moto_s3
    from oversight.config.schema import AuditS3Settings
    from oversight.recording.s3 import make_s3_client

    with moto_s3() as endpoint:
        s3 = AuditS3Settings(bucket="audit-worm", endpoint_url=endpoint)
        client = make_s3_client(endpoint, access_key="testing", secret_key="testing")
        client.create_bucket(Bucket="audit-worm", ObjectLockEnabledForBucket=True)
        key = load_or_create_signing_key(tmp_path)
        sealer = audit_trail.Sealer(db, key, tmp_path, every_s=EVERY_S, s3=s3)
        sealer.seal("start")
        _add(db, 4)
        sealer.seal("tick")
        _add(db, 3)
        sealer.seal("tick")

        def verify() -> audit.VerifyResult:
            with db.session() as s:
                return audit_trail.verify_trail(s, tmp_path, EVERY_S, s3=s3, s3_client=client)

        assert verify().ok and sealer.mirror is not None and sealer.mirror.numbers() == {1, 2, 3}
        obj = f"audit-digests/{sealer.genesis.fingerprint}/{3:012d}.json"
        version = client.head_object(Bucket="audit-worm", Key=obj)["VersionId"]
        with pytest.raises(Exception, match="AccessDenied|locked|retention|Object Lock"):
            client.delete_object(Bucket="audit-worm", Key=obj, VersionId=version)
        # the rewrite: last digest gone from the database and the file, its entries too, head fixed
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_checkpoints WHERE number = 3"))
            conn.execute(text("DELETE FROM audit_entries WHERE seq > 6"))
            _fix_head(conn)
        path = tmp_path / "audit" / "digests.jsonl"
        path.write_text("".join(line + "\n" for line in path.read_text().splitlines()[:2]))
        with db.session() as s:
            assert audit_trail.verify_trail(s, tmp_path, EVERY_S).ok  # without the third copy: unseen
        r = verify()
        assert not r.ok and any("in the S3 copy but not" in p for p in r.problems), r.problems


@pytest.mark.parametrize(
    ("reasons", "outcome"),
    [
        ([(0, "start"), (10, "tick"), (20, "tick")], "ok"),
        ([(0, "start"), (10, "tick"), (50, "tick")], "missing interval"),  # the ticker stopped ticking
        ([(0, "start"), (10, "stop"), (3000, "start"), (3010, "tick")], "ok"),  # a clean shutdown
        ([(0, "start"), (10, "tick"), (3000, "start"), (3010, "tick")], "warning"),  # a crash
    ],
)
def test_interval_continuity(
    reasons: list[tuple[int, str]], outcome: str, db: Database, tmp_path: Path, monkeypatch: Any
) -> None:
    t0 = utcnow() - timedelta(minutes=reasons[-1][0] + 1)
    sealer = audit_trail.Sealer(db, load_or_create_signing_key(tmp_path), tmp_path, every_s=EVERY_S)
    for minute, reason in reasons:
        monkeypatch.setattr(audit_trail, "utcnow", lambda m=minute: t0 + timedelta(minutes=m))
        sealer.seal(reason)
    monkeypatch.undo()
    r = _verify(db, tmp_path)
    if outcome == "ok":
        assert r.ok and not r.warnings, (r.problems, r.warnings)
    elif outcome == "warning":
        assert r.ok and any("uncleanly" in w for w in r.warnings), r.warnings
    else:
        assert not r.ok and any(outcome in p for p in r.problems), r.problems
