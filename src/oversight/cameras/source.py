"""Open a camera stream (RTSP, HTTP(S)) or a video file with PyAV, never hanging on a dead server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

import av
from av.container import InputContainer

Kind = Literal["rtsp", "http", "file"]


class SourceError(Exception):
    """A stream that cannot be opened or read; the message is meant for the camera status."""


@dataclass(frozen=True)
class Source:
    url: str
    kind: Kind

    @property
    def live(self) -> bool:
        return self.kind != "file"

    @property
    def path(self) -> Path:
        if self.url.lower().startswith("file://"):
            return Path(unquote(urlparse(self.url).path))
        return Path(self.url).expanduser()


def parse_source(url: str) -> Source:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("rtsp", "rtsps"):
        return Source(url, "rtsp")
    if scheme in ("http", "https"):
        return Source(url, "http")
    return Source(url, "file")


def open_source(src: Source, open_timeout: float = 10.0, read_timeout: float = 10.0) -> InputContainer:
    """Open ``src`` or raise SourceError with a readable message. RTSP always uses TCP (no UDP loss)."""
    us = str(int(read_timeout * 1_000_000))
    options: dict[str, str] = {}
    target = src.url
    if src.kind == "rtsp":
        # 'timeout' is the socket I/O timeout in µs (FFmpeg >= 5); 'stimeout' is its old name.
        options = {"rtsp_transport": "tcp", "timeout": us, "stimeout": us, "analyzeduration": "1000000"}
    elif src.kind == "http":
        options = {"timeout": us, "rw_timeout": us}
    else:
        p = src.path
        if not p.is_file():
            raise SourceError(f"video file not found: {p}")
        target = str(p)
    try:
        container = av.open(target, options=options, timeout=(open_timeout, read_timeout))
    except av.error.FFmpegError as exc:
        detail = str(exc).replace(src.url, redact_url(src.url))
        raise SourceError(f"cannot open {redact_url(src.url)}: {detail}") from exc
    if not container.streams.video:
        container.close()
        raise SourceError(f"no video stream in {redact_url(src.url)}")
    if src.kind == "file":
        try:
            check_file_complete(target)
        except SourceError:
            container.close()
            raise
    return container


def check_file_complete(path: str) -> None:
    """Raise SourceError for a file whose index promises media that is not there (a cut-off copy).

    A truncated MP4 with its index up front opens fine and plays until the data stops; we would
    only notice at the end. Seeking near the end and reading one packet finds it at once.
    """
    with av.open(path) as c:
        st = c.streams.video[0]
        if not c.duration or c.duration <= 0:
            return
        target = int(c.duration * 0.95)
        try:
            c.seek(target, backward=True)
            got = next((p for p in c.demux(st) if p.size), None)
        except (av.error.FFmpegError, StopIteration):
            got = None
        if got is None:
            total = c.duration / 1_000_000
            raise SourceError(
                f"damaged or truncated video file {path}: its index lists {total:.1f} s but the media data "
                "ends early"
            )


def redact_url(url: str) -> str:
    """The URL without its password, for status and logs."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = f"{parsed.username}:***@{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")
        return parsed._replace(netloc=netloc).geturl()
    return url
