"""Shared pieces for the cluster tests: an S3 server (moto) on loopback, a per-test PostgreSQL
database, a reachable-broker check. Everything skips cleanly when its service or library is missing."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from oversight.store.db import scratch_postgres

PG_ADMIN_URL = os.environ.get("OVERSIGHT_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MQTT = ("127.0.0.1", 1883)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def moto_s3() -> Iterator[str]:
    """A real S3 HTTP API (moto's server mode) on a free loopback port; yields its endpoint URL."""
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards); skips when the server is not reachable."""
    pytest.importorskip("psycopg")
    if not reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    with scratch_postgres(PG_ADMIN_URL, "oversight_cl") as url:
        yield url


def need_mqtt() -> None:
    if not reachable(*MQTT):
        pytest.skip("MQTT broker not reachable at 127.0.0.1:1883")
