"""The closed-loop board: cases opened, closed within the deadline, time to first contact and to
resolution by customer segment, recovery rate, root causes (Pareto), by outlet, city, channel or
segment, and the outlets with the most overdue cases. Counts are aggregated in SQL; medians of the
durations are taken from the durations themselves (no portable SQL median)."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from channels.models import Outlet
from survey.accounts.models import User
from survey.cases.queries import visible
from survey.cases.states import ACTIVE_STATES, CaseState, RecoveryState
from survey.models import Case, CaseRecovery

GROUPINGS = {"outlet": Case.outlet_code, "city": Case.city, "channel": Case.channel, "segment": Case.segment}
OVERDUE_BOARD = 10


@dataclass(frozen=True)
class Rates:
    """One group's figures (or the total's)."""

    key: str
    opened: int
    due: int  # closed, or past their deadline: those that could be judged
    within: int  # closed by their deadline
    overdue_now: int
    checks: int  # recovery SMS sent
    recovered: int  # of which answered 满意

    @property
    def within_share(self) -> float | None:
        return self.within / self.due if self.due else None

    @property
    def recovery_rate(self) -> float | None:
        return self.recovered / self.checks if self.checks else None


@dataclass(frozen=True)
class SegmentTimes:
    segment: str
    cases: int
    first_contact_hours: float | None  # median
    resolution_hours: float | None  # median


@dataclass(frozen=True)
class Board:
    total: Rates
    groups: list[Rates]
    times: list[SegmentTimes]
    root_causes: list[tuple[str, int, float]]  # (code, cases, cumulative share), most first
    overdue_outlets: list[tuple[str, str, int]]  # (code, name, overdue cases)


def closed_loop_board(db: Session, user: User, *, start: datetime, end: datetime, now: datetime,
                      by: str = "outlet") -> Board:
    """The board for cases opened in [start, end) that the user may see."""
    column = GROUPINGS[by]
    where = (visible(user), Case.opened_at >= start, Case.opened_at < end)
    active = Case.state.in_(ACTIVE_STATES)
    figures = (func.count(),
               func.count().filter((Case.closed_at.is_not(None)) | (Case.deadline_at <= now)),
               func.count().filter(Case.closed_at <= Case.deadline_at),
               func.count().filter(and_(active, Case.deadline_at < now)))
    rows = {key: list(values) for key, *values in db.execute(
        select(column, *figures).where(*where).group_by(column))}
    sent = CaseRecovery.sent_at.is_not(None)
    recovery = {key: (checks, recovered) for key, checks, recovered in db.execute(
        select(column, func.count().filter(sent),
               func.count().filter(and_(sent, CaseRecovery.state == RecoveryState.SATISFIED)))
        .join(Case, Case.id == CaseRecovery.case_id).where(*where).group_by(column))}
    groups = [Rates(str(key), *values, *recovery.get(key, (0, 0))) for key, values in rows.items()]
    groups.sort(key=lambda r: (-r.opened, r.key))
    total = Rates("合计", *(sum(getattr(g, f) for g in groups) for f in
                          ("opened", "due", "within", "overdue_now", "checks", "recovered")))
    return Board(total, groups, _times(db, where), _root_causes(db, where), _overdue_outlets(db, user, now))


def _hours(values: list[float]) -> float | None:
    return round(statistics.median(values) / 3600, 1) if values else None


def _times(db: Session, where) -> list[SegmentTimes]:
    contact: dict[str, list[float]] = {}
    resolution: dict[str, list[float]] = {}
    count: dict[str, int] = {}
    for segment, state, opened, first_contact, closed in db.execute(
            select(Case.segment, Case.state, Case.opened_at, Case.first_contact_at, Case.closed_at).where(*where)):
        count[segment] = count.get(segment, 0) + 1
        if first_contact is not None:
            contact.setdefault(segment, []).append((first_contact - opened).total_seconds())
        if state is CaseState.RESOLVED and closed is not None:
            resolution.setdefault(segment, []).append((closed - opened).total_seconds())
    return [SegmentTimes(s, n, _hours(contact.get(s, [])), _hours(resolution.get(s, [])))
            for s, n in sorted(count.items(), key=lambda item: -item[1])]


def _root_causes(db: Session, where) -> list[tuple[str, int, float]]:
    counts = db.execute(select(Case.root_cause, func.count()).where(*where, Case.state == CaseState.RESOLVED,
                                                                   Case.root_cause.is_not(None))
                        .group_by(Case.root_cause).order_by(func.count().desc(), Case.root_cause)).all()
    total, running, pareto = sum(n for _, n in counts), 0, []
    for code, n in counts:
        running += n
        pareto.append((code, n, running / total))
    return pareto


def _overdue_outlets(db: Session, user: User, now: datetime) -> list[tuple[str, str, int]]:
    """The outlets with the most cases past their deadline now (whenever opened): a short board."""
    overdue = func.count().label("overdue")
    return [tuple(row) for row in db.execute(
        select(Case.outlet_code, func.coalesce(func.max(Outlet.name), Case.outlet_code), overdue)
        .outerjoin(Outlet, Outlet.code == Case.outlet_code)
        .where(visible(user), Case.state.in_(ACTIVE_STATES), Case.deadline_at < now)
        .group_by(Case.outlet_code).order_by(overdue.desc(), Case.outlet_code).limit(OVERDUE_BOARD))]


