"""A real RTSP server for tests, run with the SYSTEM python (``/usr/bin/python3``), which has
GStreamer's ``GstRtspServer`` bindings (the project venv does not).

    /usr/bin/python3 tests/rtsp_server.py --port 0 --source /path/clip.mp4
    /usr/bin/python3 tests/rtsp_server.py --port 0 --source test

It prints ``READY <port>`` on stdout once it listens on 127.0.0.1 and serves ``/stream`` until killed.
A file source is played at its own frame rate (the RTSP server paces to the clock) from the start for
every new client; ``test`` is an endless generated H.264 stream (videotestsrc + openh264enc).
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PAY = "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1"


def launch_line(source: str, fps: int, gop: int) -> str:
    if source == "test":
        return (
            f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate={fps}/1 "
            f"! videoconvert ! openh264enc gop-size={gop} complexity=low ! {PAY} )"
        )
    demux = "avidemux" if source.lower().endswith(".avi") else "qtdemux"
    return f'( filesrc location="{source}" ! {demux} ! {PAY} )'


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--source", default="test", help="a video file (.mp4/.avi with H.264) or 'test'")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--gop", type=int, default=10)
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.source, args.fps, args.gop))
    factory.set_shared(False)
    server.get_mount_points().add_factory("/stream", factory)
    if server.attach(None) == 0:
        print(f"FAILED to listen on port {args.port}", flush=True)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)

    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    signal.signal(signal.SIGINT, lambda *_: loop.quit())
    GLib.timeout_add(200, lambda: True)  # let Python signal handlers run
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
