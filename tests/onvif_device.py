"""A real ONVIF device on loopback for the PTZ tests: the ``ipycam`` virtual camera's own SOAP server
(device, media and PTZ services) and its WS-Discovery responder, without its video encoders."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class VirtualCamera:
    url: str  # the ONVIF device service
    camera: Any  # ipycam.IPCamera: its .ptz.get_status() is the device's own position

    def position(self) -> tuple[float, float, float]:
        st = self.camera.ptz.get_status()
        return (round(st["pan"], 3), round(st["tilt"], 3), round(st["zoom"], 3))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def virtual_onvif_camera(workdir: Path, monkeypatch: Any) -> Iterator[VirtualCamera]:
    """Serve one virtual PTZ camera on 127.0.0.1; its presets file lives in ``workdir``."""
    ipycam = pytest.importorskip("ipycam", reason="the ipycam virtual ONVIF camera is not installed")
    from ipycam.camera import IPCamera, ReusableThreadingTCPServer
    from ipycam.http import IPCameraHTTPHandler

    monkeypatch.chdir(workdir)  # ipycam keeps presets in ./ptz_presets.json
    port = _free_port()
    config = ipycam.CameraConfig(local_ip="127.0.0.1", onvif_port=port, name="Virtual PTZ")
    camera = IPCamera(config)
    IPCameraHTTPHandler.camera = camera
    server = ReusableThreadingTCPServer(("127.0.0.1", port), IPCameraHTTPHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield VirtualCamera(f"http://127.0.0.1:{port}/onvif/device_service", camera)
    finally:
        server.shutdown()
        server.server_close()
        camera.ptz.stop()


@contextmanager
def discovery_responder(device: VirtualCamera) -> Iterator[None]:
    """ipycam's WS-Discovery responder on UDP 3702 (skips when another process holds the port)."""
    from ipycam.camera import WSDiscoveryServer

    try:
        responder = WSDiscoveryServer(device.camera.onvif)
        responder.start()
    except OSError as exc:
        pytest.skip(f"UDP 3702 is not free for the WS-Discovery responder: {exc}")
    try:
        yield
    finally:
        responder.stop()
