"""Login throttling that resists guessing without locking the owner out, and the client address.

Failures are counted per normalised account (casefold + strip), per (account, client) and per
client address. Each count buys a progressive delay (2, 4, 8 ... s, capped), never a lockout:

- (account, client) after ``free`` failures: one address guessing one account;
- account, across clients, after ``free`` failures: guessing from rotating or many addresses
  gets no more tries than guessing from one. This delay is waived for a *known* client of the
  account (a device cookie from an earlier successful login, or an address that logged into it),
  so the owner still gets in while someone else guesses;
- client address, across accounts, after ``spray_free`` failures: password spraying.

The client address comes from ``X-Forwarded-For`` only when the direct peer is a configured
trusted proxy; otherwise a rotating header changes nothing. Failure counts live in memory when one
process serves a site's logins, and in the database (``DbCounts``) when several web servers share
it behind a load balancer, so spreading guesses over the servers buys nothing either. Known
devices stay in each process's memory: a restart forgets them (the owner then waits like anyone).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from oversight.store.db import Database
from oversight.web.models import LoginFailure

DEVICE_COOKIE = "ov_device"
MAX_KEYS = 100_000  # bound memory under a spray attack


def normalise(username: str) -> str:
    return username.strip().casefold()


class Counts(Protocol):
    def get(self, key: str, forget_after: float, now: float) -> tuple[int, float]: ...
    def bump(self, key: str, now: float, forget_after: float) -> None: ...
    def clear(self, key: str) -> None: ...


class MemoryCounts:
    """Failure counts with the time of the last one; LRU-bounded."""

    def __init__(self, name: str = "") -> None:
        self.data: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def get(self, key: str, forget_after: float, now: float) -> tuple[int, float]:
        n, last = self.data.get(key, (0, 0.0))
        return (0, 0.0) if n and now - last > forget_after else (n, last)

    def bump(self, key: str, now: float, forget_after: float) -> None:
        n, _ = self.get(key, forget_after, now)
        self.data[key] = (n + 1, now)
        self.data.move_to_end(key)
        while len(self.data) > MAX_KEYS:
            self.data.popitem(last=False)

    def clear(self, key: str) -> None:
        self.data.pop(key, None)


class DbCounts:
    """The same counts in the ``login_failures`` table, shared by every web server of a site.
    Times are wall-clock seconds (monotonic clocks differ between machines)."""

    def __init__(self, db: Database, name: str):
        self.db, self.prefix = db, name + ":"  # one table for the three kinds of count

    def get(self, key: str, forget_after: float, now: float) -> tuple[int, float]:
        key = self.prefix + key
        with self.db.session() as s:
            row = s.get(LoginFailure, key[:320])
            n, last = (row.fails, row.last_at) if row is not None else (0, 0.0)
        return (0, 0.0) if n and now - last > forget_after else (n, last)

    def bump(self, key: str, now: float, forget_after: float) -> None:
        key = self.prefix + key
        for _ in range(3):
            try:
                with self.db.session() as s:
                    row = s.get(LoginFailure, key[:320], with_for_update=True)
                    if row is None:
                        s.add(LoginFailure(key=key[:320], fails=1, last_at=now))
                    else:
                        row.fails = 1 if now - row.last_at > forget_after else row.fails + 1
                        row.last_at = now
                return
            except IntegrityError:  # another server inserted the same key first: count on it
                continue

    def clear(self, key: str) -> None:
        key = self.prefix + key
        with self.db.session() as s:
            s.query(LoginFailure).filter(LoginFailure.key == key[:320]).delete()


class LoginThrottle:
    def __init__(
        self,
        free: int = 5,
        spray_free: int = 20,
        cap_s: float = 900.0,
        forget_after_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        counts: Callable[[str], Counts] = MemoryCounts,
    ):
        self.free, self.spray_free, self.cap_s = free, spray_free, cap_s
        self.forget_after_s = forget_after_s
        self.clock = clock
        self._lock = threading.Lock()
        self._pair, self._account, self._address = counts("pair"), counts("account"), counts("address")
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()  # (account, address|device)

    def _wait(self, counts: Counts, key: str, free: int, now: float) -> float:
        n, last = counts.get(key, self.forget_after_s, now)
        if n < free:
            return 0.0
        return max(0.0, last + min(self.cap_s, 2.0 ** (n - free + 1)) - now)

    def _is_known(self, account: str, ip: str, device: str | None) -> bool:
        return (account, "ip:" + ip) in self._known or (
            device is not None and (account, "dev:" + _digest(device)) in self._known
        )

    def retry_after(self, username: str, ip: str, device: str | None = None) -> float:
        """Seconds this client must wait before trying this account again (0: go ahead)."""
        account, now = normalise(username), self.clock()
        with self._lock:
            waits = [
                self._wait(self._pair, _pair(account, ip), self.free, now),
                self._wait(self._address, ip, self.spray_free, now),
            ]
            if not self._is_known(account, ip, device):
                waits.append(self._wait(self._account, account, self.free, now))
        return max(waits)

    def failed(self, username: str, ip: str, device: str | None = None) -> None:
        account, now = normalise(username), self.clock()
        with self._lock:
            self._pair.bump(_pair(account, ip), now, self.forget_after_s)
            self._address.bump(ip, now, self.forget_after_s)
            if not self._is_known(account, ip, device):
                self._account.bump(account, now, self.forget_after_s)

    def succeeded(self, username: str, ip: str) -> str:
        """Forget this client's failures and remember it; returns a new device cookie value."""
        account = normalise(username)
        device = secrets.token_urlsafe(24)
        with self._lock:
            self._pair.clear(_pair(account, ip))
            for key in ((account, "ip:" + ip), (account, "dev:" + _digest(device))):
                self._known[key] = None
                self._known.move_to_end(key)
            while len(self._known) > MAX_KEYS:
                self._known.popitem(last=False)
        return device


def _pair(account: str, ip: str) -> str:
    return f"{account}\x1f{ip}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Busy(Exception):
    """Too many password checks already running or waiting: answer 429, not a slow 500."""


class HashGate:
    """At most ``concurrency`` argon2 checks at once and ``queue`` waiting; the rest are refused
    at once, so a burst of logins never ties up the server's worker threads or memory."""

    def __init__(self, concurrency: int = 2, queue: int = 4):
        self._run = threading.BoundedSemaphore(concurrency)
        self._admit = threading.BoundedSemaphore(concurrency + queue)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._admit.acquire(blocking=False):
            raise Busy
        try:
            with self._run:
                yield
        finally:
            self._admit.release()


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client behind ``peer``: from X-Forwarded-For only while the hops are trusted proxies.

    Walks the header right to left (the nearest proxy appends last) and returns the first
    address that is not a trusted proxy; an unparsable entry stops the walk there.
    """
    if not peer:
        return "unknown"
    nets = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not forwarded_for or not is_trusted(peer):
        return peer
    hop = peer
    for part in reversed([p.strip() for p in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(part)
        except ValueError:
            return hop
        hop = part
        if not is_trusted(part):
            return part
    return hop
