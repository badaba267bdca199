"""Lifecycle states of sessions and messages; plain enums shared by the machine and the tables."""
from __future__ import annotations

from enum import StrEnum


class SessionState(StrEnum):
    """SCHEDULED > SENT > WAITING > COMPLETED
                      |        |
                      > FAILED > EXPIRED | OPTED_OUT"""

    SCHEDULED = "scheduled"
    SENT = "sent"
    WAITING = "waiting"
    COMPLETED = "completed"
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


# Sessions that may still send or receive; one number never has two of them.
OPEN_STATES = (SessionState.SCHEDULED, SessionState.SENT, SessionState.WAITING)


class OutboundState(StrEnum):
    """PENDING > SUBMITTING > ACKED > DELIVERED | UNDELIVERED, or FAILED / CANCELLED."""

    PENDING = "pending"
    SUBMITTING = "submitting"  # handed to the SMPP client; ack not yet recorded
    ACKED = "acked"  # every segment has an SMSC message id: never submitted again
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class InboundState(StrEnum):
    RECEIVED = "received"  # stored, not yet parsed
    PROCESSED = "processed"
    UNMATCHED = "unmatched"  # no session was waiting for this number
    DUPLICATE = "duplicate"  # the SMSC delivered the same reply again (our deliver_sm_resp was lost)
    ERROR = "error"


class ReceiptState(StrEnum):
    RECEIVED = "received"  # stored, not yet matched to a segment
    MATCHED = "matched"
    UNMATCHED = "unmatched"  # no segment had its id after the patience (its ack never came)


class MessagePurpose(StrEnum):
    QUESTION = "question"
    REASK = "reask"
    THANKS = "thanks"
    OPTOUT_CONFIRM = "optout_confirm"
    RECOVERY = "recovery"  # after a case is resolved: is it fixed now? (survey.cases; tied to no session)


ASKING = frozenset({MessagePurpose.QUESTION, MessagePurpose.REASK})  # messages a reply answers
