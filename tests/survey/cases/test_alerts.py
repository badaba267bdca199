"""What the escalation job owes a case at a moment: each alert once, at its hand-worked time."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from survey.cases.alerts import CaseClock, due_alerts
from survey.cases.deadlines import deadlines_from_data, load_deadlines
from survey.cases.states import AlertKind

SH = ZoneInfo("Asia/Shanghai")
POLICY = load_deadlines()
WARN, OVERDUE, HANDOVER = AlertKind.WARN, AlertKind.OVERDUE, AlertKind.HANDOVER


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def gotone(**changes) -> CaseClock:
    """A 全球通 case opened Friday 10:00: warned Saturday 06:00, due 10:00, region told 16:00."""
    values = dict(segment="gotone", round=1, deadline_at=local(2026, 11, 21, 10), warn_at=local(2026, 11, 21, 6))
    return CaseClock(**{**values, **changes})


def marks(due) -> list[tuple]:
    return [(a.kind, a.round, a.level, a.notify) for a in due.alerts]


def test_nothing_before_the_warning_and_the_next_check_is_the_warning():
    due = due_alerts(POLICY, gotone(), now=local(2026, 11, 21, 5, 59), tz=SH)
    assert due.alerts == () and due.next_check_at == local(2026, 11, 21, 6)


def test_warn_at_20_hours_then_escalate_at_24_then_the_region_after_a_step():
    due = due_alerts(POLICY, gotone(), now=local(2026, 11, 21, 6), tz=SH)
    assert marks(due) == [(WARN, 1, 0, True)] and due.next_check_at == local(2026, 11, 21, 10)
    warned = gotone(marks=frozenset({(WARN, 1, 0)}))
    assert marks(due_alerts(POLICY, warned, now=local(2026, 11, 21, 9, 59), tz=SH)) == []
    due = due_alerts(POLICY, warned, now=local(2026, 11, 21, 10), tz=SH)
    assert marks(due) == [(OVERDUE, 1, 1, True)] and due.next_check_at == local(2026, 11, 21, 16)
    escalated = gotone(marks=frozenset({(WARN, 1, 0), (OVERDUE, 1, 1)}))
    due = due_alerts(POLICY, escalated, now=local(2026, 11, 21, 16), tz=SH)
    assert marks(due) == [(OVERDUE, 1, 2, True)]
    done = gotone(marks=frozenset({(WARN, 1, 0), (OVERDUE, 1, 1), (OVERDUE, 1, 2)}))
    assert due_alerts(POLICY, done, now=local(2026, 12, 31), tz=SH) == due_alerts(POLICY, done, now=local(2027, 1, 1), tz=SH)
    assert due_alerts(POLICY, done, now=local(2026, 12, 31), tz=SH).alerts == ()


def test_a_worker_down_past_the_deadline_records_the_warning_without_sending_it():
    due = due_alerts(POLICY, gotone(), now=local(2026, 11, 21, 17), tz=SH)
    assert marks(due) == [(WARN, 1, 0, False), (OVERDUE, 1, 1, True), (OVERDUE, 1, 2, True)]
    assert due.next_check_at is None


def test_a_reopened_round_starts_its_marks_again():
    reopened = gotone(round=2, marks=frozenset({(WARN, 1, 0), (OVERDUE, 1, 1), (OVERDUE, 1, 2)}))
    assert marks(due_alerts(POLICY, reopened, now=local(2026, 11, 21, 6), tz=SH)) == [(WARN, 2, 0, True)]


def test_a_handover_not_moved_in_time_is_flagged_once_per_handover():
    handed = gotone(handovers=1, handover_due_at=local(2026, 11, 20, 16))
    assert marks(due_alerts(POLICY, handed, now=local(2026, 11, 20, 16), tz=SH)) == [(HANDOVER, 1, 0, True)]
    flagged = gotone(handovers=1, handover_due_at=local(2026, 11, 20, 16), marks=frozenset({(HANDOVER, 1, 0)}))
    assert marks(due_alerts(POLICY, flagged, now=local(2026, 11, 20, 17), tz=SH)) == []
    again = gotone(handovers=2, handover_due_at=local(2026, 11, 20, 23), marks=frozenset({(HANDOVER, 1, 0)}))
    assert marks(due_alerts(POLICY, again, now=local(2026, 11, 20, 23), tz=SH)) == [(HANDOVER, 2, 0, True)]


def test_with_working_hours_the_vip_escalation_due_at_0400_comes_at_0900():
    policy = deadlines_from_data({
        "segments": [{"key": "vip", "when": {"tier": ["钻石"]}, "reply_hours": 8, "warn_hours": 6, "handover_hours": 3}],
        "default": {"key": "standard", "reply_hours": 48, "warn_hours": 40, "handover_hours": 6},
        "working_hours": {"start": "09:00", "end": "18:00"}})
    timing = policy.timing(policy.segment("vip"), local(2026, 11, 20, 20), SH)
    case = CaseClock("vip", 1, timing.deadline_at, timing.warn_at)
    assert due_alerts(policy, case, now=local(2026, 11, 21, 4), tz=SH).alerts == ()
    due = due_alerts(policy, case, now=local(2026, 11, 21, 9), tz=SH)
    assert marks(due) == [(WARN, 1, 0, False), (OVERDUE, 1, 1, True)]
    assert due.next_check_at == local(2026, 11, 21, 12)  # the region a VIP step (3 h) after the city
