"""The escalate job: warns a case's owner before its deadline, escalates an overdue case a level at a
time (city, then region), flags a hand-over that did not move, and settles recovery checks.

Each warning or escalation is a row (case_escalations, unique per case, kind, round and level)
written in the same transaction as its notifications and the case's next check time: a restart in
the middle gives nothing twice and loses nothing, because what was given is in the database, not
in memory. Cases due are found by their next_check_at (indexed), a batch at a time, in bulk.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from channels.sql.bulk import update_rows
from survey.cases.actions import SYSTEM, notify
from survey.cases.alerts import Alert, CaseClock, due_alerts
from survey.cases.config import CaseLoop
from survey.cases.recoveries import settle_checks
from survey.cases.routing import Routes
from survey.cases.states import ACTIVE_STATES, AlertKind, CaseEventKind
from survey.models import Case, CaseEscalation, CaseEvent

LEVEL_NAMES = {1: "城市负责人", 2: "区域负责人"}


def escalate_due(db: Session, *, now: datetime, loop: CaseLoop, limit: int = 500) -> Counter[str]:
    """Give the warnings and escalations that have fallen due; returns counts by kind."""
    counts: Counter[str] = Counter()
    cases = list(db.scalars(select(Case).where(Case.state.in_(ACTIVE_STATES), Case.next_check_at <= now)
                            .order_by(Case.next_check_at, Case.id).limit(limit)
                            .with_for_update(skip_locked=True)))  # one locked by another worker is its
    if cases:
        marks: dict[int, set] = {}
        for case_id, kind, round_, level in db.execute(
                select(CaseEscalation.case_id, CaseEscalation.kind, CaseEscalation.round, CaseEscalation.level)
                .where(CaseEscalation.case_id.in_([c.id for c in cases]))):
            marks.setdefault(case_id, set()).add((kind, round_, level))
        routes = Routes.load(db)
        given, events, updates = [], [], []
        for case in cases:
            clock = CaseClock(case.segment, case.round, case.deadline_at, case.warn_at, case.handovers,
                              case.handover_due_at, frozenset(marks.get(case.id, ())))
            due = due_alerts(loop.policy.deadlines, clock, now=now, tz=loop.tz)
            level = case.escalation_level
            for alert in due.alerts:
                told = _tell(db, case, alert, routes, loop=loop, now=now) if alert.notify else []
                given.append({"case_id": case.id, "kind": alert.kind, "round": alert.round, "level": alert.level,
                              "due_at": alert.due_at, "done_at": now, "notified": len(told)})
                if alert.notify:
                    events.append(_event(case, alert, told, now))
                    counts[alert.kind.value] += 1
                if alert.kind is AlertKind.OVERDUE:
                    level = max(level, alert.level)
            updates.append({"id": case.id, "next_check_at": due.next_check_at, "escalation_level": level})
        connection = db.connection()
        if given:
            connection.execute(insert(CaseEscalation.__table__), given)
        if events:
            connection.execute(insert(CaseEvent.__table__), events)
        update_rows(db, Case.__table__, updates)
    counts["recovery_closed"] += settle_checks(db, now=now, loop=loop, limit=limit)
    return +counts


def _tell(db: Session, case: Case, alert: Alert, routes: Routes, *, loop: CaseLoop, now: datetime) -> list[int]:
    """Notify who an alert is for; returns their ids."""
    deadline = case.deadline_at.astimezone(loop.tz).strftime("%m-%d %H:%M")
    where = f"工单 #{case.id}（{case.outlet_code}，{loop.policy.deadlines.segment(case.segment).label}）"
    if alert.kind is AlertKind.WARN:
        users = [case.owner_id] if case.owner_id else routes.escalation(1, city=case.city, region=case.region)
        text = f"{where}将于 {deadline} 到期，请尽快处理"
    elif alert.kind is AlertKind.OVERDUE:
        users = [*routes.escalation(alert.level, city=case.city, region=case.region), case.owner_id,
                 case.first_owner_id]
        text = f"{where}已超过处理时限 {deadline}，升级至{LEVEL_NAMES.get(alert.level, '上级')}"
    else:
        due = alert.due_at.astimezone(loop.tz).strftime("%m-%d %H:%M")
        users = [case.owner_id, case.first_owner_id]
        text = f"{where}转交后未在 {due} 前处理"
    users = sorted({u for u in users if u is not None})
    notify(db, users, case, alert.kind.value, text, now=now)
    return users


EVENT_KINDS = {AlertKind.WARN: CaseEventKind.WARNED, AlertKind.OVERDUE: CaseEventKind.ESCALATED,
               AlertKind.HANDOVER: CaseEventKind.HANDOVER_OVERDUE}


def _event(case: Case, alert: Alert, told: list[int], now: datetime) -> dict:
    return {"case_id": case.id, "at": now, "user_id": None, "actor": SYSTEM, "kind": EVENT_KINDS[alert.kind],
            "from_state": None, "to_state": None,
            "detail": {"level": alert.level, "round": alert.round, "notified": told}}
