"""The ESME client session: one I/O thread owns the SMPP sockets; callers feed it through a queue.

Lifecycle: ``start()`` spawns the I/O thread, which connects, binds (one transceiver, or a
transmitter and a receiver), and then loops on ``select`` over the sockets and a wake-up pipe.
``stop()`` unbinds and closes. After any drop (EOF, socket error, unbind from the SMSC, an
enquire_link that gets no answer, a stream that cannot be framed) it reconnects and rebinds with
capped exponential backoff.

Outbound: ``submit(OutgoingMessage)`` segments and encodes a message on the caller's thread and queues
it; the I/O thread keeps up to
``window`` submit_sm outstanding (matched to submit_sm_resp by sequence number) and paces them
with a token bucket at ``tps``. ESME_RTHROTTLED / ESME_RMSGQFUL / ESME_RSYSERR, a generic_nack
to a submit (our PDUs are well-formed, so the SMSC choked) and response timeouts are retried with
backoff; other errors are reported once as permanent. Every segment's outcome goes to
``on_submitted``.

SMSC faults (issue #16, tests/smpp/test_faults.py, benchmarks/bench_faults.py): a throttling
answer pauses all sending with a growing backoff and shrinks the window to one probing submit,
which grows back by one per ack; refusals never count as attempts, so a storm of any length is
waited out. A response timeout probes the link with enquire_link at once (a hung SMSC is left
after two timeouts, not after the idle keepalive interval) and holds the resend for one more
timeout: an ack that arrives late still settles the segment and cancels the resend.

Delivery guarantee: a segment whose submit_sm_resp arrived is never submitted again by this
client. A segment in flight when the connection drops, or whose response times out, is submitted
again: if the SMSC had accepted it and only the ack was lost, the subscriber gets it twice
(at-least-once). The survey side records each ack, so after a restart it resubmits only
segments that were never acknowledged.

Inbound: receipts (``esm_class & 0x3C == 0x04``) go to ``on_receipt``; replies are decoded,
reassembled and handed to ``on_inbound``; both *before* deliver_sm_resp is written. With
``on_fragment``, each part of a multipart reply goes there instead, to be stored and joined by
the caller, so no acknowledged part lives only in memory. ``on_replies`` takes the place of all
three and gets every reply, part and receipt waiting at once, in arrival order, to store in one
transaction. If a callback raises (nothing could be stored), the answer is ESME_RX_T_APPN so the
SMSC delivers again. These run on a store thread of their own, so a database that is slow or
locked delays only the answers to deliver_sm, never acks or keepalives; ``on_submitted`` runs on
the I/O thread: keep it short.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import select
import socket
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from smpp import wire
from smpp.config import BindMode, ClientConfig
from smpp.encoding import MessageTooLong, segment
from smpp.inbound import InboundHandler, PendingStore
from smpp.link import ConnectionFactory, Dropped, Link, open_link
from smpp.messages import InboundMessage, OutgoingMessage, SubmitResult
from smpp.reassembly import Fragment
from smpp.receipts import DeliveryReceipt
from smpp.store_thread import Reply, StoreThread
from smpp.throttle import TokenBucket

log = logging.getLogger(__name__)

# Errors after which the same submit may succeed later (SMPP 3.4 gives no formal split).
TEMPORARY_STATUSES = frozenset({wire.RTHROTTLED, wire.RMSGQFUL, wire.RSYSERR})
THROTTLING_STATUSES = frozenset({wire.RTHROTTLED, wire.RMSGQFUL})
RESPONSE_TIMEOUT = -1  # status reported for a segment that gave up after response timeouts
_MAX_LATE = 10_000  # timed-out sequences remembered for their late acks (oldest forgotten)


@dataclass
class _Message:
    key: str
    remaining: int


@dataclass
class _Segment:
    message: _Message
    index: int
    total: int
    pdu: bytes  # submit_sm encoded with sequence 0; the I/O thread stamps the real one
    attempts: int = 0
    unsendable: int = 0  # the SMPP status of a message that could not be encoded
    final: bool = False  # its outcome went to on_submitted: never sent again


@dataclass
class ClientStats:
    """Counters for tests, benchmarks and logs (read them from any thread; they only grow)."""

    submitted: int = 0
    acked: int = 0
    failed: int = 0
    retries: int = 0
    throttled: int = 0
    timeouts: int = 0
    reconnects: int = 0
    binds: int = 0
    receipts: int = 0
    inbound: int = 0
    malformed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class SmppClient:
    """An ESME session on smpplib with windowing, throttling, retries and reconnects."""

    def __init__(self, config: ClientConfig, *,
                 on_submitted: Callable[[SubmitResult], None],
                 on_receipt: Callable[[DeliveryReceipt], None] | None = None,
                 on_inbound: Callable[[InboundMessage], None] | None = None,
                 on_fragment: Callable[[Fragment], None] | None = None,
                 on_replies: Callable[[list[Reply]], None] | None = None,
                 connection_factory: ConnectionFactory | None = None,
                 sequence_generator: Any = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._on_submitted = on_submitted
        self._factory = connection_factory
        self._sequence_generator = sequence_generator
        self._monotonic = monotonic
        self._bucket = TokenBucket(config.tps, monotonic=monotonic)
        self._store = StoreThread(on_inbound=on_inbound, on_fragment=on_fragment,
                                  on_receipt=on_receipt, on_replies=on_replies, wake=self._wake)
        self._inbound = InboundHandler(keep_fragments=self._store.keeps_fragments,
                                       monotonic=monotonic, reassembly_ttl=config.reassembly_ttl_s)
        self.stats = ClientStats()
        self._inbox: deque[list[_Segment]] = deque()
        self._cond = threading.Condition()
        self._unfinished = 0
        self._bound = False
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread: threading.Thread | None = None
        # I/O-thread state below.
        self._pending: deque[_Segment] = deque()
        self._delayed: list[tuple[float, int, _Segment]] = []
        self._tiebreak = itertools.count()
        self._outstanding: OrderedDict[int, tuple[_Segment, float]] = OrderedDict()
        # Sequences whose response timed out on this session: a late ack still settles them.
        self._late: OrderedDict[int, _Segment] = OrderedDict()
        self._window = config.window  # shrinks to 1 after a throttling answer, regrows per ack
        self._links: list[Link] = []
        self._storing = 0  # replies handed to the store thread and not yet answered
        self._paused_until = 0.0
        self._throttle_backoff = config.retry_min_s

    # -- caller side (any thread) -------------------------------------------------------------

    def start(self) -> None:
        """Start the I/O thread; it connects and binds in the background."""
        self._thread = threading.Thread(target=self._run, name="smpp-client", daemon=True)
        self._thread.start()
        self._store.start()

    def submit(self, message: OutgoingMessage) -> None:
        """Queue a message; its segments' outcomes arrive at on_submitted.

        Segmentation and PDU encoding happen here, on the caller's thread, so the I/O thread
        only stamps sequence numbers. A message that cannot be encoded (more than 255 segments,
        an address too long) is reported to on_submitted as a permanent failure: one bad row must
        not stop a batch.
        """
        self.submit_many([message])

    def submit_many(self, messages: list[OutgoingMessage]) -> None:
        """Queue several messages with one wake-up of the I/O thread (each wake costs a GIL hand-off)."""
        encoded = [self._encode_or_reject(message) for message in messages]
        if not encoded:
            return
        with self._cond:
            self._unfinished += len(encoded)
            self._inbox.extend(encoded)
        self._wake()

    def _encode_or_reject(self, message: OutgoingMessage) -> list[_Segment]:
        try:
            return self._encode(message)
        except (wire.FieldTooLong, MessageTooLong) as exc:
            log.error("cannot submit %s: %s", message.key, exc)
            status = exc.status if isinstance(exc, wire.FieldTooLong) else wire.RINVMSGLEN
            return [_Segment(_Message(message.key, 1), 1, 1, b"", unsendable=status)]

    def _encode(self, message: OutgoingMessage) -> list[_Segment]:
        encoded = segment(message.text, ref=message.ref, use_sar=self.config.use_sar)
        state = _Message(message.key, len(encoded.parts))
        out = []
        for part in encoded.parts:
            pdu = wire.submit_sm(
                source_addr_ton=self.config.source_addr_ton,
                source_addr_npi=self.config.source_addr_npi,
                source_addr=message.source or self.config.source_addr,
                dest_addr_ton=self.config.dest_addr_ton, dest_addr_npi=self.config.dest_addr_npi,
                destination_addr=message.destination, esm_class=encoded.esm_class,
                data_coding=encoded.data_coding,
                registered_delivery=self.config.registered_delivery,
                short_message=part.short_message, sar=part.sar)
            out.append(_Segment(state, part.seqnum, part.total, pdu))
        return out

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted message has a final result for each segment."""
        with self._cond:
            return self._cond.wait_for(lambda: self._unfinished == 0, timeout)

    flush = wait_idle

    def wait_bound(self, timeout: float) -> bool:
        """Wait until the session is bound."""
        with self._cond:
            return self._cond.wait_for(lambda: self._bound, timeout)

    @property
    def backlog(self) -> int:
        """Messages submitted and not yet final: queued, in flight or waiting to be retried."""
        return self._unfinished

    @property
    def bound(self) -> bool:
        """True while a bound session is up."""
        return self._bound

    def stop(self, timeout: float = 5.0) -> None:
        """Wait (briefly) for the acks of submits in flight, unbind, close the sockets and end the
        I/O thread; messages not yet sent are abandoned."""
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self._store.stop(timeout)
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (already awake) or closed (stopping)

    # -- I/O thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.config.reconnect_min_s
        while not self._stopping.is_set():
            try:
                self._bind_all()
                backoff = self.config.reconnect_min_s
                self._session()
            except (Dropped, wire.FramingError, OSError) as exc:
                log.warning("SMPP session lost: %s", exc)
            except Exception:  # a bug must not end the only I/O thread silently
                log.exception("SMPP I/O loop failed")
            self._close_links(requeue=True)
            if self._stopping.is_set():
                break
            self.stats.reconnects += 1
            # Wait on the stop event rather than sleeping so stop() is prompt during backoff.
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    def _bind_all(self) -> None:
        modes = (["transceiver"] if self.config.bind_mode == BindMode.TRANSCEIVER
                 else ["transmitter", "receiver"])
        for mode in modes:
            self._links.append(open_link(self.config, mode, factory=self._factory,
                                         sequence_generator=self._sequence_generator,
                                         now=self._monotonic(), monotonic=self._monotonic))
        self.stats.binds += 1
        self._set_bound(True)

    def _set_bound(self, value: bool) -> None:
        with self._cond:
            self._bound = value
            self._cond.notify_all()

    def _close_links(self, *, requeue: bool) -> None:
        self._set_bound(False)
        for link in self._links:
            # Acks the SMSC wrote before the drop still count: a segment acked is never resent.
            for frame in link.salvage():
                head = wire.header(frame)
                if head.is_response:
                    self._on_response(link, head, frame)
            link.close()
        self._links = []
        self._late.clear()  # their sequences belong to the dead session
        if requeue and self._outstanding:
            # In flight without an ack: submit again (at-least-once, see the module docstring).
            segments = [seg for seg, _ in self._outstanding.values() if not seg.final]
            self._outstanding.clear()
            self.stats.retries += len(segments)
            self._pending.extendleft(reversed(segments))

    @property
    def _tx(self) -> Link:
        return self._links[0]

    def _session(self) -> None:
        for link in self._links:
            self._handle_frames(link, link.pop_early())
        while True:
            now = self._monotonic()
            self._take_inbox()
            self._take_stored()
            if self._stopping.is_set():
                self._finish()
                self._unbind()
                return
            self._check_deadlines(now)
            self._fill_window(now)
            for link in self._links:
                link.flush()
            self._wait(self._next_timeout(now))

    def _wait(self, timeout: float) -> None:
        """Sleep until a link or the wake-up pipe is readable (or timeout), then read."""
        readable, _, _ = select.select([*self._links, self._wake_r], [], [], timeout)
        for ready in readable:
            if ready is self._wake_r:
                self._drain_wake()
            else:
                self._read(ready)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _take_inbox(self) -> None:
        while self._inbox:
            segments = self._inbox.popleft()
            if segments[0].unsendable:
                self._final(segments[0], None, segments[0].unsendable, permanent=True)
            else:
                self._pending.extend(segments)

    def _take_stored(self) -> None:
        while self._store.done:
            link, pending, stored = self._store.done.popleft()
            self._storing -= 1
            answer = self._inbound.respond(pending, stored, self.stats)
            # After a reconnect the sequence belongs to a dead session: the SMSC delivers again.
            if link in self._links:
                link.queue(answer)

    def _finish(self) -> None:
        """Before unbinding, wait for the acks of the submits in flight and answer the replies
        being stored: either would otherwise be repeated after the next bind. Messages not yet
        sent stay unsent."""
        deadline = self._monotonic() + min(2.0, self.config.response_timeout_s)
        while (self._storing or self._outstanding) and (remaining := deadline - self._monotonic()) > 0:
            self._wait(remaining)
            self._take_stored()
            for link in self._links:
                link.flush()

    def _fill_window(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            self._pending.appendleft(heapq.heappop(self._delayed)[2])
        while (self._pending and len(self._outstanding) < self._window
               and now >= self._paused_until and self._bucket.try_take()):
            seg = self._pending.popleft()
            if seg.final:  # settled by a late ack while it waited to be resent
                continue
            seg.attempts += 1
            sequence = self._tx.send_encoded(seg.pdu)
            self._outstanding[sequence] = (seg, now)
            self.stats.submitted += 1

    def _next_timeout(self, now: float) -> float:
        deadlines = [link.next_deadline(self.config) for link in self._links]
        if self._outstanding:
            _, sent = next(iter(self._outstanding.values()))
            deadlines.append(sent + self.config.response_timeout_s)
        if self._delayed:
            deadlines.append(self._delayed[0][0])
        if self._pending and len(self._outstanding) < self._window:
            deadlines.append(max(self._paused_until, now + self._bucket.wait_time()))
        return max(0.0, min(deadlines) - now) if deadlines else 1.0

    def _check_deadlines(self, now: float) -> None:
        for link in self._links:
            link.keepalive(self.config, now)
        limit = now - self.config.response_timeout_s
        while self._outstanding:
            sequence, (seg, sent) = next(iter(self._outstanding.items()))
            if sent > limit:
                break
            del self._outstanding[sequence]
            if seg.final:
                continue
            self.stats.timeouts += 1
            log.warning("no submit_sm_resp for %s part %d (sequence %d)",
                        seg.message.key, seg.index, sequence)
            self._late[sequence] = seg
            while len(self._late) > _MAX_LATE:
                self._late.popitem(last=False)
            self._tx.probe(now)
            self._retry_or_fail(seg, RESPONSE_TIMEOUT, now,
                                at_least=self.config.response_timeout_s)

    def _read(self, link: Link) -> None:
        self._handle_frames(link, link.receive())

    def _handle_frames(self, link: Link, frames: list[bytes]) -> None:
        for frame in frames:
            head = wire.header(frame)
            if head.is_response:
                self._on_response(link, head, frame)
            else:
                answer = self._inbound.handle_request(head, frame, self.stats)
                if isinstance(answer, PendingStore):
                    self._storing += 1
                    self._store.put(link, answer)
                elif answer is not None:
                    link.queue(answer)
                if head.name == "unbind":
                    link.flush()
                    raise Dropped("the SMSC unbound")
        link.flush()

    def _on_response(self, link: Link, head: wire.Header, frame: bytes) -> None:
        if link.on_response(head):
            return  # enquire_link_resp / unbind_resp bookkeeping
        acked = head.status == wire.ROK and head.name == "submit_sm_resp"
        entry = self._outstanding.pop(head.sequence, None)
        if entry is None:
            late = self._late.pop(head.sequence, None)
            if late is not None and acked and not late.final:
                # Its resend is waiting (skipped once final) or in flight (its ack is ignored).
                self._count("late_acks")
                entry = (late, 0.0)
            else:
                log.warning("response %#x for unknown sequence %d", head.command_id,
                            head.sequence)
                return
        seg, _ = entry
        if seg.final:
            return  # a resend's answer after a late ack settled the segment
        now = self._monotonic()
        if acked:
            message_id = wire.submit_sm_resp_id(frame)
            self._throttle_backoff = self.config.retry_min_s
            self._window = min(self.config.window, self._window + 1)
            self.stats.acked += 1
            self._final(seg, message_id, wire.ROK, permanent=False)
        elif head.status in THROTTLING_STATUSES:
            self.stats.throttled += 1
            # Slow everyone down, not just this segment: the SMSC is telling us our rate. The
            # refusal is not the segment's fault, so it is not an attempt.
            self._paused_until = now + self._throttle_backoff
            self._throttle_backoff = min(self._throttle_backoff * 2, self.config.retry_max_s)
            self._window = 1
            seg.attempts -= 1
            self._pending.appendleft(seg)
        elif head.status in TEMPORARY_STATUSES or head.name == "generic_nack":
            self._retry_or_fail(seg, head.status or wire.RSYSERR, now)
        else:
            self._final(seg, None, head.status or wire.RSYSERR, permanent=True)

    def _count(self, name: str) -> None:
        self.stats.extra[name] = self.stats.extra.get(name, 0) + 1

    def _retry_or_fail(self, seg: _Segment, status: int, now: float, *,
                       at_least: float = 0.0) -> None:
        if seg.attempts >= self.config.max_attempts:
            self._final(seg, None, status, permanent=False)
            return
        self.stats.retries += 1
        delay = min(self.config.retry_min_s * 2 ** (seg.attempts - 1), self.config.retry_max_s)
        heapq.heappush(self._delayed, (now + max(delay, at_least), next(self._tiebreak), seg))

    def _final(self, seg: _Segment, message_id: str | None, status: int, *, permanent: bool) -> None:
        seg.final = True
        if status != wire.ROK:
            self.stats.failed += 1
        try:
            self._on_submitted(SubmitResult(seg.message.key, seg.index, seg.total, message_id,
                                            status, permanent))
        except Exception:
            log.exception("on_submitted failed for %s part %d", seg.message.key, seg.index)
        seg.message.remaining -= 1
        if seg.message.remaining == 0:
            with self._cond:
                self._unfinished -= 1
                if self._unfinished == 0:
                    self._cond.notify_all()

    def _unbind(self) -> None:
        deadline = self._monotonic() + min(2.0, self.config.response_timeout_s)
        for link in self._links:
            link.send("unbind")
            link.flush()
        while any(link.bound for link in self._links):
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select(self._links, [], [], remaining)
            for link in readable:
                try:
                    self._read(link)
                except (Dropped, OSError, wire.FramingError):
                    link.bound = False
