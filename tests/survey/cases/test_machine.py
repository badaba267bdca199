"""The case state machine as a table of (state, command) → change or refusal; no database."""
from __future__ import annotations

import pytest

from survey.cases.machine import HandOver, MarkUnreachable, RecordContact, Refused, Reopen, Resolve, decide
from survey.cases.states import CaseEventKind, CaseState
from survey.cases.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
OPEN, CONTACTED, RESOLVED, UNREACHABLE, REOPENED = (CaseState.OPEN, CaseState.CONTACTED, CaseState.RESOLVED,
                                                   CaseState.UNREACHABLE, CaseState.REOPENED)
FIX = Resolve("staff_attitude", "coached", "已致电致歉，员工已辅导")


@pytest.mark.parametrize("state, command, expected_state, event", [
    (OPEN, RecordContact(True, "已联系客户"), CONTACTED, CaseEventKind.CONTACT),
    (OPEN, RecordContact(False, "无人接听"), OPEN, CaseEventKind.CONTACT_ATTEMPT),
    (REOPENED, RecordContact(True, "再次联系"), CONTACTED, CaseEventKind.CONTACT),
    (CONTACTED, RecordContact(True, "第二次沟通"), CONTACTED, CaseEventKind.CONTACT),
    (OPEN, FIX, RESOLVED, CaseEventKind.RESOLVED),
    (CONTACTED, FIX, RESOLVED, CaseEventKind.RESOLVED),
    (REOPENED, FIX, RESOLVED, CaseEventKind.RESOLVED),
    (OPEN, MarkUnreachable("三次未接通"), UNREACHABLE, CaseEventKind.UNREACHABLE),
    (CONTACTED, HandOver(7, "转网络部"), CONTACTED, CaseEventKind.HANDED_OVER),
    (RESOLVED, Reopen("recovery"), REOPENED, CaseEventKind.REOPENED),
    (UNREACHABLE, Reopen("客户回电"), REOPENED, CaseEventKind.REOPENED),
])
def test_transitions(state, command, expected_state, event):
    change = decide(state, command, taxonomy=TAXONOMY, owner_id=3)
    assert (change.state, change.event) == (expected_state, event)


def test_a_resolution_closes_and_asks_for_the_recovery_check_an_unreachable_one_does_not():
    resolved = decide(OPEN, FIX, taxonomy=TAXONOMY)
    assert resolved.closes and resolved.recovery_check and resolved.detail["root_cause"] == "staff_attitude"
    unreachable = decide(OPEN, MarkUnreachable("三次未接通"), taxonomy=TAXONOMY)
    assert unreachable.closes and not unreachable.recovery_check
    assert decide(RESOLVED, Reopen("recovery"), taxonomy=TAXONOMY).reopens


@pytest.mark.parametrize("state, command, field", [
    (OPEN, Resolve("", "coached", "说明"), "root_cause"),
    (OPEN, Resolve("bad_luck", "coached", "说明"), "root_cause"),
    (OPEN, Resolve("staff_attitude", "", "说明"), "action"),
    (OPEN, Resolve("staff_attitude", "coached", "  "), "note"),
    (OPEN, Resolve("staff_attitude", "coached", "长" * 2001), "note"),
    (OPEN, RecordContact(True, ""), "note"),
    (OPEN, RecordContact(True, "已联系\x00"), "note"),
    (OPEN, Resolve("staff_attitude", "coached", "说明\u202e"), "note"),
    (OPEN, MarkUnreachable(""), "note"),
    (OPEN, HandOver(3), "to_user"),  # already the owner
    (RESOLVED, FIX, "state"),
    (RESOLVED, RecordContact(True, "x"), "state"),
    (UNREACHABLE, HandOver(9), "state"),
    (OPEN, Reopen("x"), "state"),
    (REOPENED, Reopen("x"), "state"),
])
def test_refusals_name_the_field(state, command, field):
    with pytest.raises(Refused) as caught:
        decide(state, command, taxonomy=TAXONOMY, owner_id=3)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
