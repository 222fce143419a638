"""Object detection as a shared service: one model per replica, fed by every camera, in batches.

Why a service rather than a model per camera: a GPU holds one copy of the model and runs many
frames per kernel launch; hundreds of cameras each loading their own model would exhaust GPU
memory and run batch-1 kernels. The replica is an asyncio Ray actor: ``detect`` calls from any
camera are queued, a batcher takes up to ``max_batch`` frames waiting at most ``max_wait_ms`` for
the batch to fill, and runs them in one model call when the model takes a batch dimension (else
one after another, which still saves the per-call round trips). Results go back to each caller.

``BatchedDetector`` is a plain class so it runs (and is tested) without Ray; ``RemoteDetector``
is the camera side: it implements the analytics ``Detector`` protocol over an actor handle.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

import numpy as np

from oversight.analytics.detectors import Detector, make_detector
from oversight.analytics.types import Detections
from oversight.config.schema import DetectConfig

log = logging.getLogger(__name__)

Result = tuple[np.ndarray, np.ndarray, tuple[str, ...]]  # xyxy, confidence, labels (plain, picklable)


def _plain(d: Detections) -> Result:
    return d.xyxy, d.confidence, d.labels


def onnx_takes_batches(detector: Any) -> bool:
    """An ONNX detector whose model input has a free (symbolic) batch dimension."""
    session = getattr(detector, "session", None)
    if session is None or getattr(detector, "name", "") != "onnx":
        return False
    dim = session.get_inputs()[0].shape[0]
    return not isinstance(dim, int) or dim > 1


def onnx_detect_batch(detector: Any, frames: list[np.ndarray]) -> list[Detections]:
    """``OnnxDetector.detect`` for many frames in ONE model call: the letterboxed inputs are
    stacked, the output rows decoded per frame exactly as the detector does for one."""
    from oversight.analytics.detectors.coco import COCO_CLASSES
    from oversight.analytics.detectors.onnx import decode

    # preprocess may reuse one input buffer, so each blob is copied out before the next frame
    prepared = [(blob.copy(), lb) for blob, lb in (detector.preprocess(f) for f in frames)]
    t0 = time.process_time()
    raw = detector.session.run(None, {detector.input_name: np.concatenate([b for b, _ in prepared])})[0]
    detector.inference_cpu_s += time.process_time() - t0
    out: list[Detections] = []
    for i, (frame, (_, lb)) in enumerate(zip(frames, prepared, strict=True)):
        xyxy, scores, cids = decode(
            raw[i : i + 1],
            detector.family,
            detector.grid,
            detector.strides,
            detector.class_ids,
            detector.min_confidence,
        )
        if len(scores) == 0:
            out.append(Detections.empty())
            continue
        xyxy = (xyxy - np.asarray([lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y], np.float32)) / lb.ratio
        fh, fw = frame.shape[:2]
        np.clip(xyxy, 0, [fw, fh, fw, fh], out=xyxy)
        labels = tuple(COCO_CLASSES[int(c)] for c in cids)
        out.append(Detections(xyxy.astype(np.float32), scores.astype(np.float32), labels))
    return out


def run_batch(detector: Any, frames: list[np.ndarray]) -> list[Result]:
    """One model call for the batch when the detector or its model allows it, else frame by frame."""
    if len(frames) > 1:
        batch_fn = getattr(detector, "detect_batch", None)
        if callable(batch_fn):
            return [_plain(d) for d in batch_fn(frames)]
        if onnx_takes_batches(detector):
            return [_plain(d) for d in onnx_detect_batch(detector, frames)]
    return [_plain(detector.detect(f)) for f in frames]


class BatchedDetector:
    """The service body: an asyncio queue in front of one detector."""

    def __init__(
        self, detect: dict[str, Any], max_batch: int = 8, max_wait_ms: float = 10.0, detector: Any = None
    ):
        cfg = DetectConfig.model_validate(detect)
        self.detector = detector if detector is not None else make_detector(cfg)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.frames = 0
        self.batches = 0
        self.busy_s = 0.0
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[Result]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def detect(self, frame_bgr: np.ndarray) -> Result:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._batcher())
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put((frame_bgr, fut))
        return await fut

    async def _batcher(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    # take what is already waiting, without waiting further
                    while len(batch) < self.max_batch and not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            t0 = time.perf_counter()
            try:
                results = await loop.run_in_executor(None, run_batch, self.detector, [f for f, _ in batch])
            except Exception as exc:
                log.exception("detector batch failed")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.busy_s += time.perf_counter() - t0
            self.frames += len(batch)
            self.batches += 1
            for (_, fut), res in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(res)

    def node(self) -> str | None:
        """The Ray node this replica runs on (cameras prefer a replica on their own node)."""
        try:
            import ray

            return str(ray.get_runtime_context().get_node_id())
        except Exception:
            return None

    def stats(self) -> dict[str, Any]:
        return {
            "detector": getattr(self.detector, "name", "?"),
            "frames": self.frames,
            "batches": self.batches,
            "mean_batch": round(self.frames / self.batches, 2) if self.batches else 0.0,
            "busy_s": round(self.busy_s, 3),
        }


class RemoteDetector:
    """The analytics ``Detector`` protocol over a detector service actor handle.

    A service that is down (its node died and Ray is restarting it) costs detections for those
    frames, never the camera: ``detect`` returns no boxes and the recorder keeps running."""

    def __init__(self, handle: Any, name: str = "remote", timeout_s: float = 10.0):
        self.handle = handle
        self.name = name
        self.timeout_s = timeout_s
        self.inference_cpu_s = 0.0
        self.failures = 0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        import ray

        try:
            xyxy, conf, labels = ray.get(self.handle.detect.remote(frame_bgr), timeout=self.timeout_s)
        except Exception as exc:
            self.failures += 1
            if self.failures in (1, 10, 100) or self.failures % 1000 == 0:
                log.warning("detector service unavailable (%s failures): %s", self.failures, exc)
            return Detections.empty()
        return Detections(np.asarray(xyxy, np.float32), np.asarray(conf, np.float32), tuple(labels))


def pick_replica(names: list[str], namespace: str | None, node_id: str, camera_id: str) -> Any:
    """A replica on the camera's own node when there is one (frames then never cross the network),
    else any; among candidates a stable hash of the camera id spreads cameras evenly."""
    import ray

    handles: list[Any] = []
    for name in names:
        try:
            handles.append(ray.get_actor(name, namespace=namespace))
        except ValueError:
            continue
    if not handles:
        return None
    try:
        nodes = ray.get([h.node.remote() for h in handles], timeout=3)  # a restarting replica must not
        # hold up the camera's own restart: without an answer, pick by hash
    except Exception:
        nodes = [None] * len(handles)
    local = [h for h, n in zip(handles, nodes, strict=True) if n == node_id]
    candidates = local or handles
    digest = int(hashlib.sha1(camera_id.encode()).hexdigest(), 16)
    return candidates[digest % len(candidates)]


def detector_for(detect: DetectConfig) -> Detector:
    """A local detector for the same settings (used by the unbatched benchmark baseline)."""
    return make_detector(detect)
