"""Audit digests reach another host's syslog as RFC 5424 messages, over UDP and over TCP.

The collector is a real socket server on loopback (the peer speaks the standard protocol, nothing of
ours): every digest the sealer makes arrives, parses as RFC 5424, and its signature checks with the
installation's public key alone; a collector that is down gets the digests it missed, in order,
once it is back.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.encoding import HexEncoder
from nacl.signing import VerifyKey

from oversight.config.schema import AuditSyslogSettings
from oversight.privacy import audit, audit_trail
from oversight.privacy.keys import load_or_create_signing_key, public_hex
from oversight.store.db import Database

# RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
SYSLOG = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) "
    rb"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<proc>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) "
    rb"(?P<sd>\[[^ \]]+(?: [^ =\]]+=\"(?:[^\"\\\]]|\\.)*\")*\]) \xef\xbb\xbf(?P<msg>.*)$",
    re.S,
)


class Collector:
    """A loopback syslog receiver: UDP datagrams, or TCP with RFC 6587 octet-counted frames."""

    def __init__(self, protocol: str, port: int = 0):
        self.messages: list[bytes] = []
        got = self.messages

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                got.append(self.request[0])

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    length = b""
                    while (ch := self.rfile.read(1)) not in (b" ", b""):
                        length += ch
                    if not length:
                        return
                    got.append(self.rfile.read(int(length)))

        server_cls = socketserver.ThreadingUDPServer if protocol == "udp" else socketserver.ThreadingTCPServer
        server_cls.allow_reuse_address = True
        self.server = server_cls(("127.0.0.1", port), Udp if protocol == "udp" else Tcp)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 10.0) -> list[bytes]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _add(db: Database, n: int) -> None:
    with db.session() as s:
        for i in range(n):
            audit.record(s, "olga", "footage.view", "camera", f"cam{i}")


def _check(raw: bytes, key_hex: str) -> dict[str, Any]:
    m = SYSLOG.match(raw)
    assert m, raw[:200]
    assert int(m["pri"]) == 13 * 8 + 5 and m["app"] == b"oversight" and m["msgid"] == b"audit-digest"
    record = json.loads(m["msg"])
    body = record["body"]
    assert f'number="{body["number"]}"'.encode() in m["sd"] and f'hash="{body["hash"]}"'.encode() in m["sd"]
    VerifyKey(key_hex.encode(), encoder=HexEncoder).verify(
        audit_trail._canonical(body), bytes.fromhex(record["signature"])
    )  # raises BadSignatureError when the collector's copy is not the signed digest
    return record


@pytest.fixture
def collector(request: pytest.FixtureRequest) -> Iterator[Collector]:
    c = Collector(request.param)
    yield c
    c.close()


@pytest.mark.parametrize("collector", ["udp", "tcp"], indirect=True)
def test_every_digest_reaches_the_collector_signed(
    db: Database, tmp_path: Path, collector: Collector
) -> None:
    proto = "udp" if isinstance(collector.server, socketserver.UDPServer) else "tcp"
    cfg = AuditSyslogSettings(host="127.0.0.1", port=collector.port, protocol=proto)
    key = load_or_create_signing_key(tmp_path)
    sealer = audit_trail.Sealer(db, key, tmp_path, syslog=cfg)
    sealer.seal("start")
    _add(db, 3)
    sealer.seal("tick")
    sealer.syslog.close()  # type: ignore[union-attr]
    got = collector.wait(2)
    records = [_check(m, public_hex(key)) for m in got]
    local = audit_trail.read_file(tmp_path / "audit" / audit_trail.DIGEST_FILE)[0]
    assert records == local  # the collector holds exactly the digests of the append-only file


def test_a_collector_that_was_down_gets_the_digests_it_missed_in_order(db: Database, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port with nobody listening yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = load_or_create_signing_key(tmp_path)
    sealer = audit_trail.Sealer(
        db, key, tmp_path, syslog=AuditSyslogSettings(host="127.0.0.1", port=port, protocol="tcp")
    )
    sealer.seal("start")  # refused: kept for later, sealing goes on
    _add(db, 2)
    sealer.seal("tick")
    assert sealer.syslog is not None and len(sealer.syslog._pending) == 2
    collector = Collector("tcp", port)
    try:
        _add(db, 1)
        sealer.seal("tick")
        sealer.syslog.close()
        numbers = [_check(m, public_hex(key))["body"]["number"] for m in collector.wait(3)]
    finally:
        collector.close()
    assert numbers == [1, 2, 3] and not sealer.syslog._pending
