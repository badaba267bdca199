"""The demo's clock: frozen and moved step by step while the backfill replays past days, then the
system clock once the demo goes live."""
from __future__ import annotations

from datetime import datetime, timezone

from survey.clock import FrozenClock


class DemoClock(FrozenClock):
    """A FrozenClock that becomes the wall clock at go_live()."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.live = False

    def now(self) -> datetime:
        return datetime.now(timezone.utc) if self.live else super().now()

    def go_live(self) -> None:
        """From now on, real time."""
        self.live = True
