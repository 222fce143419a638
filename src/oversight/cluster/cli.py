"""``oversight cluster``: run a scale-out deployment from a site config with a ``cluster:`` section.

oversight cluster --config site.yaml         # place cameras on Ray, supervise, serve the web app
oversight cluster web --config site.yaml     # one more stateless web server (run as many as you like)
oversight cluster status --config site.yaml  # where each camera runs, as JSON
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path

import typer

from oversight.config.cli import load_or_exit
from oversight.config.schema import SiteConfig

cluster_app = typer.Typer(
    help="Scale-out deployment on Ray, PostgreSQL, S3 and an MQTT broker.", invoke_without_command=True
)


def _load(config: Path) -> SiteConfig:
    cfg = load_or_exit(config)
    if cfg.cluster is None:
        typer.echo(f"{config}: no 'cluster:' section (see docs/cluster.md)", err=True)
        raise typer.Exit(1)
    try:
        import ray  # noqa: F401
    except ImportError:
        typer.echo("Ray is not installed: pip install 'oversight[cluster]'", err=True)
        raise typer.Exit(1) from None
    return cfg


def _db_url(cfg: SiteConfig) -> str:
    from oversight.cluster.web import cluster_database_url

    try:
        return cluster_database_url(cfg)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _wait_for_signal() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


@cluster_app.callback()
def cluster(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", "-c", help="Site config with a cluster: section."),
    host: str = typer.Option("127.0.0.1", help="Web app address."),
    port: int = typer.Option(8080, help="Web app port."),
    web: bool = typer.Option(True, help="Serve the web app from this process too."),
) -> None:
    """Start a deployment: detector services and one actor per camera, supervised until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        raise typer.BadParameter("--config is required", param_hint="--config")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = _load(config)
    from oversight.cluster.deploy import ClusterDeployment
    from oversight.cluster.site_mqtt import start_site_mqtt
    from oversight.cluster.web import WebNode

    deployment = ClusterDeployment(cfg, _db_url(cfg))
    deployment.start()
    from oversight.privacy.audit_trail import sealer_for
    from oversight.store.db import Database

    sealer = sealer_for(Database(_db_url(cfg)), cfg)  # the head signs the audit digests, once
    typer.echo(f"audit genesis fingerprint (keep it off the server): {sealer.genesis.fingerprint}", err=True)
    sealer.start()
    from oversight.cluster.health import ClusterHealth

    health = ClusterHealth(deployment, Database(_db_url(cfg)))  # server and host health alerts, once
    health.start()
    stop_mqtt = start_site_mqtt(cfg)
    typer.echo(json.dumps({"placement": deployment.placement, "unplaced": deployment.unplaced}))
    node = None
    if web:
        node = WebNode(cfg, config, runtime=deployment)
        node.start(host, port)
        typer.echo(f"Oversight cluster: {len(deployment.actors)} camera(s); web on http://{host}:{port}/")
    _wait_for_signal()
    if node is not None:
        node.stop()
    if stop_mqtt is not None:
        stop_mqtt()
    health.stop()
    sealer.stop()
    deployment.stop()


@cluster_app.command("web")
def web_server(
    config: Path = typer.Option(..., "--config", "-c", help="Site config with a cluster: section."),
    host: str = typer.Option("127.0.0.1", help="Web app address."),
    port: int = typer.Option(8080, help="Web app port."),
    ray_attach: bool = typer.Option(True, "--ray/--no-ray", help="Camera status and live frames from Ray."),
) -> None:
    """One more stateless web server for a running deployment."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = _load(config)
    from oversight.cluster.web import ClusterView, WebNode

    runtime = None
    if ray_attach:
        import ray

        assert cfg.cluster is not None
        ray.init(address=cfg.cluster.ray_address, namespace="oversight", log_to_driver=False)
        runtime = ClusterView(cfg)
    node = WebNode(cfg, config, runtime=runtime)  # migrates the shared database if it is behind
    node.start(host, port)
    typer.echo(f"READY http://{host}:{port}/", err=False)
    _wait_for_signal()
    node.stop()


@cluster_app.command("status")
def status(
    config: Path = typer.Option(..., "--config", "-c", help="Site config with a cluster: section."),
) -> None:
    """Where each camera runs now, and its state, as JSON."""
    cfg = _load(config)
    import ray

    from oversight.cluster.web import ClusterView

    assert cfg.cluster is not None
    ray.init(address=cfg.cluster.ray_address or "auto", namespace="oversight", log_to_driver=False)
    typer.echo(json.dumps(ClusterView(cfg).status(), indent=2, default=str))
