"""Start and supervise a deployment on a Ray cluster: detector services, then one actor per camera.

The process running this (``oversight cluster``) is the deployment's owner: the actors live as
long as it does, and it doubles as the ``runtime`` the web app reads camera status and live
frames from. Node failure is handled by Ray itself (actors are created with ``max_restarts=-1``
and a *soft* node affinity, so a restart lands on any live node with a free camera slot); the
``supervise`` pass only re-creates actors Ray has given up on and places cameras that had no room.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from oversight.cluster.placement import assign_cameras
from oversight.config.cluster import ClusterConfig
from oversight.config.schema import CameraConfig, SiteConfig

log = logging.getLogger(__name__)

NAMESPACE = "oversight"


def detector_key(cam: CameraConfig) -> str | None:
    """Cameras with the same model settings share a detector service."""
    d = cam.detect
    if not d.enabled or d.detector == "none":
        return None
    raw = json.dumps([d.detector, d.model_path, sorted(d.classes), d.min_confidence, d.providers])
    return hashlib.sha1(raw.encode()).hexdigest()[:10]


class ActorWorker:
    """What the web app expects of a camera worker (``status``, ``latest_frame``), over an actor."""

    def __init__(self, camera_id: str, handle: Any, timeout_s: float = 3.0):
        self.id = camera_id
        self.handle = handle
        self.timeout_s = timeout_s

    def status(self) -> dict[str, Any]:
        import ray

        try:
            return dict(ray.get(self.handle.status.remote(), timeout=self.timeout_s))
        except Exception as exc:
            return {"id": self.id, "online": False, "state": "unavailable", "error": f"camera actor: {exc}"}

    def latest_frame(self) -> tuple[np.ndarray, datetime] | None:
        import ray

        try:
            out = ray.get(self.handle.latest_frame.remote(), timeout=self.timeout_s)
        except Exception:
            return None
        return out if out is None else (out[0], out[1])


class ClusterDeployment:
    def __init__(
        self,
        cfg: SiteConfig,
        db_url: str,
        *,
        namespace: str = NAMESPACE,
        worker_options: dict[str, Any] | None = None,
    ):
        self.cfg = cfg
        self.cc: ClusterConfig = cfg.cluster or ClusterConfig()
        self.db_url = db_url
        self.namespace = namespace
        self.worker_options = worker_options or {}
        self.actors: dict[str, Any] = {}  # camera id -> actor handle
        self.placement: dict[str, str] = {}  # camera id -> node id it was placed on
        self.unplaced: list[str] = []
        self.detectors: dict[str, list[Any]] = {}  # detector key -> replica actor handles
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.health: Any = None  # the head's HealthMonitor (``cluster.health.ClusterHealth``), if run

    # -- lifecycle -------------------------------------------------------

    def connect(self) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(
                address=self.cc.ray_address,
                namespace=self.namespace,
                log_to_driver=False,
                ignore_reinit_error=True,
            )

    def spec(self) -> dict[str, Any]:
        return {
            "db_url": self.db_url,
            "data_dir": str(Path(self.cfg.site.data_dir).expanduser().resolve()),
            "storage": self.cc.storage.model_dump(),
            "broker_url": self.cc.broker_url,
            "broker_prefix": self.cc.broker_prefix,
            "namespace": self.namespace,
            "worker_options": self.worker_options,
        }

    def start(self, supervise_every_s: float | None = 5.0) -> None:
        from oversight.store.db import Database

        self.connect()
        db = Database(self.db_url)
        db.migrate()
        db.dispose()
        if self.cc.storage.kind == "s3":
            from oversight.recording.s3 import S3Storage

            S3Storage.from_settings(self.cc.storage, self.cfg.site.data_dir).ensure_bucket()
        if self.cc.detector.enabled:
            self._start_detectors()
        self.place()
        if supervise_every_s:
            self._supervisor = threading.Thread(
                target=self._supervise_loop, args=(supervise_every_s,), name="cluster-supervisor", daemon=True
            )
            self._supervisor.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        import ray

        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout_s)
        with self._lock:
            actors = dict(self.actors)
            self.actors.clear()
        refs = [a.stop.remote() for a in actors.values()]
        try:
            ray.get(refs, timeout=timeout_s)
        except Exception as exc:
            log.warning("not every camera stopped cleanly: %s", exc)
        for a in [*actors.values(), *(h for hs in self.detectors.values() for h in hs)]:
            with contextlib.suppress(Exception):
                ray.kill(a, no_restart=True)
        self.detectors.clear()

    # -- detector services -------------------------------------------------

    def _start_detectors(self) -> None:
        import ray

        from oversight.analytics.pipeline import LOW_CONFIDENCE
        from oversight.cluster.detector_service import BatchedDetector

        ds = self.cc.detector
        for cam in self.cfg.cameras:
            key = detector_key(cam)
            if key is None or key in self.detectors:
                continue
            detect = cam.detect.model_dump()
            # the service returns weak boxes too, for the tracker's second (low-score) association
            detect["min_confidence"] = min(LOW_CONFIDENCE, cam.detect.min_confidence)
            self.detectors[key] = [
                ray.remote(BatchedDetector)
                .options(
                    name=f"oversight-detector-{key}-{i}",
                    namespace=self.namespace,
                    max_restarts=-1,
                    max_task_retries=-1,
                    max_concurrency=4096,
                    num_cpus=ds.num_cpus,
                    num_gpus=ds.num_gpus,
                    scheduling_strategy="SPREAD",
                    get_if_exists=True,
                )
                .remote(detect, ds.max_batch, ds.max_wait_ms)
                for i in range(ds.replicas)
            ]

    # -- cameras -----------------------------------------------------------

    def node_capacity(self) -> dict[str, int]:
        """Live nodes that may host cameras -> camera slots (their camera resource, else their CPUs)."""
        import ray

        out: dict[str, int] = {}
        res = self.cc.camera_resource
        for n in ray.nodes():
            if not n.get("Alive"):
                continue
            r = n.get("Resources", {})
            slots = int(r.get(res, 0)) if res else int(r.get("CPU", 0) // max(self.cc.camera_cpus, 1e-9))
            if slots > 0:
                out[n["NodeID"]] = slots
        return out

    def place(self) -> dict[str, str]:
        """Create an actor for every enabled camera that has none, on the node the placement rule picks."""
        with self._lock:
            wanted = [c for c in self.cfg.cameras if c.enabled]
            todo = [c for c in wanted if c.id not in self.actors]
            if not todo:
                return dict(self.placement)
            current = {cid: node for cid, node in self.placement.items() if cid in self.actors}
            plan, self.unplaced = assign_cameras([c.id for c in wanted], self.node_capacity(), current)
            for cam in todo:
                node = plan.get(cam.id)
                if node is None:
                    log.warning("camera %s: no node with a free camera slot", cam.id)
                    continue
                self.actors[cam.id] = self._create_actor(cam, node)
                self.placement[cam.id] = node
            return dict(self.placement)

    def _create_actor(self, cam: CameraConfig, node: str) -> Any:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from oversight.cluster.camera_host import CameraHost

        spec = self.spec()
        key = detector_key(cam)
        spec["detector_actors"] = (
            [f"oversight-detector-{key}-{i}" for i in range(len(self.detectors[key]))]
            if key and key in self.detectors
            else []
        )
        opts: dict[str, Any] = {
            "name": f"oversight-cam-{cam.id}",
            "namespace": self.namespace,
            "max_restarts": -1,
            "max_task_retries": 3,
            "num_cpus": self.cc.camera_cpus,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True),
        }
        if self.cc.camera_resource:
            opts["resources"] = {self.cc.camera_resource: 1}
        return ray.remote(CameraHost).options(**opts).remote(cam.model_dump(mode="json"), spec)

    def remove_camera(self, camera_id: str) -> None:
        import ray

        with self._lock:
            actor = self.actors.pop(camera_id, None)
            self.placement.pop(camera_id, None)
        if actor is not None:
            try:
                ray.get(actor.stop.remote(), timeout=30)
            finally:
                ray.kill(actor, no_restart=True)

    def supervise(self) -> dict[str, Any]:
        """One pass: find where each camera runs now, re-create actors Ray gave up on, place newcomers."""
        import ray
        from ray.exceptions import ActorDiedError, GetTimeoutError

        with self._lock:
            actors = dict(self.actors)
        refs = {cid: a.ping.remote() for cid, a in actors.items()}
        dead: list[str] = []
        for cid, ref in refs.items():
            try:
                node = ray.get(ref, timeout=10)
                with self._lock:
                    self.placement[cid] = node
            except ActorDiedError:
                dead.append(cid)
            except (GetTimeoutError, Exception):  # restarting right now: Ray is on it
                continue
        with self._lock:
            for cid in dead:
                log.warning("camera %s: actor gone for good; re-creating", cid)
                self.actors.pop(cid, None)
                self.placement.pop(cid, None)
        self.place()
        return {"placement": dict(self.placement), "recreated": dead, "unplaced": list(self.unplaced)}

    def _supervise_loop(self, every_s: float) -> None:
        last_retention = time.monotonic()
        while not self._stop.wait(every_s):
            try:
                self.supervise()
            except Exception:
                log.exception("cluster supervision pass failed")
            every = self.cc.retention_interval_s
            if every and time.monotonic() - last_retention >= every:
                last_retention = time.monotonic()
                try:
                    self.retention_pass()
                except Exception:
                    log.exception("cluster retention pass failed")

    def retention_pass(self, now: datetime | None = None) -> Any:
        """Retention over the shared storage, by the same rules as the embedded runtime (evidence
        holds included). Only the deployment owner runs it, so no two nodes race on a deletion."""
        from oversight.cluster.camera_host import make_storage
        from oversight.recording.retention import run_retention
        from oversight.runtime import audit_deletion
        from oversight.store.base import utcnow
        from oversight.store.db import Database

        db = Database(self.db_url)
        try:
            storage = make_storage(self.spec())
            res = run_retention(db, self.cfg, now or utcnow(), storage, on_delete=audit_deletion)
        finally:
            db.dispose()
        if res.deleted or res.errors:
            log.info("cluster retention: %s", res.as_dict())
        return res

    # -- what the web app reads (the Runtime interface) ---------------------

    @property
    def workers(self) -> dict[str, ActorWorker]:
        with self._lock:
            return {cid: ActorWorker(cid, a) for cid, a in self.actors.items()}

    def status(self, timeout_s: float = 3.0) -> list[dict[str, Any]]:
        """Every camera's status, asked of all actors at once (one slow actor costs one timeout)."""
        import ray

        with self._lock:
            actors = dict(self.actors)
        refs = {cid: a.status.remote() for cid, a in actors.items()}
        if not refs:
            return []
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)
        done = set(ready)
        out = []
        for cid, ref in refs.items():
            try:
                if ref not in done:
                    raise TimeoutError(f"no answer within {timeout_s}s")
                out.append(dict(ray.get(ref)))
            except Exception as exc:
                out.append(
                    {"id": cid, "online": False, "state": "unavailable", "error": f"camera actor: {exc}"}
                )
        return out

    def metrics(self) -> dict[str, dict[str, float]]:
        """Extra Prometheus gauges (read by /metrics): the head's latest health check."""
        return self.health.metrics() if self.health is not None else {}

    def host_reports(self, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """One report per node running cameras (``CameraHost.host_health``), with its clock's offset
        from this process's: the host's time against the middle of the round trip (``rtt_s``)."""
        import ray

        with self._lock:
            one_per_node = {
                node: self.actors[cid] for cid, node in self.placement.items() if cid in self.actors
            }
        out = []
        for node, actor in one_per_node.items():
            t0 = time.time()
            try:
                rep = dict(ray.get(actor.host_health.remote(), timeout=timeout_s))
            except Exception as exc:  # that node's cameras show as down; nothing more to say here
                log.debug("no health report from node %s: %s", node[:12], exc)
                continue
            t1 = time.time()
            rep["clock_offset_s"] = round(float(rep.pop("time")) - (t0 + t1) / 2, 3)
            rep["rtt_s"] = round(t1 - t0, 3)
            out.append(rep)
        return out

    def detector_stats(self) -> dict[str, Any]:
        import ray

        out: dict[str, Any] = {}
        for key, handles in self.detectors.items():
            for i, a in enumerate(handles):
                try:
                    out[f"{key}-{i}"] = ray.get(a.stats.remote(), timeout=5)
                except Exception as exc:
                    out[f"{key}-{i}"] = {"error": str(exc)}
        return out
