"""The tamper-evident audit log: who did what to which object, when, from where and why.

Each entry's ``hash`` is SHA-256 over a canonical JSON of all its fields including the previous
entry's hash, so changing, deleting, inserting or reordering any entry breaks the chain from that
point on. A one-row ``audit_head`` table is updated first in every append: that row lock serialises
concurrent appends on PostgreSQL and takes SQLite's write lock up front, so two writers can never
both read the same head. Signed, chained digests of the head (``audit_trail``) anchor the log
against a rewrite by whoever controls the database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oversight.privacy.keys import fingerprint
from oversight.privacy.models import AuditCheckpoint, AuditEntry, AuditHead
from oversight.store.base import utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64


class _Sealer(Protocol):
    def notify(self, seq: int) -> None: ...


_sealer: _Sealer | None = None
_listeners: list[Callable[[dict[str, Any]], None]] = []


def install_sealer(sealer: _Sealer | None) -> None:
    """Tell the digest sealer (``audit_trail.Sealer``) about each append; it signs in its own thread."""
    global _sealer
    _sealer = sealer


def add_listener(fn: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Called with each new entry as a dict (e.g. to publish on the bus topic "audit")."""
    _listeners.append(fn)
    return lambda: _listeners.remove(fn) if fn in _listeners else None


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonable(detail: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(detail or {}, default=str, sort_keys=True))
    if not isinstance(out, dict):
        out = {"value": out}
    return out


def entry_fields(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": int(e.seq),
        "ts": _ts(e.ts),
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "purpose": e.purpose,
        "source": e.source,
        "detail": e.detail or {},
        "prev_hash": e.prev_hash,
    }


def compute_hash(e: AuditEntry) -> str:
    canonical = json.dumps(entry_fields(e), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    """Take the append lock (an UPDATE on the head row) and return the head."""
    for _ in range(3):
        res = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
        if res.rowcount:  # type: ignore[attr-defined]
            head = session.execute(
                select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
            ).scalar_one()
            return head
        # first entry ever (or head row lost): rebuild it from the log itself
        last = session.execute(
            select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
        ).scalar_one_or_none()
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=last.seq if last else 0, hash=last.hash if last else GENESIS))
        except IntegrityError:
            pass  # another writer created it; loop and lock it
    raise RuntimeError("could not lock the audit head row")


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    purpose: str | None = None,
    source: str | None = None,
    detail: dict[str, Any] | None = None,
    role: str | None = None,
    ts: datetime | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's session (it commits with the caller's work)."""
    head = _lock_head(session)
    entry = AuditEntry(
        seq=int(head.seq) + 1,
        ts=(ts or utcnow()).astimezone(UTC),
        actor=(actor or "anonymous")[:64],
        role=role,
        action=action[:64],
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:255],
        purpose=purpose,
        source=(source or None) and source[:128],
        detail=_jsonable(detail),
        prev_hash=head.hash,
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    session.flush()
    if _sealer is not None:
        _sealer.notify(entry.seq)
    for fn in list(_listeners):
        try:
            fn(entry_dict(entry))
        except Exception:  # a listener must never break the audited action
            log.exception("audit listener failed")
    return entry


def checkpoint_message(seq: int, hash_: str, ts: datetime) -> bytes:
    return f"oversight-audit-checkpoint\n{seq}\n{hash_}\n{_ts(ts)}".encode()


def checkpoint(session: Session, key: SigningKey) -> AuditCheckpoint | None:
    """A legacy, unchained checkpoint of the current head (digests replace it). None on an empty log."""
    head = _lock_head(session)
    if head.seq == 0:
        return None
    ts = utcnow()
    sig = key.sign(checkpoint_message(int(head.seq), head.hash, ts)).signature.hex()
    cp = AuditCheckpoint(seq=head.seq, hash=head.hash, ts=ts, key_fingerprint=fingerprint(key), signature=sig)
    session.add(cp)
    session.flush()
    return cp


@dataclass
class VerifyResult:
    ok: bool
    entries: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    digests: int | None = None  # set by audit_trail.verify_trail

    def fail(self, seq: int | None, msg: str) -> None:
        if self.ok:
            self.first_bad_seq = seq
        self.ok = False
        self.problems.append(msg)

    @property
    def message(self) -> str:
        if not self.ok:
            return self.problems[0]
        if self.digests is not None:
            return f"audit log OK: {self.entries} entries, {self.digests} signed digest(s) from genesis"
        return f"audit log OK: {self.entries} entries, {self.checkpoints} signed checkpoint(s) verified"


def verify(session: Session, verify_key: VerifyKey | None = None) -> VerifyResult:
    """Walk the whole chain; the first problem names the first bad entry."""
    res = VerifyResult(ok=True)
    bad = res.fail
    expected, prev, by_seq = 1, GENESIS, {}
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    ).scalars()
    for e in rows:
        res.entries += 1
        if e.seq == expected - 1:
            bad(e.seq, f"seq {e.seq} appears twice (ids {e.id} and an earlier one): a forged duplicate")
        elif e.seq != expected:
            bad(
                expected,
                f"entry seq {expected} is missing (deleted); the log jumps from {expected - 1} to {e.seq}",
            )
        elif compute_hash(e) != e.hash:
            bad(e.seq, f"entry seq {e.seq} (id {e.id}) was modified: its content does not match its hash")
        elif e.prev_hash != prev:
            bad(
                e.seq,
                f"entry seq {e.seq} (id {e.id}) does not follow entry seq {e.seq - 1}: "
                "an entry was inserted, reordered or rewritten before it",
            )
        by_seq[int(e.seq)] = e.hash
        expected, prev = int(e.seq) + 1, e.hash
        session.expunge(e)
    last_seq = expected - 1
    head = session.get(AuditHead, 1)
    if head is None and last_seq > 0:
        bad(last_seq, "the head row is missing: the log's tail can no longer be checked against it")
    elif head is not None and (head.seq != last_seq or head.hash != prev):
        bad(
            last_seq + 1,
            f"the log ends at seq {last_seq} but its head says seq {head.seq}: the tail was removed",
        )
    legacy = select(AuditCheckpoint).where(AuditCheckpoint.number.is_(None)).order_by(AuditCheckpoint.seq)
    for cp in session.execute(legacy).scalars():
        res.checkpoints += 1
        if verify_key is not None:
            try:
                verify_key.verify(
                    checkpoint_message(int(cp.seq), cp.hash, cp.ts), bytes.fromhex(cp.signature)
                )
            except (BadSignatureError, ValueError):
                bad(int(cp.seq), f"checkpoint at seq {cp.seq} has an invalid signature")
                continue
        if cp.seq > last_seq:
            bad(
                last_seq + 1,
                f"signed checkpoint covers seq {cp.seq} but the log ends at {last_seq}: tail removed",
            )
        elif by_seq.get(int(cp.seq)) != cp.hash:
            bad(int(cp.seq), f"entry seq {cp.seq} differs from the signed checkpoint of it")
    return res


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    d = entry_fields(e)
    d["id"] = e.id
    d["hash"] = e.hash
    return d


def query(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.seq)
    if since:
        q = q.where(AuditEntry.ts >= since)
    if until:
        q = q.where(AuditEntry.ts < until)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action.like(action.replace("*", "%")))
    if offset:
        q = q.offset(offset)
    if limit:
        q = q.limit(limit)
    yield from session.execute(q).scalars()


def count(session: Session) -> int:
    return int(session.execute(select(func.count(AuditEntry.id))).scalar_one())


EXPORT_FIELDS = [
    "seq",
    "ts",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "purpose",
    "source",
    "detail",
    "prev_hash",
    "hash",
]


def export(session: Session, fmt: str = "json", **filters: Any) -> str:
    """CSV or JSON of the matching entries, including hashes so the copy can be re-verified."""
    rows = [entry_dict(e) for e in query(session, **filters)]
    if fmt == "json":
        return json.dumps(rows, indent=1, ensure_ascii=False)
    if fmt != "csv":
        raise ValueError("format must be csv or json")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        r["detail"] = json.dumps(r["detail"], sort_keys=True)
        w.writerow(r)
    return buf.getvalue()
