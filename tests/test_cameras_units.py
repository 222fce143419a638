"""Timestamp repair, backoff and source parsing: the small parts the worker relies on."""

from __future__ import annotations

import threading
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


@pytest.mark.parametrize(
    ("live", "restamped", "step_s"),
    [(False, "frames", 0.1), (True, "arrival", 0.25)],  # files: one frame at 10 fps; live: arrival gap
)
def test_clock_restamps_a_source_whose_pts_never_advance(live: bool, restamped: str, step_s: float):
    clock = PacketClock(Fraction(1, 90000), Fraction(10), live=live, start_wall=1000.0)
    stamped = [clock.stamp(pkt(0, 0, key=i == 0), now=2000.0 + i * 0.25) for i in range(40)]
    assert all(s is not None for s in stamped)
    walls = [s.wall for s in stamped if s is not None]
    assert clock.restamped == restamped and clock.note and restamped.replace("frames", "frame") in clock.note
    # after the switch, time advances by a frame (files) or by the arrival gap (live), not one tick
    assert walls[-1] - walls[-2] == pytest.approx(step_s)
    assert walls[-1] - walls[0] >= 30 * step_s
    assert all(b.dts > a.dts for a, b in zip(stamped, stamped[1:], strict=False))  # type: ignore[union-attr]


def test_clock_keeps_good_timestamps_and_starts_untimed_files_at_once():
    good = PacketClock(Fraction(1, 90000), Fraction(10), live=False)
    for i in range(40):
        good.stamp(pkt(i * 9000, i * 9000, key=i == 0))
    assert good.restamped is None and good.note is None and good.repaired == 0
    untimed = PacketClock(Fraction(1, 90000), Fraction(10), live=False)
    assert untimed.stamp(pkt(None, None, key=True)) is not None  # a raw stream: nothing to wait for
    assert untimed.restamped == "frames"


def test_live_clock_waits_one_untimed_keyframe_then_stamps_by_arrival():
    clock = PacketClock(Fraction(1, 90000), Fraction(10), live=True, start_wall=1000.0)
    assert clock.stamp(pkt(None, None, key=True), now=1000.0) is None  # RTSP probing: maybe the next has one
    a = clock.stamp(pkt(None, None, key=True), now=1001.0)
    b = clock.stamp(pkt(None, None), now=1001.5)
    assert a is not None and b is not None and clock.restamped == "arrival"
    assert b.wall - a.wall == pytest.approx(0.5) and b.dts > a.dts


def test_the_packet_meter_is_read_while_the_ingest_thread_adds() -> None:
    """Status readers (web, health check) and the ingest thread share the meter: reading while
    packets arrive never raises (it did: "deque mutated during iteration", in the 16-camera soak)."""
    from oversight.cameras.worker import _Meter

    meter, stop, errors = _Meter(window=0.05), threading.Event(), []

    def ingest() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            meter.add(1000, n * 1e-4)

    writer = threading.Thread(target=ingest, daemon=True)
    writer.start()
    try:
        for i in range(20_000):
            try:
                meter.rates(i * 1e-4)
            except (RuntimeError, IndexError) as exc:
                errors.append(exc)
                break
    finally:
        stop.set()
        writer.join()
    assert not errors, errors
