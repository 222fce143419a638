"""How much CPU does packet-copy recording cost? Compared with demuxing alone, in the same run.

``measure_recording(video, seconds)`` reads ``seconds`` of media from a file (looping it if it
is shorter) twice: once demux only (the floor: what any reader pays), once through the real
recording path (timestamp repair, packet copy, fragmented MP4 segments, fsync + rename). CPU is
``time.process_time`` (user + system, all threads), reported as a fraction of one core per
second of media and normalised to a 4 Mbit/s stream, the usual 1080p camera main stream.

    python -m oversight.bench.recording clip.mp4 --seconds 120
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from oversight.cameras.clock import PacketClock
from oversight.recording.segment import SegmentWriter
from oversight.recording.storage import LocalStorage

REFERENCE_BPS = 4_000_000


def _packets(path: Path, seconds: float) -> Iterator[tuple[av.Packet, Any]]:
    """Packets covering ``seconds`` of media, reopening the file as often as needed.

    Media time comes from the same clock repair the recorder uses, so a file whose packets carry
    no usable timestamps (all pts 0) is counted by frames at its nominal rate instead of looping
    forever at one tick per packet."""
    done = 0.0
    while done < seconds:
        with av.open(str(path)) as c:
            st = c.streams.video[0]
            tb = st.time_base or Fraction(1, 90000)
            clock = PacketClock(tb, st.average_rate or st.guessed_rate, live=False, start_wall=0.0)
            last = 0.0
            for p in c.demux(st):
                if not p.size:
                    continue
                stamped = clock.stamp(p, now=0.0)
                if stamped is None:
                    continue
                last = clock.wall_of(stamped.dts) + stamped.duration_s
                if done + last >= seconds:
                    return
                yield p, st
            if not clock.started:
                raise ValueError(f"no video packets in {path}")
            done += max(last, 0.001)


def measure_recording(
    video_path: str | Path, seconds: float = 60.0, segment_seconds: float = 10.0
) -> dict[str, Any]:
    path = Path(video_path)
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        codec, width, height = st.codec_context.name, st.codec_context.width, st.codec_context.height

    # floor: demux alone
    t0 = time.process_time()
    n_bytes = n_pkts = 0
    for p, _ in _packets(path, seconds):
        n_bytes += p.size
        n_pkts += 1
    demux_cpu = time.process_time() - t0

    # the recording path
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        storage = LocalStorage(tmp)
        t0 = time.process_time()
        wall0 = time.perf_counter()
        clock: PacketClock | None = None
        stream_seen: Any = None
        writer: SegmentWriter | None = None
        final: Path | None = None
        seg_start = 0.0
        segments = out_bytes = 0

        def close() -> None:
            nonlocal writer, segments, out_bytes
            if writer is not None and final is not None:
                writer.close()
                out_bytes += storage.commit(writer.path, final)
                segments += 1
            writer = None

        for p, stream in _packets(path, seconds):
            if stream is not stream_seen:  # a new pass over the file: new stream, new clock
                close()
                stream_seen = stream
                clock = PacketClock(stream.time_base or Fraction(1, 90000), stream.average_rate, live=False)
            assert clock is not None
            rp = clock.stamp(p)
            if rp is None:
                continue
            if writer is None or (rp.keyframe and rp.wall - seg_start >= segment_seconds):
                if writer is None and not rp.keyframe:
                    continue
                close()
                seg_start = rp.wall
                final = storage.new_segment_path("bench", datetime.fromtimestamp(rp.wall, UTC))
                writer = SegmentWriter(storage.partial_path(final), stream)
            writer.write(rp)
        close()
        record_cpu = time.process_time() - t0
        record_wall = time.perf_counter() - wall0

    bitrate = n_bytes * 8 / seconds
    scale = REFERENCE_BPS / bitrate if bitrate else 0.0
    return {
        "video": str(path),
        "codec": codec,
        "resolution": f"{width}x{height}",
        "media_seconds": seconds,
        "packets": n_pkts,
        "bitrate_mbps": round(bitrate / 1e6, 3),
        "segments": segments,
        "segment_bytes": out_bytes,
        "demux_cpu_s": round(demux_cpu, 4),
        "record_cpu_s": round(record_cpu, 4),
        "record_wall_s": round(record_wall, 4),
        "floor_demux_core_fraction_per_4mbps": round(demux_cpu / seconds * scale, 5),
        "record_core_fraction_per_4mbps": round(record_cpu / seconds * scale, 5),
        "record_overhead_vs_demux": round(record_cpu / demux_cpu, 2) if demux_cpu > 0 else None,
        "cameras_per_core_at_4mbps": round(seconds / (record_cpu * scale), 1) if record_cpu > 0 else None,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args(argv)
    print(json.dumps(measure_recording(args.video, args.seconds), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
