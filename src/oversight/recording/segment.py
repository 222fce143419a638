"""Write one MP4 segment by packet copy (remux, never re-encode).

Fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``): browsers play it through a plain
``<video src>`` or MSE, and the file needs no rewrite pass at the end (unlike faststart).
"""

from __future__ import annotations

from pathlib import Path

import av
from av.container import OutputContainer
from av.video.stream import VideoStream

from oversight.recording.packet import RecPacket

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
RECORDABLE_CODECS = {"h264", "hevc"}
TRANSCODABLE_CODECS = {"mjpeg", "mpeg4", "h263", "mpeg2video", "mpeg1video"}  # with transcode: true


class UnsupportedCodec(Exception):
    pass


def stream_codec(url: str) -> str | None:
    """The video codec of a local file source (None for network sources or unreadable files)."""
    path = url[7:] if url.startswith("file://") else (None if "://" in url else url)
    if path is None or not Path(path).expanduser().is_file():
        return None
    try:
        with av.open(str(Path(path).expanduser())) as c:
            return str(c.streams.video[0].codec_context.name)
    except (av.error.FFmpegError, IndexError, OSError):
        return None


def recording_note(url: str, transcode: bool) -> str | None:
    """What check-config and the demo tell a user about recording this stream; None when plainly fine."""
    codec = stream_codec(url)
    if codec is None:
        low = url.lower()
        if "mjpg" in low or "mjpeg" in low:
            codec = "mjpeg"  # an MJPEG camera's URL, by the usual naming
        else:
            return None
    if codec in RECORDABLE_CODECS:
        return None
    if transcode and codec in TRANSCODABLE_CODECS:
        return f"record stream is {codec}: transcoded to H.264 for recording (costs CPU)"
    try:
        check_recordable(codec, transcode)
    except UnsupportedCodec as exc:
        return f"WILL NOT BE RECORDED: {exc}"
    return None


def check_recordable(codec_name: str, transcode: bool = False) -> None:
    if codec_name in RECORDABLE_CODECS or (transcode and codec_name in TRANSCODABLE_CODECS):
        return
    hint = (
        "set the camera's transcode: true to record it as H.264 (costs CPU), or switch its record stream "
        "to H.264 or H.265"
        if codec_name in TRANSCODABLE_CODECS
        else "set the camera's record stream to H.264 or H.265"
    )
    raise UnsupportedCodec(
        f"codec '{codec_name}' cannot be recorded without re-encoding"
        f" (browsers play H.264/H.265 in MP4); {hint}"
    )


class SegmentWriter:
    """Muxes RecPackets into ``path``; timestamps are rebased so the segment starts at 0."""

    def __init__(self, path: Path, template: VideoStream):
        check_recordable(template.codec_context.name)
        self.path = path
        self.out: OutputContainer = av.open(str(path), "w", format="mp4", options={"movflags": MOVFLAGS})
        self.stream = self.out.add_stream_from_template(template)
        if template.codec_context.name == "hevc":
            self.stream.codec_tag = "hvc1"  # the tag Safari/Chrome expect for HEVC in MP4
        self.offset: int | None = None
        self.packets = 0
        self.closed = False

    def write(self, p: RecPacket) -> None:
        if self.offset is None:
            self.offset = p.dts
        pkt = av.Packet(p.data)
        pkt.pts = p.pts - self.offset
        pkt.dts = p.dts - self.offset
        pkt.duration = p.duration
        pkt.time_base = p.time_base
        pkt.is_keyframe = p.keyframe
        pkt.stream = self.stream
        self.out.mux(pkt)
        self.packets += 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.out.close()


def verify_segment(path: Path, expected_packets: int) -> str | None:
    """Why the finished file at ``path`` is not a whole, decodable segment, or None when it is:
    every packet written can be read back and its first frame decodes. A disk that filled while
    writing leaves a file that passes neither check. The decoder is drained at the end: with
    B-frames it returns nothing for the first packets, and a segment closed after one or two (a
    camera stopped) would otherwise fail."""
    try:
        with av.open(str(path)) as inp:
            stream = inp.streams.video[0]
            frames = 0
            packets = 0
            for pkt in inp.demux(stream):
                if not pkt.size:
                    continue
                packets += 1
                if frames == 0:
                    frames += len(pkt.decode())
            if frames == 0 and packets > 0:  # a stream with B-frames holds its first frames back
                frames += len(stream.codec_context.decode(None))
    except (av.FFmpegError, OSError, IndexError) as exc:
        return f"unreadable: {exc}"
    if packets != expected_packets:
        return f"{packets} of {expected_packets} packets readable"
    if frames == 0 and packets > 0:
        return "no frame decodes"
    return None
