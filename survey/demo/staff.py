"""The operator's staff in the demo: they call back dissatisfied customers and resolve their cases
through the same service the case pages use — except at the planted outlet, whose cases wait until
they escalate."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from survey.accounts.models import User
from survey.cases.actions import act
from survey.cases.config import CaseLoop
from survey.cases.machine import MarkUnreachable, RecordContact, Resolve
from survey.cases.states import CaseState
from survey.models import Case
from survey.runtime import Runtime

# Root cause and action a resolution names, by the planted story of the case's outlet, else drawn.
ROOT_CAUSES = (("queue_capacity", "coached", 20), ("staff_skill", "coached", 15), ("staff_attitude", "explained", 12),
               ("system_fault", "repaired", 10), ("network_quality", "repaired", 12), ("billing_error", "refunded", 8),
               ("billing_policy", "explained", 8), ("process", "process_changed", 6),
               ("customer_misunderstanding", "explained", 9))
NOTES = {"contact": "已致电客户，了解情况并致歉", "resolve": "已与客户沟通处理完毕", "unreachable": "三次致电均未接通"}


class Staff:
    """Works the case queues: a first contact within hours of a case opening, a resolution a few hours
    later — inside even a VIP's 8-hour deadline, so escalations come from the neglected outlet."""

    def __init__(self, runtime: Runtime, loop: CaseLoop, *, neglected_outlet: str, seed: int = 5,
                 contact_hours: tuple[float, float] = (0.5, 3), resolve_hours: tuple[float, float] = (0.5, 3),
                 causes: dict[str, tuple[str, str]] | None = None) -> None:
        self.runtime, self.loop, self.neglected = runtime, loop, neglected_outlet
        self.contact_hours, self.resolve_hours = contact_hours, resolve_hours
        self.causes = causes or {}
        self.seed = seed
        self.hour = timedelta(hours=1)  # one planned hour; live mode shrinks it
        self.done = 0

    def _wait(self, case: Case, bounds: tuple[float, float], salt: int) -> timedelta:
        rng = random.Random(case.id * 7919 + case.round * 31 + salt + self.seed)
        return self.hour * rng.uniform(*bounds)

    def work(self, now: datetime) -> int:
        """Act on every case whose time has come; returns how many actions were taken."""
        taken = 0
        with self.runtime.writing() as db:
            cases = db.scalars(select(Case).where(Case.state.in_((CaseState.OPEN, CaseState.REOPENED,
                                                                 CaseState.CONTACTED)),
                                                  Case.outlet_code != self.neglected)).all()
            users = {u.id: u for u in db.scalars(select(User))}
            for case in cases:
                actor = users.get(case.owner_id)
                name = actor.username if actor else "值班经理"
                if case.state is CaseState.CONTACTED:
                    if case.updated_at + self._wait(case, self.resolve_hours, 1) > now:
                        continue
                    cause, action = self.causes.get(case.outlet_code) or self._cause(case)
                    act(db, case, Resolve(cause, action, NOTES["resolve"]), actor=actor, now=now, loop=self.loop,
                        actor_name=name)
                elif case.round_started_at + self._wait(case, self.contact_hours, 0) <= now:
                    if random.Random(case.id).random() < 0.06:
                        act(db, case, MarkUnreachable(NOTES["unreachable"]), actor=actor, now=now, loop=self.loop,
                            actor_name=name)
                    else:
                        act(db, case, RecordContact(True, NOTES["contact"]), actor=actor, now=now, loop=self.loop,
                            actor_name=name)
                else:
                    continue
                taken += 1
        self.done += taken
        return taken

    def _cause(self, case: Case) -> tuple[str, str]:
        rng = random.Random(case.id)
        cause, action, _ = rng.choices(ROOT_CAUSES, [w for *_, w in ROOT_CAUSES])[0]
        return cause, action
