"""``oversight bench ...`` commands: each prints JSON, with figures measured against a floor from the
same run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

bench_app = typer.Typer(
    help="Benchmarks: print JSON, compared against a floor measured in the same run.", no_args_is_help=True
)


@bench_app.command("pipeline")
def pipeline(
    video: Path = typer.Option(
        ..., "--video", exists=True, dir_okay=False, help="A video file to decode and analyse."
    ),
    frames: int = typer.Option(300, "--frames", min=1, help="How many frames (from the start)."),
    detector: str = typer.Option("hog", "--detector", help="hog or onnx"),
    model: Path | None = typer.Option(
        None, "--model", exists=True, dir_okay=False, help="ONNX model (for --detector onnx)."
    ),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Runs per stage; medians are reported."),
    detect_fps: float | None = typer.Option(
        None, "--detect-fps", min=0.1, max=60, help="Frames analysed per second (default: detect.fps, 5)."
    ),
    budget_s: float = typer.Option(
        60.0, "--budget-s", min=1, help="Fewer frames are used when the run would take longer (CPU s)."
    ),
) -> None:
    """CPU per frame of decode, motion, detection and the full analytics pipeline, and the ratios."""
    if detector not in ("hog", "onnx"):
        raise typer.BadParameter("must be hog or onnx", param_hint="--detector")
    if detector == "onnx" and model is None:
        raise typer.BadParameter("--detector onnx needs --model PATH", param_hint="--model")
    from oversight.bench.pipeline import run

    result = run(
        video,
        frames=frames,
        detector=detector,
        model=str(model) if model else None,
        repeats=repeats,
        detect_fps=detect_fps,
        budget_s=budget_s,
    )
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("incidents")
def incidents(
    backend: str = typer.Option("both", "--backend", help="sqlite, postgres or both"),
    pg_url: str = typer.Option(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "--pg-url",
        help="PostgreSQL admin URL; a scratch database is created and dropped.",
    ),
    incidents: int = typer.Option(200, "--incidents", min=1),
    units: int = typer.Option(500, "--units", min=1),
    consoles: int = typer.Option(20, "--consoles", min=1),
    samples: int = typer.Option(60, "--samples", min=5),
) -> None:
    """p95 of a dispatch round trip and of a unit status change reaching every console (target < 100 ms)."""
    if backend not in ("sqlite", "postgres", "both"):
        raise typer.BadParameter("must be sqlite, postgres or both", param_hint="--backend")
    from oversight.bench.incidents import run as run_incidents

    backends = ["sqlite", "postgres"] if backend == "both" else [backend]
    typer.echo(json.dumps(run_incidents(backends, pg_url, incidents, units, consoles, samples), indent=2))


@bench_app.command("scale")
def scale(
    video: Path = typer.Option(..., "--video", exists=True, dir_okay=False, help="H.264 clip per camera."),
    model: Path = typer.Option(..., "--model", exists=True, dir_okay=False, help="ONNX detector (YOLO)."),
    pg_url: str | None = typer.Option(None, "--pg-url", help="PostgreSQL admin URL (a scratch db is used)."),
    nodes: int = typer.Option(100, "--nodes", min=1, help="Extrapolate DB and broker load to this many."),
    repeats: int = typer.Option(2, "--repeats", min=1, help="1- and 2-process runs; the best is kept."),
    parts: str = typer.Option("scaling,detector,load", "--parts", help="Comma list of parts to run."),
    per_node: float | None = typer.Option(None, "--cameras-per-node", help="Extrapolate at this density."),
) -> None:
    """Scaling 1 -> 2 worker processes, detector service batched vs not, DB/broker load per camera."""
    from oversight.bench.scale import run as run_scale

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    result = run_scale(video, model, pg_url, nodes, repeats, parts=chosen, cameras_per_node=per_node)
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("redaction")
def redaction(
    video: Path = typer.Option(..., "--video", exists=True, dir_okay=False, help="Background video."),
    frames: int = typer.Option(60, "--frames", min=1, help="How many frames (from the start)."),
    width: int = typer.Option(960, "--width", min=64, help="Frame width the footage is scaled to."),
    faces: str | None = typer.Option(None, "--faces", help="Glob of group photos (default: the assets)."),
    model: Path | None = typer.Option(None, "--model", exists=True, dir_okay=False, help="YuNet ONNX model."),
    upscale: float = typer.Option(1.5, "--upscale", min=1.0, max=3.0, help="Redactor detection upscale."),
    min_face: float = typer.Option(12.0, "--min-face", min=1, help="Smaller faces (px) are reported apart."),
) -> None:
    """Recall of face boxes against a slow, strong reference, and CPU per frame vs the decode floor."""
    from oversight.bench.redaction import DEFAULT_FACES, run

    result = run(
        video,
        frames=frames,
        width=width,
        faces_glob=faces or DEFAULT_FACES,
        model=str(model) if model else None,
        upscale=upscale,
        min_face=min_face,
    )
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("web")
def web(
    video: Path | None = typer.Option(
        None,
        "--video",
        exists=True,
        dir_okay=False,
        help="Clip with people for the alert latency (looped, HOG detector).",
    ),
    events: int = typer.Option(1_000_000, "--events", min=100, help="Rows in the events table."),
    backend: str = typer.Option("both", "--backend", help="sqlite, postgres or both (event list)."),
    pg_url: str = typer.Option(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "--pg-url",
        help="PostgreSQL admin URL; a scratch database is created and dropped.",
    ),
    alert_seconds: float = typer.Option(30.0, "--alert-seconds", min=3, help="How long the clip runs."),
    viewers: int = typer.Option(4, "--viewers", min=2, help="Live-wall viewers for the CPU figure."),
    cameras: int = typer.Option(16, "--cameras", min=1, help="Cameras on the live wall."),
    cpu_seconds: float = typer.Option(5.0, "--cpu-seconds", min=0.5, help="CPU sampling time per step."),
    parts: str = typer.Option("alerts,wall,events", "--parts", help="Comma list: alerts, wall, events."),
    load_cameras: int = typer.Option(0, "--load-cameras", min=0, help="More cameras analysing meanwhile."),
    model: Path | None = typer.Option(
        None, "--model", exists=True, dir_okay=False, help="ONNX detector for the alerts part (default: HOG)."
    ),
) -> None:
    """Alert latency p50/p99, server CPU per live-wall viewer, event list API p95."""
    from oversight.bench.web import run as run_web

    if backend not in ("sqlite", "postgres", "both"):
        raise typer.BadParameter("must be sqlite, postgres or both", param_hint="--backend")
    backends = ("sqlite", "postgres") if backend == "both" else (backend,)
    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    result = run_web(
        video,
        events=events,
        backends=backends,
        alert_seconds=alert_seconds,
        cameras=cameras,
        viewers=viewers,
        cpu_seconds=cpu_seconds,
        pg_admin=pg_url,
        parts=chosen,
        load_cameras=load_cameras,
        model=model,
    )
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("capacity")
def capacity(
    video: Path = typer.Option(..., "--video", exists=True, dir_okay=False, help="Clip every camera plays."),
    width: int = typer.Option(1280, "--width", min=64, max=4096, help="Camera resolution (clip is scaled)."),
    height: int = typer.Option(720, "--height", min=64, max=4096),
    fps: float = typer.Option(25.0, "--fps", min=1, max=60, help="Camera frame rate (frames repeated)."),
    detect_fps: float = typer.Option(5.0, "--detect-fps", min=0.5, max=30, help="Analytics rate to hold."),
    model: Path | None = typer.Option(
        None,
        "--model",
        exists=True,
        dir_okay=False,
        help="ONNX person detector (else oversight-models, else HOG, degraded).",
    ),
    face_model: Path | None = typer.Option(
        None,
        "--face-model",
        exists=True,
        dir_okay=False,
        help="Face model for live redaction (else oversight-models, else Haar).",
    ),
    viewed: int = typer.Option(1, "--viewed", min=0, help="Cameras watched live (H.264, as a wall tile)."),
    live_fps: float = typer.Option(10.0, "--live-fps", min=1, max=30, help="Live frames per second to hold."),
    step_s: float = typer.Option(20.0, "--step-s", min=1, help="Seconds measured after each added camera."),
    max_cameras: int = typer.Option(32, "--max-cameras", min=1),
    start_cameras: int = typer.Option(1, "--start-cameras", min=1, help="Cameras in the first step."),
    min_cameras: int = typer.Option(
        2, "--min-cameras", min=1, help="Steps measured even if rates fall short."
    ),
    budget_s: float = typer.Option(240.0, "--budget-s", min=5, help="Stop adding cameras after this long."),
    quick: bool = typer.Option(False, "--quick", help="Tiny run for tests: 320x180, 2 cameras, 3 s steps."),
) -> None:
    """Cameras per box at full analytics (and live) rate, CPU and memory per camera, where time goes."""
    from oversight.bench.capacity import Plan, run

    plan = Plan(
        video=video,
        width=width,
        height=height,
        fps=fps,
        detect_fps=detect_fps,
        model=str(model) if model else None,
        face_model=str(face_model) if face_model else None,
        viewed=viewed,
        live_fps=live_fps,
        step_s=step_s,
        max_cameras=max_cameras,
        min_cameras=min_cameras,
        start_cameras=start_cameras,
        budget_s=budget_s,
    )
    if quick:
        plan.width, plan.height, plan.step_s, plan.warmup_s = 320, 180, 3.0, 1.5
        plan.max_cameras, plan.budget_s, plan.clip_s = min(max_cameras, 2), 30.0, 4.0
        plan.start_cameras = 1
    typer.echo(json.dumps(run(plan), indent=2))


@bench_app.command("memory")
def memory(
    video: Path = typer.Option(..., "--video", exists=True, dir_okay=False, help="Clip every camera plays."),
    width: int = typer.Option(1280, "--width", min=64, max=4096, help="Camera resolution (clip is scaled)."),
    height: int = typer.Option(720, "--height", min=64, max=4096),
    cameras: int = typer.Option(4, "--cameras", min=2, max=32, help="Cameras started one by one."),
    settle_s: float = typer.Option(10.0, "--settle-s", min=1, help="Seconds each added camera runs first."),
    viewed: int = typer.Option(1, "--viewed", min=0, help="Cameras watched live (H.264, as a wall tile)."),
    clip_s: float = typer.Option(8.0, "--clip-s", min=1, help="Seconds of the clip to loop."),
) -> None:
    """RSS per added camera on the real pipeline, without waiting for the analytics rate."""
    from oversight.bench.capacity import Plan
    from oversight.bench.memory import run

    plan = Plan(video=video, width=width, height=height, viewed=viewed, clip_s=clip_s)
    typer.echo(json.dumps(run(plan, cameras, settle_s), indent=2))


@bench_app.command("video")
def video(
    photo: Path = typer.Option(
        Path("../shared/assets/images/ultraface_imgs_1.jpg"),
        "--photo",
        exists=True,
        dir_okay=False,
        help="A photo with faces; the clip pans across it at 1280x720.",
    ),
    model: Path = typer.Option(
        Path("../shared/assets/models/face_detection_yunet_2023mar.onnx"),
        "--model",
        exists=True,
        dir_okay=False,
        help="YuNet ONNX model (the redaction detector and the recall reference).",
    ),
    seconds: float = typer.Option(10.0, "--seconds", min=1, max=120, help="Clip length."),
    parts: str = typer.Option(
        "export,live", "--parts", help="Comma list of export, live, soak (soak also with --soak-seconds)."
    ),
    live_seconds: float = typer.Option(15.0, "--live-seconds", min=1, max=600, help="Live wall measured."),
    soak_seconds: float = typer.Option(0.0, "--soak-seconds", min=0, help="Soak length (0: no soak)."),
    soak_cameras: int = typer.Option(16, "--soak-cameras", min=1, max=64, help="Tiles of the soak wall."),
    detector_per_frame: bool = typer.Option(
        True, "--detector-per-frame/--no-detector-per-frame", help="Also time the old path (slow)."
    ),
) -> None:
    """Export and live redaction cost next to decode+encode, ingest privacy cost, recall by size;
    the live H.264 wall from the viewer's side (glass-to-glass latency, fps per tile, CPU per
    camera next to the floor); a soak of an N-tile wall with 3 viewers."""
    from oversight.bench.video import run_parts

    chosen = {p.strip() for p in parts.split(",") if p.strip()}
    unknown = chosen - {"export", "live", "soak"}
    if unknown:
        raise typer.BadParameter(f"unknown parts: {', '.join(sorted(unknown))}", param_hint="--parts")
    if soak_seconds > 0:
        chosen.add("soak")
    elif "soak" in chosen:
        raise typer.BadParameter("the soak needs --soak-seconds", param_hint="--soak-seconds")
    out = run_parts(
        photo, model, chosen, seconds, live_seconds, soak_seconds, soak_cameras, detector_per_frame
    )
    typer.echo(json.dumps(out, indent=2))
