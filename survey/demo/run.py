"""One demo run: open (or reuse) the demo's database, backfill past days, go live, stop.

The command and the acceptance test both go through `Demo`, so the test runs the demo's own path.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from survey.cases.config import CaseLoop, load_case_policy
from survey.demo.backfill import Backfill, Step
from survey.demo.clock import DemoClock
from survey.demo.live import Live
from survey.demo.operator import Operator, build_operator
from survey.demo.stack import Stack, new_token, seed
from survey.demo.staff import Staff
from survey.demo.subscribers import PlannedSubscribers
from survey.demo.traffic import Traffic
from survey.demo.truth import Planted, Truth, plant
from survey.jobs.worker import Intervals
from survey.policy import PolicyConfig
from survey.runtime import Runtime
from survey.settings import Settings

MARKER = "demo.json"  # written when a backfill is complete: its options and when it ended


@dataclass(frozen=True)
class DemoOptions:
    """The demo's knobs (see `touchpoint demo --help`)."""

    days: int = 60
    stores_per_city: int = 16
    subscribers: int = 4000
    per_day: int = 160
    seed: int = 7
    substeps: int = 2
    speed: float = 60.0
    live_every_s: float = 5.0
    live_per_tick: int = 8

    SIZE = ("days", "stores_per_city", "subscribers", "per_day", "seed", "substeps")

    def size(self) -> dict:
        return {name: getattr(self, name) for name in self.SIZE}


def worse_from(end: datetime, tz) -> date:
    """The first day of the last whole month before end (the trend alert compares whole months)."""
    first_this = end.astimezone(tz).date().replace(day=1)
    return (first_this - timedelta(days=1)).replace(day=1)


class Demo:
    """The simulated operator and the running product around one demo database."""

    def __init__(self, settings: Settings, folder: Path, options: DemoOptions, *, port: int = 0) -> None:
        self.folder, self.options, self.port = folder, options, port
        self.settings = settings.replace(instance_path=folder, database_url="")
        self.end = datetime.now(timezone.utc).replace(microsecond=0)
        self.reused = False
        self.stack: Stack | None = None
        self.live: Live | None = None
        self.token = ""
        self.backfill_steps: list[Step] = []

    @property
    def database(self) -> Path:
        return self.folder / "touchpoint.db"

    def open(self, *, fresh: bool) -> None:
        """Reuse a completed demo database (its size from its marker) unless fresh; else start afresh."""
        marker = self.folder / MARKER
        if not fresh and marker.exists() and self.database.exists():
            saved = json.loads(marker.read_text(encoding="utf-8"))
            self.options = DemoOptions(**{**asdict(self.options), **saved["size"]})
            self.worse_from = datetime.fromisoformat(saved["worse_from"]).date()
            self.reused = True
        else:
            if self.folder.exists():
                shutil.rmtree(self.folder)
            self.folder.mkdir(parents=True)
            self.worse_from = worse_from(self.end, self.settings.tz)
        o = self.options
        self.operator: Operator = build_operator(stores_per_city=o.stores_per_city, subscribers=o.subscribers, seed=o.seed)
        self.planted: Planted = plant(self.operator, self.worse_from)
        self.truth = Truth(self.operator, self.planted, o.seed)
        start = self.end - timedelta(days=o.days)
        local_start = datetime.combine(start.astimezone(self.settings.tz).date(), time(0), self.settings.tz)
        self.clock = DemoClock(self.end if self.reused else local_start)
        if self.reused:
            self.clock.go_live()
        self.runtime = Runtime.build(self.settings, clock=self.clock)
        subscribers = PlannedSubscribers(self.clock.now, seed=o.seed)
        self.stack = Stack(self.runtime, subscribers, self.port).start()
        if not self.reused:
            seed(self.runtime, self.operator, self.folder)
        self.token = new_token(self.runtime)
        self.traffic = Traffic(self.operator, self.truth, tz=self.settings.tz, seed=o.seed + (1 if self.reused else 0),
                               source="live" if self.reused else "crm")
        loop = CaseLoop.from_config(load_case_policy(), PolicyConfig.from_settings(self.runtime.settings))
        self.staff = Staff(self.runtime, loop, neglected_outlet=self.planted.neglected_outlet, seed=o.seed,
                           causes={self.planted.slow_outlet: ("queue_capacity", "process_changed")})
        if not self.reused:
            self.backfiller = Backfill(self.stack, self.clock, self.traffic, self.staff, token=self.token,
                                       per_day=o.per_day, substeps=o.substeps)
            self.backfill_steps = self.backfiller.plan(local_start.date(), self.end)

    def backfill(self, progress=lambda n: None) -> None:
        """Replay the past days through the pipeline; marks the database complete for reuse."""
        # Simulated time: no reason to pace the SMSC at the live rate.
        settings = self.runtime.settings
        self.runtime.settings = settings.replace(smpp_tps=0)
        self.stack.start_worker()
        self.runtime.settings = settings
        try:
            self.backfiller.run(self.backfill_steps, progress)
        finally:
            self.stack.stop_worker()
        (self.folder / MARKER).write_text(json.dumps(
            {"size": self.options.size(), "worse_from": self.worse_from.isoformat(),
             "backfill_end": self.clock.now().isoformat()}, ensure_ascii=False, indent=1), encoding="utf-8")

    def go_live(self) -> None:
        """Wall clock, quiet hours off (so it shows something at any hour), jobs on their schedule, and
        the interactions, replies and staff threads."""
        o = self.options
        self.clock.go_live()
        self.stack.subscribers.minute = timedelta(seconds=60 / o.speed)
        self.staff.hour = timedelta(seconds=3600 / o.speed)
        self.runtime.settings = self.runtime.settings.replace(quiet_start=time(0), quiet_end=time(0))
        self.stack.start_worker(Intervals(evaluate=1, dispatch=0.5, record=0.2, replies=0.5, expire=30, escalate=10))
        if self.traffic.source != "live":
            self.traffic.source = "live"
        self.live = Live(self.stack, self.traffic, self.staff, token=self.token, every_s=o.live_every_s,
                         per_tick=o.live_per_tick)
        self.live.start()

    def stop(self) -> None:
        """Every thread and server of the run, in the order data flows back."""
        if self.live is not None:
            self.live.stop()
        if self.stack is not None:
            self.stack.stop()
        if getattr(self, "runtime", None) is not None:
            self.runtime.engine.dispose()

