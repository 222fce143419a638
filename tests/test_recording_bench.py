"""The recording benchmark measures the real recording path against a demux-only floor."""

from __future__ import annotations

from conftest import asset
from oversight.bench.recording import measure_recording


def test_measure_recording_reports_cpu_against_demux_floor():
    clip = asset("video/car-detection.mp4")  # 30.2 s: the 45 s run loops it
    r = measure_recording(clip, 45, segment_seconds=5)
    assert r["codec"] == "h264" and r["media_seconds"] == 45
    assert 550 <= r["packets"] <= 570  # 45 s at 12.5 fps
    assert r["segments"] >= 6
    assert r["record_cpu_s"] > 0 and r["demux_cpu_s"] >= 0
    assert r["record_core_fraction_per_4mbps"] > 0
    assert r["record_overhead_vs_demux"] is None or r["record_overhead_vs_demux"] > 0
    # packet copy: the segments hold about the bytes that were demuxed (plus MP4 boxes)
    demuxed = r["bitrate_mbps"] * 1e6 / 8 * 45
    assert 0.95 * demuxed <= r["segment_bytes"] <= 1.15 * demuxed
