"""Camera security audit: NDAA §889 vendors, plain-text/default credentials, transport, ONVIF info."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from oversight.config.schema import SiteConfig
from oversight.privacy.camera_audit import audit_camera, audit_site, format_audit, ndaa_entity, site_findings

ONVIF_REPLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><SOAP-ENV:Body><tds:GetDeviceInformationResponse>
<tds:Manufacturer>Dahua</tds:Manufacturer><tds:Model>IPC-HFW2431S</tds:Model>
<tds:FirmwareVersion>2.800.0000000.25.R</tds:FirmwareVersion><tds:SerialNumber>X</tds:SerialNumber>
<tds:HardwareId>1.00</tds:HardwareId></tds:GetDeviceInformationResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"""


@pytest.fixture
def onvif_stub():  # type: ignore[no-untyped-def]
    seen: list[dict[str, Any]] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({"headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Type", "application/soap+xml")
            self.end_headers()
            self.wfile.write(ONVIF_REPLY)

        def log_message(self, *a: Any) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/onvif/device_service", seen
    srv.shutdown()


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _cfg(onvif: str | None = None) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"mqtt": {"host": "10.1.1.1", "password": "secret"}},
            "cameras": [
                {
                    "id": "hik",
                    "purpose": "entrance safety",
                    "manufacturer": "Hangzhou Hikvision Digital Technology",
                    "streams": {"record": "rtsp://admin:12345@192.168.1.10:554/Streaming/Channels/101"},
                },
                {
                    "id": "axis",
                    "purpose": "square safety",
                    "manufacturer": "Axis",
                    "model": "P1455-LE",
                    "location": {"address": "Main square"},
                    "streams": {"record": "rtsps://cams.example.internal/axis"},
                },
                {
                    "id": "ezviz",
                    "purpose": "park",
                    "manufacturer": "EZVIZ",
                    "streams": {"record": "rtsp://8.8.8.8/live"},
                },
                {
                    "id": "lorex",
                    "purpose": "lot",
                    "manufacturer": "Lorex",
                    "streams": {"record": "rtsp://u:longerpassword1@10.0.0.9/x"},
                },
                {
                    "id": "onv",
                    "purpose": "station",
                    "onvif": onvif,
                    "streams": {"record": "rtsp://10.0.0.7/live"},
                },
            ],
        }
    )


def test_vendor_list() -> None:
    assert ndaa_entity("HIKVISION") == "Hikvision" and ndaa_entity("Zhejiang Dahua Technology") == "Dahua"
    assert (
        ndaa_entity("EZVIZ") == "Hikvision" and ndaa_entity("Imou") == "Dahua" and ndaa_entity("ZTE") == "ZTE"
    )
    assert ndaa_entity("Hytera") == "Hytera" and ndaa_entity("Huawei") == "Huawei"
    assert ndaa_entity("Axis Communications") is None and ndaa_entity("Hanwha Vision") is None
    assert ndaa_entity("Aztec") is None  # a word containing "zte" is not ZTE
    assert ndaa_entity(None) is None


def test_findings_from_config() -> None:
    res = {r.camera_id: r for r in audit_site(_cfg(), use_onvif=False)}
    codes = {k: {f.code for f in r.findings} for k, r in res.items()}
    assert res["hik"].ndaa_covered == "Hikvision" and res["hik"].worst == "high"
    assert {"ndaa_889", "plaintext_credentials", "default_credentials", "unencrypted_transport"} <= codes[
        "hik"
    ]
    assert res["axis"].ndaa_covered is None
    assert not codes["axis"] & {
        "ndaa_889",
        "plaintext_credentials",
        "unencrypted_transport",
        "public_address",
    }
    assert "public_address" in codes["ezviz"] and res["ezviz"].ndaa_covered == "Hikvision"
    assert "ndaa_review" in codes["lorex"] and "default_credentials" not in codes["lorex"]
    assert "unknown_manufacturer" in codes["onv"]
    site_codes = {f.code for f in site_findings(_cfg())}
    assert {"plaintext_credentials", "unencrypted_transport"} <= site_codes
    text = format_audit(list(res.values()), site_findings(_cfg()))
    assert "COVERED (Hikvision)" in text and "12345" not in text  # never echoes the password


def test_onvif_device_information_without_credentials(onvif_stub) -> None:  # type: ignore[no-untyped-def]
    url, seen = onvif_stub
    cam = _cfg(url).camera("onv")
    r = audit_camera(cam, timeout=2)
    assert r.info_source == "onvif" and r.manufacturer == "Dahua" and r.model == "IPC-HFW2431S"
    assert r.ndaa_covered == "Dahua" and r.firmware == "2.800.0000000.25.R"
    assert len(seen) == 1 and b"GetDeviceInformation" in seen[0]["body"]
    assert not any(k.lower() == "authorization" for k in seen[0]["headers"])  # never tries passwords


def test_unreachable_onvif_falls_back_to_config() -> None:
    cam = _cfg(f"http://127.0.0.1:{_free_port()}/onvif/device_service").camera("onv")
    r = audit_camera(cam, timeout=0.5)
    assert r.info_source == "unknown"
    assert any(f.code == "onvif_unavailable" for f in r.findings)
