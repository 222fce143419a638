"""The `oversight` command line."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from oversight.config import CameraConfig
from oversight.config.cli import load_or_exit
from oversight.config.schema import Priority

app = typer.Typer(
    help="Oversight: public-safety video with privacy enforced by the software.", no_args_is_help=True
)


@app.callback()
def _private_files() -> None:
    # every file a command writes (footage, snapshots, caches, exports, reports) is 0600, folders 0700
    from oversight.cameras.malloc import keep_frames_off_heap
    from oversight.i18n import activate, cli_locale
    from oversight.privacy.copies import private_umask

    private_umask()
    keep_frames_off_heap()  # before any camera thread allocates a frame
    activate(cli_locale())  # messages for operators in the language of their shell ($LANG)


from oversight.web.cli import users_app  # noqa: E402

app.add_typer(users_app, name="users")
from oversight.bench.cli import bench_app  # noqa: E402

app.add_typer(bench_app, name="bench")
from oversight.maps.cli import map_app  # noqa: E402

app.add_typer(map_app, name="map")
from oversight.config.models_cli import models_app  # noqa: E402

app.add_typer(models_app, name="models")
from oversight.cluster.cli import cluster_app  # noqa: E402  (no Ray import until a cluster command runs)

app.add_typer(cluster_app, name="cluster")
from oversight.privacy.cli import register as register_privacy  # noqa: E402


def _write_portal(db: Any, cfg: Any, now: datetime, out: Path) -> list[Path]:
    """``oversight report portal``: the /public pages as files (built in web/, so wired here)."""
    from oversight.i18n import cli_locale
    from oversight.web.portal import build_portal, write_portal

    return write_portal(build_portal(db, cfg, now, lang=cli_locale()), out)


register_privacy(app, _write_portal)  # audit, retention, cameras audit, report, export, verify-export

i18n_app = typer.Typer(
    help="Message catalogues (gettext .po files): extract and check.", no_args_is_help=True
)
app.add_typer(i18n_app, name="i18n")


@i18n_app.command("extract")
def i18n_extract(check: bool = typer.Option(False, help="exit 1 if a catalogue lacks a translation")) -> None:
    """Collect every t()/tn() of the web app and gettext()/N_() of the server into the .po files."""
    from oversight.i18n import extract

    missing = extract()
    for where, ids in missing.items():
        typer.echo(f"{where}: {len(ids)} untranslated")
        for msgid in ids[:20]:
            typer.echo(f"  {msgid!r}")
    if check and any(missing.values()):
        raise typer.Exit(1)


@app.command("check-config")
def check_config(path: Path) -> None:
    """Validate a site config; print every problem with file and line; exit 1 on any."""
    cfg = load_or_exit(path, count=True)
    typer.echo(f"{path}: OK ({len(cfg.cameras)} camera(s))")
    from oversight.cameras.fallbacks import models_summary
    from oversight.recording.segment import recording_note

    for cam in cfg.cameras:
        typer.echo(f"  {cam.id}: {alerting_summary(cam, cfg.alarms.sounds)}")
        typer.echo(f"  {cam.id}: {models_summary(cam)}")
        note = recording_note(cam.streams.record, cam.transcode)
        if note:
            typer.echo(f"  {cam.id}: {note}")


def alerting_summary(cam: CameraConfig, sounds: Mapping[Priority, str]) -> str:
    """Which rules raise alerts, at which priority and sound: detections alone never alert."""
    alerting = [
        f"{r.id} ({r.priority}, sound {r.sound or sounds.get(r.priority, 'none')})"
        for r in cam.rules
        if r.alert
    ]
    quiet = len(cam.rules) - len(alerting)
    if not alerting:
        return f"{len(cam.rules)} rule(s), none alerting: events are recorded, no alerts"
    return f"alerts from {', '.join(alerting)}" + (f"; {quiet} rule(s) record events only" if quiet else "")


@app.command()
def demo(
    duration: float | None = typer.Option(
        None, help="Stop by itself after this many seconds and print a summary."
    ),
    footage: Path | None = typer.Option(None, help="A video file or folder to use as demo cameras."),
    synthetic: bool = typer.Option(False, help="Use generated footage even where real footage is found."),
    data_dir: Path = typer.Option(Path("var/demo"), help="Where the SQLite database and recordings go."),
    host: str = typer.Option("127.0.0.1", help="Web app address."),
    port: int = typer.Option(8080, help="Web app port."),
    web: bool = typer.Option(True, help="Serve the web app."),
    detector: str = typer.Option(
        "auto", help="auto (--model, else oversight-models, else HOG), hog, onnx or none."
    ),
    model: Path | None = typer.Option(None, help="ONNX detector model (a YOLOX/YOLOv5/YOLOv8 COCO export)."),
) -> None:
    """Run the whole system on embedded defaults: demo cameras, recording, analytics, events, web."""
    import logging

    from oversight.config.models import packaged_model
    from oversight.demo.run import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if detector not in ("auto", "hog", "onnx", "none"):
        raise typer.BadParameter("detector must be auto, hog, onnx or none", param_hint="--detector")
    if detector == "onnx" and model is None and packaged_model("detector") is None:
        raise typer.BadParameter(
            "--detector onnx needs --model PATH (or oversight-models)", param_hint="--model"
        )
    run_demo(duration, footage, data_dir, host, port, web, detector, model, synthetic)


@app.command()
def serve(
    config: Path = typer.Option(..., "--config", "-c", help="Site config (see docs/config.md)."),
    host: str = typer.Option("127.0.0.1", help="Web app address."),
    port: int = typer.Option(8080, help="Web app port."),
) -> None:
    """Run Oversight for the cameras in a site config until interrupted."""
    import logging
    import signal
    import threading

    from oversight.service import Service
    from oversight.store.instance_lock import DataDirInUse

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_or_exit(config)
    try:
        service = Service(cfg, config)
    except DataDirInUse as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    sealer = service.parts.sealer
    if sealer is not None and sealer.created:  # first start: the audit anchor to keep off this server
        typer.echo(
            f"Audit genesis fingerprint (write it down, keep it elsewhere): {sealer.genesis.fingerprint}"
        )
    service.start(host, port)
    typer.echo(f"Oversight serving {len(cfg.cameras)} camera(s) on http://{host}:{port}/")
    if service.web_ctx is not None:  # on a fresh site: the one-time link that creates the first admin
        from oversight.web.server import login_hint

        typer.echo(login_hint(service.web_ctx, f"http://{host}:{port}"))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    service.stop()
    service.close()


@app.command()
def version() -> None:
    """Print the version."""
    from oversight import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="oversight")


if __name__ == "__main__":  # pragma: no cover
    main()
