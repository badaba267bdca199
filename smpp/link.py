"""One SMPP connection: smpplib's Client holds the socket, sequence numbers and bind state;
bytes are written in batches and read through a frame buffer so garbage cannot stall the session."""
from __future__ import annotations

import logging
import select
import socket
import time
from typing import Any, Callable

import smpplib.client
from smpplib import consts, smpp

from smpp import wire
from smpp.config import ClientConfig

log = logging.getLogger(__name__)

ConnectionFactory = Callable[[str, int, float], socket.socket]

_BOUND_STATES = {
    "transceiver": consts.SMPP_CLIENT_STATE_BOUND_TRX,
    "transmitter": consts.SMPP_CLIENT_STATE_BOUND_TX,
    "receiver": consts.SMPP_CLIENT_STATE_BOUND_RX,
}


class Dropped(ConnectionError):
    """The connection is gone or unusable; the session reconnects."""


class BindRefused(Dropped):
    """The SMSC answered the bind with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with status {status:#x}")
        self.status = status


def default_connection(host: str, port: int, timeout: float) -> socket.socket:
    """Open a TCP connection with Nagle off: PDUs are small and latency-bound."""
    sock = socket.create_connection((host, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class SmppSocketClient(smpplib.client.Client):
    """smpplib's Client with an injectable connection factory."""

    def __init__(self, host: str, port: int, *, timeout: float,
                 factory: ConnectionFactory | None = None, sequence_generator: Any = None) -> None:
        super().__init__(host, port, timeout=timeout, sequence_generator=sequence_generator,
                         allow_unknown_opt_params=True)
        self._factory = factory or default_connection

    def connect(self) -> None:
        """Connect through the factory (smpplib's own connect cannot be redirected)."""
        try:
            self._socket = self._factory(self.host, self.port, self.timeout)
        except OSError as exc:
            raise Dropped(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self.state = consts.SMPP_CLIENT_STATE_OPEN

    @property
    def sock(self) -> socket.socket:
        """The connected socket."""
        if self._socket is None:
            raise Dropped("not connected")
        return self._socket


class Link:
    """A connected (and, after open_link, bound) SMPP connection owned by the I/O thread."""

    def __init__(self, client: SmppSocketClient, mode: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.mode = mode
        self.bound = False
        self._monotonic = monotonic
        self._frames = wire.FrameBuffer()
        self._early: list[bytes] = []
        self._out: list[bytes] = []
        self.last_activity = monotonic()
        self._enquire_seq: int | None = None
        self._enquire_sent = 0.0

    def fileno(self) -> int:
        """Let select() wait on the link directly."""
        return self.client.sock.fileno()

    def send(self, command: str, **fields: Any) -> int:
        """Queue a request built by smpplib (next sequence number); return its sequence."""
        pdu = smpp.make_pdu(command, client=self.client, **fields)
        self._out.append(pdu.generate())
        return pdu.sequence

    def send_encoded(self, pdu: bytes) -> int:
        """Queue a request encoded in advance, stamped with the next sequence number."""
        sequence = self.client.next_sequence()
        self._out.append(pdu[:12] + sequence.to_bytes(4, "big") + pdu[16:])
        return sequence

    def queue(self, data: bytes) -> None:
        """Queue raw PDU bytes (responses)."""
        self._out.append(data)

    def flush(self) -> None:
        """Write everything queued in one sendall."""
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        try:
            self.client.sock.sendall(data)
        except OSError as exc:
            raise Dropped(f"send failed: {exc}") from exc

    def pop_early(self) -> list[bytes]:
        """PDUs that arrived together with the bind response."""
        frames, self._early = self._early, []
        return frames

    def receive(self) -> list[bytes]:
        """Read what the socket has and return the whole PDUs; Dropped on EOF."""
        frames: list[bytes] = []
        try:
            data = self.client.sock.recv(65536)
        except (BlockingIOError, socket.timeout):
            return frames
        except OSError as exc:
            raise Dropped(f"receive failed: {exc}") from exc
        if not data:
            raise Dropped("connection closed by the SMSC")
        self.last_activity = self._monotonic()
        self._frames.feed(data)
        try:
            while (frame := self._frames.next_frame()) is not None:
                frames.append(frame)
        except wire.FramingError as exc:
            # The length prefix is garbage, so the next PDU boundary is unknowable: nack, reconnect.
            log.error("unframeable SMPP stream: %s", exc)
            self.queue(wire.generic_nack(0, wire.RINVCMDLEN))
            self.flush()
            raise Dropped(str(exc)) from exc
        return frames

    def salvage(self) -> list[bytes]:
        """Whole PDUs still readable after the connection failed (acks sent before a close)."""
        frames: list[bytes] = []
        try:
            self.client.sock.setblocking(False)
            while data := self.client.sock.recv(65536):
                self._frames.feed(data)
                while (frame := self._frames.next_frame()) is not None:
                    frames.append(frame)
        except (OSError, wire.FramingError, Dropped):
            pass
        return frames

    def keepalive(self, config: ClientConfig, now: float) -> None:
        """Send enquire_link when idle; Dropped when the last one went unanswered."""
        if self._enquire_seq is not None:
            if now - self._enquire_sent > config.response_timeout_s:
                raise Dropped("enquire_link unanswered")
        elif now - self.last_activity >= config.enquire_link_s:
            self.probe(now)

    def probe(self, now: float) -> None:
        """Send enquire_link now unless one is awaiting its answer (a response timed out: is the
        SMSC still there?); keepalive() drops the link if it goes unanswered."""
        if self._enquire_seq is None:
            self._enquire_seq = self.send("enquire_link")
            self._enquire_sent = now

    def next_deadline(self, config: ClientConfig) -> float:
        """When keepalive() next has something to do."""
        if self._enquire_seq is not None:
            return self._enquire_sent + config.response_timeout_s
        return self.last_activity + config.enquire_link_s

    def on_response(self, head: wire.Header) -> bool:
        """Consume link-level responses (enquire_link_resp, unbind_resp); True if consumed."""
        if head.name == "enquire_link_resp" or (
                head.name == "generic_nack" and head.sequence == self._enquire_seq):
            self._enquire_seq = None
            return True
        if head.name == "unbind_resp":
            self.bound = False
            return True
        return False

    def close(self) -> None:
        """Close the socket without smpplib's unbind round trip."""
        self.bound = False
        self.client.state = consts.SMPP_CLIENT_STATE_OPEN  # smpplib warns when closing "bound"
        try:
            self.client.disconnect()
        except OSError:
            pass


def open_link(config: ClientConfig, mode: str, *, factory: ConnectionFactory | None,
              sequence_generator: Any, now: float,
              monotonic: Callable[[], float] = time.monotonic) -> Link:
    """Connect and bind (mode: transceiver, transmitter or receiver); BindRefused on an error."""
    client = SmppSocketClient(config.host, config.port, timeout=config.response_timeout_s,
                              factory=factory, sequence_generator=sequence_generator)
    client.connect()
    link = Link(client, mode, monotonic)
    try:
        sequence = link.send(f"bind_{mode}", system_id=config.system_id, password=config.password,
                             system_type=config.system_type, addr_ton=0, addr_npi=0,
                             address_range="")
        link.flush()
        deadline = now + config.response_timeout_s
        while not link.bound:
            remaining = deadline - monotonic()
            if remaining <= 0 or not select.select([link], [], [], remaining)[0]:
                raise Dropped(f"no answer to bind_{mode}")
            frames = link.receive()
            for i, frame in enumerate(frames):
                head = wire.header(frame)
                if head.sequence == sequence and head.is_response:
                    if head.status != wire.ROK:
                        raise BindRefused(head.status)
                    link.bound = True
                    client.state = _BOUND_STATES[mode]
                    link._early = frames[i + 1:]  # an SMSC may deliver right after binding
                    break
                log.warning("ignoring %s before the bind response", head.name or hex(head.command_id))
    except BaseException:
        link.close()
        raise
    log.info("bound as %s to %s:%s", mode, config.host, config.port)
    return link
