"""Audit digests to another host's syslog: RFC 5424 messages over UDP (RFC 5426) or TCP (RFC 6587).

Why: the append-only file lives on the same host as the database, so whoever owns the host can
replace both. A collector on another host (a SIEM, a city's central syslog) keeps its own copy of
every signed digest as it is made; a digest later missing or different locally shows there.

Each message carries the whole digest record (its body and signature) as JSON, so the collector's
copy can be verified with the installation's public key alone, and the digest number, sequence and
head hash as structured data (SD-ID ``digest@32473``, the enterprise number RFC 5612 reserves for
documentation) for a collector to index. Sending never blocks or fails sealing: a digest that
could not be sent is retried with the next one, as the S3 copy is.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime
from typing import Any

from oversight.config.schema import AuditSyslogSettings

log = logging.getLogger(__name__)

NOTICE = 5  # severity: normal but significant
SD_ID = "digest@32473"
TIMEOUT_S = 5.0


def _sd_value(value: object) -> str:
    """A structured-data PARAM-VALUE with '"', '\\' and ']' escaped (RFC 5424 section 6.3.3)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(cfg: AuditSyslogSettings, record: dict[str, Any], hostname: str | None = None) -> bytes:
    """One RFC 5424 SYSLOG-MSG for a digest record: header, structured data, then the JSON (UTF-8)."""
    body = record["body"]
    pri = cfg.facility * 8 + NOTICE
    ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "-")
    params = {"number": body.get("number"), "seq": body.get("seq"), "hash": body.get("hash")}
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_value(v)}"' for k, v in params.items()) + "]"
    msg = json.dumps(record, sort_keys=True, separators=(",", ":"))
    header = f"<{pri}>1 {ts} {host} {cfg.app_name} - audit-digest {sd} "
    return header.encode() + b"\xef\xbb\xbf" + msg.encode()


class SyslogMirror:
    """Sends digests to one collector; what fails to go is kept and sent before the next digest."""

    def __init__(self, cfg: AuditSyslogSettings):
        self.cfg = cfg
        self._pending: dict[int, dict[str, Any]] = {}
        self._sock: socket.socket | None = None

    def send(self, record: dict[str, Any] | None) -> int:
        """Queue ``record`` (if any) and send everything queued, oldest first; returns how many went."""
        if record is not None:
            self._pending[int(record["body"]["number"])] = record
        sent = 0
        for number, rec in sorted(self._pending.items()):
            try:
                self._send(format_message(self.cfg, rec))
            except OSError as exc:
                log.warning("could not send audit digest %s to syslog %s: %s", number, self.cfg.host, exc)
                self.close()
                break
            del self._pending[number]
            sent += 1
        return sent

    def _send(self, data: bytes) -> None:
        addr = (self.cfg.host, self.cfg.port)
        if self.cfg.protocol == "udp":
            with socket.socket(_family(self.cfg.host), socket.SOCK_DGRAM) as s:
                s.sendto(data, addr)
            return
        if self._sock is None:
            self._sock = socket.create_connection(addr, timeout=TIMEOUT_S)
        self._sock.sendall(str(len(data)).encode() + b" " + data)  # RFC 6587 octet counting

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
