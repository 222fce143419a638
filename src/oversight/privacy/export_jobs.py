"""Evidence exports as background jobs: queued in the database, run on bounded threads, cancellable.

Why: an export of minutes of footage takes seconds to minutes; a request must not wait for it, a
page reload must not lose it, and a server restart must not leave it "running" forever. Each job
is a row (``ExportJob``) holding the request, its stage and fraction done, and the resulting
export's id. Invariants:
- the export itself is ``export.export_footage`` (through the egress gate, signed and audited);
  a job only calls it and records where it stands;
- at most ``WORKERS`` jobs run at once (their clips share the gate's bounded transcode slots);
- a job found queued or running when the runner starts (a restart interrupted it) is run again
  from the start, at most ``MAX_ATTEMPTS`` times in all, then marked failed saying why;
- a cancelled job stops at its next frame, leaves no files and records no export.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oversight.config.schema import SiteConfig
from oversight.privacy import audit
from oversight.privacy.export import ExportCancelled, ExportError, check_request, export_footage
from oversight.privacy.models import ExportJob, ExportRecord
from oversight.store.base import utcnow
from oversight.store.db import Database

log = logging.getLogger(__name__)
WORKERS = 1  # jobs at once; each runs its clips on the gate's export slots
MAX_ATTEMPTS = 3  # runs of one job (restarts included) before it is marked failed
SAVE_EVERY_S = 0.5  # progress written to the database at most this often per job
ACTIVE = ("queued", "running")
RESTARTED = "interrupted by a server restart; running it again from the start"


class ExportJobs:
    """The installation's export job runner (one per process that serves exports)."""

    def __init__(self, db: Database, cfg: SiteConfig, **export_options: Any):
        self.db, self.cfg = db, cfg
        self.export_options = export_options  # e.g. redactor_factory, key (tests, benches)
        self._pool: ThreadPoolExecutor | None = None
        self._cancel: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    # -- life ------------------------------------------------------------

    def start(self) -> None:
        """Start the threads and pick up the jobs a restart interrupted."""
        with self._lock:
            if self._pool is not None:
                return
            self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="export-job")
        for job_id in self._recover():
            self._submit(job_id)

    def stop(self) -> None:
        """Stop running jobs at their next frame (they stay "running" in the database, so the next
        start runs them again) and wait for the threads."""
        with self._lock:
            pool, self._pool = self._pool, None
            for ev in self._cancel.values():
                ev.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _recover(self) -> list[int]:
        """Jobs left queued or running: queued again (or failed after too many runs)."""
        out = []
        with self.db.session() as s:
            for job in s.execute(select(ExportJob).where(ExportJob.status.in_(ACTIVE))).scalars():
                if job.status == "running" and job.attempts >= MAX_ATTEMPTS:
                    _finish(
                        job, "failed", f"interrupted by server restarts {job.attempts} times; start it again"
                    )
                    continue
                if job.status == "running":
                    job.status, job.stage, job.progress = "queued", RESTARTED, 0.0
                    job.updated_at = utcnow()
                out.append(job.id)
        return sorted(out)

    # -- requests --------------------------------------------------------

    def create(
        self,
        exporter: str,
        role: str,
        via: str,
        camera_ids: list[str],
        start: datetime,
        end: datetime,
        purpose: str,
        recipient: str,
        reference: str | None = None,
        source: str | None = None,
        recipient_ref: str | None = None,
    ) -> dict[str, Any]:
        """Check the request (``ExportError`` at once for what can never work), queue it, return the
        job. Audited (``export.queued``); the export itself audits its clips and its creation."""
        check_request(self.db, self.cfg, camera_ids, start, end, role, purpose, recipient, recipient_ref)
        with self.db.session() as s:
            job = ExportJob(
                exporter=exporter, role=role, via=via, camera_ids=sorted(set(camera_ids)),
                start=start, end=end, purpose=purpose.strip(), reference=reference, source=source,
                recipient=recipient, recipient_ref=(recipient_ref or "").strip() or None,
                status="queued", stage="waiting for a free export slot", progress=0.0, attempts=0,
            )  # fmt: skip
            s.add(job)
            s.flush()
            detail = {
                "cameras": job.camera_ids,
                "start": _iso(start),
                "end": _iso(end),
                "recipient": recipient,
            }
            audit.record(
                s, exporter, "export.queued", "export_job", job.id, purpose=job.purpose, source=source,
                role=role, detail=detail,
            )  # fmt: skip
            out = job_dict(s, job)
        self._submit(out["id"])
        return out

    def cancel(self, job_id: int, username: str, source: str | None = None) -> dict[str, Any]:
        """Cancel a queued or running job of ``username`` (LookupError: none; PermissionError: not
        theirs). A finished job is returned as it is."""
        with self.db.session() as s:
            job = s.get(ExportJob, job_id)
            if job is None:
                raise LookupError("no such export job")
            if job.exporter != username:
                raise PermissionError("only its exporter cancels an export")
            if job.status in ACTIVE:
                _finish(job, "cancelled", None, stage="cancelled")
                audit.record(s, username, "export.cancel", "export_job", job_id, source=source, role=job.role)
            out = job_dict(s, job)
        with self._lock:
            ev = self._cancel.get(job_id)
        if ev is not None:
            ev.set()
        return out

    def get(self, job_id: int) -> dict[str, Any] | None:
        with self.db.session() as s:
            job = s.get(ExportJob, job_id)
            return job_dict(s, job) if job is not None else None

    def list(self, exporter: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; one exporter's jobs, or everyone's (``exporter=None``)."""
        q = select(ExportJob).order_by(ExportJob.id.desc()).limit(limit)
        if exporter is not None:
            q = q.where(ExportJob.exporter == exporter)
        with self.db.session() as s:
            return [job_dict(s, j) for j in s.execute(q).scalars()]

    def wait(self, job_id: int, timeout: float = 60.0) -> dict[str, Any]:
        """The job once it is no longer queued or running (tests, the CLI); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None or job["status"] not in ACTIVE:
                return job or {}
            if time.monotonic() > deadline:
                raise TimeoutError(f"export job {job_id} still {job['status']}")
            time.sleep(0.05)

    # -- running ---------------------------------------------------------

    def _submit(self, job_id: int) -> None:
        with self._lock:
            if self._pool is None:
                return  # not started: the job stays queued for the next start
            self._cancel.setdefault(job_id, threading.Event())
            self._pool.submit(self._run, job_id)

    def _claim(self, job_id: int) -> ExportJob | None:
        """Mark a queued job running (one more attempt) in one conditional UPDATE, so two runners
        never both take it; None when it was cancelled or taken meanwhile."""
        with self.db.session() as s:
            took = s.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id, ExportJob.status == "queued")
                .values(
                    status="running", attempts=ExportJob.attempts + 1, progress=0.0,
                    stage="finding the footage", updated_at=utcnow(),
                )
            )  # fmt: skip
            if getattr(took, "rowcount", 0) != 1:
                return None
            job = s.get(ExportJob, job_id)
            assert job is not None
            s.expunge(job)
            return job

    def _run(self, job_id: int) -> None:
        job = self._claim(job_id)
        with self._lock:
            stop = self._cancel.setdefault(job_id, threading.Event())
        if job is None:
            return
        try:
            res = export_footage(
                self.db, self.cfg, job.camera_ids, job.start, job.end, exporter=job.exporter,
                role=job.role, purpose=job.purpose, reference=job.reference, source=job.source,
                recipient=job.recipient, recipient_ref=job.recipient_ref,
                zip_it=True, allow_unredacted=job.via == "session",
                progress=_Reporter(self.db, job_id, stop), **self.export_options,
            )  # fmt: skip
        except ExportCancelled as exc:
            self._settle(job_id, "cancelled", str(exc))
        except ExportError as exc:
            self._settle(job_id, "failed", str(exc))
        except Exception as exc:
            log.exception("export job %s failed", job_id)
            self._settle(job_id, "failed", f"internal error: {type(exc).__name__}: {exc}")
        else:
            self._settle(job_id, "done", None, export_id=res.id)
        finally:
            with self._lock:
                self._cancel.pop(job_id, None)

    def _settle(self, job_id: int, status: str, error: str | None, export_id: int | None = None) -> None:
        """Record the end of a run; a job cancelled meanwhile stays cancelled. A run stopped by
        ``stop()`` (shutdown) stays running, so the next start runs it again."""
        with self.db.session() as s:
            job = s.get(ExportJob, job_id)
            if job is None or job.status != "running":
                return
            if status == "cancelled" and self._pool is None:
                return  # shutting down, not cancelled by anyone: resumed on the next start
            job.export_id = export_id
            _finish(job, status, error, stage="finished" if status == "done" else status)


class _Reporter:
    """The progress callback of one job: writes it at most every ``SAVE_EVERY_S`` and raises
    ``ExportCancelled`` once the job is cancelled (its event, or its row, says so)."""

    def __init__(self, db: Database, job_id: int, stop: threading.Event):
        self.db, self.job_id, self.stop = db, job_id, stop
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, fraction: float, stage: str) -> None:
        if self.stop.is_set():
            raise ExportCancelled()
        now = time.monotonic()
        with self._lock:
            if now - self._last < SAVE_EVERY_S and fraction < 0.97:
                return
            self._last = now
        with self.db.session() as s:
            job = s.get(ExportJob, self.job_id)
            if job is None or job.status != "running":
                self.stop.set()
                raise ExportCancelled()
            job.progress, job.stage, job.updated_at = round(min(fraction, 0.99), 4), stage, utcnow()


def _finish(job: ExportJob, status: str, error: str | None, stage: str | None = None) -> None:
    job.status, job.error, job.updated_at = status, error, utcnow()
    job.stage = stage or status
    if status == "done":
        job.progress = 1.0


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def job_dict(s: Session, job: ExportJob) -> dict[str, Any]:
    rec = s.get(ExportRecord, job.export_id) if job.export_id is not None else None
    return {
        "id": job.id,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "exporter": job.exporter,
        "camera_ids": job.camera_ids,
        "start": _iso(job.start),
        "end": _iso(job.end),
        "purpose": job.purpose,
        "reference": job.reference,
        "recipient": job.recipient,
        "recipient_ref": job.recipient_ref,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "attempts": job.attempts,
        "error": job.error,
        "export_id": job.export_id,
        "download": f"/api/exports/{job.export_id}/download" if job.export_id else None,
        "redacted": rec.redacted if rec is not None else None,
        "manifest_sha256": rec.manifest_sha256 if rec is not None else None,
    }
