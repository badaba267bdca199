"""After the backfill, the demo keeps going on the wall clock: interactions every few seconds through
the ingest API, replies as they come due, staff working their queues — each on a thread of its own,
stopped together by one event."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Callable

from survey.demo.stack import Stack
from survey.demo.staff import Staff
from survey.demo.traffic import Traffic

log = logging.getLogger(__name__)


class Live:
    """The live demo's threads."""

    def __init__(self, stack: Stack, traffic: Traffic, staff: Staff, *, token: str, every_s: float,
                 per_tick: int) -> None:
        self.stack, self.traffic, self.staff, self.token = stack, traffic, staff, token
        self.every_s, self.per_tick = every_s, per_tick
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.posted = 0

    def start(self) -> None:
        for name, fn, every in (("demo-interactions", self._interactions, self.every_s),
                                ("demo-replies", self._replies, 0.5), ("demo-staff", self._staff, 5.0)):
            thread = threading.Thread(target=self._loop, args=(name, fn, every), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _loop(self, name: str, fn: Callable[[], None], every: float) -> None:
        while not self.stop_event.wait(every):
            try:
                fn()
            except Exception:  # the demo goes on; the next tick tries again
                log.exception("demo %s failed", name)

    def _interactions(self) -> None:
        now = self.stack.runtime.clock.now()
        # They ended a little over the send delay ago, so their surveys go out at once.
        delay = timedelta(minutes=self.stack.runtime.settings.send_delay_minutes)
        planned = list(self.traffic.between(now - delay - timedelta(minutes=1), now - delay, self.per_tick))
        for p in planned:
            self.stack.subscribers.expect(p.item["msisdn"], p.plan)
        self.stack.post(self.token, [p.item for p in planned])
        self.posted += len(planned)

    def _replies(self) -> None:
        self.stack.send_replies(self.stack.subscribers.due(self.stack.runtime.clock.now()))

    def _staff(self) -> None:
        self.staff.work(self.stack.runtime.clock.now())

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(10)
