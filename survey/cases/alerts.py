"""What the escalation job owes a case at a moment: warnings and escalations not yet marked.

The marks (kind, round, level) already stored for a case are its memory: an alert is due once its
time has come and it has no mark, so running the job twice, or again after a crash, gives nothing
twice. Pure: the job loads the case and its marks, asks here, and stores the answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from survey.cases.deadlines import DeadlinePolicy
from survey.cases.states import AlertKind

Mark = tuple[AlertKind, int, int]  # (kind, round or hand-over number, level)


@dataclass(frozen=True)
class CaseClock:
    """The parts of an active case the escalation job decides on."""

    segment: str
    round: int
    deadline_at: datetime
    warn_at: datetime
    handovers: int = 0
    handover_due_at: datetime | None = None  # None once the new owner has moved the case
    marks: frozenset[Mark] = frozenset()


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    round: int  # the case's round; for a hand-over, its number
    level: int  # 0: the owner; 1, 2: the escalation levels
    due_at: datetime
    notify: bool = True  # False: recorded as passed (a warning overtaken by the deadline), told to no one

    @property
    def mark(self) -> Mark:
        return (self.kind, self.round, self.level)


@dataclass(frozen=True)
class Due:
    alerts: tuple[Alert, ...]
    next_check_at: datetime | None  # when the next one falls due (None: nothing left to do)


def due_alerts(policy: DeadlinePolicy, case: CaseClock, *, now: datetime, tz: tzinfo) -> Due:
    """The alerts whose time has come and that are not marked yet, and when to look again."""
    segment = policy.segment(case.segment)
    planned = [Alert(AlertKind.WARN, case.round, 0, case.warn_at)]
    for level in range(1, len(policy.escalation) + 1):
        planned.append(Alert(AlertKind.OVERDUE, case.round, level,
                             policy.escalation_at(segment, case.deadline_at, level, tz)))
    if case.handover_due_at is not None:
        planned.append(Alert(AlertKind.HANDOVER, case.handovers, 0, policy.notice(case.handover_due_at, tz)))
    due, later = [], []
    overdue_now = policy.notice(case.deadline_at, tz) <= now
    for alert in planned:
        if alert.mark in case.marks:
            continue
        if alert.due_at > now:
            later.append(alert.due_at)
        elif alert.kind is AlertKind.WARN and overdue_now:
            # The worker was down past the deadline: the escalation says more than a late warning.
            due.append(Alert(alert.kind, alert.round, alert.level, alert.due_at, notify=False))
        else:
            due.append(alert)
    return Due(tuple(due), min(later, default=None))
