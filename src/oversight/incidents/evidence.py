"""Footage of an incident: clips attached under an evidence hold, kept (or released) on close.

Invariant: every clip has an ``EvidenceHold`` (retention never deletes held footage), written in the
same transaction as the clip, audited, and released only by the configured policy or by a
supervisor who gives a reason (``release_holds``). The default policy keeps holds past closing:
footage of an incident is evidence until someone accountable says it is not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.i18n import N_, term
from oversight.incidents import geo
from oversight.incidents.errors import Conflict, InvalidInput
from oversight.incidents.journal import Journal, audit
from oversight.incidents.models import STATUS_WORDS, Incident, IncidentClip
from oversight.store.base import utcnow
from oversight.store.models import EvidenceHold

MAX_CLIP = timedelta(hours=24)


class Evidence(Journal):
    def _check_clip(self, inc: Incident, camera_id: str, start: datetime, end: datetime, known: bool) -> None:
        if inc.status == "closed":
            raise InvalidInput(N_("incident {id} is closed"), id=inc.id)
        if known and self.cfg.cameras and camera_id not in {c.id for c in self.cfg.cameras}:
            raise InvalidInput(N_("unknown camera {camera_id!r}"), camera_id=camera_id)
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput(N_("clip times need a time zone (use UTC)"))
        if not start < end:
            raise InvalidInput(N_("a clip must end after it starts"))
        if end - start > MAX_CLIP:
            raise InvalidInput(N_("a clip may be at most 24 hours long"))

    def attach_clip(
        self,
        session: Session,
        incident_id: int,
        camera_id: str,
        start: datetime,
        end: datetime,
        actor: str,
        note: str = "",
        known_camera_only: bool = True,
    ) -> IncidentClip:
        """Attach footage and hold it: an EvidenceHold keeps retention away while the incident is open."""
        inc = self.get(session, incident_id)
        self._check_clip(inc, camera_id, start, end, known_camera_only)
        hold = EvidenceHold(
            camera_id=camera_id,
            start=start,
            end=end,
            reason=f"incident #{inc.id} ({inc.type})" + (f": {note}" if note else ""),
            reference=f"incident:{inc.id}",
            created_by=actor,
            created_at=utcnow(),
        )
        session.add(hold)
        session.flush()
        clip = IncidentClip(
            incident_id=inc.id,
            camera_id=camera_id,
            start=start,
            end=end,
            hold_id=hold.id,
            note=note,
            added_by=actor,
            added_at=utcnow(),
        )
        session.add(clip)
        session.flush()
        self._log(
            session,
            inc.id,
            actor,
            "clip",
            f"Footage of {camera_id} {start:%H:%M:%S}–{end:%H:%M:%S} attached and held",
            camera_id=camera_id,
            hold_id=hold.id,
            start=start.isoformat(),
            end=end.isoformat(),
        )
        audit(
            session,
            actor,
            "evidence.hold",
            "evidence_hold",
            hold.id,
            {"incident": inc.id, "camera": camera_id},
        )
        self._incident_changed(session, inc, "updated", actor)
        return clip

    def _close_holds(self, session: Session, inc: Incident, actor: str, now: datetime) -> None:
        clips = list(session.scalars(select(IncidentClip).where(IncidentClip.incident_id == inc.id)))
        pol = self.settings.evidence
        if pol.on_close == "keep":
            if clips:
                self._log(session, inc.id, actor, "clip", "Evidence holds kept on close", policy="keep")
            return
        for clip in clips:
            if pol.on_close == "release":
                hold = session.get(EvidenceHold, clip.hold_id)
                if hold is not None and hold.released_at is None:
                    hold.released_at, hold.released_by = now, actor
            else:
                clip.release_after = now + timedelta(days=pol.keep_days)
        if clips:
            what = "released" if pol.on_close == "release" else f"kept {pol.keep_days:g} more days"
            self._log(session, inc.id, actor, "clip", f"Evidence holds {what} on close", policy=pol.on_close)

    def release_due_holds(self, session: Session, now: datetime | None = None, actor: str = "system") -> int:
        """Release holds whose keep-N-days period after closing has passed. Safe to call often."""
        now = now or utcnow()
        rows = session.execute(
            select(IncidentClip, EvidenceHold)
            .join(EvidenceHold, EvidenceHold.id == IncidentClip.hold_id)
            .where(
                IncidentClip.release_after.is_not(None),
                IncidentClip.release_after <= now,
                EvidenceHold.released_at.is_(None),
            )
        ).all()
        for _clip, hold in rows:
            hold.released_at, hold.released_by = now, actor
        return len(rows)

    def release_holds(self, session: Session, incident_id: int, actor: str, reason: str) -> int:
        """A supervisor releases the holds of a closed incident's footage, saying why (audited)."""
        if len(reason.strip()) < 10:
            raise InvalidInput("say why the footage is no longer needed (at least 10 characters)")
        inc = self.get(session, incident_id)
        if inc.status != "closed":
            raise Conflict(
                N_("incident {incident_id} is {status}; its holds are released after it closes"),
                incident_id=incident_id,
                status=term(inc.status, STATUS_WORDS),
            )
        now = utcnow()
        rows = session.execute(
            select(EvidenceHold)
            .join(IncidentClip, EvidenceHold.id == IncidentClip.hold_id)
            .where(IncidentClip.incident_id == inc.id, EvidenceHold.released_at.is_(None))
        ).scalars()
        ids = []
        for hold in rows:
            hold.released_at, hold.released_by = now, actor
            ids.append(hold.id)
        if not ids:
            raise Conflict(
                N_("incident {incident_id} has no evidence holds in force"), incident_id=incident_id
            )
        audit(session, actor, "evidence.release", "incident", inc.id, {"holds": ids, "reason": reason})
        self._log(session, inc.id, actor, "clip", f"Evidence holds released: {reason}", holds=ids)
        self._incident_changed(session, inc, "updated", actor)
        return len(ids)

    def nearest_cameras(self, inc: Incident, limit: int | None = None) -> list[dict[str, Any]]:
        limit = self.settings.nearest_cameras if limit is None else limit
        out: list[dict[str, Any]] = []
        for cam in self.cfg.cameras:
            if not cam.enabled or cam.location is None:
                continue
            d = geo.distance_m(inc, cam.location, self.settings)
            if d is not None:
                out.append({"id": cam.id, "name": cam.display_name, "distance_m": round(d, 1)})
        out.sort(key=lambda c: c["distance_m"])
        return out[:limit]

    def clips(self, session: Session, incident_id: int) -> list[IncidentClip]:
        return list(
            session.scalars(
                select(IncidentClip).where(IncidentClip.incident_id == incident_id).order_by(IncidentClip.id)
            )
        )
