"""A stand-in for the SMPP client: it collects what the worker submits, and the test decides what the
SMSC answers and when."""
from __future__ import annotations

from smpp.messages import OutgoingMessage, SubmitResult


class FakeClient:
    """Collects submits; the test decides what the SMSC answers."""

    def __init__(self, config, *, on_submitted, on_replies):
        self.on_submitted, self.on_replies = on_submitted, on_replies
        self.sent: list[OutgoingMessage] = []
        self.unacked: list[OutgoingMessage] = []
        self._ids = iter(range(0x1000, 0x100000))

    def submit_many(self, messages: list[OutgoingMessage]) -> None:
        self.sent.extend(messages)
        self.unacked.extend(messages)

    def ack_all(self) -> list[str]:
        """Acknowledge every outstanding submit (one segment each, hex ids); returns the ids."""
        ids = []
        for message in self.unacked:
            message_id = f"{next(self._ids):X}"
            ids.append(message_id)
            self.on_submitted(SubmitResult(message.key, 1, 1, message_id, 0, False))
        self.unacked = []
        return ids

    @property
    def backlog(self) -> int:
        return len(self.unacked)

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...
