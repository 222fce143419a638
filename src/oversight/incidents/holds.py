"""The evidence-hold sweeper: releases holds whose keep-N-days period after closing has passed.

One thread per installation, started and stopped by the composition root (``oversight.compose``);
a database hiccup is logged and retried at the next sweep, never ends the thread.
"""

from __future__ import annotations

import logging
import threading

from oversight.incidents.service import IncidentService
from oversight.store.db import Database

log = logging.getLogger(__name__)
HOLD_SWEEP_S = 600.0


class HoldSweeper:
    def __init__(self, db: Database, service: IncidentService, every_s: float = HOLD_SWEEP_S):
        self.db, self.service, self.every_s = db, service, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> HoldSweeper:
        self._thread = threading.Thread(target=self._run, name="incident-holds", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def sweep(self) -> int:
        with self.db.session() as s:
            return self.service.release_due_holds(s)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sweep()
            except Exception:
                log.exception("releasing due evidence holds failed")
