"""The audit chain: every kind of tampering is caught and named; appends are serialised."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from oversight.privacy import audit
from oversight.privacy.keys import fingerprint, load_or_create_signing_key
from oversight.privacy.models import AuditCheckpoint, AuditEntry
from oversight.store.db import Database


def _fill(db: Database, n: int = 10) -> None:
    with db.session() as s:
        for i in range(n):
            audit.record(
                s,
                f"user{i % 3}",
                "footage.view",
                "camera",
                f"cam{i}",
                purpose="patrol",
                source="10.0.0.1",
                detail={"i": i, "nested": {"a": [1, 2]}},
            )


def _verify(db: Database, key=None) -> audit.VerifyResult:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return audit.verify(s, key.verify_key if key else None)


def test_clean_chain_verifies(db: Database) -> None:
    _fill(db)
    r = _verify(db)
    assert r.ok, r.problems
    assert r.entries == 10
    with db.session() as s:
        seqs = [e.seq for e in audit.query(s)]
        first = s.execute(select(AuditEntry).where(AuditEntry.seq == 1)).scalar_one()
        assert first.prev_hash == audit.GENESIS
    assert seqs == list(range(1, 11))


def test_modification_is_caught_and_named(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(actor="someone_else"))
    r = _verify(db)
    assert not r.ok and r.first_bad_seq == 4
    assert "seq 4" in r.message and "modified" in r.message


def test_modification_with_recomputed_hash_is_caught(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        e = s.execute(select(AuditEntry).where(AuditEntry.seq == 6)).scalar_one()
        e.purpose = "nothing to see"
        e.hash = audit.compute_hash(e)
    r = _verify(db)
    assert not r.ok and r.first_bad_seq == 7


def test_detail_change_is_caught(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(detail={"i": 99}))
    r = _verify(db)
    assert not r.ok and r.first_bad_seq == 2


def test_deletion_is_caught(db: Database) -> None:
    _fill(db)
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    r = _verify(db)
    assert not r.ok and r.first_bad_seq == 5
    assert "missing" in r.message


def test_insertion_is_caught(db: Database) -> None:
    _fill(db, 6)
    with db.session() as s:
        # make room after seq 3 and insert a forged entry with a correct-looking hash
        for e in s.execute(
            select(AuditEntry).where(AuditEntry.seq > 3).order_by(AuditEntry.seq.desc())
        ).scalars():
            e.seq = e.seq + 1
            s.flush()
        prev = s.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
        forged = AuditEntry(
            seq=4,
            ts=prev.ts + timedelta(seconds=1),
            actor="ghost",
            action="footage.view",
            detail={},
            prev_hash=prev.hash,
        )
        forged.hash = audit.compute_hash(forged)
        s.add(forged)
    r = _verify(db)
    assert not r.ok and r.first_bad_seq == 5


def test_reordering_is_caught(db: Database) -> None:
    _fill(db, 6)
    with db.session() as s:
        a = s.execute(select(AuditEntry).where(AuditEntry.seq == 2)).scalar_one()
        b = s.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
        a.seq = 1000
        s.flush()
        b.seq = 2
        s.flush()
        a.seq = 3
    r = _verify(db)
    assert not r.ok and r.first_bad_seq == 2


def test_tail_truncation_caught_by_head_and_signed_checkpoint(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = load_or_create_signing_key(tmp_path)
    _fill(db, 5)
    with db.session() as s:
        cp = audit.checkpoint(s, key)
        assert cp is not None and cp.seq == 5 and cp.key_fingerprint == fingerprint(key)
    assert _verify(db, key).ok
    with db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    r = _verify(db, key)
    assert not r.ok and r.first_bad_seq == 4
    # an attacker who also rewrites the head is still caught by the signed checkpoint
    with db.session() as s:
        last = s.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
        from oversight.privacy.models import AuditHead

        s.execute(update(AuditHead).values(seq=3, hash=last.hash))
    r = _verify(db, key)
    assert not r.ok and any("checkpoint" in p for p in r.problems)


def test_forged_checkpoint_signature_fails(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = load_or_create_signing_key(tmp_path)
    _fill(db, 3)
    with db.session() as s:
        audit.checkpoint(s, key)
        s.execute(update(AuditCheckpoint).values(signature="00" * 64))
    r = _verify(db, key)
    assert not r.ok and "invalid signature" in r.message


def test_key_file_created_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k1 = load_or_create_signing_key(tmp_path)
    p = tmp_path / "keys" / "installation_ed25519.key"
    assert p.stat().st_mode & 0o777 == 0o600
    assert bytes(load_or_create_signing_key(tmp_path)) == bytes(k1)
    p.chmod(0o644)
    with pytest.raises(PermissionError):
        load_or_create_signing_key(tmp_path)


def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(8):
                with db.session() as s:
                    audit.record(s, f"w{n}", "test.append", detail={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    r = _verify(db)
    assert r.ok, r.problems
    assert r.entries == 32


def test_rolled_back_work_leaves_no_entry(db: Database) -> None:
    _fill(db, 2)
    with pytest.raises(RuntimeError), db.session() as s:
        audit.record(s, "x", "footage.view")
        raise RuntimeError("request failed")
    assert _verify(db).ok
    with db.session() as s:
        assert audit.count(s) == 2


def test_export_csv_and_json(db: Database) -> None:
    import csv
    import io
    import json

    _fill(db, 4)
    with db.session() as s:
        rows = json.loads(audit.export(s, "json"))
        text = audit.export(s, "csv", actor="user1")
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert {r["actor"] for r in parsed} == {"user1"} and len(parsed) == 1
    assert parsed[0]["hash"] == rows[1]["hash"]
