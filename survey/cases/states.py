"""States and kinds of the closed loop; plain enums shared by the pure core and the tables."""
from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    """OPEN > CONTACTED > RESOLVED | UNREACHABLE; a dissatisfied recovery reply > REOPENED (and round again).

    OPEN, CONTACTED and REOPENED are active: their deadline runs and they escalate."""

    OPEN = "open"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    UNREACHABLE = "unreachable"
    REOPENED = "reopened"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


ACTIVE_STATES = (CaseState.OPEN, CaseState.CONTACTED, CaseState.REOPENED)
CLOSED_STATES = (CaseState.RESOLVED, CaseState.UNREACHABLE)


class CaseEventKind(StrEnum):
    """What a line of a case's history (its audit log) records."""

    OPENED = "opened"
    CONTACT = "contact"  # the customer was reached
    CONTACT_ATTEMPT = "contact_attempt"  # tried, not reached
    HANDED_OVER = "handed_over"
    RESOLVED = "resolved"
    UNREACHABLE = "unreachable"
    REOPENED = "reopened"
    WARNED = "warned"
    ESCALATED = "escalated"
    HANDOVER_OVERDUE = "handover_overdue"
    RECOVERY_QUEUED = "recovery_queued"
    RECOVERY_SKIPPED = "recovery_skipped"
    RECOVERY_REPLY = "recovery_reply"
    RECOVERY_CLOSED = "recovery_closed"  # no reply in the window, or the SMS could not go


class AlertKind(StrEnum):
    """What the escalation job marks (once per case, round and level: the marks are its memory)."""

    WARN = "warn"  # the deadline is near: the owner is told
    OVERDUE = "overdue"  # the deadline passed: the next level is told
    HANDOVER = "handover"  # a hand-over was not moved in time


class RouteDuty(StrEnum):
    """What a routing row makes its user: the owner of new cases, or who an overdue case goes to."""

    OWNER = "owner"
    CITY = "city"  # first escalation level
    REGION = "region"  # second escalation level


class RouteMatch(StrEnum):
    OUTLET = "outlet"
    CHANNEL = "channel"
    CITY = "city"
    REGION = "region"


class RecoveryState(StrEnum):
    """PENDING (SMS queued or out, awaiting the reply) > SATISFIED | DISSATISFIED | OPTED_OUT | NO_REPLY;
    CANCELLED when the SMS never went (opt-out meanwhile, failure); SKIPPED when none was sent at all
    (the customer had opted out or is on the do-not-survey list)."""

    PENDING = "pending"
    SATISFIED = "satisfied"
    DISSATISFIED = "dissatisfied"
    OPTED_OUT = "opted_out"
    NO_REPLY = "no_reply"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
