"""Camera security and supply-chain check (``oversight cameras audit``).

Per camera: manufacturer and model (ONVIF ``GetDeviceInformation`` where ``onvif`` is set and
answers within a short timeout, else the config), whether the manufacturer is covered by US NDAA
FY2019 §889, plain-text or default-looking credentials in the config, unencrypted transport and
other things a security reviewer would flag. It NEVER tries passwords: credentials are only read
from the config and compared with a list of well-known defaults, offline.

Covered-vendor list (sources: Pub. L. 115-232 §889(f)(3); FAR 52.204-25; the FCC "Covered List"
under the Secure Networks Act, which names the same five firms "and their subsidiaries and
affiliates"). Subsidiaries and brands below are from the companies' own filings and trade press;
Lorex was owned by Dahua from 2018 until its sale to SkyWatch in 2023, so older Lorex devices are
flagged for review rather than as covered. OEM relabels (e.g. products sold under other names but
made by Hikvision or Dahua) cannot be detected from a name: check the ONVIF firmware/hardware ids.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from oversight.config.schema import CameraConfig, SiteConfig

# canonical covered entity -> name fragments (lower case) of it and its subsidiaries/brands
NDAA_889: dict[str, tuple[str, ...]] = {
    "Hikvision": (
        "hikvision",
        "hik vision",
        "ezviz",
        "hilook",
        "hiwatch",
        "hikmicro",
        "pyronix",
        "prama hikvision",
    ),
    "Dahua": ("dahua", "imou", "lechange", "dahua technology"),
    "Huawei": ("huawei", "hisilicon"),
    "ZTE": ("zte",),
    "Hytera": ("hytera", "sepura", "norsat"),
}
REVIEW_BRANDS: dict[str, str] = {
    "lorex": "Lorex was a Dahua subsidiary from 2018 to 2023; devices from that period are Dahua-made",
    "amcrest": "Amcrest sells relabelled Dahua hardware (OEM); not a subsidiary, check the firmware",
}
DEFAULT_USERS = {
    "admin",
    "root",
    "user",
    "guest",
    "service",
    "supervisor",
    "ubnt",
    "888888",
    "666666",
    "default",
}
DEFAULT_PASSWORDS = {
    "",
    "admin",
    "12345",
    "123456",
    "1234",
    "password",
    "pass",
    "888888",
    "666666",
    "ubnt",
    "root",
    "9999",
    "4321",
    "1111",
    "111111",
    "system",
    "meinsm",
    "jvc",
    "vizxv",
    "default",
    "camera",
    "admin123",
    "admin1234",
    "12345678",
}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


@dataclass
class Finding:
    severity: str  # high | medium | low | info
    code: str
    message: str


@dataclass
class CameraAudit:
    camera_id: str
    name: str
    manufacturer: str | None
    model: str | None
    firmware: str | None = None
    info_source: str = "config"  # onvif | config | unknown
    ndaa_covered: str | None = None  # the covered entity, or None
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def worst(self) -> str:
        return min((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__, default="none")


def ndaa_entity(manufacturer: str | None) -> str | None:
    name = (manufacturer or "").lower()
    for entity, fragments in NDAA_889.items():
        if any(re.search(rf"\b{re.escape(f)}\b", name) for f in fragments):
            return entity
    return None


SOAP_GET_DEVICE_INFO = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    '<s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
)


def onvif_device_info(url: str, timeout: float = 2.0) -> dict[str, str]:
    """GetDeviceInformation without credentials. Raises OSError/ValueError when unreachable or refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("ONVIF URL must be http(s)")
    clean = url.replace(f"{parts.username}:{parts.password}@", "") if parts.username else url
    req = urllib.request.Request(
        clean,
        data=SOAP_GET_DEVICE_INFO.encode(),
        headers={
            "Content-Type": 'application/soap+xml; charset=utf-8; action="http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation"'
        },
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured device URL
        body = resp.read(65536)
    root = ET.fromstring(body)
    out: dict[str, str] = {}
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber", "HardwareId") and el.text:
            out[tag] = el.text.strip()
    if not out:
        raise ValueError("no device information in the ONVIF answer")
    return out


def _url_findings(label: str, url: str, findings: list[Finding]) -> None:
    if "://" not in url:
        findings.append(Finding("info", "local_file", f"{label}: a local file, not a network camera"))
        return
    p = urlsplit(url)
    scheme = p.scheme.lower()
    if scheme in ("rtsp", "http"):
        findings.append(
            Finding(
                "medium",
                "unencrypted_transport",
                f"{label}: {scheme}:// sends video (and Digest/Basic auth) unencrypted; "
                f"use {scheme}s:// or keep cameras on an isolated VLAN",
            )
        )
    if p.password is not None or p.username is not None:
        findings.append(
            Finding(
                "high",
                "plaintext_credentials",
                f"{label}: user name and password are written in plain text in the config URL; "
                "use a secret store or environment substitution",
            )
        )
        user, pw = unquote(p.username or ""), unquote(p.password or "")
        if user.lower() in DEFAULT_USERS and pw.lower() in DEFAULT_PASSWORDS:
            findings.append(
                Finding(
                    "high",
                    "default_credentials",
                    f"{label}: credentials look like a factory default ('{user}' with a well-known "
                    "password); change them on the camera (not tested, only compared offline)",
                )
            )
        elif len(pw) < 10:
            findings.append(
                Finding("medium", "weak_password", f"{label}: the password is shorter than 10 characters")
            )
    host = p.hostname or ""
    try:
        ip = ipaddress.ip_address(host)
        if ip.is_global:
            findings.append(
                Finding(
                    "high",
                    "public_address",
                    f"{label}: the camera is addressed on a public IP ({host}); cameras belong on a "
                    "private, isolated network",
                )
            )
    except ValueError:
        pass


def _device_findings(cam: CameraConfig, res: CameraAudit, timeout: float) -> None:
    """What the device itself says over ONVIF (manufacturer, model, firmware), against the config."""
    assert cam.onvif is not None
    f = res.findings
    try:
        info = onvif_device_info(cam.onvif, timeout)
        res.manufacturer = info.get("Manufacturer") or res.manufacturer
        res.model = info.get("Model") or res.model
        res.firmware = info.get("FirmwareVersion")
        res.info_source = "onvif"
        if (
            cam.manufacturer
            and info.get("Manufacturer")
            and cam.manufacturer.lower() not in info["Manufacturer"].lower()
            and info["Manufacturer"].lower() not in cam.manufacturer.lower()
        ):
            f.append(
                Finding(
                    "medium",
                    "manufacturer_mismatch",
                    f"config says '{cam.manufacturer}' but the device reports '{info['Manufacturer']}'",
                )
            )
    except Exception as exc:  # unreachable, 401, not ONVIF: fall back to the config
        f.append(Finding("info", "onvif_unavailable", f"ONVIF device information not available ({exc})"))
    _url_findings("onvif", cam.onvif, f)


def _supply_chain_findings(res: CameraAudit) -> None:
    f = res.findings
    if not res.manufacturer:
        res.info_source = "unknown"
        f.append(
            Finding(
                "low",
                "unknown_manufacturer",
                "manufacturer unknown: supply-chain risk cannot be assessed; set 'manufacturer' or 'onvif'",
            )
        )
    res.ndaa_covered = ndaa_entity(res.manufacturer)
    if res.ndaa_covered:
        f.append(
            Finding(
                "high",
                "ndaa_889",
                f"{res.manufacturer} is covered by US NDAA FY2019 §889 ({res.ndaa_covered} or a subsidiary): "
                "US federal agencies and grantees may not buy it; plan a replacement",
            )
        )
    else:
        for brand, why in REVIEW_BRANDS.items():
            if brand in (res.manufacturer or "").lower():
                f.append(Finding("medium", "ndaa_review", why))


def audit_camera(cam: CameraConfig, use_onvif: bool = True, timeout: float = 2.0) -> CameraAudit:
    res = CameraAudit(cam.id, cam.display_name, cam.manufacturer, cam.model)
    f = res.findings
    if cam.onvif and use_onvif:
        _device_findings(cam, res, timeout)
    _supply_chain_findings(res)
    _url_findings("record stream", cam.streams.record, f)
    if cam.streams.detect and cam.streams.detect != cam.streams.record:
        _url_findings("detect stream", cam.streams.detect, f)
    if not cam.redaction.faces:
        f.append(Finding("high", "redaction_off", "face redaction is switched off for this camera"))
    if cam.record.retention_days > 31:
        f.append(
            Finding(
                "medium",
                "long_retention",
                f"footage is kept {cam.record.retention_days:g} days; most guidance expects days, not months",
            )
        )
    if not cam.location or not (cam.location.address or cam.location.lat is not None):
        f.append(Finding("low", "no_location", "no location: the public cannot be told where this camera is"))
    f.sort(key=lambda x: SEVERITY_ORDER[x.severity])
    return res


def site_findings(cfg: SiteConfig) -> list[Finding]:
    out: list[Finding] = []
    mqtt = cfg.site.mqtt
    if mqtt is not None and mqtt.password:
        out.append(
            Finding(
                "high", "plaintext_credentials", "site.mqtt.password is stored in plain text in the config"
            )
        )
    if mqtt is not None and mqtt.host not in ("127.0.0.1", "localhost", "::1"):
        out.append(Finding("medium", "unencrypted_transport", f"MQTT to {mqtt.host}:{mqtt.port} without TLS"))
    if cfg.site.database_url and re.search(r"://[^/@]+:[^/@]+@", cfg.site.database_url):
        out.append(
            Finding("high", "plaintext_credentials", "site.database_url holds a password in plain text")
        )
    return out


def audit_site(cfg: SiteConfig, use_onvif: bool = True, timeout: float = 2.0) -> list[CameraAudit]:
    return [audit_camera(c, use_onvif, timeout) for c in cfg.cameras]


def format_audit(results: list[CameraAudit], site: list[Finding]) -> str:
    lines = []
    for r in results:
        covered = f"NDAA §889: COVERED ({r.ndaa_covered})" if r.ndaa_covered else "NDAA §889: not covered"
        lines.append(f"{r.camera_id} — {r.manufacturer or '?'} {r.model or ''} [{r.info_source}] — {covered}")
        for f in r.findings:
            lines.append(f"  [{f.severity:<6}] {f.code}: {f.message}")
    for f in site:
        lines.append(f"site [{f.severity}] {f.code}: {f.message}")
    return "\n".join(lines)
