"""The public transparency portal: every page built from aggregates, served under /public or written
as static files.

Invariant: nothing here reads a pixel, a snapshot path, a user name or a free-text note. Figures come
from counts grouped by role, status, type, camera and rule; configured text (purposes, addresses,
sharing rules) is the controller's published statement. Strings come from ``portal_text``.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from oversight.config.schema import CameraConfig, SiteConfig
from oversight.events.models import ACK_REASONS, Alert
from oversight.i18n import normalize, use
from oversight.incidents.reports import incident_summary, response_report
from oversight.permissions import PERMISSIONS
from oversight.privacy import audit_trail, masks, sar
from oversight.privacy.recipients import CATEGORIES, COUNTED
from oversight.privacy.reports import REVEAL_SCOPE_COLUMNS, Block, collect_usage, controller_name, pia_blocks
from oversight.privacy.retention_report import RetentionReport, retention_report
from oversight.store.db import Database
from oversight.store.models import ROLES, User
from oversight.web.portal_text import MAPPING, PAGES, strings

ASSETS = Path(__file__).parent / "static" / "public"
ASSET_FILES = ("portal.css", "portal.js", "favicon.svg")


@dataclass
class Page:
    name: str
    title: str
    blocks: list[Block]
    data: dict[str, Any] = field(default_factory=dict)  # structured figures, published as JSON too

    def as_json(self) -> str:
        return json.dumps(
            {"page": self.name, "title": self.title, "blocks": self.blocks, "data": self.data},
            indent=1,
            ensure_ascii=False,
        )


@dataclass
class Portal:
    generated: datetime
    lang: str
    pages: dict[str, Page]

    def html(self, name: str) -> str:
        return render_page(self, self.pages[name])


# ------------------------------------------------------------------ months


def month_starts(now: datetime, n: int) -> list[datetime]:
    """The first instants of the last ``n`` UTC months, oldest first, the current one last."""
    y, m = now.year, now.month
    out = []
    for _ in range(n):
        out.append(datetime(y, m, 1, tzinfo=UTC))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _month_end(start: datetime) -> datetime:
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ cameras


def _location(c: CameraConfig, tx: dict[str, str]) -> str:
    loc = c.location
    if loc and loc.address:
        return loc.address
    if loc and loc.lat is not None and loc.lon is not None:
        return f"{loc.lat:.5f}, {loc.lon:.5f}"
    return tx["cameras.not_stated"]


def _mask_count(c: CameraConfig) -> int:
    """Areas the camera's analytics ignore, plus privacy masks where the configuration has them."""
    return len(c.motion.masks) + len(getattr(c, "masks", None) or [])


def _analytics(c: CameraConfig, tx: dict[str, str]) -> list[str]:
    if not c.detect.enabled or c.detect.detector == "none":  # rules need detections to fire
        return [tx["cameras.no_analytics"]]
    out = [tx["cameras.detection"].format(classes=", ".join(c.detect.classes))]
    return out + [tx["cameras.rule"].format(type=r.type, purpose=r.purpose) for r in c.rules]


def camera_record(c: CameraConfig, cfg: SiteConfig, tx: dict[str, str]) -> dict[str, Any]:
    """What the public is told about one camera (never its stream address or credentials)."""
    loc, fov = c.location, c.field_of_view
    analytics = _analytics(c, tx)
    return {
        "id": c.id,
        "name": c.display_name,
        "enabled": c.enabled,
        "lat": loc.lat if loc else None,
        "lon": loc.lon if loc else None,
        "x": loc.x if loc else None,
        "y": loc.y if loc else None,
        "location": _location(c, tx),
        "purpose": c.purpose,
        "legal_basis": c.legal_basis or cfg.site.portal.legal_basis,
        "field_of_view": fov.model_dump() if fov else None,
        "analytics": analytics,
        "recording": c.record.mode,
        "retention_days": c.record.retention_days,
        "event_retention_days": c.record.event_retention_days,
        "masked_areas": _mask_count(c),
        "privacy_masks": masks.counts(c),
        "faces_blurred": c.redaction.faces,
    }


def _fov_text(rec: dict[str, Any], tx: dict[str, str]) -> str:
    fov = rec["field_of_view"]
    if not fov:
        return tx["cameras.not_stated"]
    s = tx["cameras.fov"].format(direction=fov["direction_deg"], angle=fov["angle_deg"])
    if fov.get("range_m"):
        s += tx["cameras.fov_range"].format(range=fov["range_m"])
    return s + (f" ({fov['description']})" if fov.get("description") else "")


def cameras_page(cfg: SiteConfig, tx: dict[str, str]) -> Page:
    recs = [camera_record(c, cfg, tx) for c in cfg.cameras]
    yes_no = {True: tx["yes"], False: tx["no"]}
    rows = [
        [
            r["id"],
            r["name"],
            r["location"],
            r["purpose"],
            r["legal_basis"] or tx["cameras.not_stated"],
            _fov_text(r, tx),
            "; ".join(r["analytics"]),
            tx["cameras.retention"].format(
                days=r["retention_days"],
                events="-"
                if r["event_retention_days"] is None
                else tx["unit.days"].format(n=r["event_retention_days"]),
            )
            + "; "
            + tx[f"cameras.mode.{r['recording']}"],
            str(r["masked_areas"]),
            yes_no[r["faces_blurred"]],
            yes_no[r["enabled"]],
        ]
        for r in recs
    ]
    cols = (
        "id",
        "name",
        "location",
        "purpose",
        "legal",
        "fov",
        "analytics",
        "retention",
        "masks",
        "faces",
        "on",
    )
    blocks: list[Block] = [
        ("h1", tx["cameras.h1"]),
        ("p", tx["cameras.intro"]),
        ("h2", tx["cameras.map"], "cameras.map"),
        ("map", "data/cameras.json", tx["cameras.map"]),
        ("h2", tx["cameras.table"], "cameras.table"),
        ("table", [tx[f"cameras.col.{k}"] for k in cols], rows),
        *_mask_blocks(cfg, recs, tx),
    ]
    return Page("cameras", tx["nav.cameras"], blocks, {"cameras": recs})


def _mask_blocks(cfg: SiteConfig, recs: list[dict[str, Any]], tx: dict[str, str]) -> list[Block]:
    """Each camera's privacy masks: counts, and a schematic (polygons on a blank frame, no pixels)."""
    kinds = ("permanent", "liftable", "presets")
    rows = [
        [r["id"], *(str(r["privacy_masks"][k]) for k in kinds)]
        for r in recs
        if any(r["privacy_masks"].values())
    ]
    drawings = [(c.id, masks.schematic_svg(c)) for c in cfg.cameras if c.masks]
    return [
        ("h2", tx["cameras.masks"], "cameras.masks"),
        ("p", tx["cameras.masks.p"] if rows else tx["cameras.masks.none"]),
        *(
            [("table", [tx["cameras.col.id"], *(tx[f"cameras.masks.col.{k}"] for k in kinds)], rows)]
            if rows
            else []
        ),
        *([("schematic", drawings)] if drawings else []),
    ]


# ------------------------------------------------------------------ policy


def policy_page(cfg: SiteConfig, accounts: Counter[str], generated: datetime, tx: dict[str, str]) -> Page:
    purposes = sorted({c.purpose for c in cfg.cameras} | {r.purpose for c in cfg.cameras for r in c.rules})
    collection = [
        f"{c.id}: {tx[f'cameras.mode.{c.record.mode}']}; " + "; ".join(_analytics(c, tx)) for c in cfg.cameras
    ]
    blocks: list[Block] = [
        ("h1", tx["policy.h1"]),
        ("p", tx["policy.intro"].format(generated=f"{generated:%Y-%m-%d %H:%M}")),
        ("h2", tx["policy.purpose"], "policy.purpose"),
        ("p", tx["policy.purpose.p"]),
        ("bullets", purposes or [tx["stats.none"]]),
        ("h2", tx["policy.prohibited"], "policy.prohibited"),
        ("p", tx["policy.prohibited.p"]),
        ("bullets", [tx[f"policy.hardline.{i}"] for i in range(1, 7)]),
        ("h2", tx["policy.collection"], "policy.collection"),
        ("bullets", collection or [tx["stats.none"]]),
        *_policy_access(cfg, accounts, tx),
        *_policy_retention(cfg, tx),
        ("h2", tx["policy.oversight"], "policy.oversight"),
        ("p", tx["policy.oversight.p"].format(minutes=cfg.site.audit.digest_every_minutes)),
        ("h2", tx["policy.public"], "policy.public"),
        ("p", tx["policy.public.p"]),
    ]
    data = {"permissions": {a: list(r) for a, r in PERMISSIONS.items()}, "accounts_by_role": dict(accounts)}
    return Page("policy", tx["nav.policy"], blocks, data)


def _roles(action: str) -> str:
    """The roles allowed an action, as the policy prints them (from the one permission table)."""
    return ", ".join(PERMISSIONS[action])


def _policy_access(cfg: SiteConfig, accounts: Counter[str], tx: dict[str, str]) -> list[Block]:
    """Who may do what (the permission table), how many accounts hold each role, and reveals."""
    access = [[tx.get(f"action.{a}", a), ", ".join(r)] for a, r in PERMISSIONS.items()]
    acc = ", ".join(f"{accounts.get(r, 0)} {r}" for r in ROLES)
    off = [c.id for c in cfg.cameras if not c.redaction.faces]
    reveal = tx["policy.reveal.p"].format(request=_roles("reveal.request"), approve=_roles("reveal.approve"))
    return [
        ("h2", tx["policy.access"], "policy.access"),
        ("p", tx["policy.access.p"].format(accounts=acc)),
        ("table", [tx["policy.access.col.action"], tx["policy.access.col.roles"]], access),
        ("h2", tx["policy.reveal"], "policy.reveal"),
        ("p", reveal),
        *([("p", tx["policy.redaction_off"].format(cameras=", ".join(off)))] if off else []),
    ]


def _policy_retention(cfg: SiteConfig, tx: dict[str, str]) -> list[Block]:
    """How long footage and events are kept per camera, and with whom exports may be shared."""
    retention = [
        [
            c.id,
            tx["unit.days"].format(n=c.record.retention_days),
            "-"
            if c.record.event_retention_days is None
            else tx["unit.days"].format(n=c.record.event_retention_days),
        ]
        for c in cfg.cameras
    ]
    sharing = cfg.site.portal.sharing
    return [
        ("h2", tx["policy.retention"], "policy.retention"),
        (
            "p",
            tx["policy.retention.p"].format(hold=cfg.site.max_hold_days, exports=cfg.site.copies.export_days),
        ),
        (
            "table",
            [tx[f"policy.retention.col.{k}"] for k in ("camera", "footage", "events")],
            retention,
        ),
        ("h2", tx["policy.sharing"], "policy.sharing"),
        ("p", tx["policy.sharing.p"].format(export=_roles("export.create"))),
        (
            "p",
            tx["policy.sharing.recipients"].format(
                categories=", ".join(tx[f"recipient.{k}"] for k in CATEGORIES)
            ),
        ),
        *(
            [("p", tx["policy.sharing.rules"]), ("bullets", list(sharing))]
            if sharing
            else [("p", tx["policy.sharing.none"])]
        ),
    ]


# ------------------------------------------------------------------ statistics


def _alert_rows(db: Database, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """Per month, camera and rule: alerts, judged (acknowledged with a reason), false alarms."""
    acc: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    q = select(Alert.opened_at, Alert.camera_id, Alert.rule_id, Alert.ack_reason).where(
        Alert.opened_at >= start, Alert.opened_at < end
    )
    with db.session() as s:
        for opened, cam, rule, reason in s.execute(q):
            c = acc[(f"{opened.astimezone(UTC):%Y-%m}", cam or "-", rule or "-")]
            c["alerts"] += 1
            c["judged"] += reason in ACK_REASONS
            c["false_alarms"] += reason == "false_alarm"
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (month, cam, rule), c in sorted(acc.items()):
        rate = round(c["false_alarms"] / c["judged"], 3) if c["judged"] else None
        out[month].append(
            {
                "camera": cam,
                "rule": rule,
                **{k: c[k] for k in ("alerts", "judged", "false_alarms")},
                "false_alarm_rate": rate,
            }
        )
    return out


def _export_roles(db: Database, start: datetime, end: datetime) -> dict[str, Counter[str]]:
    """Exports per month by the role of the account that made them (the name stays inside)."""
    from oversight.privacy.models import ExportRecord

    out: dict[str, Counter[str]] = defaultdict(Counter)
    q = (
        select(ExportRecord.created_at, User.role)
        .outerjoin(User, User.username == ExportRecord.exporter)
        .where(ExportRecord.created_at >= start, ExportRecord.created_at < end)
    )
    with db.session() as s:
        for ts, role in s.execute(q):
            out[f"{ts.astimezone(UTC):%Y-%m}"][role or "unknown"] += 1
    return out


def month_figures(db: Database, cfg: SiteConfig, start: datetime, end: datetime) -> dict[str, Any]:
    """One month's published figures; everything is a count or a duration."""
    u = collect_usage(db, start, end, cfg, check_audit=False)
    with db.session() as s:
        inc = incident_summary(s, start, end, cfg.incidents)
        per_type = response_report(s, start, end, "type", settings=cfg.incidents)["groups"]
    return {
        "accesses_by_role": dict(u.accesses_by_role),
        "reveals": {
            k: u.reveals.get(k, 0) for k in ("requested", "approved", "denied", "revoked", "pending")
        },
        "reveal_scopes": [dict(zip(REVEAL_SCOPE_COLUMNS, row, strict=True)) for row in u.reveal_scopes],
        "exports": {
            "total": u.exports,
            "unredacted": u.exports_unredacted,
            "by_recipient": u.exports_by_recipient,
        },
        "incidents": {
            "count": inc["count"],
            "by_type": inc["by_type"],
            "response_seconds_by_type": {g["key"]: g["steps"] for g in per_type},
            "response_seconds": inc["response_seconds"],
        },
        "deletions": u.deletions,
        "sar": sar_figures(db, start, end),
    }


def sar_figures(db: Database, start: datetime, end: datetime) -> dict[str, Any]:
    with db.session() as s:
        return sar.figures(s, start, end)


SAR_KEYS = ("received", "answered", "refused", "open", "overdue", "in_time", "median_days", "max_days")


def _sar_blocks(months: Months, keys: list[str], tx: dict[str, str]) -> list[Block]:
    rows = [
        [k, *("-" if months[k]["sar"][x] is None else str(months[k]["sar"][x]) for x in SAR_KEYS)]
        for k in keys
    ]
    return [
        ("h2", tx["stats.sar"], "stats.sar"),
        ("p", tx["stats.sar.p"]),
        ("table", [tx["stats.month"], *(tx[f"stats.sar.{x}"] for x in SAR_KEYS)], rows),
    ]


def _p(st: dict[str, Any]) -> str:
    return "-" if not st.get("n") else f"{st['p50']:g} / {st['p90']:g}"


Months = dict[str, dict[str, Any]]  # "YYYY-MM" -> that month's figures (``month_figures``)
REVEAL_KEYS = ("requested", "approved", "denied", "revoked", "pending")


def _access_reveal_blocks(months: Months, keys: list[str], tx: dict[str, str]) -> list[Block]:
    M = tx["stats.month"]
    roles = sorted({r for m in months.values() for r in m["accesses_by_role"]})
    accesses = [
        [k, *(str(months[k]["accesses_by_role"].get(r, 0)) for r in roles)]
        + [str(sum(months[k]["accesses_by_role"].values()))]
        for k in keys
    ]
    reveals = [[k, *(str(months[k]["reveals"][x]) for x in REVEAL_KEYS)] for k in keys]
    scopes = [[k, *sc.values()] for k in keys for sc in months[k]["reveal_scopes"]]
    return [
        ("h2", tx["stats.accesses"], "stats.accesses"),
        ("table", [M, *roles, tx["stats.total"]], accesses),
        ("h2", tx["stats.reveals"], "stats.reveals"),
        ("table", [M, *(tx[f"stats.reveals.{k}"] for k in REVEAL_KEYS)], reveals),
        ("h3", tx["stats.scope"]),
        ("p", tx["stats.scope.p"]),
        (
            "table",
            [M, *(tx[f"stats.scope.col.{i}"] for i in range(len(REVEAL_SCOPE_COLUMNS)))],
            scopes or [[tx["stats.none"]] + ["-"] * len(REVEAL_SCOPE_COLUMNS)],
        ),
    ]


def _export_incident_blocks(months: Months, keys: list[str], tx: dict[str, str]) -> list[Block]:
    M = tx["stats.month"]
    exports = [
        [k, str(months[k]["exports"]["total"]), str(months[k]["exports"]["unredacted"])]
        + [", ".join(f"{r} {n}" for r, n in sorted(months[k]["exports"]["by_role"].items())) or "-"]
        for k in keys
    ]
    totals = [
        [k, tx["stats.total"], str(months[k]["incidents"]["count"])]
        + [_p(months[k]["incidents"]["response_seconds"][step]) for step in ("dispatch", "total")]
        for k in keys
    ]
    by_type = [
        [k, t, str(n)]
        + [_p(months[k]["incidents"]["response_seconds_by_type"][t][step]) for step in ("dispatch", "total")]
        for k in keys
        for t, n in sorted(months[k]["incidents"]["by_type"].items())
    ]
    inc_cols = ("type", "count", "dispatch", "total")
    return [
        ("h2", tx["stats.exports"], "stats.exports"),
        ("p", tx["stats.exports.p"]),
        ("table", [M, *(tx[f"stats.exports.{k}"] for k in ("total", "unredacted", "by_role"))], exports),
        *_recipient_blocks(months, keys, tx),
        ("h2", tx["stats.incidents"], "stats.incidents"),
        ("table", [M, *(tx[f"stats.incidents.{k}"] for k in inc_cols)], totals + by_type),
    ]


def _recipient_blocks(months: Months, keys: list[str], tx: dict[str, str]) -> list[Block]:
    """Exports per month by the published recipient category, "not recorded" in its own column."""
    rows = [[k, *(str(months[k]["exports"]["by_recipient"].get(r, 0)) for r in COUNTED)] for k in keys]
    return [
        ("h2", tx["stats.recipients"], "stats.recipients"),
        ("p", tx["stats.recipients.p"]),
        ("table", [tx["stats.month"], *(tx[f"recipient.{r}"] for r in COUNTED)], rows),
    ]


def _alert_blocks(months: Months, keys: list[str], tx: dict[str, str]) -> list[Block]:
    rows = [
        [k, a["camera"], a["rule"], str(a["alerts"]), str(a["judged"]), str(a["false_alarms"])]
        + ["-" if a["false_alarm_rate"] is None else f"{a['false_alarm_rate']:.1%}"]
        for k in keys
        for a in months[k]["alerts"]
    ]
    cols = ("camera", "rule", "alerts", "judged", "false", "rate")
    return [
        ("h2", tx["stats.alerts"], "stats.alerts"),
        ("p", tx["stats.alerts.p"]),
        (
            "table",
            [tx["stats.month"], *(tx[f"stats.alerts.{k}"] for k in cols)],
            rows or [[tx["stats.none"], "-", "-", "0", "0", "0", "-"]],
        ),
    ]


def _retention_blocks(
    ret: RetentionReport, months: Months, keys: list[str], tx: dict[str, str]
) -> list[Block]:
    bad = [c.camera_id for c in ret.cameras if not c.compliant]
    state = tx["stats.retention.bad"].format(cameras=", ".join(bad)) if bad else tx["stats.retention.ok"]
    cols = [tx["cameras.col.id"], tx["stats.retention.col.violations"], tx["stats.retention.col.held"]]
    return [
        ("h2", tx["stats.retention"], "stats.retention"),
        ("p", tx["stats.retention.now"].format(state=state)),
        ("table", cols, [[c.camera_id, str(c.violations), str(c.held_segments)] for c in ret.cameras]),
        (
            "table",
            [tx["stats.month"], tx["stats.retention.deleted"]],
            [[k, str(months[k]["deletions"])] for k in keys],
        ),
    ]


def all_months(db: Database, cfg: SiteConfig, now: datetime) -> Months:
    """The figures of the last ``site.portal.months`` UTC months, oldest first."""
    starts = month_starts(now, cfg.site.portal.months)
    alerts = _alert_rows(db, starts[0], now)
    exporters = _export_roles(db, starts[0], now)
    months: Months = {}
    for st in starts:
        key = f"{st:%Y-%m}"
        months[key] = month_figures(db, cfg, st, min(_month_end(st), now))
        months[key]["exports"]["by_role"] = dict(exporters.get(key, {}))
        months[key]["alerts"] = alerts.get(key, [])
    return months


def statistics_page(db: Database, cfg: SiteConfig, now: datetime, tx: dict[str, str]) -> Page:
    months = all_months(db, cfg, now)
    keys = list(months)[::-1]  # newest first
    ret = retention_report(db, cfg, now, since=month_starts(now, cfg.site.portal.months)[0])
    blocks: list[Block] = [
        ("h1", tx["stats.h1"]),
        ("p", tx["stats.intro"].format(first=keys[-1], last=keys[0])),
        *_access_reveal_blocks(months, keys, tx),
        *_export_incident_blocks(months, keys, tx),
        *_alert_blocks(months, keys, tx),
        *_sar_blocks(months, keys, tx),
        *_retention_blocks(ret, months, keys, tx),
    ]
    cams = {c.camera_id: {"violations": c.violations, "held": c.held_segments} for c in ret.cameras}
    data = {"months": months, "retention": {"compliant": ret.compliant, "cameras": cams}}
    return Page("statistics", tx["nav.statistics"], blocks, data)


# ------------------------------------------------------------------ audit, PIA, mapping, overview


def audit_figures(db: Database, cfg: SiteConfig) -> dict[str, Any]:
    """The latest signed digest and the genesis fingerprint: all public by design (hashes, no entries)."""
    genesis = audit_trail.load_genesis(cfg.site.data_dir)
    with db.session() as s:
        latest = audit_trail.latest_digest(s, cfg.site.data_dir)
    out: dict[str, Any] = {"genesis": None, "latest": None}
    if genesis is not None:
        out["genesis"] = {
            "fingerprint": genesis.fingerprint,
            "created": genesis.body.get("created"),
            "public_key": genesis.body.get("public_key"),
        }
    if latest is not None:
        keep = ("number", "ts", "seq", "hash", "digest", "prev", "signature", "key", "genesis")
        out["latest"] = {k: latest.get(k) for k in keep}
    return out


def audit_page(figures: dict[str, Any], tx: dict[str, str]) -> Page:
    blocks: list[Block] = [("h1", tx["audit.h1"]), ("p", tx["audit.intro"])]
    cols = [tx["audit.col.field"], tx["audit.col.value"]]
    latest, genesis = figures["latest"], figures["genesis"]
    if latest is None and genesis is None:
        blocks.append(("p", tx["audit.none"]))
    if latest is not None:
        keys = ("number", "ts", "seq", "hash", "digest", "prev", "signature", "key")
        blocks += [
            ("h2", tx["audit.latest"], "audit.latest"),
            ("table", cols, [[tx[f"audit.{k}"], str(latest[k])] for k in keys]),
        ]
    if genesis is not None:
        rows = [
            [tx["audit.genesis_fp"], genesis["fingerprint"]],
            [tx["audit.genesis_created"], str(genesis["created"])],
            [tx["audit.public_key"], str(genesis["public_key"])],
        ]
        blocks += [
            ("h2", tx["audit.genesis"], "audit.genesis"),
            ("table", cols, rows),
            ("p", tx["audit.how"]),
        ]
    return Page("audit", tx["nav.audit"], blocks, figures)


def mapping_page(tx: dict[str, str]) -> Page:
    rows: list[list[Any]] = []
    for fw_key, el_key, page, section in MAPPING:
        framework, element = tx[fw_key], tx[el_key]
        if not page:
            rows.append([framework, element, tx["mapping.not_shown"]])
            continue
        where = tx[f"nav.{page}"] + (f" › {tx[section]}" if section else "")
        rows.append(
            [framework, element, ("link", f"{page}.html" + (f"#{section}" if section else ""), where)]
        )
    blocks: list[Block] = [
        ("h1", tx["mapping.h1"]),
        ("p", tx["mapping.intro"]),
        ("table", [tx[f"mapping.col.{k}"] for k in ("framework", "element", "where")], rows),
    ]
    return Page("mapping", tx["nav.mapping"], blocks, {"mapping": [list(m) for m in MAPPING]})


def index_page(cfg: SiteConfig, figures: dict[str, Any], tx: dict[str, str]) -> Page:
    site, contact = cfg.site.name, cfg.site.portal.contact
    latest, genesis = figures["latest"], figures["genesis"]
    blocks: list[Block] = [
        ("h1", tx["index.h1"].format(site=site)),
        ("p", tx["index.intro"].format(controller=controller_name(cfg), cameras=len(cfg.cameras))),
        ("p", tx["index.contact"].format(contact=contact) if contact else tx["index.no_contact"]),
        ("h2", tx["index.documents"], "index.documents"),
        (
            "links",
            [[f"{p}.html", tx[f"nav.{p}"] + " — " + tx[f"index.doc.{p}"]] for p in PAGES if p != "index"],
        ),
        ("h2", tx["nav.audit"], "index.digest"),
        (
            "p",
            tx["index.digest"].format(
                number=latest["number"], digest=latest["digest"], genesis=genesis["fingerprint"]
            )
            if latest and genesis
            else tx["index.no_digest"],
        ),
    ]
    return Page(
        "index",
        tx["nav.index"],
        blocks,
        {"site": site, "controller": controller_name(cfg), "cameras": len(cfg.cameras), "contact": contact},
    )


def build_portal(db: Database, cfg: SiteConfig, now: datetime | None = None, lang: str = "en") -> Portal:
    """Every page of the portal, as of ``now``, in ``lang`` (a shipped catalogue: en, es, es_AR,
    es_EC); the PIA's usage figures cover the last 30 days."""
    from datetime import timedelta

    now = now or datetime.now(UTC)
    lang = normalize(lang) or "en"
    tx = strings(lang)
    with db.session() as s:
        accounts = Counter(r for (r,) in s.execute(select(User.role).where(User.active.is_(True))))
    figures = audit_figures(db, cfg)
    with use(lang):
        pages = [
            index_page(cfg, figures, tx),
            cameras_page(cfg, tx),
            policy_page(cfg, accounts, now, tx),
            Page("pia", tx["nav.pia"], pia_blocks(db, cfg, now - timedelta(days=30), now, public=True)),
            statistics_page(db, cfg, now, tx),
            audit_page(figures, tx),
            mapping_page(tx),
        ]
    return Portal(now, lang, {p.name: p for p in pages})


# ------------------------------------------------------------------ HTML


def _cell(c: Any) -> str:
    if isinstance(c, (list, tuple)) and c and c[0] == "link":
        return f'<a href="{html.escape(c[1])}">{html.escape(c[2])}</a>'
    return html.escape(str(c))


def _block_html(blk: Block) -> str:
    e, kind = html.escape, blk[0]
    if kind in ("h1", "h3", "p"):
        return f"<{kind}>{e(blk[1])}</{kind}>"
    if kind == "h2":
        anchor = f' id="{e(blk[2])}"' if len(blk) > 2 else ""
        return f"<h2{anchor}>{e(blk[1])}</h2>"
    if kind == "bullets":
        return "<ul>" + "".join(f"<li>{e(str(x))}</li>" for x in blk[1]) + "</ul>"
    if kind == "links":
        return "<ul>" + "".join(f'<li><a href="{e(h)}">{e(t)}</a></li>' for h, t in blk[1]) + "</ul>"
    if kind == "schematic":  # mask drawings: polygons on a blank frame, built by privacy.masks
        return (
            '<div class="masks">'
            + "".join(f"<figure>{svg}<figcaption>{e(cam)}</figcaption></figure>" for cam, svg in blk[1])
            + "</div>"
        )
    if kind == "map":
        label = f' data-label="{e(blk[2])}"' if len(blk) > 2 else ""  # the drawing's words, translated here
        return f'<div class="camera-map" data-src="{e(blk[1])}"{label}></div>'
    if kind == "table":
        head = "".join(f"<th>{e(str(h))}</th>" for h in blk[1])
        body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in blk[2])
        return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    raise ValueError(f"the portal publishes no {kind!r} block")  # images above all: no pixels here


def render_page(portal: Portal, page: Page) -> str:
    """One self-contained page: relative links only, so it works under /public and as files."""
    tx, e = strings(portal.lang), html.escape
    site = portal.pages["index"].data.get("site", "")
    nav = "".join(
        f'<a href="{p}.html"'
        + (' aria-current="page"' if p == page.name else "")
        + f">{e(tx[f'nav.{p}'])}</a>"
        for p in PAGES
    )
    body = "\n".join(_block_html(b) for b in page.blocks)
    return (
        f'<!doctype html>\n<html lang="{e(portal.lang.replace("_", "-"))}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(page.title)} — {e(tx['site_title'].format(site=site))}</title>"
        '<link rel="icon" href="favicon.svg"><link rel="stylesheet" href="portal.css">'
        '<script src="portal.js" defer></script></head><body>'
        f'<header><p class="site">{e(tx["site_title"].format(site=site))}</p><nav>{nav}</nav></header>'
        f"<main>\n{body}\n</main><footer><p>"
        f"{e(tx['footer'].format(generated=f'{portal.generated:%Y-%m-%d %H:%M}'))}</p>"
        f'<p><a href="data/{page.name}.json">{e(tx["machine_readable"])}</a></p></footer></body></html>\n'
    )


# ------------------------------------------------------------------ static export and cache


def write_portal(portal: Portal, out: Path) -> list[Path]:
    """The portal as files for a city's website: one HTML file per page, its JSON, the CSS and JS.

    Unlike every other file a command writes (0600), these are world-readable: they are published.
    """
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for folder in (out, out / "data"):
        folder.chmod(0o755)
    written = []
    for name, page in portal.pages.items():
        for path, text in (
            (out / f"{name}.html", portal.html(name)),
            (out / "data" / f"{name}.json", page.as_json()),
        ):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o644)
            tmp.replace(path)
            written.append(path)
    for asset in ASSET_FILES:
        shutil.copyfile(ASSETS / asset, out / asset)
        (out / asset).chmod(0o644)
        written.append(out / asset)
    return written


class PortalCache:
    """One build at a time, reused for ``site.portal.cache_minutes``: anonymous requests cannot make
    the server walk the audit log and count a year of records more often than that."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, tuple[float, int, Portal]] = {}  # by language

    def get(self, db: Database, cfg: SiteConfig, lang: str = "en") -> Portal:
        ttl = cfg.site.portal.cache_minutes * 60
        with self._lock:
            b = self._built.get(lang)
            if b is None or b[1] != id(cfg) or time.monotonic() - b[0] >= ttl:
                b = self._built[lang] = (time.monotonic(), id(cfg), build_portal(db, cfg, lang=lang))
            return b[2]
