"""Command line for privacy and accountability.

``oversight audit verify|export|checkpoint|public-key``, ``oversight retention report``,
``oversight report pia|transparency|portal``, ``oversight export``, ``oversight verify-export`` and
``oversight cameras audit``. Commands that touch the database take ``--config`` (or
``$OVERSIGHT_CONFIG``); ``verify-export`` needs nothing but the package and a public key.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from oversight.i18n import _
from oversight.privacy.recipients import Recipient

# The public portal is built in web/ (it reads incidents and alerts too); oversight/cli.py hands its
# writer in through ``register`` so this layer never imports the one above it.
PortalWriter = Callable[[Any, Any, datetime, Path], list[Path]]
_portal_writer: list[PortalWriter] = []

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention proof.", no_args_is_help=True)
cameras_app = typer.Typer(help="Camera checks.", no_args_is_help=True)

ConfigOpt = typer.Option(..., "--config", "-c", help="site config", envvar="OVERSIGHT_CONFIG")


def _load(config: Path) -> Any:
    from oversight.config.cli import load_or_exit

    return load_or_exit(config)


def _open(config: Path) -> tuple[Any, Any]:
    from oversight.config.schema import database_url
    from oversight.store.db import Database

    cfg = _load(config)
    db = Database(database_url(cfg))
    db.migrate()
    return cfg, db


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "use ISO-8601, e.g. 2026-03-01 or 2026-03-01T12:00:00Z", param_hint=name
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# ------------------------------------------------------------------ audit


def _seal(cfg: Any, db: Any) -> None:
    """Sign what this command just recorded, so it never sits in the log unsigned.

    A digest made while the server is down (the last one closes a run) is an "offline" one.
    """
    from oversight.privacy.audit_trail import sealer_for

    sealer = sealer_for(db, cfg)
    last = sealer.last_reason()
    sealer.seal("offline" if last in ("stop", "offline") else "manual")


@audit_app.command("verify")
def audit_verify(
    config: Path = ConfigOpt,
    public_key: Path | None = typer.Option(None, help="the installation's public key must be this one"),
    genesis: str | None = typer.Option(
        None, help="the genesis fingerprint printed at install (kept outside the server)"
    ),
) -> None:
    """Check the hash chain and the signed digests from genesis to now, in the database and in the
    append-only digest file; exit 1 naming the first problem. Read-only: it signs nothing."""
    from oversight.privacy.audit_trail import load_genesis, verify_trail
    from oversight.privacy.keys import load_verify_key, public_hex

    cfg, db = _open(config)
    with db.session() as s:
        r = verify_trail(
            s,
            cfg.site.data_dir,
            cfg.site.audit.digest_every_minutes * 60,
            expect_genesis=genesis,
            s3=cfg.site.audit.s3,
        )
    g = load_genesis(cfg.site.data_dir)
    if public_key and g is not None and g.body["public_key"] != public_hex(load_verify_key(public_key)):
        r.fail(None, f"the genesis record names a different public key than {public_key}")
    for w in r.warnings:
        typer.echo(_("warning: {problem}", problem=w), err=True)
    if r.ok:
        typer.echo(r.message)
        return
    typer.echo(_("AUDIT LOG TAMPERED: {problem}", problem=r.message), err=True)
    for p in r.problems[1:20]:
        typer.echo(_("  also: {problem}", problem=p), err=True)
    raise typer.Exit(1)


@audit_app.command("genesis")
def audit_genesis(config: Path = ConfigOpt) -> None:
    """Create the audit genesis record (once) and print its fingerprint: keep it outside the server."""
    from oversight.privacy.audit_trail import create_genesis
    from oversight.privacy.keys import load_or_create_signing_key

    cfg, db = _open(config)
    g, created = create_genesis(db, load_or_create_signing_key(cfg.site.data_dir), cfg.site.data_dir)
    if created:
        _seal(cfg, db)
    typer.echo(g.fingerprint)
    typer.echo("created" if created else f"made {g.body['created']}", err=True)


@audit_app.command("export")
def audit_export(
    config: Path = ConfigOpt,
    fmt: str = typer.Option("csv", "--format", help="csv or json"),
    out: Path | None = typer.Option(None, "--out", "-o", help="file (default: stdout)"),
    since: str | None = typer.Option(None, "--from"),
    until: str | None = typer.Option(None, "--to"),
) -> None:
    """Export entries (with their hashes, so a copy can be re-verified)."""
    from oversight.privacy import audit

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("csv or json", param_hint="--format")
    cfg, db = _open(config)
    with db.session() as s:
        text = audit.export(s, fmt, since=_when(since, "--from"), until=_when(until, "--to"))
        audit.record(
            s, "cli", "audit.export", "audit", None, source="cli", detail={"format": fmt, "out": str(out)}
        )
    _seal(cfg, db)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(_("wrote {path}", path=out))
    else:
        sys.stdout.write(text)


@audit_app.command("checkpoint")
def audit_checkpoint(config: Path = ConfigOpt) -> None:
    """Sign the current head now as the next digest (``serve`` does this on its own schedule)."""
    cfg, db = _open(config)
    _seal(cfg, db)
    from oversight.privacy.audit_trail import latest_digest

    with db.session() as s:
        d = latest_digest(s, cfg.site.data_dir)
    assert d is not None
    typer.echo(f"digest {d['number']} seq {d['seq']} hash {d['hash']}")


@audit_app.command("public-key")
def audit_public_key(config: Path = ConfigOpt) -> None:
    """Print the installation's Ed25519 public key (hex) and fingerprint: publish it."""
    from oversight.privacy.keys import fingerprint, load_or_create_signing_key, public_hex

    key = load_or_create_signing_key(_load(config).site.data_dir)
    typer.echo(public_hex(key))
    typer.echo(f"fingerprint {fingerprint(key)}", err=True)


# ------------------------------------------------------------------ retention


@retention_app.command("report")
def retention_report_cmd(config: Path = ConfigOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Per camera: the policy, the oldest footage held and any violation. Exit 1 on a violation."""
    from oversight.privacy.retention_report import format_table, retention_report

    cfg, db = _open(config)
    rep = retention_report(db, cfg, since=datetime.now(UTC) - timedelta(days=30))
    typer.echo(json.dumps(rep.as_dict(), indent=2) if as_json else format_table(rep))
    if not rep.compliant:
        raise typer.Exit(1)


# ------------------------------------------------------------------ cameras


@cameras_app.command("audit")
def cameras_audit(
    config: Path = ConfigOpt,
    as_json: bool = typer.Option(False, "--json"),
    onvif: bool = typer.Option(True, help="ask cameras with an 'onvif' URL for device information"),
    timeout: float = typer.Option(2.0, help="ONVIF timeout in seconds"),
) -> None:
    """Security and supply-chain check per camera. Never tries passwords. Exit 1 on a high finding."""
    from oversight.privacy.camera_audit import audit_site, format_audit, site_findings

    cfg = _load(config)
    results, site = audit_site(cfg, onvif, timeout), site_findings(cfg)
    if as_json:
        typer.echo(
            json.dumps(
                {"cameras": [r.as_dict() for r in results], "site": [f.__dict__ for f in site]}, indent=2
            )
        )
    else:
        typer.echo(format_audit(results, site))
    if any(r.worst == "high" for r in results) or any(f.severity == "high" for f in site):
        raise typer.Exit(1)


# ------------------------------------------------------------------ reports, exports (top-level commands)


def report(
    kind: str = typer.Argument(..., help="pia, transparency or portal"),
    config: Path = ConfigOpt,
    since: str | None = typer.Option(None, "--from", help="start (default: 30 days before --to)"),
    until: str | None = typer.Option(None, "--to", help="end (default: now)"),
    out: Path = typer.Option(Path("reports"), "--out", help="output folder"),
    onvif: bool = typer.Option(False, help="query cameras over ONVIF for the PIA's security section"),
    lang: str | None = typer.Option(None, "--lang", help="es, es_AR, es_EC or en (default: from $LANG)"),
) -> None:
    """Write a privacy impact assessment (HTML, PDF), a transparency report (HTML, PDF, CSV) or the
    public portal as static files for the city's website (its monthly figures end at --to)."""
    from oversight.privacy import audit
    from oversight.privacy.reports import build_report

    if kind not in ("pia", "transparency", "portal"):
        raise typer.BadParameter("pia, transparency or portal", param_hint="KIND")
    cfg, db = _open(config)
    end = _when(until, "--to") or datetime.now(UTC)
    start = _when(since, "--from") or end - timedelta(days=30)
    if start >= end:
        raise typer.BadParameter("--from must be before --to")
    formats = ("html", "pdf") if kind == "pia" else ("html", "pdf", "csv")
    if kind == "portal":
        files = {p.name: p for p in _portal_writer[0](db, cfg, end, out)}
    else:
        from oversight.i18n import cli_locale, normalize

        if lang and not normalize(lang):
            raise typer.BadParameter("es, es_AR, es_EC or en", param_hint="--lang")
        locale = normalize(lang) or cli_locale()
        files = build_report(kind, db, cfg, start, end, out, formats, use_onvif=onvif, locale=locale)
    with db.session() as s:
        audit.record(
            s,
            "cli",
            f"report.{kind}",
            "report",
            kind,
            source="cli",
            detail={"from": start.isoformat(), "to": end.isoformat()},
        )
    _seal(cfg, db)
    for p in files.values():
        typer.echo(str(p))


def export(
    camera: list[str] = typer.Option(..., "--camera", help="camera id (repeatable)"),
    since: str = typer.Option(..., "--from"),
    until: str = typer.Option(..., "--to"),
    purpose: str = typer.Option(..., "--purpose", help="why this footage leaves the system"),
    reference: str | None = typer.Option(None, "--reference", help="incident or case reference"),
    recipient: Recipient = typer.Option(
        ..., "--recipient", help="who receives it (published category; required, no default)"
    ),
    recipient_ref: str | None = typer.Option(
        None, "--recipient-ref", help="who exactly: case number, authority (kept inside, never public)"
    ),
    user: str = typer.Option(..., "--as", help="the supervisor account responsible for the export"),
    config: Path = ConfigOpt,
    zip_it: bool = typer.Option(False, "--zip", help="one zip file instead of a folder"),
    out: Path | None = typer.Option(None, "--out", help="parent folder (default <data_dir>/exports)"),
) -> None:
    """Signed evidence export. Redacted unless an approved reveal of --as covers cameras and window."""
    from sqlalchemy import select

    from oversight.privacy.export import ExportError, export_footage
    from oversight.store.models import User

    cfg, db = _open(config)
    with db.session() as s:
        u = s.execute(select(User).where(User.username == user, User.active.is_(True))).scalar_one_or_none()
    if u is None:
        typer.echo(_("no active user '{user}'", user=user), err=True)
        raise typer.Exit(1)
    start, end = _when(since, "--from"), _when(until, "--to")
    assert start is not None and end is not None
    try:
        res = export_footage(
            db,
            cfg,
            camera,
            start,
            end,
            exporter=u.username,
            role=u.role,
            purpose=purpose,
            reference=reference,
            recipient=recipient.value,
            recipient_ref=recipient_ref,
            source="cli",
            out_root=out,
            zip_it=zip_it,
        )
    except ExportError as exc:
        typer.echo(_("export refused: {problem}", problem=exc), err=True)
        raise typer.Exit(1) from None
    _seal(cfg, db)
    typer.echo(json.dumps(res.as_dict(), indent=2))


def verify_export_cmd(
    path: Path = typer.Argument(..., exists=True, help="export folder or zip"),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="the installation's public key (hex file)"
    ),
) -> None:
    """Check an export offline: signature and the SHA-256 of every file. Exit 1 on any change."""
    from oversight.privacy.export import verify_export

    r = verify_export(path, public_key)
    if r.ok:
        typer.echo(r.message)
        return
    typer.echo(_("EXPORT FAILED VERIFICATION: {problem}", problem=r.message), err=True)
    for p in r.problems[1:]:
        typer.echo(_("  also: {problem}", problem=p), err=True)
    raise typer.Exit(1)


def register(app: typer.Typer, portal_writer: PortalWriter | None = None) -> None:
    """Hook every privacy command into the main ``oversight`` app (one line in oversight/cli.py)."""
    if portal_writer is not None:
        _portal_writer[:] = [portal_writer]
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.add_typer(cameras_app, name="cameras")
    app.command("report")(report)
    app.command("export")(export)
    app.command("verify-export")(verify_export_cmd)
