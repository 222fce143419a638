"""Lifecycle of every copy made from footage: event snapshots, playback and reveal caches, export
packages and report files. Invariant: no copy outlives its rule, and every rule is in the report.

Rules (``site.copies`` in the config, bounded like every duration):
- event snapshots (and the thumbnails served from them) live as long as their camera's event
  footage (``max(retention_days, event_retention_days)``), or ``snapshot_days`` when set, unless an
  active evidence hold covers the event; the file goes and the event row forgets it;
- a reveal copy in the web cache (a file rendered for one reveal, ``...-reveal<ids>-<user>.mp4``)
  dies as soon as any of its reveals is revoked, denied or expired, and at once on revocation;
- other cache files live ``cache_hours`` and the cache is kept under ``cache_max_gb``, oldest first;
- report files live ``report_hours`` (they are rebuilt on request);
- export packages live ``export_days``; the export's record and audit entries stay.

Every file is written under a private umask (0600 files, 0700 folders), set by ``private_umask``
when a command starts.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from oversight.config.schema import RecordConfig, SiteConfig
from oversight.privacy import audit
from oversight.privacy.models import ExportRecord, RevealRequest
from oversight.recording.retention import holds_in_force
from oversight.store.db import Database
from oversight.store.models import Event, EvidenceHold

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077
REVEAL_NAME = re.compile(r"-reveal(\d+(?:-\d+)*)-")
KINDS = ("snapshots", "exports", "reports", "reveal_cache", "cache")


def private_umask() -> int:
    """Files this process creates from now on are 0600 and folders 0700; returns the old mask."""
    return os.umask(PRIVATE_UMASK)


def default_cache_dir(cfg: SiteConfig) -> Path:
    return Path(cfg.site.data_dir) / "cache" / "web"


@dataclass
class CopiesResult:
    deleted: dict[str, int] = field(default_factory=dict)
    bytes_freed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": dict(self.deleted), "bytes_freed": self.bytes_freed, "errors": list(self.errors)}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _remove(path: Path, kind: str, res: CopiesResult) -> bool:
    try:
        n = _size(path)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        res.errors.append(f"{kind} {path}: {exc}")
        log.warning("could not delete %s %s: %s", kind, path, exc)
        return False
    res.deleted[kind] = res.deleted.get(kind, 0) + 1
    res.bytes_freed += n
    return True


def snapshot_keep(cfg: SiteConfig, camera_id: str) -> timedelta:
    if cfg.site.copies.snapshot_days is not None:
        return timedelta(days=cfg.site.copies.snapshot_days)
    cams = {c.id: c.record for c in cfg.cameras}
    rec = cams.get(camera_id) or RecordConfig.model_validate({})
    return timedelta(days=max(rec.retention_days, rec.event_retention_days or 0))


def _snapshots(db: Database, cfg: SiteConfig, now: datetime) -> list[tuple[Any, bool]]:
    """Every event with a snapshot file, and whether it is due (past its rule and not held)."""
    with db.session() as s:
        rows = list(
            s.execute(
                select(Event.id, Event.camera_id, Event.start, Event.snapshot_path).where(
                    Event.snapshot_path.is_not(None)
                )
            )
        )
        holds = list(
            s.execute(
                select(EvidenceHold.camera_id, EvidenceHold.start, EvidenceHold.end).where(
                    holds_in_force(now, cfg.site.max_hold_days)
                )
            )
        )
    out = []
    for r in rows:
        held = any(h.camera_id == r.camera_id and h.start <= r.start <= h.end for h in holds)
        out.append((r, not held and r.start < now - snapshot_keep(cfg, r.camera_id)))
    return out


def _sweep_snapshots(db: Database, cfg: SiteConfig, now: datetime, res: CopiesResult) -> None:
    for r, due in _snapshots(db, cfg, now):
        if due and _remove(Path(r.snapshot_path), "snapshots", res):
            with db.session() as s:
                s.execute(update(Event).where(Event.id == r.id).values(snapshot_path=None))


def _sweep_exports(db: Database, cfg: SiteConfig, now: datetime, res: CopiesResult) -> None:
    cutoff = now - timedelta(days=cfg.site.copies.export_days)
    with db.session() as s:
        rows = list(
            s.execute(select(ExportRecord.id, ExportRecord.path).where(ExportRecord.created_at < cutoff))
        )
    for r in rows:
        path = Path(r.path)
        if not path.exists():
            continue
        n = _size(path)
        if _remove(path, "exports", res):
            with db.session() as s:
                audit.record(
                    s,
                    "system:retention",
                    "export.delete",
                    "export",
                    r.id,
                    purpose="retention: export_days",
                    source="retention",
                    detail={"bytes": n, "file": path.name},
                )


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from (p for p in folder.rglob("*") if p.is_file())


def _mtime(p: Path) -> datetime:
    return datetime.fromtimestamp(p.stat().st_mtime, UTC)


def reveal_ids(name: str) -> list[int]:
    """The reveals a cache file was rendered for (empty: not a reveal copy)."""
    m = REVEAL_NAME.search(name)
    return [int(x) for x in m.group(1).split("-")] if m else []


def _active_reveals(db: Database, now: datetime) -> set[int]:
    with db.session() as s:
        q = select(RevealRequest.id).where(RevealRequest.status == "approved", RevealRequest.expires_at > now)
        return set(s.execute(q).scalars())


def _cache_files(cache_dir: Path) -> list[Path]:
    return [p for p in _files(cache_dir) if p.relative_to(cache_dir).parts[0] not in ("reports", "segments")]


def _sweep_cache(db: Database, cfg: SiteConfig, now: datetime, cache_dir: Path, res: CopiesResult) -> None:
    pol = cfg.site.copies
    for p in _files(cache_dir / "reports"):
        if _mtime(p) < now - timedelta(hours=pol.report_hours):
            _remove(p, "reports", res)
    active = _active_reveals(db, now)
    kept: list[tuple[datetime, int, Path]] = []
    for p in _cache_files(cache_dir):
        ids = reveal_ids(p.name)
        if ids and not set(ids) <= active:
            _remove(p, "reveal_cache", res)
        elif _mtime(p) < now - timedelta(hours=pol.cache_hours):
            _remove(p, "cache", res)
        else:
            kept.append((_mtime(p), p.stat().st_size, p))
    total, limit = sum(n for _, n, _ in kept), int(pol.cache_max_gb * 1024**3)
    for _, n, p in sorted(kept, key=lambda k: k[0]):
        if total <= limit:
            break
        if _remove(p, "cache", res):
            total -= n


def drop_reveal_copies(cache_dir: Path, reveal_id: int) -> int:
    """Delete every cached file rendered for this reveal (called when it is revoked)."""
    res = CopiesResult()
    for p in _cache_files(cache_dir):
        if reveal_id in reveal_ids(p.name):
            _remove(p, "reveal_cache", res)
    return res.deleted.get("reveal_cache", 0)


def sweep_copies(db: Database, cfg: SiteConfig, now: datetime, cache_dir: Path | None = None) -> CopiesResult:
    """Apply every copy rule once; one failing kind is reported and the others still run."""
    res = CopiesResult()
    steps = (
        lambda: _sweep_snapshots(db, cfg, now, res),
        lambda: _sweep_exports(db, cfg, now, res),
        lambda: _sweep_cache(db, cfg, now, cache_dir or default_cache_dir(cfg), res),
    )
    for step in steps:
        try:
            step()
        except Exception as exc:
            res.errors.append(str(exc))
            log.exception("copy retention step failed")
    return res


@dataclass
class CopyKind:
    kind: str
    rule: str
    files: int = 0
    bytes: int = 0
    oldest_age_hours: float | None = None
    overdue: int = 0  # past its rule and still here


def copies_report(
    db: Database, cfg: SiteConfig, now: datetime, cache_dir: Path | None = None
) -> list[CopyKind]:
    """Per kind of copy: its rule, how many files and bytes exist, and how many are overdue."""
    pol = cfg.site.copies
    cache_dir = cache_dir or default_cache_dir(cfg)
    out = {
        "snapshots": CopyKind(
            "snapshots",
            f"{pol.snapshot_days:g} days" if pol.snapshot_days else "the camera's event retention",
        ),
        "exports": CopyKind("exports", f"{pol.export_days:g} days"),
        "reports": CopyKind("reports", f"{pol.report_hours:g} hours"),
        "reveal_cache": CopyKind("reveal_cache", "until the reveal is revoked, denied or expires"),
        "cache": CopyKind("cache", f"{pol.cache_hours:g} hours, at most {pol.cache_max_gb:g} GB"),
    }

    def add(kind: str, path: Path, born: datetime, overdue: bool) -> None:
        k = out[kind]
        k.files += 1
        k.bytes += _size(path)
        age = round((now - born).total_seconds() / 3600, 2)
        k.oldest_age_hours = max(k.oldest_age_hours or 0.0, age)
        k.overdue += int(overdue)

    with db.session() as s:
        exports = list(s.execute(select(ExportRecord.created_at, ExportRecord.path)))
    for e, due in _snapshots(db, cfg, now):
        if Path(e.snapshot_path).exists():
            add("snapshots", Path(e.snapshot_path), e.start, due)
    for x in exports:
        if Path(x.path).exists():
            add("exports", Path(x.path), x.created_at, x.created_at < now - timedelta(days=pol.export_days))
    for p in _files(cache_dir / "reports"):
        add("reports", p, _mtime(p), _mtime(p) < now - timedelta(hours=pol.report_hours))
    active = _active_reveals(db, now)
    for p in _cache_files(cache_dir):
        ids = reveal_ids(p.name)
        if ids:
            add("reveal_cache", p, _mtime(p), not set(ids) <= active)
        else:
            add("cache", p, _mtime(p), _mtime(p) < now - timedelta(hours=pol.cache_hours))
    return [out[k] for k in KINDS]
