"""Replays past days through the real pipeline with the clock fast-forwarded.

For each step of simulated time: the clock moves on, the interactions that ended meanwhile go
through the ingest API, the subscribers' replies that have come due go through the SMSC, and the
worker runs each job once (record, evaluate, replies, expire, escalate, dispatch), waiting for the
SMPP round trip, so every received_at, sent_at and deadline is a simulated moment. Staff work the
case queues at the same moments. Quiet hours are kept: interactions end between 08:00 and 21:00 and
nights pass in two steps, in which replies still arrive and cases escalate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Callable, Iterator

from survey.demo.clock import DemoClock
from survey.demo.stack import Stack
from survey.demo.staff import Staff
from survey.demo.traffic import Traffic, local_hour

DAY_HOURS = range(8, 24)  # steps of the working day (interactions end in 08-21; replies come later)
NIGHT_HOURS = (4,)  # a step in the small hours of the next day


@dataclass(frozen=True)
class Step:
    """A simulated moment; the interactions that ended since the previous one are posted at it."""

    at: datetime
    day: date
    hour: int | None  # the local hour whose interactions are posted, None for none
    since: datetime | None = None  # they ended after this moment (and before `at`)


def steps(first: date, end: datetime, tz: tzinfo, substeps: int) -> Iterator[Step]:
    """The backfill's moments from the first day up to end (aware), in time order."""
    day = first
    while True:
        for hour in DAY_HOURS:
            start = local_hour(day, hour, tz)
            for k in range(substeps):
                since = start + timedelta(hours=1) * k / substeps
                at = since + timedelta(hours=1) / substeps
                if at > end:
                    if since < end:
                        yield Step(end, day, hour, since)
                    return
                yield Step(at, day, hour, since)
        day += timedelta(days=1)
        for hour in NIGHT_HOURS:
            at = local_hour(day, hour, tz)
            if at > end:
                return
            yield Step(at, day, None)


class Backfill:
    """Drives the worker, subscribers and staff through past days on the demo clock."""

    def __init__(self, stack: Stack, clock: DemoClock, traffic: Traffic, staff: Staff, *, token: str,
                 per_day: int, substeps: int = 2) -> None:
        self.stack, self.clock, self.traffic, self.staff = stack, clock, traffic, staff
        self.token, self.per_day, self.substeps = token, per_day, substeps
        self.posted = 0

    def plan(self, first: date, end: datetime) -> list[Step]:
        return list(steps(first, end, self.stack.runtime.settings.tz, self.substeps))

    def run(self, plan: list[Step], progress: Callable[[int], None] = lambda n: None) -> None:
        """Every step of the plan (what its last step set going, the live worker finishes)."""
        counts: dict[int, int] = {}
        day = None
        for step in plan:
            if step.day != day:
                day = step.day
                counts = self.traffic.day_counts(day, self.per_day)
            self.clock.set(max(step.at, self.clock.now()))
            if step.hour is not None and counts.get(step.hour):
                share = (step.at - step.since) / timedelta(hours=1)
                count = int(counts[step.hour] * share + self.traffic.rng.random())
                self._post(self.traffic.between(step.since, step.at, count))
            self.round()
            progress(1)

    def _post(self, planned) -> None:
        planned = list(planned)
        for p in planned:
            self.stack.subscribers.expect(p.item["msisdn"], p.plan)
        if planned:
            self.stack.post(self.token, [p.item for p in planned])
            self.posted += len(planned)

    def round(self) -> None:
        """Replies due now in, every job once, staff, and the SMPP round trip settled."""
        now = self.clock.now()
        worker = self.stack.worker
        self.stack.send_replies(self.stack.subscribers.due(now))
        self.stack.settle()
        worker.run_once(now)
        self.staff.work(now)
        worker.dispatch(now)  # what the staff's resolutions queued: the recovery checks
        self.stack.settle()
        worker.record(now)
