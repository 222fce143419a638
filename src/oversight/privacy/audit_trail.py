"""Signed digests of the audit log, chained from a genesis record kept outside the database.

Modelled on CloudTrail's log-file integrity validation and Certificate Transparency: every
``every_entries`` entries and every ``every_s`` seconds (idle or not) the head of the hash chain
is signed into a digest; digest k carries digest k-1's hash and digest 1 the genesis record's
fingerprint, which is printed at install and kept outside the database. Each digest is a row of
``audit_checkpoints`` and a line of ``<data_dir>/audit/digests.jsonl`` (opened O_APPEND, mode
0600), a second copy a database administrator cannot rewrite; with ``site.audit.s3`` also an
object in a bucket under S3 Object Lock (COMPLIANCE retention), which not even the host's root can;
with ``site.audit.syslog`` also a message to another host's syslog (``privacy.audit_syslog``).

Invariant: a digest reaches the file only after the database committed it, so the file never
vouches for entries that were rolled back; ``sync_file`` appends any committed digest a crash kept
out of the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.encoding import HexEncoder
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.schema import AuditS3Settings, AuditSyslogSettings, SiteConfig
from oversight.privacy import audit
from oversight.privacy.keys import fingerprint, public_hex
from oversight.privacy.models import AuditCheckpoint, AuditEntry
from oversight.store.base import utcnow
from oversight.store.db import Database

log = logging.getLogger(__name__)

GENESIS_FILE = "genesis.json"
DIGEST_FILE = "digests.jsonl"
REASONS = ("start", "stop", "tick", "entries", "manual", "offline")
CLOSING = ("stop", "offline")  # the server is down after these: no tick is due


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def trail_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "audit"


# ------------------------------------------------------------------ genesis


@dataclass(frozen=True)
class Genesis:
    """The signed statement that starts the digest chain; its fingerprint anchors everything."""

    body: dict[str, Any]
    signature: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(_canonical(self.body)).hexdigest()

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(str(self.body["public_key"]).encode(), encoder=HexEncoder)

    def signature_ok(self) -> bool:
        try:
            self.verify_key.verify(_canonical(self.body), bytes.fromhex(self.signature))
        except (BadSignatureError, ValueError, KeyError):
            return False
        return True


def load_genesis(data_dir: str | Path) -> Genesis | None:
    path = trail_dir(data_dir) / GENESIS_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    return Genesis(body=raw["body"], signature=raw["signature"])


def create_genesis(db: Database, key: SigningKey, data_dir: str | Path) -> tuple[Genesis, bool]:
    """The installation's genesis record, made once; returns (genesis, created_now).

    It names the head of the log at creation (``after_seq``/``after_hash``) so an installation
    that already has entries anchors them too, then records an ``audit.genesis`` entry.
    """
    found = load_genesis(data_dir)
    if found is not None:
        return found, False
    folder = trail_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    with db.session() as s:
        head = audit._lock_head(s)
        body = {
            "kind": "oversight-audit-genesis",
            "installation": secrets.token_hex(8),
            "created": audit._ts(utcnow()),
            "public_key": public_hex(key),
            "after_seq": int(head.seq),
            "after_hash": head.hash,
        }
        genesis = Genesis(body, key.sign(_canonical(body)).signature.hex())
        fd = os.open(folder / GENESIS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"body": body, "signature": genesis.signature}, indent=1) + "\n")
        audit.record(
            s,
            "system",
            "audit.genesis",
            "audit",
            genesis.fingerprint,
            source="install",
            detail={"fingerprint": genesis.fingerprint, "public_key": body["public_key"]},
        )
    return genesis, True


# ------------------------------------------------------------------ digests


def digest_body(cp: AuditCheckpoint, genesis: Genesis) -> dict[str, Any]:
    return {
        "kind": "oversight-audit-digest",
        "genesis": genesis.fingerprint,
        "number": int(cp.number or 0),
        "prev": cp.prev,
        "seq": int(cp.seq),
        "hash": cp.hash,
        "ts": audit._ts(cp.ts),
        "reason": cp.reason,
        "key": cp.key_fingerprint,
    }


def digest_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()


def append_line(path: Path, record: dict[str, Any]) -> None:
    """One JSON line, one write(2) on an O_APPEND descriptor: earlier lines are never rewritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The digests in the append-only file, and a problem for each line that is not one."""
    if not path.exists():
        return [], []
    out, problems = [], []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rec = json.loads(line)
            if not isinstance(rec.get("body"), dict) or not isinstance(rec.get("signature"), str):
                raise ValueError
            out.append(rec)
        except ValueError:
            problems.append(f"{path}:{i} is not a digest record")
    return out, problems


class S3Mirror:
    """Digests as objects ``<prefix>/<genesis fingerprint>/<number>.json``, each written once with
    COMPLIANCE-mode Object Lock so that no credential can delete or overwrite it before it expires."""

    def __init__(self, cfg: AuditS3Settings, genesis: str, client: Any = None):
        from oversight.recording.s3 import make_s3_client

        self.cfg, self.genesis = cfg, genesis
        self.client = client or make_s3_client(
            cfg.endpoint_url,
            cfg.region,
            os.environ.get(cfg.access_key_env),
            os.environ.get(cfg.secret_key_env),
        )
        self.base = f"{cfg.prefix.strip('/')}/{genesis}/"

    def put(self, record: dict[str, Any]) -> None:
        from datetime import timedelta

        self.client.put_object(
            Bucket=self.cfg.bucket,
            Key=f"{self.base}{int(record['body']['number']):012d}.json",
            Body=json.dumps(record, sort_keys=True).encode(),
            ContentType="application/json",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=self.cfg.retain_days),
        )

    def numbers(self) -> set[int]:
        out: set[int] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.cfg.bucket, Prefix=self.base
        ):
            for obj in page.get("Contents", []):
                stem = obj["Key"][len(self.base) :].removesuffix(".json")
                if stem.isdigit():
                    out.add(int(stem))
        return out

    def read_all(self) -> list[dict[str, Any]]:
        out = []
        for n in sorted(self.numbers()):
            body = self.client.get_object(Bucket=self.cfg.bucket, Key=f"{self.base}{n:012d}.json")[
                "Body"
            ].read()
            out.append(json.loads(body))
        return out


class Sealer:
    """Signs digests: on demand, after ``every_entries`` entries, every ``every_s`` seconds."""

    def __init__(
        self,
        db: Database,
        key: SigningKey,
        data_dir: str | Path,
        every_entries: int = 100,
        every_s: float = 900.0,
        s3: AuditS3Settings | None = None,
        syslog: AuditSyslogSettings | None = None,
    ):
        from oversight.privacy.audit_syslog import SyslogMirror

        self.db, self.key = db, key
        self.every_entries, self.every_s = every_entries, every_s
        self.file = trail_dir(data_dir) / DIGEST_FILE
        self.genesis, self.created = create_genesis(db, key, data_dir)
        if self.genesis.body["public_key"] != public_hex(key):
            raise ValueError("the genesis record was made with a different installation key")
        self.mirror = S3Mirror(s3, self.genesis.fingerprint) if s3 is not None else None
        self.syslog = SyslogMirror(syslog) if syslog is not None else None
        self._unmirrored: dict[int, dict[str, Any]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_seq = 0

    def seal(self, reason: str = "manual") -> dict[str, Any]:
        """Sign the current head as the next digest; returns the digest record written."""
        with self.db.session() as s:
            head = audit._lock_head(s)  # serialises sealers and appenders
            last = s.execute(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.number.is_not(None))
                .order_by(AuditCheckpoint.number.desc())
                .limit(1)
            ).scalar_one_or_none()
            prev = digest_hash(digest_body(last, self.genesis)) if last else self.genesis.fingerprint
            cp = AuditCheckpoint(
                seq=int(head.seq),
                hash=head.hash,
                ts=utcnow(),
                key_fingerprint=fingerprint(self.key),
                signature="",
                number=int(last.number or 0) + 1 if last else 1,
                prev=prev,
                reason=reason,
            )
            body = digest_body(cp, self.genesis)
            cp.signature = self.key.sign(_canonical(body)).signature.hex()
            s.add(cp)
            self._last_seq = int(head.seq)
        record = {"body": body, "signature": cp.signature}
        append_line(self.file, record)
        self._mirror(record)
        if self.syslog is not None:
            self.syslog.send(record)
        return record

    def _mirror(self, record: dict[str, Any] | None) -> None:
        """Copy to S3; what fails is retried with the next digest (and at the next start)."""
        if self.mirror is None:
            return
        if record is not None:
            self._unmirrored[int(record["body"]["number"])] = record
        for n, rec in sorted(self._unmirrored.items()):
            try:
                self.mirror.put(rec)
            except Exception:
                log.exception("could not copy audit digest %s to S3; will retry", n)
                return
            del self._unmirrored[n]

    def last_reason(self) -> str | None:
        with self.db.session() as s:
            return s.execute(
                select(AuditCheckpoint.reason)
                .where(AuditCheckpoint.number.is_not(None))
                .order_by(AuditCheckpoint.number.desc())
                .limit(1)
            ).scalar_one_or_none()

    def sync_file(self) -> int:
        """Append committed digests a crash kept out of the file; returns how many."""
        have = {int(r["body"]["number"]) for r in read_file(self.file)[0]}
        added = 0
        with self.db.session() as s:
            rows = s.execute(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.number.is_not(None))
                .order_by(AuditCheckpoint.number)
            ).scalars()
            in_s3 = self.mirror.numbers() if self.mirror is not None else set()
            for cp in rows:
                rec = {"body": digest_body(cp, self.genesis), "signature": cp.signature}
                if int(cp.number or 0) not in have:
                    append_line(self.file, rec)
                    added += 1
                if self.mirror is not None and int(cp.number or 0) not in in_s3:
                    self._unmirrored[int(cp.number or 0)] = rec
        self._mirror(None)
        return added

    def notify(self, seq: int) -> None:
        """Called by ``audit.record`` after each append: wakes the ticker every N entries."""
        if seq - self._last_seq >= self.every_entries:
            self._wake.set()

    def start(self) -> None:
        self.sync_file()
        self.seal("start")
        audit.install_sealer(self)
        self._thread = threading.Thread(target=self._run, name="audit-digests", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        audit.install_sealer(None)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.seal("stop")
        if self.syslog is not None:
            self.syslog.close()

    def _run(self) -> None:
        next_tick = datetime.now(UTC).timestamp() + self.every_s
        while not self._stop.is_set():
            woke = self._wake.wait(max(0.0, next_tick - datetime.now(UTC).timestamp()))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.seal("entries" if woke else "tick")
            except Exception:  # the ticker must outlive a database hiccup; verify shows the gap
                log.exception("could not sign an audit digest")
            next_tick = datetime.now(UTC).timestamp() + self.every_s


def sealer_for(db: Database, cfg: SiteConfig) -> Sealer:
    """The installation's sealer as configured (``site.audit``), with its genesis made if new."""
    from oversight.privacy.keys import load_or_create_signing_key

    a = cfg.site.audit
    return Sealer(
        db,
        load_or_create_signing_key(cfg.site.data_dir),
        cfg.site.data_dir,
        every_entries=a.digest_every_entries,
        every_s=a.digest_every_minutes * 60,
        s3=a.s3,
        syslog=a.syslog,
    )


# ------------------------------------------------------------------ verification


@dataclass
class _Digest:
    body: dict[str, Any]
    signature: str

    @property
    def number(self) -> int:
        return int(self.body["number"])

    @property
    def ts(self) -> datetime:
        return datetime.strptime(self.body["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def verify_trail(
    session: Session,
    data_dir: str | Path,
    every_s: float,
    now: datetime | None = None,
    slack_s: float = 60.0,
    expect_genesis: str | None = None,
    s3: AuditS3Settings | None = None,
    s3_client: Any = None,
) -> audit.VerifyResult:
    """The hash chain, plus continuity of signed digests from genesis to ``now`` in both stores."""
    now = now or utcnow()
    genesis = load_genesis(data_dir)
    if genesis is None:
        res = audit.verify(session)
        res.fail(None, f"no genesis record in {trail_dir(data_dir)}: the digest chain has no anchor")
        return res
    res = audit.verify(session, genesis.verify_key)
    if not genesis.signature_ok():
        res.fail(None, "the genesis record's signature is invalid")
    if expect_genesis and genesis.fingerprint != expect_genesis.strip().lower():
        res.fail(None, f"genesis fingerprint {genesis.fingerprint} is not the expected {expect_genesis}")
    if res.entries == 0:
        res.fail(None, "the audit log is empty: even the genesis entry is gone")
    digests = _both_stores(session, trail_dir(data_dir) / DIGEST_FILE, genesis, res)
    if s3 is not None:
        _against_s3(S3Mirror(s3, genesis.fingerprint, s3_client), digests, res)
    _check_chain(session, digests, genesis, res, every_s + slack_s)
    _check_tail(session, digests, genesis, res, now, every_s + slack_s)
    res.digests = len(digests)
    return res


def _both_stores(session: Session, path: Path, genesis: Genesis, res: audit.VerifyResult) -> list[_Digest]:
    """The file's digests, after checking that the database holds exactly the same ones."""
    in_file, problems = read_file(path)
    for p in problems:
        res.fail(None, p)
    file_by_n: dict[int, _Digest] = {}
    for rec in in_file:
        d = _Digest(rec["body"], rec["signature"])
        if d.number in file_by_n:
            res.fail(None, f"digest {d.number} appears twice in {path}")
        file_by_n[d.number] = d
    db_by_n: dict[int, _Digest] = {}
    rows = session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.number.is_not(None)).order_by(AuditCheckpoint.id)
    ).scalars()
    for cp in rows:
        d = _Digest(digest_body(cp, genesis), cp.signature)
        if d.number in db_by_n:
            res.fail(None, f"digest {d.number} appears twice in the database")
        db_by_n[d.number] = d
    for n, d in sorted(file_by_n.items()):
        other = db_by_n.get(n)
        if other is None:
            res.fail(d.body["seq"], f"digest {n} (seq {d.body['seq']}) is in {path} but not in the database")
        elif other.body != d.body or other.signature != d.signature:
            res.fail(d.body["seq"], f"digest {n} in the database differs from the append-only file")
    for n, d in sorted(db_by_n.items()):
        if n not in file_by_n:
            res.fail(d.body["seq"], f"digest {n} (seq {d.body['seq']}) is in the database but not in {path}")
    if not file_by_n:
        res.fail(None, f"no signed digest in {path}")
    return [file_by_n[n] for n in sorted(file_by_n)]


def _against_s3(mirror: S3Mirror, digests: list[_Digest], res: audit.VerifyResult) -> None:
    """The write-once copy must hold exactly the digests of the file (and so of the database)."""
    try:
        remote = {int(r["body"]["number"]): r for r in mirror.read_all()}
    except Exception as exc:
        res.fail(None, f"cannot read the S3 copy of the digests: {exc}")
        return
    local = {d.number: d for d in digests}
    for n, r in sorted(remote.items()):
        d = local.get(n)
        if d is None:
            res.fail(
                r["body"].get("seq"), f"digest {n} is in the S3 copy but not in the local file or database"
            )
        elif d.body != r["body"] or d.signature != r["signature"]:
            res.fail(d.body["seq"], f"digest {n} differs from its S3 copy")
    for n in sorted(set(local) - set(remote)):
        res.fail(local[n].body["seq"], f"digest {n} is missing from the S3 copy")


def _check_chain(
    session: Session, digests: list[_Digest], genesis: Genesis, res: audit.VerifyResult, max_gap_s: float
) -> None:
    vk = genesis.verify_key
    prev_hash, prev_n, prev_seq = genesis.fingerprint, 0, int(genesis.body["after_seq"])
    prev_ts, prev_reason = datetime.strptime(genesis.body["created"], "%Y-%m-%dT%H:%M:%S.%fZ"), "stop"
    prev_ts = prev_ts.replace(tzinfo=UTC)
    hashes = _entry_hashes(session, [int(d.body["seq"]) for d in digests] + [prev_seq])
    if prev_seq and hashes.get(prev_seq) != genesis.body["after_hash"]:
        res.fail(prev_seq, f"entry seq {prev_seq} differs from the genesis record's anchor")
    for d in digests:
        b, n = d.body, d.number
        try:
            vk.verify(_canonical(b), bytes.fromhex(d.signature))
        except (BadSignatureError, ValueError):
            res.fail(b.get("seq"), f"digest {n} has an invalid signature")
            continue
        if n != prev_n + 1:
            res.fail(b["seq"], f"digests {prev_n + 1}..{n - 1} are missing: an interval was dropped")
        if b["prev"] != prev_hash or b["genesis"] != genesis.fingerprint:
            res.fail(b["seq"], f"digest {n} does not follow digest {n - 1}")
        if int(b["seq"]) < prev_seq:
            res.fail(b["seq"], f"digest {n} covers seq {b['seq']}, before digest {n - 1}'s seq {prev_seq}")
        if hashes.get(int(b["seq"])) != b["hash"]:
            res.fail(
                b["seq"], f"entry seq {b['seq']} is missing or differs from the one signed in digest {n}"
            )
        gap = (d.ts - prev_ts).total_seconds()
        if gap > max_gap_s and b["reason"] != "start" and prev_reason not in CLOSING:
            res.fail(b["seq"], f"no digest for {gap / 60:.0f} min before digest {n}: a missing interval")
        elif gap > max_gap_s and prev_reason not in CLOSING:
            res.warnings.append(
                f"the server stopped uncleanly: no digest for {gap / 60:.0f} min "
                f"before digest {n} ({b['ts']})"
            )
        prev_hash, prev_n, prev_seq, prev_ts, prev_reason = (
            digest_hash(b),
            n,
            int(b["seq"]),
            d.ts,
            b["reason"],
        )


def _check_tail(
    session: Session,
    digests: list[_Digest],
    genesis: Genesis,
    res: audit.VerifyResult,
    now: datetime,
    max_age_s: float,
) -> None:
    """Entries after the last digest are tolerated for one interval; so is the last digest's age."""
    last = digests[-1] if digests else None
    last_seq = int(last.body["seq"]) if last else int(genesis.body["after_seq"])
    oldest = session.execute(
        select(AuditEntry.seq, AuditEntry.ts)
        .where(AuditEntry.seq > last_seq)
        .order_by(AuditEntry.ts)
        .limit(1)
    ).first()
    if oldest is not None and (now - oldest.ts).total_seconds() > max_age_s:
        res.fail(
            int(oldest.seq),
            f"entry seq {oldest.seq} ({audit._ts(oldest.ts)}) comes after the last digest but is older "
            "than one interval: an unsigned suffix (forged, or the sealer is not running)",
        )
    if (
        last is not None
        and last.body["reason"] not in CLOSING
        and (now - last.ts).total_seconds() > max_age_s
    ):
        res.fail(
            last_seq + 1,
            f"the last digest ({last.number}, {last.body['ts']}) is older than one interval: "
            "later digests were removed, or the server stopped without its closing digest",
        )


def _entry_hashes(session: Session, seqs: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    wanted = sorted(set(seqs))
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        for seq, h in session.execute(
            select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_(chunk))
        ):
            out[int(seq)] = h
    return out


def latest_digest(session: Session, data_dir: str | Path) -> dict[str, Any] | None:
    """The newest digest and its hash: what the transparency report publishes for anchoring."""
    genesis = load_genesis(data_dir)
    if genesis is None:
        return None
    cp = session.execute(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.number.is_not(None))
        .order_by(AuditCheckpoint.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    if cp is None:
        return None
    body = digest_body(cp, genesis)
    return {**body, "digest": digest_hash(body), "signature": cp.signature}
