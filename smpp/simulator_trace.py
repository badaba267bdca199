"""What the simulator records for tests and campaigns: the messages accepted, counters, and (when
tracing) the timing of what went over its connections, which crash campaigns compare with the
moments a worker was killed."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class SubmitTrace:
    """One accepted submit_sm segment: when (time.monotonic()) the simulator read it and when it
    wrote its submit_sm_resp; responded stays None when none was written (connection cut, ack
    withheld)."""

    destination: str
    message_id: str
    text: str  # this segment's text (the whole message when it has one segment)
    received: float
    connection: int = 0  # the ESME connection it came on (Session.number)
    responded: float | None = None

    def mark_responded(self) -> None:
        self.responded = time.monotonic()


@dataclass
class MoTrace:
    """One subscriber reply, all its parts: when it was first offered to the ESME and when the ESME
    had answered every part with ESME_ROK (None: not yet)."""

    source: str  # the subscriber
    destination: str
    text: str
    parts: int
    sent: float
    acked: float | None = None
    acked_parts: set[int] = field(default_factory=set)

    def part_acked(self, part: int) -> None:
        self.acked_parts.add(part)
        if self.acked is None and len(self.acked_parts) == self.parts:
            self.acked = time.monotonic()


@dataclass(frozen=True)
class SubmitLogEntry:
    """One accepted message, reassembled: what a subscriber would receive."""

    source: str
    destination: str
    text: str
    message_ids: tuple[str, ...]  # as sent in submit_sm_resp, in segment order
    segments: int
    data_coding: int
    time: float  # epoch seconds when the last segment was accepted


@dataclass
class SimulatorStats:
    """Counters a test can assert on."""

    binds: int = 0
    bind_failures: int = 0
    submits: int = 0
    accepted_segments: int = 0
    throttled: int = 0
    drops: int = 0
    receipts_sent: int = 0
    mo_sent: int = 0
    deliveries_acked: int = 0
    deliveries_refused: int = 0
    nacks_received: int = 0
    unknown_commands: int = 0
    enquire_links: int = 0
    unbinds: int = 0
    max_outstanding: int = 0  # most submits awaiting their ack at once on one session
