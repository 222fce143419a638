"""One ONNX Runtime session per model per process: cameras share the loaded model, run it
concurrently from their own threads with the same results, and never oversubscribe the cores."""

from __future__ import annotations

import os
import threading

import av
import numpy as np
import pytest

from conftest import asset
from oversight.analytics.detectors.onnx import OnnxDetector


def frames(n: int) -> list[np.ndarray]:
    out = []
    with av.open(str(asset("video/vtest_480x360_h264.avi"))) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= n:
                break
            out.append(f.to_ndarray(format="bgr24"))
    return out


def test_cameras_share_one_session_but_keep_their_own_settings():
    model = str(asset("models/yolox_nano_416x416.onnx"))
    people = OnnxDetector(model, classes=["person"], min_confidence=0.5)
    cars = OnnxDetector(model, classes=["car"], min_confidence=0.2)
    assert people.session is cars.session and people.shared.users >= 2
    assert people.shared.threads == 1 and people.shared.slots * people.shared.threads <= len(
        os.sched_getaffinity(0)
    )
    img = frames(1)[0]
    assert set(people.detect(img).labels) <= {"person"} and set(cars.detect(img).labels) <= {"car"}
    assert len(people.detect(img)) > 0  # vtest: people walking on the first frame


def test_concurrent_cameras_get_the_same_boxes_as_one_after_another():
    model = str(asset("models/yolox_nano_416x416.onnx"))
    clips = frames(12)
    dets = [OnnxDetector(model, classes=["person"]) for _ in range(4)]
    expected = [dets[0].detect(f) for f in clips]
    got: dict[int, list] = {}

    def camera(i: int) -> None:
        got[i] = [dets[i].detect(f) for f in clips]

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == [0, 1, 2, 3]
    for results in got.values():
        for a, b in zip(expected, results, strict=True):
            assert a.labels == b.labels
            np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    assert all(d.inference_cpu_s > 0 for d in dets)


@pytest.mark.parametrize("threads", [1, 2])
def test_runs_times_threads_fit_the_cores(threads: int):
    model = str(asset("models/yolox_nano_416x416.onnx"))
    d = OnnxDetector(model, classes=["person"], threads=threads)
    assert d.shared.threads == threads
    assert d.shared.slots == max(1, len(os.sched_getaffinity(0)) // threads)
