"""One ESME connection as the simulator sees it: bind state, delayed acks, deliveries in flight."""
from __future__ import annotations

import asyncio
from typing import Any, Callable


class EsmeConnection:
    """Writes go straight to the transport; acks may wait for the configured latency."""

    def __init__(self, writer: asyncio.StreamWriter, ack_latency_s: float) -> None:
        self.writer = writer
        self.transport = writer.transport
        self.mode = ""  # transmitter, receiver or transceiver once bound
        self.bound = False
        self.closing = False
        self.aborted = False
        self.muted = False  # a hung SMSC: the connection stays open, nothing is read or answered
        self.number = 0  # which connection to the simulator this is, counting from 1 (set by it)
        self.inflight: dict[int, Any] = {}  # deliver_sm sequence -> delivery awaiting its resp
        self._latency = ack_latency_s
        self._pending_acks = 0
        self.arrived = 0.0  # loop time when the current batch of PDUs was read
        self._acks_done = asyncio.Event()
        self._acks_done.set()

    @property
    def receives(self) -> bool:
        """True when the ESME bound to receive (deliver_sm may be sent here)."""
        return self.mode in ("receiver", "transceiver")

    @property
    def can_submit(self) -> bool:
        """True when the ESME bound to transmit."""
        return self.mode in ("transmitter", "transceiver")

    @property
    def pending_acks(self) -> int:
        """Acks scheduled but not yet written (the ESME's outstanding window, as seen here)."""
        return self._pending_acks

    def write(self, data: bytes) -> bool:
        """Send bytes unless the connection is going away; True when they were handed to it."""
        if self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def ack(self, data: bytes, on_written: Callable[[], None] | None = None, *,
            latency: float | None = None) -> None:
        """Send a submit_sm_resp once the ack latency (or `latency`) has passed since the PDU
        arrived; on_written() is called once it is written."""
        latency = self._latency if latency is None else latency
        if latency <= 0:
            if self.write(data) and on_written is not None:
                on_written()
            return
        self._pending_acks += 1
        self._acks_done.clear()
        # Counted from arrival, so the simulator's own parsing time is inside the latency.
        asyncio.get_running_loop().call_at(self.arrived + latency, self._ack_now, data,
                                           on_written)

    def _ack_now(self, data: bytes, on_written: Callable[[], None] | None = None) -> None:
        self._pending_acks -= 1
        if self.write(data) and on_written is not None:
            on_written()
        if self._pending_acks == 0:
            self._acks_done.set()

    async def close_after_acks(self, reader: asyncio.StreamReader) -> None:
        """Close gracefully: write the acks already due, half-close, and discard what the ESME
        still sends until it closes; closing with unread input would reset the connection and
        could destroy acks the ESME has not read yet."""
        if not self.aborted:
            try:
                await asyncio.wait_for(self._acks_done.wait(), timeout=5)
                if self.transport.can_write_eof() and not self.transport.is_closing():
                    self.transport.write_eof()
                    await asyncio.wait_for(self._discard(reader), timeout=2)
            except (asyncio.TimeoutError, OSError):  # OSError: the ESME closed first
                pass
        self.transport.close()

    @staticmethod
    async def _discard(reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            pass

    def abort(self) -> None:
        """Cut the connection now, losing anything not yet written."""
        self.aborted = True
        self.closing = True
        self.transport.abort()
