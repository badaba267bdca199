"""The case state machine: a pure function from (state, command) to the change to store.

    OPEN ──contact──► CONTACTED ──resolve──► RESOLVED ──recovery "2"──► REOPENED ─┐
      │                   │                                                       │
      └──────────────────►├──unreachable──► UNREACHABLE ──reopen──► REOPENED       │
                          ◄──────────────────────────────────── (active again) ◄──┘

Resolving needs a root cause from the taxonomy, an action and a note; every change becomes a line of
the case's history with who and when (the service stores it). A hand-over changes the owner, not the
state. Commands that make no sense in a state are refused with the field and the problem; nothing
is stored then.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from channels.characters import text_problem
from survey.cases.states import CaseEventKind, CaseState
from survey.cases.taxonomy import Taxonomy

NOTE_LIMIT = 2000


class Refused(ValueError):
    """A command the case cannot take; str() is "field: problem", like the other services' errors."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class RecordContact:
    reached: bool
    note: str


@dataclass(frozen=True)
class Resolve:
    root_cause: str
    action: str
    note: str


@dataclass(frozen=True)
class MarkUnreachable:
    note: str


@dataclass(frozen=True)
class HandOver:
    to_user: int
    note: str = ""


@dataclass(frozen=True)
class Reopen:
    reason: str  # "recovery" (the customer answered 不满意) or a manager's note


Command = Union[RecordContact, Resolve, MarkUnreachable, HandOver, Reopen]


@dataclass(frozen=True)
class Change:
    state: CaseState
    event: CaseEventKind
    detail: dict[str, Any] = field(default_factory=dict)
    contact: bool = False  # counts as a contact (the first one sets the time to first contact)
    moved: bool = False  # the owner acted: a pending hand-over deadline is met
    closes: bool = False
    reopens: bool = False  # a new round: new deadline, escalation from the start
    recovery_check: bool = False  # the customer is asked whether it is now fixed


def _note(text: str | None, *, required: bool) -> str:
    note = (text or "").strip()
    if required and not note:
        raise Refused("note", "请填写处理说明")
    if len(note) > NOTE_LIMIT:
        raise Refused("note", f"最多 {NOTE_LIMIT} 个字符")
    problem = text_problem(note, free=True)
    if problem:  # PostgreSQL refuses NUL outright; bidi controls would disguise the history
        raise Refused("note", f"含有不可用的字符：{problem}")
    return note


def decide(state: CaseState, command: Command, *, taxonomy: Taxonomy, owner_id: int | None = None) -> Change:
    """The change a command makes to a case in this state; raises Refused. Performs no I/O."""
    if isinstance(command, Reopen):
        if state.is_active:
            raise Refused("state", "工单仍在处理中，无需重开")
        return Change(CaseState.REOPENED, CaseEventKind.REOPENED, {"reason": command.reason[:200]}, reopens=True)
    if not state.is_active:
        raise Refused("state", "工单已关闭")
    if isinstance(command, RecordContact):
        note = _note(command.note, required=True)
        if command.reached:
            return Change(CaseState.CONTACTED, CaseEventKind.CONTACT, {"note": note}, contact=True, moved=True)
        return Change(state, CaseEventKind.CONTACT_ATTEMPT, {"note": note}, contact=True, moved=True)
    if isinstance(command, Resolve):
        if command.root_cause not in taxonomy.root_causes:
            raise Refused("root_cause", "请选择根本原因" if not command.root_cause else "不是可选的根本原因")
        if command.action not in taxonomy.actions:
            raise Refused("action", "请选择整改措施" if not command.action else "不是可选的整改措施")
        note = _note(command.note, required=True)
        return Change(CaseState.RESOLVED, CaseEventKind.RESOLVED,
                      {"root_cause": command.root_cause, "action": command.action, "note": note},
                      moved=True, closes=True, recovery_check=True)
    if isinstance(command, MarkUnreachable):
        note = _note(command.note, required=True)
        return Change(CaseState.UNREACHABLE, CaseEventKind.UNREACHABLE, {"note": note}, moved=True, closes=True)
    if isinstance(command, HandOver):
        if command.to_user == owner_id:
            raise Refused("to_user", "已是当前处理人")
        return Change(state, CaseEventKind.HANDED_OVER,
                      {"from_user": owner_id, "to_user": command.to_user, "note": _note(command.note, required=False)})
    raise TypeError(f"unknown command {command!r}")
