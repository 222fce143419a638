"""Stage outages: a camera stage (ingest, recording, decode, analytics, live) that stopped advancing.

One row per outage, opened by the watchdog when it notices the stall and closed when the stage
advances again after the restart, so an operator can see what a camera missed and for how long.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oversight.store.base import Base, UTCDateTime


class StageOutage(Base):
    __tablename__ = "stage_outages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime] = mapped_column(UTCDateTime)  # when the stage last advanced
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # open while it lasts
    reason: Mapped[str] = mapped_column(String(255), default="")
