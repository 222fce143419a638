"""Run the demo: the whole system on embedded defaults, with a status line and a summary."""

from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any

import typer
import yaml

from oversight.cameras.fallbacks import models_summary
from oversight.config.schema import SiteConfig
from oversight.demo.site import demo_site
from oversight.recording.segment import recording_note
from oversight.service import Service
from oversight.store.instance_lock import DataDirInUse, DataDirLock

DEMO_ROLES = ("operator", "supervisor", "auditor", "admin")


def _demo_accounts(service: Service) -> dict[str, str]:
    """Fresh random passwords for one account per role, printed once: the demo has no default password.
    Made through ``web.accounts`` like any other account, so the audit log shows them."""
    from oversight.web import accounts

    by = accounts.Actor("system:demo", "demo")
    out = {}
    with service.db.session() as s:
        existing = {u.username for u in accounts.list_users(s)}
        for role in DEMO_ROLES:
            name = f"demo-{role}"
            password = secrets.token_urlsafe(9)
            if name in existing:
                accounts.update_user(s, by, name, role=role, active=True, password=password)
            else:
                accounts.add_user(s, by, name, password, role)
            out[name] = password
    return out


def _status_line(summary: dict[str, Any], elapsed: float) -> str:
    events = ", ".join(f"{k}={v}" for k, v in summary["events"].items()) or "none yet"
    return (
        f"[{elapsed:5.0f}s] cameras online {summary['cameras_online']}/{summary['cameras']}"
        f" | segments {summary['segments']} ({summary['recorded_mb']} MB) | events: {events}"
        f" | alerts {summary.get('alerts', 0)}"
    )


def _prepare(
    data_dir: Path, footage: Path | None, detector: str, model: Path | None, synthetic: bool
) -> tuple[DataDirLock, SiteConfig, Path]:
    """Lock the data directory first (a running demo keeps its config and recordings), then write
    the demo site's config into it."""
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except DataDirInUse as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        cfg = demo_site(data_dir, footage, detector, model, synthetic)
    except FileNotFoundError as exc:
        lock.release()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    config_path = data_dir / "demo-site.yaml"
    config_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False))
    return lock, cfg, config_path


def _run_until_stopped(service: Service, duration: float | None, interval: float) -> list[dict[str, Any]]:
    """Print a status line every ``interval`` until ``duration`` or Ctrl-C; the cameras' last status."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    try:
        while not stop.is_set():
            remaining = None if duration is None else duration - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                break
            stop.wait(interval if remaining is None else min(interval, remaining))
            typer.echo(_status_line(service.summary(), time.monotonic() - started))
    finally:
        last_status = service.runtime.status()  # as the cameras were just before the stop
        service.stop()
    return last_status


def run_demo(
    duration: float | None,
    footage: Path | None,
    data_dir: Path,
    host: str,
    port: int,
    web: bool,
    detector: str,
    model: Path | None,
    synthetic: bool = False,
    interval: float = 5.0,
) -> dict[str, Any]:
    data_dir = data_dir.resolve()
    lock, cfg, config_path = _prepare(data_dir, footage, detector, model, synthetic)
    service = Service(cfg, config_path, lock)
    sources = ", ".join(c.streams.record for c in cfg.cameras)
    typer.echo(f"Oversight demo: {len(cfg.cameras)} camera(s) from {sources}")
    for cam in cfg.cameras:
        typer.echo(f"  {cam.id}: {models_summary(cam)}")
        note = recording_note(cam.streams.record, cam.transcode)
        if note:
            typer.echo(f"  {cam.id}: {note}")
    typer.echo(f"  data (SQLite, recordings, snapshots): {data_dir}")
    typer.echo(f"  config: {config_path}  (try: oversight check-config {config_path})")
    service.start(host if web else None, port)
    if web and service.web_ctx is not None:
        typer.echo(f"  web app: http://{host}:{port}/   API docs: http://{host}:{port}/docs")
        for name, password in _demo_accounts(service).items():
            typer.echo(f"    log in as {name} / {password}")
    last_status = _run_until_stopped(service, duration, interval)
    try:
        summary = service.summary(last_status)
    finally:
        service.close()
    typer.echo("Summary: " + json.dumps(summary, indent=2, default=str))
    return summary
