"""What staff (and the customer's recovery reply) do to a case: each command decided by the pure
machine, then stored with its history line, notifications and, on a resolution, the recovery check,
all in the caller's transaction.

The recovery check is one SMS of purpose recovery, tied to no survey session, queued outside quiet
hours and sent by the normal dispatcher; an opt-out or the do-not-survey list stops it (fatigue does
not: it follows up the customer's own complaint). One per case and round, so a resolution asks once.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from channels.models import Subscriber
from survey.accounts.models import Role, User
from survey.cases.config import CaseLoop
from survey.cases.machine import Change, Command, HandOver, Refused, Reopen, decide
from survey.cases.recovery import QUESTION, recovery_survey
from survey.cases.states import CaseEventKind, CaseState, RecoveryState
from survey.models import Case, CaseEvent, CaseNotification, CaseRecovery, OutboundMessage
from survey.quiet_hours import next_allowed
from survey.states import MessagePurpose, OutboundState
from survey.texts import question_text

SYSTEM, CUSTOMER = "系统", "客户"
HANDOVER_ROLES = (Role.CHANNEL_LEAD, Role.MANAGER, Role.ADMIN)


def record_event(db: Session, case: Case, kind: CaseEventKind, *, now: datetime, actor: User | None = None,
                 actor_name: str = SYSTEM, before: CaseState | None = None, after: CaseState | None = None,
                 detail: dict | None = None) -> None:
    """A line of the case's history, in the caller's transaction."""
    db.execute(insert(CaseEvent.__table__).values(
        case_id=case.id, at=now, user_id=actor.id if actor else None,
        actor=actor.username if actor else actor_name, kind=kind,
        from_state=before.value if before else None, to_state=after.value if after else None, detail=detail))


def notify(db: Session, user_ids: Iterable[int | None], case: Case, kind: str, text: str, *, now: datetime) -> int:
    """In-app notices to these users (each once); returns how many."""
    users = sorted({u for u in user_ids if u is not None})
    if users:
        db.execute(insert(CaseNotification.__table__), [
            {"user_id": u, "case_id": case.id, "kind": kind, "text": text[:256], "created_at": now, "read_at": None}
            for u in users])
    return len(users)


def act(db: Session, case: Case, command: Command, *, actor: User | None, now: datetime, loop: CaseLoop,
        actor_name: str = SYSTEM) -> Change:
    """Carry out a command on a case (loaded in db); raises Refused, leaving nothing stored."""
    if isinstance(command, HandOver):
        target = db.get(User, command.to_user)
        if target is None or target.disabled_at is not None or target.role not in HANDOVER_ROLES:
            raise Refused("to_user", "请选择有效的接收人")
    change = decide(case.state, command, taxonomy=loop.policy.taxonomy, owner_id=case.owner_id)
    before = case.state
    deadlines = loop.policy.deadlines
    segment = deadlines.segment(case.segment)
    case.state, case.updated_at = change.state, now
    if change.contact and case.first_contact_at is None:
        case.first_contact_at = now
    if change.moved and case.handover_due_at is not None:
        case.handover_due_at = None
    if change.closes:
        case.closed_at, case.next_check_at = now, None
        if change.state is CaseState.RESOLVED:
            case.root_cause, case.action, case.note = (change.detail["root_cause"], change.detail["action"],
                                                       change.detail["note"])
        else:
            case.note = change.detail.get("note")
    if change.reopens:
        timing = deadlines.timing(segment, now, loop.tz)
        case.round += 1
        case.round_started_at, case.deadline_at, case.warn_at = now, timing.deadline_at, timing.warn_at
        case.escalation_level, case.closed_at = 0, None
        case.root_cause = case.action = case.note = None
        case.next_check_at = min(timing.warn_at, timing.deadline_at)
    if isinstance(command, HandOver):
        case.owner_id = command.to_user
        case.handovers += 1
        case.handover_due_at = deadlines.handover_due(segment, now, loop.tz)
        case.next_check_at = min(filter(None, (case.next_check_at, case.handover_due_at)))
    db.flush()
    record_event(db, case, change.event, now=now, actor=actor, actor_name=actor_name, before=before,
                 after=change.state, detail=change.detail or None)
    if isinstance(command, HandOver):
        notify(db, [command.to_user], case, "handover",
               f"工单 #{case.id} 已转交给您，请在 {_local(case.handover_due_at, loop)} 前处理", now=now)
    if change.reopens:
        notify(db, [case.owner_id, case.first_owner_id], case, "reopened",
               f"工单 #{case.id} 已重开（{'客户回访不满意' if isinstance(command, Reopen) and command.reason == 'recovery' else '重新处理'}），"
               f"请在 {_local(case.deadline_at, loop)} 前处理", now=now)
    if change.recovery_check:
        queue_check(db, case, now=now, loop=loop)
    return change


def _local(moment: datetime | None, loop: CaseLoop) -> str:
    return moment.astimezone(loop.tz).strftime("%m-%d %H:%M") if moment else ""


def handover_candidates(db: Session, *, exclude: int | None = None) -> list[User]:
    """Who a case may be handed to: active leads, managers and admins."""
    query = select(User).where(User.disabled_at.is_(None), User.role.in_(HANDOVER_ROLES)).order_by(User.username)
    return [u for u in db.scalars(query) if u.id != exclude]


def queue_check(db: Session, case: Case, *, now: datetime, loop: CaseLoop) -> CaseRecovery:
    """The check of this resolution (one per case and round, so a resolution asks once)."""
    existing = db.scalar(select(CaseRecovery).where(CaseRecovery.case_id == case.id,
                                                    CaseRecovery.round == case.round))
    if existing is not None:
        return existing
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == case.msisdn))
    if subscriber is not None and (subscriber.opted_out_at is not None or subscriber.do_not_survey):
        check = CaseRecovery(case_id=case.id, round=case.round, msisdn=case.msisdn, state=RecoveryState.SKIPPED,
                             created_at=now)
        db.add(check)
        record_event(db, case, CaseEventKind.RECOVERY_SKIPPED, now=now,
                     detail={"reason": "opted_out" if subscriber.opted_out_at else "do_not_survey"})
        return check
    message = OutboundMessage(
        session_id=None, msisdn=case.msisdn, text=question_text(recovery_survey(), QUESTION, {}),
        purpose=MessagePurpose.RECOVERY, question=QUESTION, state=OutboundState.PENDING,
        due_at=next_allowed(now, tz=loop.tz, start=loop.quiet_start, end=loop.quiet_end),
        attempts=0, segments=0, ref=0, created_at=now)
    db.add(message)
    db.flush()
    check = CaseRecovery(case_id=case.id, round=case.round, msisdn=case.msisdn, message_id=message.id,
                         state=RecoveryState.PENDING, created_at=now)
    db.add(check)
    db.flush()
    record_event(db, case, CaseEventKind.RECOVERY_QUEUED, now=now, detail={"due_at": message.due_at.isoformat()})
    return check
