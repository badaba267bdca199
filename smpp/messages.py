"""The data that crosses smpp/'s boundary: what callers submit and what the callbacks receive."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send; key is the caller's id (e.g. the outbound row id) echoed in results."""

    key: str
    destination: str
    text: str
    source: str | None = None  # None: the client's configured source address
    ref: int = 0  # multipart reference shared by all segments; the caller picks it


@dataclass(frozen=True)
class SubmitResult:
    """Outcome of one segment's submit_sm: an SMSC message id, or a failure status."""

    key: str
    segment_index: int  # 1-based
    total_segments: int
    message_id: str | None
    status: int  # SMPP command_status; 0 is ESME_ROK
    permanent: bool  # for failures: True when retrying cannot help

    @property
    def ok(self) -> bool:
        """True when the SMSC accepted the segment."""
        return self.status == 0 and self.message_id is not None


@dataclass(frozen=True)
class InboundMessage:
    """A mobile-originated message (reply), reassembled and decoded."""

    source: str  # the subscriber
    destination: str  # our short code
    text: str
    data_coding: int
    segments: int = 1
    reference: int | None = None  # multipart reference, None for a single part
