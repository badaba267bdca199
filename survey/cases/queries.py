"""What the case pages read: a user's queue, one case with its history, and the visibility rule every
query carries in its WHERE clause (a channel lead: their outlets' cases and those handed to them)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from channels.models import Outlet
from survey.accounts.models import User
from survey.accounts.scope import scope_for
from survey.cases.states import ACTIVE_STATES, CLOSED_STATES, CaseState
from survey.models import Answer, Case, CaseEvent, CaseNotification, CaseRecovery

PAGE_SIZE = 50
VIEWS = ("active", "overdue", "closed", "all")


def visible(user: User) -> ColumnElement[bool]:
    """The cases a user may see and act on: all for admins and managers; a channel lead's outlets'
    cases, and any case they own or first received (a hand-over across outlets)."""
    scope = scope_for(user)
    if scope is None:
        return true()
    mine = or_(Case.owner_id == user.id, Case.first_owner_id == user.id)
    return or_(Case.outlet_code.in_(scope), mine) if scope else mine


class CaseNotFound(LookupError):
    """No such case, or not one this user may see: the same answer either way (404)."""


def visible_case(db: Session, user: User, case_id: int) -> Case:
    case = db.scalar(select(Case).where(Case.id == case_id, visible(user)))
    if case is None:
        raise CaseNotFound(case_id)
    return case


@dataclass(frozen=True)
class QueueRow:
    id: int
    outlet_code: str
    outlet_name: str
    segment: str
    trigger: str
    state: CaseState
    msisdn: str
    opened_at: datetime
    deadline_at: datetime
    overdue: bool
    owner: str
    answers: tuple[tuple[str, int | None, tuple[str, ...], str], ...]  # (question, value, reasons, text)


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    total: int
    active: int
    overdue: int
    page: int
    pages: int


def view_filter(view: str, now: datetime) -> ColumnElement[bool]:
    """active (open, contacted, reopened), overdue (active past the deadline), closed, or all."""
    if view == "active":
        return Case.state.in_(ACTIVE_STATES)
    if view == "overdue":
        return and_(Case.state.in_(ACTIVE_STATES), Case.deadline_at < now)
    if view == "closed":
        return Case.state.in_(CLOSED_STATES)
    return true()


def queue(db: Session, user: User, *, now: datetime, view: str = "active", outlet: str | None = None,
          mine: bool = False, page: int = 1) -> Queue:
    """A page of the user's cases, overdue first (earliest deadline first), with the answers that
    opened them."""
    where = [visible(user), view_filter(view, now)]
    if outlet:
        where.append(Case.outlet_code == outlet)
    if mine:
        where.append(Case.owner_id == user.id)
    counts = db.execute(select(
        func.count(),
        func.count().filter(Case.state.in_(ACTIVE_STATES)),
        func.count().filter(and_(Case.state.in_(ACTIVE_STATES), Case.deadline_at < now))
    ).select_from(Case).where(*where[:1], *where[2:])).one()
    total = db.scalar(select(func.count()).select_from(Case).where(*where))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    owner = aliased(User)
    order = ((Case.deadline_at, Case.id) if view in ("active", "overdue")
             else (Case.state.in_(CLOSED_STATES), Case.deadline_at, Case.id))
    found = db.execute(
        select(Case.id, Case.outlet_code, Outlet.name, Case.segment, Case.trigger, Case.state, Case.msisdn,
               Case.opened_at, Case.deadline_at, owner.username, Case.session_id)
        .outerjoin(Outlet, Outlet.code == Case.outlet_code).outerjoin(owner, owner.id == Case.owner_id)
        .where(*where).order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    answers = session_answers(db, [row.session_id for row in found])
    rows = [QueueRow(r.id, r.outlet_code, r.name or r.outlet_code, r.segment, r.trigger, r.state, r.msisdn,
                     r.opened_at, r.deadline_at, r.state.is_active and r.deadline_at < now, r.username or "",
                     tuple(answers.get(r.session_id, ()))) for r in found]
    return Queue(rows, total, counts[1], counts[2], page, pages)


def session_answers(db: Session, session_ids: list[int]) -> dict[int, list[tuple[str, int | None, tuple[str, ...], str]]]:
    """Each session's answers (question, value, reasons, verbatim text), in the order given."""
    found: dict[int, list] = {}
    if session_ids:
        for session_id, question, value, reasons, text in db.execute(
                select(Answer.session_id, Answer.question, Answer.value, Answer.reasons, Answer.text)
                .where(Answer.session_id.in_(session_ids)).order_by(Answer.id)):
            found.setdefault(session_id, []).append((question, value, tuple(reasons or ()), text))
    return found


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    outlet_name: str
    owner: str
    first_owner: str
    answers: list[tuple[str, int | None, tuple[str, ...], str]]
    events: list[tuple[datetime, str, str, str | None, str | None, dict[str, Any] | None]]
    recoveries: list[CaseRecovery]
    names: dict[int, str]  # user id -> name, for the history's hand-overs


def case_detail(db: Session, user: User, case_id: int) -> CaseDetail:
    """A case the user may see, with its answers, history and recovery checks; CaseNotFound otherwise."""
    case = visible_case(db, user, case_id)
    names = dict(db.execute(select(User.id, User.username)).all())
    outlet_name = db.scalar(select(Outlet.name).where(Outlet.code == case.outlet_code)) or case.outlet_code
    events = [tuple(row) for row in db.execute(
        select(CaseEvent.at, CaseEvent.actor, CaseEvent.kind, CaseEvent.from_state, CaseEvent.to_state,
               CaseEvent.detail).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))]
    recoveries = list(db.scalars(select(CaseRecovery).where(CaseRecovery.case_id == case.id)
                                 .order_by(CaseRecovery.round)))
    return CaseDetail(case, outlet_name, names.get(case.owner_id, ""), names.get(case.first_owner_id, ""),
                      session_answers(db, [case.session_id]).get(case.session_id, []), events, recoveries, names)


def notifications(db: Session, user: User, *, limit: int = 10) -> tuple[int, list[CaseNotification]]:
    """How many notices the user has not read, and the latest of them."""
    unread = select(CaseNotification).where(CaseNotification.user_id == user.id, CaseNotification.read_at.is_(None))
    count = db.scalar(select(func.count()).select_from(unread.subquery()))
    return count, list(db.scalars(unread.order_by(CaseNotification.id.desc()).limit(limit)))


def visible_outlets(db: Session, user: User) -> list[tuple[str, str]]:
    """(code, name) of the outlets a user may filter cases by."""
    scope = scope_for(user)
    query = select(Outlet.code, Outlet.name).order_by(Outlet.code)
    if scope is not None:
        query = query.where(Outlet.code.in_(scope) if scope else false())
    return [tuple(row) for row in db.execute(query)]
