"""ONVIF pan-tilt-zoom and discovery: the one place Oversight speaks SOAP to steer a camera.

``PtzCamera`` wraps ``onvif-zeep-async`` (zeep over the ONVIF WSDLs) for one camera's first media
profile: continuous move, stop, presets, home. It knows whether the camera is at its home position
(its home preset when one is configured, else the device's home) from the commands it sent: the
web layer passes that to the camera's analytics (zones and lines are drawn on the home picture, so
analytics pause while the camera looks elsewhere). These objects live on the web server's event
loop and are used from it only. ``discover`` finds ONVIF devices with a WS-Discovery probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - answers parsed without DTDs or entities
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from onvif import ONVIFCamera
from zeep import Plugin

# An answer naming a prefix its envelope never declares (``<ptz:PresetToken>`` in some cameras and
# in the ipycam virtual camera) is read by lxml as a literal tag; give it the namespace it means.
_PREFIXES = {
    "ptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
}


class _UndeclaredPrefixes(Plugin):
    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> tuple[Any, Any]:
        for el in envelope.iter():
            if isinstance(el.tag, str) and ":" in el.tag and not el.tag.startswith("{"):
                prefix, local = el.tag.split(":", 1)
                if prefix in _PREFIXES:
                    el.tag = f"{{{_PREFIXES[prefix]}}}{local}"
        return envelope, http_headers


class PtzError(Exception):
    """The camera refused or could not be reached; the message is fit for the operator."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def of(cls, url: str) -> Endpoint:
        p = urlsplit(url)
        if p.scheme not in ("http", "https") or not p.hostname:
            raise PtzError("the camera's ONVIF address must be http(s)://host[:port]/…")
        port = p.port or (443 if p.scheme == "https" else 80)
        return cls(p.hostname, port, p.username or "", p.password or "")


def _velocity(v: float) -> float:
    return max(-1.0, min(1.0, float(v)))


@dataclass
class PtzCamera:
    """One PTZ camera over ONVIF; create with ``await PtzCamera.connect(...)``."""

    camera_id: str
    home_preset: str | None
    at_home: bool = True  # assumed until moved: a camera is mounted pointing at its zones
    _cam: Any = None
    _ptz: Any = None
    _profile: str = ""
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    async def connect(cls, camera_id: str, url: str, home_preset: str | None = None) -> PtzCamera:
        ep = Endpoint.of(url)
        self = cls(camera_id, home_preset)
        try:
            self._cam = ONVIFCamera(ep.host, ep.port, ep.user, ep.password)
            await self._cam.update_xaddrs()
            media = await self._cam.create_media_service()
            profiles = await media.GetProfiles()
            with_ptz = [p for p in profiles if getattr(p, "PTZConfiguration", None) is not None]
            if not with_ptz:
                raise PtzError("the camera has no PTZ profile (not a pan-tilt-zoom camera?)")
            self._profile = with_ptz[0].token
            self._ptz = await self._cam.create_ptz_service()
            self._ptz.zeep_client.plugins.append(_UndeclaredPrefixes())
        except PtzError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise PtzError(f"cannot reach the camera over ONVIF: {type(exc).__name__}: {exc}") from None
        return self

    async def _call(self, op: str, **args: Any) -> Any:
        async with self._lock:
            try:
                return await getattr(self._ptz, op)({"ProfileToken": self._profile, **args})
            except Exception as exc:
                raise PtzError(f"the camera refused {op}: {type(exc).__name__}: {exc}") from None

    async def move(self, pan: float, tilt: float, zoom: float) -> None:
        """Continuous move at the given speeds (-1..1); the camera leaves home."""
        velocity = {"PanTilt": {"x": _velocity(pan), "y": _velocity(tilt)}, "Zoom": {"x": _velocity(zoom)}}
        self.at_home = False
        await self._call("ContinuousMove", Velocity=velocity)

    async def stop(self) -> None:
        await self._call("Stop", PanTilt=True, Zoom=True)

    async def presets(self) -> list[dict[str, str]]:
        found = await self._call("GetPresets") or []
        return [{"token": str(p.token), "name": str(p.Name or p.token)} for p in found]

    async def goto_preset(self, token: str) -> None:
        await self._call("GotoPreset", PresetToken=token)
        self.at_home = token == self.home_preset

    async def save_preset(self, name: str) -> str:
        return str(await self._call("SetPreset", PresetName=name))

    async def home(self) -> None:
        if self.home_preset:
            await self._call("GotoPreset", PresetToken=self.home_preset)
        else:
            await self._call("GotoHomePosition")
        self.at_home = True

    async def position(self) -> dict[str, float] | None:
        """Where the camera reports it points (pan, tilt, zoom), or None when it will not say."""
        try:
            st = await self._call("GetStatus")
            pos = st.Position
            return {"pan": float(pos.PanTilt.x), "tilt": float(pos.PanTilt.y), "zoom": float(pos.Zoom.x)}
        except (PtzError, AttributeError, TypeError, ValueError):
            return None

    async def close(self) -> None:
        if self._cam is not None:
            with contextlib.suppress(Exception):  # closing a half-open connection: nothing to report
                await self._cam.close()
            self._cam = None


@dataclass(frozen=True)
class Discovered:
    address: str  # the device service URL (XAddr)
    scopes: list[str]
    types: list[str]


PROBE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
    "<a:MessageID>urn:uuid:{id}</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
    "</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"
)
WSD_GROUP, WSD_PORT = "239.255.255.250", 3702


def _matches(data: bytes) -> list[Discovered]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return []
    found = []
    for match in root.iter("{http://schemas.xmlsoap.org/ws/2005/04/discovery}ProbeMatch"):

        def text(tag: str, m: Any = match) -> list[str]:
            el = m.find(f"{{http://schemas.xmlsoap.org/ws/2005/04/discovery}}{tag}")
            return (el.text or "").split() if el is not None else []

        found += [
            Discovered(x, text("Scopes"), text("Types")) for x in text("XAddrs") if x.startswith("http")
        ]
    return found


def discover(timeout: float = 3.0, address: str | None = None) -> list[Discovered]:
    """ONVIF devices answering a WS-Discovery probe (blocking): multicast on the local network, or
    a directed probe to ``address`` (UDP 3702) for a device on another subnet. One socket sends the
    probe and reads the ProbeMatches (``wsdiscovery`` never reads the answers to a directed probe)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    found: dict[str, Discovered] = {}
    try:
        sock.bind(("", 0))
        sock.sendto(PROBE.format(id=uuid.uuid4()).encode(), (address or WSD_GROUP, WSD_PORT))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(65536)
            except TimeoutError:
                break
            for d in _matches(data):
                found.setdefault(d.address, d)
    except OSError as exc:
        raise PtzError(f"WS-Discovery probe failed: {exc.strerror or exc}") from None
    finally:
        sock.close()
    return sorted(found.values(), key=lambda d: d.address)
