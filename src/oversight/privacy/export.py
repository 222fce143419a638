"""Signed evidence export: MP4 clips + ``manifest.json`` + ``manifest.sig`` (Ed25519), folder or zip.

Why this shape: a court or a defence lawyer must be able to check, offline and with only the
installation's public key, that nothing in the package changed since it left the system. The
manifest lists the SHA-256 of every file, the cameras and window, whether each clip is redacted,
who exported it and why, the incident reference, who received it (a category of
``privacy.recipients`` and the exporter's reference) and the chain of custody (the audit entries of
the reveal that allowed unredacted content, and the evidence holds). The signature covers the
manifest's exact bytes; the audit log records the manifest's SHA-256, anchoring the package.

Clips are whole recorded segments overlapping the window; the manifest gives each clip's own
start and end. Unredacted pixels never go beyond what a second person approved: only the part of
a clip inside an approved, unexpired reveal of the exporter (intersected with the requested
window) is left unredacted. A clip wholly inside that window is the original bytes; a clip the
window cuts is re-encoded, frames outside the window redacted; the manifest names every
unredacted window and frame count. Exporting needs the supervisor role; API tokens never get
unredacted clips, and an export holding unredacted clips is downloaded only by its exporter or
by someone holding their own reveal covering the same windows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.schema import SiteConfig
from oversight.i18n import N_, Message, TextError
from oversight.permissions import roles_for
from oversight.privacy import audit
from oversight.privacy.copies import default_cache_dir
from oversight.privacy.egress import MAX_EXPORT_TRANSCODES, Egress, OfflineContext, view_fingerprint
from oversight.privacy.keys import fingerprint, load_or_create_signing_key, load_verify_key, public_hex
from oversight.privacy.models import AuditEntry, ExportRecord
from oversight.privacy.recipients import CATEGORIES
from oversight.privacy.reveals import active_reveals, covering_reveal
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment

FORMAT = "oversight-evidence-export/1"
EXPORT_ROLES = roles_for("export.create")
META_FILES = {"manifest.json", "manifest.sig", "public_key.txt"}


class ExportError(TextError):
    def __init__(self, message: str | Message, /, status: int = 400, **params: Any):
        super().__init__(message, **params)
        self.status = status


class ExportCancelled(ExportError):
    """Raised from a progress callback to stop an export; nothing is recorded, its files go."""

    def __init__(self, message: str = "the export was cancelled"):
        super().__init__(message, 409)


# (fraction done 0..1, stage in words); called from the clip threads; may raise ExportCancelled
Progress = Callable[[float, str], None]


@dataclass
class ExportResult:
    id: int
    path: Path
    manifest_sha256: str
    files: int
    redacted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "manifest_sha256": self.manifest_sha256,
            "files": self.files,
            "redacted": self.redacted,
            "download": f"/api/exports/{self.id}/download",
        }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class RevealWindow:
    """Where the exporter may see one camera unredacted: an approved reveal cut to the request."""

    camera_id: str
    start: datetime
    end: datetime
    reveal_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "reveal_id": self.reveal_id,
        }


def reveal_windows(
    session: Session, exporter: str, cams: list[str], start: datetime, end: datetime
) -> list[RevealWindow]:
    """The exporter's approved, unexpired reveals on these cameras, each cut to [start, end)."""
    out: list[RevealWindow] = []
    for r in active_reveals(session, exporter):
        lo, hi = max(r.start, start), min(r.end, end)
        if lo < hi:
            out.extend(RevealWindow(c, lo, hi, r.id) for c in sorted(set(r.camera_ids or ()) & set(cams)))
    return sorted(out, key=lambda w: (w.camera_id, w.start, w.reveal_id))


def _custody(
    session: Session, reveal_id: int | None, camera_ids: list[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if reveal_id is not None:
        q = select(AuditEntry).where(
            AuditEntry.object_type == "reveal", AuditEntry.object_id == str(reveal_id)
        )
        for e in session.execute(q.order_by(AuditEntry.seq)).scalars():
            out.append(
                {
                    "at": _iso(e.ts),
                    "actor": e.actor,
                    "action": e.action,
                    "audit_seq": e.seq,
                    "audit_hash": e.hash,
                    "purpose": e.purpose,
                }
            )
    holds = select(EvidenceHold).where(
        EvidenceHold.camera_id.in_(camera_ids), EvidenceHold.start < end, EvidenceHold.end > start
    )
    for h in session.execute(holds).scalars():
        out.append(
            {
                "at": _iso(h.created_at),
                "actor": h.created_by,
                "action": "evidence.hold",
                "camera_id": h.camera_id,
                "reference": h.reference,
                "reason": h.reason,
                "released_at": _iso(h.released_at) if h.released_at else None,
            }
        )
    return sorted(out, key=lambda x: x["at"])


@dataclass(frozen=True)
class _Request:
    """One checked export request; ``purpose`` is already stripped."""

    cams: list[str]
    start: datetime
    end: datetime
    exporter: str
    role: str
    purpose: str
    reference: str | None
    source: str | None
    recipient: str  # one of ``privacy.recipients.CATEGORIES``
    recipient_ref: str | None  # who exactly (case number, authority): auditors only


@dataclass
class _Footage:
    """What the database says about a request: segments, the exporter's windows, custody."""

    segs: list[Segment]
    windows: list[RevealWindow]
    reveal_ids: list[int]
    custody: list[dict[str, Any]]


def export_footage(
    db: Database,
    cfg: SiteConfig,
    camera_ids: list[str],
    start: datetime,
    end: datetime,
    exporter: str,
    role: str,
    purpose: str,
    recipient: str,
    reference: str | None = None,
    source: str | None = None,
    recipient_ref: str | None = None,
    out_root: Path | None = None,
    zip_it: bool = False,
    key: SigningKey | None = None,
    redactor_factory: Any = None,
    allow_unredacted: bool = True,
    subjects: dict[str, Any] | None = None,
    request_id: int | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Build, sign and record one export. Nothing is recorded if anything fails.

    ``recipient``: a ``privacy.recipients`` category; ``recipient_ref``: for auditors, never public.
    ``allow_unredacted=False`` (API tokens) redacts every clip whatever reveals the exporter holds.
    ``subjects`` (camera -> ``privacy.sar.SubjectTrack``) keeps a subject access request's marked
    person unredacted; ``request_id`` names that request in the manifest.
    ``progress`` hears how far it got; an exception it raises (``ExportCancelled``) stops the export.
    """
    cams = _checked_cameras(cfg, camera_ids, start, end, role, purpose)
    ref = _checked_recipient(recipient, recipient_ref)
    req = _Request(cams, start, end, exporter, role, purpose.strip(), reference, source, recipient, ref)
    key = key or load_or_create_signing_key(cfg.site.data_dir)
    now = utcnow()
    root = out_root or Path(cfg.site.data_dir) / "exports"
    folder = _free_folder(root, now, reference)
    root.mkdir(parents=True, exist_ok=True)
    # the standard redaction's clips depend on the settings only: shared between exports
    clips = default_cache_dir(cfg) / "export-clips" if redactor_factory is None else None
    gate = Egress(OfflineContext(cfg, db, redactor_factory))
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=root))  # same file system: the final rename is atomic
    try:
        found = _find_footage(db, req, allow_unredacted)
        if not found.segs:
            raise ExportError(N_("no recorded footage for these cameras in this window"), 404)
        tell = progress or (lambda fraction, stage: None)
        files = _export_clips(cfg, gate, req, found, work, clips, tell, subjects or {})
        tell(0.97, "signing the manifest")
        manifest = _manifest(cfg, req, now, found, files, key)
        if request_id is not None:
            manifest["subject_access_request"] = {"id": request_id, "cameras_marked": sorted(subjects or {})}
        msha = _write_signed(work, manifest, key)
        tell(0.98, "packaging")
        final = _publish(work, folder, zip_it)
        rid = _record_export(db, req, now, manifest, final, msha)
        return ExportResult(rid, final, msha, len(files), manifest["redaction"] == "redacted")
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def check_request(
    db: Database,
    cfg: SiteConfig,
    camera_ids: list[str],
    start: datetime,
    end: datetime,
    role: str,
    purpose: str,
    recipient: str,
    recipient_ref: str | None = None,
) -> None:
    """Refuse at once what ``export_footage`` would refuse before its first clip (a background job
    is only queued for a request that passes): role, cameras, window, purpose, recipient, footage."""
    cams = _checked_cameras(cfg, camera_ids, start, end, role, purpose)
    _checked_recipient(recipient, recipient_ref)
    with db.session() as s:
        q = select(Segment.id).where(Segment.camera_id.in_(cams), Segment.end > start, Segment.start < end)
        if s.execute(q.limit(1)).first() is None:
            raise ExportError(N_("no recorded footage for these cameras in this window"), 404)


def _export_clips(
    cfg: SiteConfig,
    gate: Egress,
    req: _Request,
    found: _Footage,
    work: Path,
    clips: Path | None,
    tell: Progress,
    subjects: dict[str, Any],
) -> list[dict[str, Any]]:
    """Every segment's clip (``subjects``: camera -> a subject access request's marked person), at
    most ``MAX_EXPORT_TRANSCODES`` at once (each in its own thread with
    its own decoder and encoder), in segment order; progress is the mean of the clips' fractions."""
    segs = found.segs
    done = [0.0] * len(segs)
    lock, failed = threading.Lock(), threading.Event()

    def one(i: int) -> dict[str, Any]:
        seg = segs[i]
        span = max((seg.end - seg.start).total_seconds(), 1e-3)

        def tick(rel: float) -> None:
            if failed.is_set():  # another clip failed: the export is lost, stop this one too
                raise ExportCancelled(N_("another clip of this export failed"))
            with lock:
                done[i] = min(max(rel / span, 0.0), 1.0)
                fraction = 0.95 * sum(done) / len(segs)
            tell(fraction, f"redacting and encoding {len(segs)} clip(s)")

        try:
            tick(0.0)
            out = _export_clip(
                cfg, gate, req, seg, work, found.windows, clips, subjects.get(seg.camera_id), tick
            )
            tick(span)
        except BaseException:
            failed.set()
            raise
        return out

    if len(segs) == 1:
        return [one(0)]
    with ThreadPoolExecutor(min(MAX_EXPORT_TRANSCODES, len(segs)), thread_name_prefix="export") as pool:
        return list(pool.map(one, range(len(segs))))


def _checked_cameras(
    cfg: SiteConfig, camera_ids: list[str], start: datetime, end: datetime, role: str, purpose: str
) -> list[str]:
    """The request's cameras, sorted, once the role, cameras, window and purpose pass."""
    if role not in EXPORT_ROLES:
        raise ExportError(N_("exports need the supervisor role"), 403)
    cams = sorted(set(camera_ids))
    known = {c.id for c in cfg.cameras}
    if not cams or (unknown := set(cams) - known):
        raise ExportError(
            N_("unknown camera(s): {cameras}"), 404, cameras=", ".join(sorted(unknown)) if cams else "(none)"
        )
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ExportError(N_("give a UTC start before the end"))
    if len(purpose.strip()) < 10:
        raise ExportError(N_("give the purpose of the export (at least 10 characters)"))
    return cams


def _checked_recipient(recipient: str, recipient_ref: str | None) -> str | None:
    """The reference stripped (None when empty), once the category is one of the published list."""
    if recipient not in CATEGORIES:
        raise ExportError(N_("give the recipient: one of {choices}"), 422, choices=", ".join(CATEGORIES))
    ref = (recipient_ref or "").strip()
    if len(ref) > 128:
        raise ExportError("the recipient reference is at most 128 characters", 422)
    return ref or None


def _free_folder(root: Path, now: datetime, reference: str | None) -> Path:
    """A folder name (and .zip) not yet taken: time and a file-safe reference, numbered on a clash."""
    tag = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in (reference or "export"))[:40]
    folder = root / f"{now:%Y%m%dT%H%M%SZ}-{tag}"
    n = 1
    while folder.exists() or folder.with_suffix(".zip").exists():
        folder = root / f"{now:%Y%m%dT%H%M%SZ}-{tag}-{n}"
        n += 1
    return folder


def _find_footage(db: Database, req: _Request, allow_unredacted: bool) -> _Footage:
    """Segments overlapping the window, the exporter's reveal windows, and their chain of custody."""
    with db.session() as s:
        segs = list(
            s.execute(
                select(Segment)
                .where(Segment.camera_id.in_(req.cams), Segment.end > req.start, Segment.start < req.end)
                .order_by(Segment.camera_id, Segment.start)
            ).scalars()
        )
        windows = reveal_windows(s, req.exporter, req.cams, req.start, req.end) if allow_unredacted else []
        reveal_ids = sorted({w.reveal_id for w in windows})
        custody = []
        for rid in reveal_ids or [None]:  # type: ignore[list-item]
            custody.extend(_custody(s, rid, req.cams, req.start, req.end))
    return _Footage(segs, windows, reveal_ids, custody)


def _export_clip(
    cfg: SiteConfig,
    gate: Egress,
    req: _Request,
    seg: Segment,
    work: Path,
    windows: list[RevealWindow],
    clips: Path | None,
    subject: Any = None,
    tick: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """One segment through the egress gate into the export; its manifest entry.

    ``clips`` (standard redaction only) holds redacted clips shared between exports: their output
    depends on the camera's redaction settings only.
    """
    src = Path(seg.path)
    if not src.is_file():
        raise ExportError(N_("segment {id} file is missing: {src}"), 410, id=seg.id, src=src)
    rel = Path("clips") / seg.camera_id / f"{seg.start.astimezone(UTC):%Y%m%dT%H%M%S}Z-{seg.id}.mp4"
    dst = work / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shared = None
    if clips is not None:
        fp = view_fingerprint(cfg.camera(seg.camera_id))  # redaction settings and privacy masks
        shared = clips / seg.camera_id / f"{seg.id}-redacted-{fp}.mp4"
    stats: dict[str, int] = {}
    unredacted = gate.export_clip(
        req.exporter,
        req.role,
        seg,
        dst,
        windows,
        req.purpose,
        shared,
        subject=subject,
        stats=stats,
        tick=tick,
    )
    original = bool(unredacted) and unredacted[0]["frames"] is None
    extra = {"subject_frames": stats.get("subject_frames", 0)} if subject is not None else {}
    return extra | {
        "path": rel.as_posix(),
        "sha256": sha256_file(dst),
        "bytes": dst.stat().st_size,
        "camera_id": seg.camera_id,
        "start": _iso(seg.start),
        "end": _iso(seg.end),
        "redacted": not original,  # some or all frames redacted
        "unredacted": unredacted,  # the exact windows left unredacted, if any
        "source_segment_id": seg.id,
        "reveal_id": unredacted[0]["reveal_id"] if unredacted else None,
        "source_sha256": sha256_file(src) if original else None,
    }


def _manifest(
    cfg: SiteConfig,
    req: _Request,
    now: datetime,
    found: _Footage,
    files: list[dict[str, Any]],
    key: SigningKey,
) -> dict[str, Any]:
    """The manifest (format ``FORMAT``): what was exported, why, by whom, how redacted."""
    redacted_all = not any(f["unredacted"] for f in files)
    return {
        "format": FORMAT,
        "site": cfg.site.name,
        "controller": cfg.site.controller,
        "created_at": _iso(now),
        "exporter": req.exporter,
        "exporter_role": req.role,
        "purpose": req.purpose,
        "reference": req.reference,
        "recipient": {"category": req.recipient, "reference": req.recipient_ref},
        "cameras": [
            {"id": c, "name": cfg.camera(c).display_name, "purpose": cfg.camera(c).purpose} for c in req.cams
        ],
        "time_range": {"start": _iso(req.start), "end": _iso(req.end)},
        "redaction": "redacted"
        if redacted_all
        else ("unredacted" if not any(f["redacted"] for f in files) else "mixed"),
        "reveal_ids": found.reveal_ids,
        "unredacted_windows": [w.as_dict() for w in found.windows],
        "files": files,
        "chain_of_custody": found.custody
        + [{"at": _iso(now), "actor": req.exporter, "action": "export.create", "purpose": req.purpose}],
        "public_key": public_hex(key),
        "public_key_fingerprint": fingerprint(key),
        "signature_algorithm": "Ed25519 over the exact bytes of manifest.json",
    }


def _write_signed(work: Path, manifest: dict[str, Any], key: SigningKey) -> str:
    """manifest.json, its Ed25519 signature and the public key; returns the manifest's SHA-256."""
    body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    (work / "manifest.json").write_bytes(body)
    (work / "manifest.sig").write_text(key.sign(body).signature.hex() + "\n")
    (work / "public_key.txt").write_text(public_hex(key) + "\n")
    return hashlib.sha256(body).hexdigest()


def _publish(work: Path, folder: Path, zip_it: bool) -> Path:
    """Move the finished export into place in one rename (as a folder, or a stored zip)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    if zip_it:
        final = folder.with_suffix(".zip")
        tmpzip = final.with_name("." + final.name + ".part")
        with zipfile.ZipFile(tmpzip, "w", zipfile.ZIP_STORED) as z:
            for p in sorted(work.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(work).as_posix())
        tmpzip.replace(final)
    else:
        final = folder
        work.replace(final)
    return final


def _record_export(
    db: Database, req: _Request, now: datetime, manifest: dict[str, Any], final: Path, msha: str
) -> int:
    """The export's row and its audit entry, in one transaction; returns the export id."""
    reveal_ids = manifest["reveal_ids"]
    with db.session() as s:
        rec = ExportRecord(
            created_at=now,
            exporter=req.exporter,
            camera_ids=req.cams,
            start=req.start,
            end=req.end,
            purpose=req.purpose,
            reference=req.reference,
            redacted=manifest["redaction"] == "redacted",
            reveal_id=reveal_ids[0] if reveal_ids else None,
            path=str(final),
            manifest_sha256=msha,
            recipient=req.recipient,
            recipient_ref=req.recipient_ref,
        )
        s.add(rec)
        s.flush()
        audit.record(
            s,
            req.exporter,
            "export.create",
            "export",
            rec.id,
            purpose=req.purpose,
            source=req.source,
            role=req.role,
            detail={
                "cameras": req.cams,
                "start": _iso(req.start),
                "end": _iso(req.end),
                "reference": req.reference,
                "recipient": req.recipient,
                "recipient_ref": req.recipient_ref,
                "manifest_sha256": msha,
                "files": len(manifest["files"]),
                "redaction": manifest["redaction"],
                "reveal_ids": reveal_ids,
                "unredacted_windows": manifest["unredacted_windows"],
            },
        )
        return rec.id


@dataclass
class ExportCheck:
    ok: bool
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    trusted_key: bool = False

    @property
    def message(self) -> str:
        if not self.ok:
            return self.problems[0]
        n = len((self.manifest or {}).get("files", []))
        who = (
            "the given public key"
            if self.trusted_key
            else "the public key INSIDE the package (give --public-key"
        )
        tail = "" if self.trusted_key else " to check it really comes from the installation)"
        return f"export OK: signature valid with {who}{tail}; {n} file(s) match their SHA-256"


def _extract(zpath: Path, dest: Path) -> list[str]:
    """Unpack member by member; a damaged member is a problem naming the file, not a crash."""
    problems = []
    with zipfile.ZipFile(zpath) as z:
        for info in z.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                problems.append(f"{info.filename}: unsafe path in the zip")
                continue
            try:
                z.extract(info, dest)
            except (zipfile.BadZipFile, OSError) as exc:
                problems.append(f"{info.filename}: damaged in the zip, the file was changed ({exc})")
    return problems


def verify_export(path: str | Path, public_key: str | Path | VerifyKey | None = None) -> ExportCheck:
    """Check a folder or zip offline. Any changed, missing or extra byte fails, naming the file."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                damaged = _extract(path, Path(tmp))
            except zipfile.BadZipFile as exc:
                return ExportCheck(False, [f"{path.name}: not a readable zip ({exc})"])
            res = verify_export(tmp, public_key)
            if damaged:
                res.ok = False
                res.problems = damaged + res.problems
            return res
    if not path.is_dir():
        return ExportCheck(False, [f"{path}: not an export folder or zip"])
    mpath, spath = path / "manifest.json", path / "manifest.sig"
    if not mpath.is_file() or not spath.is_file():
        return ExportCheck(False, ["manifest.json or manifest.sig is missing"])
    body = mpath.read_bytes()
    trusted = public_key is not None
    try:
        if isinstance(public_key, VerifyKey):
            vk = public_key
        elif public_key is not None:
            vk = load_verify_key(public_key)
        elif (path / "public_key.txt").is_file():
            vk = load_verify_key(path / "public_key.txt")
        else:
            return ExportCheck(False, ["no public key given and none in the package"])
        vk.verify(body, bytes.fromhex(spath.read_text().strip()))
    except (BadSignatureError, ValueError) as exc:
        why = "the signature does not match" if isinstance(exc, BadSignatureError) else str(exc)
        return ExportCheck(
            False, [f"manifest.json: {why} (the manifest was changed, or signed by another key)"]
        )
    manifest = json.loads(body)
    res = ExportCheck(True, manifest=manifest, trusted_key=trusted)
    if manifest.get("public_key_fingerprint") != fingerprint(vk):
        res.ok = False
        res.problems.append("manifest.json: public key fingerprint does not match the verifying key")
    listed = set()
    for f in manifest.get("files", []):
        rel = f["path"]
        listed.add(rel)
        p = path / rel
        if ".." in Path(rel).parts or not p.is_file():
            res.ok = False
            res.problems.append(f"{rel}: missing from the export")
        elif sha256_file(p) != f["sha256"]:
            res.ok = False
            res.problems.append(f"{rel}: SHA-256 mismatch, the file was changed")
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_file() and rel not in listed and rel not in META_FILES:
            res.ok = False
            res.problems.append(f"{rel}: not listed in the signed manifest (added after export)")
    return res


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a stored export (folder or zip)."""
    path = Path(path)
    if path.is_dir():
        return dict(json.loads((path / "manifest.json").read_bytes()))
    with zipfile.ZipFile(path) as z:
        return dict(json.loads(z.read("manifest.json")))


def download_refusal(session: Session, rec: ExportRecord, username: str, via: str) -> str | None:
    """Why ``username`` may not download this export, or None. A redacted export holds nothing a
    supervisor cannot see anyway; one with unredacted clips belongs to its exporter, or to someone
    holding their own approved reveal over every unredacted window. Tokens never get one."""
    if rec.redacted:
        return None
    if via != "session":
        return "an export with unredacted footage is never handed to an API token"
    if username == rec.exporter:
        return None
    for w in read_manifest(rec.path).get("unredacted_windows", []):
        start, end = datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])
        if covering_reveal(session, username, w["camera_id"], start, end) is None:
            return "this export holds unredacted footage revealed to its exporter, not to you"
    return None


def list_exports(session: Session, limit: int = 200) -> list[ExportRecord]:
    return list(session.execute(select(ExportRecord).order_by(ExportRecord.id.desc()).limit(limit)).scalars())


def export_record_dict(r: ExportRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "created_at": _iso(r.created_at),
        "exporter": r.exporter,
        "camera_ids": r.camera_ids,
        "start": _iso(r.start),
        "end": _iso(r.end),
        "purpose": r.purpose,
        "reference": r.reference,
        "recipient": r.recipient,
        "recipient_ref": r.recipient_ref,
        "redacted": r.redacted,
        "reveal_id": r.reveal_id,
        "manifest_sha256": r.manifest_sha256,
        "file": Path(r.path).name,
    }
