"""Reports the public and regulators can read, generated from the live configuration and usage.

* Privacy impact assessment (PIA), following the structure GDPR Article 35(7) requires of a DPIA:
  (a) a systematic description of the processing and its purposes, (b) necessity and
  proportionality, (c) the risks to the rights and freedoms of the people filmed, (d) the measures
  in place to address them (including the camera security audit findings).
* Transparency report for a period: cameras and locations, analytics and their declared purposes,
  footage accesses by role, reveals requested/approved/denied, exports, incidents, retention
  compliance, audit-log integrity, with charts (events per day, accesses per role).

Both are built as one list of blocks rendered to HTML and PDF (fpdf2, DejaVu fonts from matplotlib,
so any Unicode in names prints), and the transparency figures also as CSV. Their words come from the
``server`` message catalogue in the language of the surrounding ``i18n.use()`` block (``build_report``
takes a ``locale``); dates are written in that language and the site's time zone. The PIA cites the
frameworks a Latin-American city answers to beside GDPR Art. 35 (docs/legal-sources.md).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oversight.config.schema import SiteConfig
from oversight.i18n import DEFAULT, N_, _, current, format_datetime, ngettext, normalize, use
from oversight.privacy import audit, audit_trail, masks, sar
from oversight.privacy.camera_audit import CameraAudit, Finding, audit_site, site_findings
from oversight.privacy.models import AuditCheckpoint, AuditEntry, ExportRecord, RevealRequest
from oversight.privacy.recipients import COUNTED, LABELS
from oversight.privacy.retention_report import RetentionReport, retention_report
from oversight.store.base import Base
from oversight.store.db import Database
from oversight.store.models import Event, User

FOOTAGE_PREFIXES = ("footage.", "reveal.view", "export.download", "export.create", "segment.view")
LOGIN_PREFIXES = ("auth.login", "login")


# config/schema.py's default controller (config imports no i18n): shown in the reader's language
DEFAULT_CONTROLLER = N_("the city")


def controller_name(cfg: SiteConfig) -> str:
    """The data controller as reports name it: a city's own name as written, the default translated."""
    c = cfg.site.controller
    return _(c) if c == DEFAULT_CONTROLLER else c


# ------------------------------------------------------------------ data


@dataclass
class Usage:
    start: datetime
    end: datetime
    accesses_by_role: Counter[str] = field(default_factory=Counter)
    accesses_by_action: Counter[str] = field(default_factory=Counter)
    reveals: Counter[str] = field(default_factory=Counter)
    reveal_scopes: list[list[str]] = field(default_factory=list)  # one row per reveal requested
    exports: int = 0
    exports_unredacted: int = 0
    # every category of ``privacy.recipients.COUNTED``, zeros included (the list is published)
    exports_by_recipient: dict[str, int] = field(default_factory=dict)
    incidents: int | None = None
    events_per_day: dict[str, int] = field(default_factory=dict)
    events_by_label: Counter[str] = field(default_factory=Counter)
    logins: Counter[str] = field(default_factory=Counter)
    config_changes: int = 0
    deletions: int = 0
    users_by_role: Counter[str] = field(default_factory=Counter)
    audit_ok: bool = True
    audit_message: str = ""
    audit_entries: int = 0
    last_checkpoint: str | None = None


def collect_usage(
    db: Database, start: datetime, end: datetime, cfg: SiteConfig | None = None, check_audit: bool = True
) -> Usage:
    """Usage in [start, end); with ``cfg`` the audit check covers the signed digests from genesis.

    ``check_audit=False`` skips walking the whole log (monthly figures need it once, not per month).
    """
    u = Usage(start, end)
    with db.session() as s:
        _count_accesses(s, u)
        _count_reveals_and_exports(s, u)
        u.incidents = _count_incidents(s, start, end)
        _count_events(s, u)
        if check_audit:
            _check_audit(s, u, cfg)
    return u


def _count_accesses(s: Session, u: Usage) -> None:
    """Footage looks by role and action, logins, configuration changes and deletions."""
    roles = {name: role for name, role in s.execute(select(User.username, User.role))}
    u.users_by_role = Counter(r for r in roles.values())
    q = select(AuditEntry.actor, AuditEntry.role, AuditEntry.action, AuditEntry.detail).where(
        AuditEntry.ts >= u.start, AuditEntry.ts < u.end
    )
    for actor, role, action, detail in s.execute(q):
        role = role or roles.get(actor) or ("system" if actor.startswith("system") else "unknown")
        if action.startswith(FOOTAGE_PREFIXES):
            u.accesses_by_role[role] += 1
            u.accesses_by_action[action] += 1
        if action.startswith(LOGIN_PREFIXES):
            failed = (
                "fail" in action or bool((detail or {}).get("failed")) or (detail or {}).get("ok") is False
            )
            u.logins["failed" if failed else "succeeded"] += 1
        if action.startswith("config."):
            u.config_changes += 1
        if action in ("segment.delete", "footage.delete"):
            u.deletions += 1


def _count_reveals_and_exports(s: Session, u: Usage) -> None:
    in_period = (RevealRequest.created_at >= u.start, RevealRequest.created_at < u.end)
    q = select(RevealRequest.status, func.count()).where(*in_period).group_by(RevealRequest.status)
    for status, n in s.execute(q):
        u.reveals[status] += int(n)
    u.reveals["requested"] = sum(v for k, v in u.reveals.items() if k != "requested")
    rows = s.execute(select(RevealRequest).where(*in_period).order_by(RevealRequest.id)).scalars()
    u.reveal_scopes = [_reveal_scope(r) for r in rows]
    q2 = select(ExportRecord.redacted, ExportRecord.recipient).where(
        ExportRecord.created_at >= u.start, ExportRecord.created_at < u.end
    )
    ex = list(s.execute(q2))
    u.exports, u.exports_unredacted = len(ex), sum(1 for redacted, _ in ex if not redacted)
    got = Counter(recipient for _, recipient in ex)
    u.exports_by_recipient = {k: got.pop(k, 0) for k in COUNTED} | dict(got)  # an unknown one still shows


def _count_incidents(s: Session, start: datetime, end: datetime) -> int | None:
    incidents = Base.metadata.tables.get("incidents")
    if incidents is None or "reported_at" not in incidents.c:
        return None
    q = select(func.count()).select_from(incidents)
    try:
        return int(
            s.execute(q.where(incidents.c.reported_at >= start, incidents.c.reported_at < end)).scalar_one()
        )
    except Exception:  # table declared but not migrated on this database
        s.rollback()
        return None


def _count_events(s: Session, u: Usage) -> None:
    """Events per label and per day (every day of the period, zero where none)."""
    days: Counter[str] = Counter()
    for ts, label in s.execute(
        select(Event.start, Event.label).where(Event.start >= u.start, Event.start < u.end)
    ):
        days[ts.astimezone(UTC).strftime("%Y-%m-%d")] += 1
        u.events_by_label[label] += 1
    d = u.start.astimezone(UTC).date()
    while d <= (u.end - timedelta(microseconds=1)).astimezone(UTC).date():
        u.events_per_day[d.isoformat()] = days.get(d.isoformat(), 0)
        d += timedelta(days=1)


def _check_audit(s: Session, u: Usage, cfg: SiteConfig | None) -> None:
    """The audit log's state and its newest signed digest (or, without ``cfg``, checkpoint)."""
    v = audit.verify(s) if cfg is None else _verify_trail(s, cfg)
    u.audit_ok, u.audit_message, u.audit_entries = v.ok, v.message, v.entries
    latest = None if cfg is None else audit_trail.latest_digest(s, cfg.site.data_dir)
    if latest is not None:
        u.last_checkpoint = (
            f"digest {latest['number']} of {latest['ts']} over seq {latest['seq']} (entry hash "
            f"{latest['hash']}), digest hash {latest['digest']}, chained from genesis "
            f"{latest['genesis']}, signed by key {latest['key']}"
        )
        return
    cp = s.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)).scalar_one_or_none()
    if cp is not None:
        u.last_checkpoint = (
            f"seq {cp.seq}, hash {cp.hash}, signed {cp.ts:%Y-%m-%d %H:%M} UTC by key {cp.key_fingerprint}"
        )


# values the records hold that the reports show translated: roles, reveal states, severities, rule
# types, recording modes (marked for the catalogue here; ``_(value)`` translates them where shown)
VOCABULARY = (
    N_("viewer"), N_("operator"), N_("supervisor"), N_("auditor"), N_("admin"),
    N_("pending"), N_("approved"), N_("denied"), N_("revoked"), N_("expired"),
    N_("high"), N_("medium"), N_("low"), N_("info"),
    N_("zone"), N_("line"), N_("dwell"), N_("crowd"), N_("continuous"), N_("events"),
)  # fmt: skip

REVEAL_SCOPE_COLUMNS = [
    N_("Reveal"),
    N_("Cameras"),
    N_("Footage from (UTC)"),
    N_("Footage to (UTC)"),
    N_("Hours"),
    N_("Hours past approval (live/future)"),
    N_("Approvals"),
    N_("Status"),
]


def _reveal_scope(r: RevealRequest) -> list[str]:
    """What one reveal could show: cameras, window, and how far it reached past its approval."""
    ahead = max(0.0, (r.end - r.decided_at).total_seconds() / 3600) if r.decided_at else 0.0
    approvals = (1 if r.status == "approved" else 0) + (1 if r.first_approved_by else 0)
    return [
        str(r.id),
        ", ".join(r.camera_ids or []),
        f"{r.start.astimezone(UTC):%Y-%m-%d %H:%M}",
        f"{r.end.astimezone(UTC):%Y-%m-%d %H:%M}",
        f"{(r.end - r.start).total_seconds() / 3600:.2f}",
        f"{ahead:.2f}",
        _("{given} of {needed}", given=approvals, needed=int(r.approvals_needed or 1)),
        _(r.status),
    ]


def _verify_trail(s: Any, cfg: SiteConfig) -> audit.VerifyResult:
    every_s = cfg.site.audit.digest_every_minutes * 60
    return audit_trail.verify_trail(s, cfg.site.data_dir, every_s, s3=cfg.site.audit.s3)


# ------------------------------------------------------------------ document model


Block = tuple[Any, ...]  # ("h1"|"h2"|"p"|"bullets"|"table"|"img", ...)


def _bar_chart(data: dict[str, int] | Counter[str], title: str, xlabel: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys, vals = list(data.keys()), list(data.values())
    fig, ax = plt.subplots(figsize=(7.5, 2.8), dpi=110)
    ax.bar(range(len(keys)), vals, color="#2f6f9f")
    step = max(1, len(keys) // 12)
    ax.set_xticks(range(0, len(keys), step))
    ax.set_xticklabels(
        [k[5:] if len(k) == 10 and k[4] == "-" else k for k in keys][::step], rotation=0, fontsize=8
    )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if not any(vals):
        ax.text(
            0.5, 0.5, _("none in this period"), transform=ax.transAxes, ha="center", va="center", color="#777"
        )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _cameras_table(cfg: SiteConfig) -> Block:
    rows = []
    for c in cfg.cameras:
        loc = (
            c.location.address
            if c.location and c.location.address
            else (
                f"{c.location.lat:.5f}, {c.location.lon:.5f}"
                if c.location and c.location.lat is not None and c.location.lon is not None
                else _("not stated")
            )
        )
        rows.append([c.id, c.display_name, loc, c.purpose, _("yes") if c.enabled else _("no")])
    return ("table", [_("Camera"), _("Name"), _("Location"), _("Declared purpose"), _("On")], rows)


def _analytics_table(cfg: SiteConfig) -> Block:
    rows = []
    for c in cfg.cameras:
        if not c.detect.enabled:
            rows.append([c.id, _("none (recording only)"), "-", "-"])
            continue
        rows.append(
            [
                c.id,
                _(
                    "detection ({detector}): {classes}",
                    detector=c.detect.detector,
                    classes=", ".join(c.detect.classes),
                ),
                _("motion/objects"),
                _("counts and alerts; no identification"),
            ]
        )
        for r in c.rules:
            rows.append(
                [c.id, _("{type} rule '{rule}'", type=_(r.type), rule=r.id), ", ".join(r.classes), r.purpose]
            )
    return ("table", [_("Camera"), _("Analytic"), _("Classes"), _("Declared purpose")], rows)


def _retention_table(rep: RetentionReport) -> Block:
    rows = [
        [
            c.camera_id,
            f"{c.retention_days:g} d",
            f"{c.event_retention_days or 0:g} d",
            str(c.segments),
            "-" if c.oldest_age_days is None else f"{c.oldest_age_days:g} d",
            str(c.held_segments),
            str(c.violations),
            str(c.deleted_in_period),
            _("yes") if c.compliant else _("NO"),
        ]
        for c in rep.cameras
    ]
    return (
        "table",
        [
            _("Camera"),
            _("Policy"),
            _("Event clips"),
            _("Segments"),
            _("Oldest"),
            _("Held"),
            _("Violations"),
            _("Deleted"),
            _("Compliant"),
        ],
        rows,
    )


def _security_table(results: list[CameraAudit], site: list[Finding]) -> Block:
    rows = []
    for r in results:
        for f in r.findings:
            if f.severity != "info":
                rows.append([r.camera_id, _(f.severity), f.message])
        if not any(f.severity != "info" for f in r.findings):
            rows.append(
                [
                    r.camera_id,
                    _("ok"),
                    _(
                        "no findings ({manufacturer})",
                        manufacturer=r.manufacturer or _("manufacturer unknown"),
                    ),
                ]
            )
    rows += [[_("site"), _(f.severity), f.message] for f in site]
    return ("table", [_("Camera"), _("Severity"), _("Finding")], rows)


def _masks_blocks(cfg: SiteConfig) -> list[Block]:
    """Each camera's privacy masks: counts, and a schematic of the masked view (the polygons on a
    blank frame of the camera's aspect: a redacted picture that holds no camera pixels)."""
    rows = [[c.id, *(str(v) for v in masks.counts(c).values())] for c in cfg.cameras if c.masks]
    drawings = [(c.id, masks.schematic_svg(c)) for c in cfg.cameras if c.masks]
    head = [_("Camera"), _("Permanent"), _("Liftable"), _("PTZ positions")]
    return [
        ("h2", _("1.2.1 Privacy masks")),
        (
            "p",
            _(
                "Private places in view are painted black at every exit of pixels (live, playback, exports); "
                "permanent masks cannot be lifted by any reveal, liftable ones only by an approved reveal. "
                "Analytics and motion detection ignore masked areas."
            )
            if rows
            else _("No camera has a privacy mask."),
        ),
        *([("table", head, rows)] if rows else []),
        *([("schematic", drawings)] if drawings else []),
    ]


def _sar_blocks(db: Database, start: datetime, end: datetime) -> list[Block]:
    with db.session() as s:
        f = sar.figures(s, start, end, end)
    keys = ("received", "answered", "refused", "open", "overdue", "in_time", "median_days", "max_days")
    return [
        ("h2", _("Subject access requests")),
        (
            "p",
            _(
                "Requests by people for their own footage received in the period (deadlines: {deadlines}).",
                deadlines="; ".join(_(v[0]) for v in sar.JURISDICTIONS.values()),
            ),
        ),
        (
            "table",
            [
                _("Received"),
                _("Answered"),
                _("Refused"),
                _("Open"),
                _("Overdue"),
                _("Closed in time"),
                _("Median days"),
                _("Max days"),
            ],
            [["-" if f[k] is None else str(f[k]) for k in keys]],
        ),
    ]


def _pia_description(cfg: SiteConfig, usage: Usage, ret: RetentionReport) -> list[Block]:
    roles = ", ".join(f"{n} {_(r)}" for r, n in sorted(usage.users_by_role.items())) or _("no accounts yet")
    purposes = sorted({c.purpose for c in cfg.cameras})
    return [
        ("h2", _("1. Systematic description of the processing")),
        (
            "p",
            ngettext(
                "{n} camera records video of public space. Declared purposes: {purposes}.",
                "{n} cameras record video of public space. Declared purposes: {purposes}.",
                len(cfg.cameras),
                purposes="; ".join(purposes),
            )
            if purposes
            else _("No cameras are configured."),
        ),
        _cameras_table(cfg),
        ("h2", _("1.1 Analytics")),
        (
            "p",
            _(
                "Analytics detect objects and motion to count and alert. They never identify people: no "
                "face recognition, no biometric templates, no licence plate reading, no links to identity "
                "databases (enforced by an automated test on the code and its dependencies)."
            ),
        ),
        _analytics_table(cfg),
        ("h2", _("1.2 Retention")),
        (
            "p",
            _(
                "Footage is deleted automatically when its policy expires, except footage under an evidence "
                "hold. Every deletion is written to the audit log."
            ),
        ),
        _retention_table(ret),
        *_masks_blocks(cfg),
        ("h2", _("1.3 Who has access")),
        (
            "p",
            _(
                "Accounts by role: {roles}. Viewers and operators see live video with faces blurred; "
                "operators and supervisors play back recordings, redacted; unredacted footage needs a reveal "
                "approved by a second person with the supervisor role; auditors see the audit log and "
                "reports but no footage; admins configure but see only redacted stills.",
                roles=roles,
            ),
        ),
    ]


def _pia_necessity(cfg: SiteConfig, redaction_off: list[str]) -> list[Block]:
    max_ret = max((c.record.retention_days for c in cfg.cameras), default=0)
    return [
        ("h2", _("2. Necessity and proportionality")),
        (
            "bullets",
            [
                _(
                    "Each camera and each analytic rule must declare its purpose in the configuration; the "
                    "lists above are generated from it, so a camera without a purpose cannot run."
                ),
                _(
                    "Faces are blurred by default at every exit of pixels (live, snapshots, thumbnails, "
                    "playback, exports)."
                )
                if not redaction_off
                else _(
                    "Faces are blurred by default at every exit of pixels (live, snapshots, thumbnails, "
                    "playback, exports); EXCEPT on {cameras}.",
                    cameras=", ".join(redaction_off),
                ),
                _("Longest retention configured: {days} days", days=format(max_ret, "g"))
                + (_(" — review whether this is necessary.") if max_ret > 31 else "."),
                _(
                    "Recording mode per camera: {modes}.",
                    modes=", ".join(c.id + ": " + _(c.record.mode) for c in cfg.cameras),
                )
                if cfg.cameras
                else _("No cameras."),
                _(
                    "Analytics may be limited by schedules and zones so that only the areas and hours needed "
                    "are analysed."
                ),
            ],
        ),
    ]


def _pia_risks(
    cfg: SiteConfig,
    usage: Usage,
    ret: RetentionReport,
    sec: list[CameraAudit],
    site_f: list[Finding],
    redaction_off: list[str],
) -> list[Block]:
    n_high = sum(1 for r in sec for f in r.findings if f.severity == "high") + sum(
        1 for f in site_f if f.severity == "high"
    )
    covered = [r.camera_id for r in sec if r.ndaa_covered]
    no_loc = [c.id for c in cfg.cameras if not c.location]
    return [
        ("h2", _("3. Risks to the rights and freedoms of the people filmed")),
        (
            "table",
            [_("Risk"), _("Assessment from this installation")],
            _risks_to_people(usage, n_high, redaction_off) + _risks_to_records(usage, ret, covered, no_loc),
        ),
    ]


def _risks_to_people(usage: Usage, n_high: int, redaction_off: list[str]) -> list[list[str]]:
    return [
        [
            _("Identification of people going about their lawful business"),
            _("low: faces redacted by default; identification only via four-eyes reveal")
            if not redaction_off
            else _("HIGH: redaction off on {cameras}", cameras=", ".join(redaction_off)),
        ],
        [
            _("Misuse by staff (curiosity, stalking, function creep)"),
            _(
                "mitigated: {n} footage accesses in the period, each logged with purpose; reveals "
                "need a second person",
                n=usage.accesses_by_role.total(),
            ),
        ],
        [
            _("Unauthorised access through insecure cameras or networks"),
            ngettext(
                "HIGH: {n} high-severity security finding, see section 4.1",
                "HIGH: {n} high-severity security findings, see section 4.1",
                n_high,
            )
            if n_high
            else _("low: no high-severity security findings, see section 4.1"),
        ],
    ]


def _risks_to_records(
    usage: Usage, ret: RetentionReport, covered: list[str], no_loc: list[str]
) -> list[list[str]]:
    return [
        [
            _("Supply-chain risk (NDAA §889-covered vendors)"),
            _("HIGH: {cameras}", cameras=", ".join(covered)) if covered else _("none identified"),
        ],
        [
            _("Footage kept longer than needed"),
            _("compliant")
            if ret.compliant
            else _(
                "VIOLATION: footage past policy on {cameras}",
                cameras=", ".join(c.camera_id for c in ret.cameras if not c.compliant),
            ),
        ],
        [
            _("Chilling effect / transparency"),
            _("mitigated: locations published; transparency reports")
            if not no_loc
            else _(
                "mitigated: locations missing for {cameras}; transparency reports",
                cameras=", ".join(no_loc),
            ),
        ],
        [
            _("Tampering with records of access"),
            _(
                "mitigated: hash-chained, signed audit log; current check: {check}",
                check=usage.audit_message,
            ),
        ],
    ]


PIA_MEASURES = [  # marked here, translated where the report is written
    N_("Redaction on the way out; raw footage kept unmodified as evidence."),
    N_(
        "Four-eyes reveal: requester and approving supervisor must be different people; "
        "time-limited; exactly the requested cameras and window."
    ),
    N_("Tamper-evident audit log (SHA-256 hash chain, Ed25519-signed checkpoints)."),
    N_("Signed evidence exports verifiable offline with the installation's public key."),
    N_("Automatic retention with evidence holds; retention report."),
    N_("Role-based access; passwords hashed with argon2id; login throttling."),
    N_("Hard lines enforced by tests: no face recognition, no plate reading."),
]


def _security_summary(results: list[CameraAudit], site: list[Finding]) -> Block:
    """Findings counted by severity: what the public may know without a map for an attacker."""
    counts = Counter(f.severity for r in results for f in r.findings) + Counter(f.severity for f in site)
    rows = [[_(sev), str(counts.get(sev, 0))] for sev in ("high", "medium", "low")]
    return ("table", [_("Severity"), _("Findings (details go to the controller, not published)")], rows)


def pia_blocks(
    db: Database,
    cfg: SiteConfig,
    start: datetime,
    end: datetime,
    use_onvif: bool = False,
    public: bool = False,
) -> list[Block]:
    """The privacy impact assessment, in the order of GDPR Article 35(7).

    ``public``: the security findings are counted, not listed (their messages name hosts and accounts),
    and the audit check gives its verdict without its message.
    """
    usage = collect_usage(db, start, end, cfg)
    if public:  # the verdict is published; its wording can name server paths, so it stays inside
        usage.audit_message = (
            _("verified") if usage.audit_ok else _("FAILED verification (details to the controller)")
        )
    ret = retention_report(db, cfg, end)
    sec = audit_site(cfg, use_onvif=use_onvif, timeout=1.0)
    site_f = site_findings(cfg)
    redaction_off = [c.id for c in cfg.cameras if not c.redaction.faces]
    return [
        ("h1", _("Privacy impact assessment — {site}", site=cfg.site.name)),
        (
            "p",
            _(
                "Controller: {controller}. Generated {generated} ({zone}) by Oversight from the live "
                "configuration and the audit log; usage figures cover {start} to {end}. Structure follows "
                "GDPR Article 35(7).",
                controller=controller_name(cfg),
                generated=format_datetime(datetime.now(UTC), cfg.site.timezone),
                zone=cfg.site.timezone,
                start=format_datetime(start, cfg.site.timezone, time=False),
                end=format_datetime(end, cfg.site.timezone, time=False),
            ),
        ),
        *_pia_description(cfg, usage, ret),
        *_pia_necessity(cfg, redaction_off),
        *_pia_risks(cfg, usage, ret, sec, site_f, redaction_off),
        ("h2", _("4. Measures in place")),
        ("bullets", [_(m) for m in PIA_MEASURES]),
        ("h2", _("4.1 Camera security audit")),
        _security_summary(sec, site_f) if public else _security_table(sec, site_f),
        *legal_frameworks(),
    ]


def legal_frameworks() -> list[Block]:
    """The laws this assessment answers to, beside GDPR Art. 35: what a Latin-American city's data
    protection authority asks of video surveillance (sources: docs/legal-sources.md)."""
    return [
        ("h2", _("5. Legal frameworks")),
        (
            "p",
            _(
                "This assessment follows the structure of GDPR Article 35(7). A city outside the European "
                "Union answers to its own law; the requirements below are those of the frameworks most "
                "often met in Latin America, with where this report or the system answers each."
            ),
        ),
        (
            "bullets",
            [
                _(
                    "EU General Data Protection Regulation (Regulation (EU) 2016/679), Art. 35: data "
                    "protection impact assessment for systematic monitoring of a publicly accessible area "
                    "on a large scale (Art. 35(3)(c)); sections 1 to 4 of this report."
                ),
                _(
                    "Argentina, Ley 25.326 de Protección de los Datos Personales: images of identifiable "
                    "people are personal data (art. 2); quality and purpose of the data (art. 4), "
                    "information to the people filmed (art. 6), security and confidentiality (arts. 9 and "
                    "10), rights of access, rectification and deletion (arts. 14 to 16). Declared purposes, "
                    "retention and access by role: sections 1 and 2."
                ),
                _(
                    "Argentina, Disposición 10/2015 of the Dirección Nacional de Protección de Datos "
                    "Personales (today the Agencia de Acceso a la Información Pública, AAIP): conditions "
                    "for lawful video surveillance: signs that announce the cameras, their purposes and the "
                    "controller; images used only for the purposes that justified them; a treatment manual "
                    "with places and hours, retention period, security measures and how people exercise "
                    "their rights (art. 7 of its annex). The camera register and use policy of the public "
                    "portal and sections 1 and 4 of this report."
                ),
                _(
                    "Ecuador, Ley Orgánica de Protección de Datos Personales (Registro Oficial, Quinto "
                    "Suplemento 459, 26 May 2021) and its General Regulation (Executive Decree 904, 2023): "
                    "principles of purpose, proportionality, minimisation and retention (art. 10), "
                    "security of processing, and a data protection impact assessment before processing "
                    "that entails a high risk, such as systematic monitoring of publicly accessible areas "
                    "(art. 42): this report."
                ),
            ],
        ),
    ]


def _access_blocks(u: Usage) -> list[Block]:
    """Who looked at footage, the reveals and their scope, exports, incidents, logins, config."""
    return [
        ("h2", _("Footage accesses")),
        (
            "img",
            _bar_chart(
                {_(k): v for k, v in u.accesses_by_role.items()} or {_("none"): 0},
                _("Footage accesses per role"),
                _("role"),
            ),
            _("Footage accesses per role"),
        ),
        (
            "table",
            [_("Role"), _("Accesses")],
            [[_(k), str(v)] for k, v in sorted(u.accesses_by_role.items())] or [["-", "0"]],
        ),
        (
            "table",
            [_("Kind of access"), _("Count")],
            [[k, str(v)] for k, v in sorted(u.accesses_by_action.items())] or [["-", "0"]],
        ),
        ("h2", _("Reveals of unredacted footage (four-eyes)")),
        (
            "table",
            [_("Requested"), _("Approved"), _("Denied"), _("Revoked"), _("Pending")],
            [[str(u.reveals.get(k, 0)) for k in ("requested", "approved", "denied", "revoked", "pending")]],
        ),
        ("p", _("The scope of every reveal requested in the period:")),
        (
            "table",
            [_(c) for c in REVEAL_SCOPE_COLUMNS],
            u.reveal_scopes or [["-"] * len(REVEAL_SCOPE_COLUMNS)],
        ),
        ("h2", _("Exports, incidents, logins, configuration")),
        (
            "table",
            [_("Measure"), _("Count")],
            [
                [_("Evidence exports"), str(u.exports)],
                [_("  of which unredacted (covered by an approved reveal)"), str(u.exports_unredacted)],
                [
                    _("Incidents"),
                    _("not recorded on this installation") if u.incidents is None else str(u.incidents),
                ],
                [
                    _("Logins succeeded / failed"),
                    f"{u.logins.get('succeeded', 0)} / {u.logins.get('failed', 0)}",
                ],
                [_("Configuration changes"), str(u.config_changes)],
                [_("Footage segments deleted by retention"), str(u.deletions)],
            ],
        ),
    ]


def _recipient_blocks(u: Usage) -> list[Block]:
    """Exports by the published recipient category; never the recipient's own reference."""
    rows = [[_(LABELS.get(k, k)), str(n)] for k, n in u.exports_by_recipient.items()]
    return [("h2", _("Evidence exports by recipient")), ("table", [_("Recipient"), _("Exports")], rows)]


def _integrity_blocks(u: Usage) -> list[Block]:
    return [
        ("h2", _("Integrity of these records")),
        (
            "p",
            _("Audit log: {check}.", check=u.audit_message)
            + " "
            + (
                _(
                    "Latest signed digest: {digest}. Publishing this hash lets anyone detect a later "
                    "rewrite of the log.",
                    digest=u.last_checkpoint,
                )
                if u.last_checkpoint
                else _("No signed digest yet.")
            ),
        ),
    ]


def transparency_blocks(
    db: Database, cfg: SiteConfig, start: datetime, end: datetime
) -> tuple[list[Block], Usage, RetentionReport]:
    u = collect_usage(db, start, end, cfg)
    ret = retention_report(db, cfg, end, since=start)
    b: list[Block] = [
        ("h1", _("Transparency report — {site}", site=cfg.site.name)),
        (
            "p",
            _(
                "Period {start} to {end} ({zone}). Controller: {controller}. All figures come from the "
                "system's own records (audit log, reveal register, export register).",
                start=format_datetime(start, cfg.site.timezone),
                end=format_datetime(end, cfg.site.timezone),
                zone=cfg.site.timezone,
                controller=controller_name(cfg),
            ),
        ),
        ("h2", _("Cameras")),
        (
            "p",
            ngettext(
                "{n} camera, {enabled} enabled.",
                "{n} cameras, {enabled} enabled.",
                len(cfg.cameras),
                enabled=sum(1 for c in cfg.cameras if c.enabled),
            ),
        ),
        _cameras_table(cfg),
        ("h2", _("Analytics and their declared purposes")),
        _analytics_table(cfg),
        ("h2", _("Events detected")),
        ("img", _bar_chart(u.events_per_day, _("Events per day"), _("day (UTC)")), _("Events per day")),
        (
            "table",
            [_("Label"), _("Events")],
            [[k, str(v)] for k, v in u.events_by_label.most_common()] or [["-", "0"]],
        ),
        *_access_blocks(u),
        *_recipient_blocks(u),
        *_sar_blocks(db, start, end),
        ("h2", _("Retention compliance")),
        (
            "p",
            _("All cameras compliant: no footage older than its policy outside evidence holds.")
            if ret.compliant
            else _("VIOLATIONS: some footage is older than its policy and not under an evidence hold."),
        ),
        _retention_table(ret),
        *_integrity_blocks(u),
    ]
    return b, u, ret


# ------------------------------------------------------------------ renderers

CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222;line-height:1.45}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem"
    " .5rem;text-align:left;vertical-align:top;font-size:.9rem}th{background:#eef3f7}h1{font-size:1.6rem}"
    "h2{font-size:1.2rem;margin-top:1.6rem;border-bottom:1px solid #ddd}img{max-width:100%}"
)


def render_html(blocks: list[Block], title: str) -> str:
    e = html.escape
    out = [
        f"<!doctype html><html lang='{current().language}'><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{CSS}</style><body>"
    ]
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{e(blk[1])}</{kind}>")
        elif kind == "bullets":
            out.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in blk[1]) + "</ul>")
        elif kind == "table":
            out.append(
                "<table><thead><tr>"
                + "".join(f"<th>{e(h)}</th>" for h in blk[1])
                + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in blk[2])
                + "</tbody></table>"
            )
        elif kind == "schematic":  # mask drawings (privacy.masks.schematic_svg): no camera pixels
            out.append(
                "".join(f"<figure>{svg}<figcaption>{e(cam)}</figcaption></figure>" for cam, svg in blk[1])
            )
        elif kind == "img":
            out.append(
                f"<figure><img alt='{e(blk[2])}' src='data:image/png;base64,"
                f"{base64.b64encode(blk[1]).decode()}'></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def render_pdf(blocks: list[Block], title: str, path: Path) -> Path:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author("Oversight")
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, 15)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for blk in blocks:
        kind = blk[0]
        if kind == "h1":
            pdf.set_font("DejaVu", "B", 16)
            pdf.multi_cell(width, 8, blk[1], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "h2":
            pdf.ln(3)
            pdf.set_font("DejaVu", "B", 12)
            pdf.multi_cell(width, 6, blk[1], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "p":
            pdf.set_font("DejaVu", "", 9.5)
            pdf.multi_cell(width, 5, blk[1], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "bullets":
            pdf.set_font("DejaVu", "", 9.5)
            for x in blk[1]:
                pdf.multi_cell(width, 5, "•  " + x, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "table":
            pdf.set_font("DejaVu", "", 8)
            ncol = len(blk[1])
            widths = _col_widths(blk[1], blk[2], width)
            with pdf.table(
                col_widths=widths,
                text_align="LEFT",
                line_height=4.2,
                headings_style=FontFace(emphasis="BOLD", fill_color=(230, 238, 245)),
            ) as t:
                t.row([str(h) for h in blk[1]])
                for row in blk[2]:
                    t.row([str(c) for c in row][:ncol])
            pdf.ln(2)
        elif kind == "img":
            pdf.image(io.BytesIO(blk[1]), w=width)
            pdf.ln(2)
        elif kind == "schematic":
            for cam, svg in blk[1]:
                pdf.set_font("DejaVu", "", 8)
                pdf.multi_cell(width, 4, cam, new_x="LMARGIN", new_y="NEXT")
                pdf.image(io.BytesIO(svg.encode()), w=min(width, 80))
            pdf.ln(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def _col_widths(headers: list[str], rows: list[list[Any]], width: float) -> tuple[float, ...]:
    lens = [
        max([len(str(h))] + [min(60, len(str(r[i]))) for r in rows if i < len(r)])
        for i, h in enumerate(headers)
    ]
    lens = [max(7, n) for n in lens]
    total = sum(lens)
    return tuple(width * n / total for n in lens)


def transparency_csv(u: Usage, ret: RetentionReport, cfg: SiteConfig) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "key", "value"])
    w.writerow(["period", "start", u.start.isoformat()])
    w.writerow(["period", "end", u.end.isoformat()])
    w.writerow(["cameras", "count", len(cfg.cameras)])
    for c in cfg.cameras:
        loc = c.location.address if c.location and c.location.address else ""
        w.writerow(["camera", c.id, f"{loc} | {c.purpose}"])
        for r in c.rules:
            w.writerow(["analytic", f"{c.id}/{r.id}", f"{r.type} | {r.purpose}"])
    for day, n in u.events_per_day.items():
        w.writerow(["events_per_day", day, n])
    for role, n in sorted(u.accesses_by_role.items()):
        w.writerow(["accesses_by_role", role, n])
    for k in ("requested", "approved", "denied", "revoked", "pending"):
        w.writerow(["reveals", k, u.reveals.get(k, 0)])
    for row in u.reveal_scopes:
        w.writerow(["reveal_scope", row[0], " | ".join(row[1:])])
    w.writerow(["exports", "total", u.exports])
    w.writerow(["exports", "unredacted", u.exports_unredacted])
    for recipient, n in u.exports_by_recipient.items():
        w.writerow(["exports_by_recipient", recipient, n])
    w.writerow(["incidents", "count", "" if u.incidents is None else u.incidents])
    w.writerow(["logins", "succeeded", u.logins.get("succeeded", 0)])
    w.writerow(["logins", "failed", u.logins.get("failed", 0)])
    w.writerow(["retention", "compliant", ret.compliant])
    for cr in ret.cameras:
        w.writerow(["retention_violations", cr.camera_id, cr.violations])
    w.writerow(["audit", "ok", u.audit_ok])
    return buf.getvalue()


def build_report(
    kind: str,
    db: Database,
    cfg: SiteConfig,
    start: datetime,
    end: datetime,
    out_dir: Path,
    formats: tuple[str, ...] = ("html", "pdf", "csv"),
    use_onvif: bool = False,
    locale: str | None = None,
) -> dict[str, Path]:
    """Write the report in the requested formats (in ``locale``'s language); returns {format: path}."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("give a UTC period with from before to")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    loc = normalize(locale) or DEFAULT
    stem = f"{kind}-{start:%Y%m%d}-{end:%Y%m%d}" + (
        "" if loc == DEFAULT else f"-{loc}"
    )  # one file per language
    files: dict[str, Path] = {}
    with use(locale):
        if kind == "pia":
            blocks = pia_blocks(db, cfg, start, end, use_onvif)
            title = _("Privacy impact assessment — {site}", site=cfg.site.name)
            usage = ret = None
        elif kind == "transparency":
            blocks, usage, ret = transparency_blocks(db, cfg, start, end)
            title = _("Transparency report — {site}", site=cfg.site.name)
        else:
            raise ValueError("report kind is pia or transparency")
        html_text = render_html(blocks, title)
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        if fmt == "html":
            tmp.write_text(html_text, encoding="utf-8")
        elif fmt == "pdf":
            render_pdf(blocks, title, tmp)
        elif fmt == "csv" and usage is not None and ret is not None:
            tmp.write_text(transparency_csv(usage, ret, cfg), encoding="utf-8")
        else:
            raise ValueError(f"{kind} report has no {fmt} format")
        tmp.replace(path)
        files[fmt] = path
    return files
