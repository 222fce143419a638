"""Timestamp repair, backoff and source parsing: the small parts the worker relies on."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from oversight.cameras.backoff import Backoff
from oversight.cameras.clock import PacketClock
from oversight.cameras.source import Source, SourceError, open_source, parse_source, redact_url


def pkt(pts: int | None, dts: int | None, key: bool = False) -> av.Packet:
    p = av.Packet(b"\x00\x00\x00\x01data")
    p.pts, p.dts = pts, dts
    p.is_keyframe = key
    return p


def test_clock_waits_for_a_keyframe_with_timestamps_then_repairs():
    clock = PacketClock(Fraction(1, 90000), Fraction(10), live=True, start_wall=1000.0)
    assert clock.stamp(pkt(None, None, key=True)) is None  # RTSP's first packet after probing
    assert clock.stamp(pkt(9000, 9000)) is None  # not a keyframe yet
    a = clock.stamp(pkt(18000, 18000, key=True))
    b = clock.stamp(pkt(45000, None))  # missing dts: one frame later
    c = clock.stamp(pkt(27000, 20000))  # dts going backwards: forced forward
    d = clock.stamp(pkt(None, 40000))  # missing pts: = dts
    assert a and b and c and d
    assert (a.dts, b.dts, c.dts, d.dts) == (18000, 27000, 27001, 40000)
    assert all(x.pts >= x.dts for x in (a, b, c, d)) and d.pts == 40000
    assert a.wall == 1000.0 and b.wall == pytest.approx(1000.3)  # anchored at the open, driven by pts


def test_backoff_grows_with_jitter_and_caps():
    b = Backoff(initial=1.0, maximum=8.0, jitter=0.5)
    delays = [b.next_delay() for _ in range(8)]
    for i, d in enumerate(delays):
        base = min(8.0, 2.0**i)
        assert base * 0.5 <= d <= base
    assert max(delays) <= 8.0
    b.reset()
    assert b.next_delay() <= 1.0


def test_parse_source_and_redaction(tmp_path):
    assert parse_source("rtsp://cam/1").kind == "rtsp" and parse_source("RTSPS://cam/1").live
    assert parse_source("https://cam/x.ts").kind == "http"
    f = parse_source(f"file://{tmp_path}/a%20b.mp4")
    assert f.kind == "file" and f.path == tmp_path / "a b.mp4" and not f.live
    assert redact_url("rtsp://admin:pw@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    with pytest.raises(SourceError, match="not found"):
        open_source(Source(str(tmp_path / "missing.mp4"), "file"))
