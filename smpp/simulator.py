"""An SMSC simulator: a real SMPP 3.4 server over TCP, for tests, benchmarks and `touchpoint smsc`.

`SMSCSimulator` dispatches PDUs through a ``{command_id: handler}`` table. It authenticates
binds, acks submit_sm after a configurable latency with hex message ids, sends delivery receipts
with the same ids in decimal (so clients must normalise), reassembles multipart submits, logs
every accepted message (in memory and optionally as JSONL), and plays subscribers who reply;
with ``trace=True`` it keeps the timings of every submit_sm and reply (smpp/simulator_trace.py).
Subclasses change one behaviour each by overriding `decide` (or `refuse_bind`), Jasmin's
HappySMSC style: the SMSC faults in smpp/misbehaving.py. Each misbehaving act's time is kept in
``fault_times`` so a benchmark can measure how long the ESME takes to recover.

Deliveries to the ESME (receipts, replies) are retried until answered with ESME_ROK, across
reconnects, as a real SMSC does. For tests, `start()` runs the server on a background thread
bound to 127.0.0.1 on a free port; `run_simulator` is the blocking entry point for the CLI.
"""
from __future__ import annotations

import asyncio
import selectors
import json
import logging
import random
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable

from smpp import wire
from smpp.encoding import ESM_UDHI, decode, segment
from smpp.reassembly import Fragment, Reassembler, concat_from_sar, split_udh
from smpp.receipts import DeliveryReceipt, ReceiptStatus, STATE_CODES, format_receipt
from smpp.simulator_connection import EsmeConnection
from smpp.simulator_trace import MoTrace, SimulatorStats, SubmitLogEntry, SubmitTrace
from smpp.subscribers import ReplyFn, ReplyMix

log = logging.getLogger(__name__)

_BINDS = {"bind_transmitter": "transmitter", "bind_receiver": "receiver",
          "bind_transceiver": "transceiver"}


class Action(StrEnum):
    """What the SMSC does with one submit_sm."""

    ACCEPT = "accept"
    THROTTLE = "throttle"  # answer ESME_RTHROTTLED
    QUEUE_FULL = "queue_full"  # answer ESME_RMSGQFUL
    DROP = "drop"  # do not accept; close the connection after sending the acks already due
    ACCEPT_AND_DROP = "accept_and_drop"  # accept and log, then close before acking it
    REJECT = "reject"  # answer ESME_RSUBMITFAIL, a permanent error
    IGNORE = "ignore"  # accept and log but never answer (the ESME's response timeout fires)
    ACK_LATE = "ack_late"  # accept and log, ack after `late_ack_s` (beyond the ESME's timeout)
    NACK = "nack"  # answer generic_nack with `nack_status`, as an SMSC that choked on the PDU
    MUTE = "mute"  # from this submit on the connection stays open but nothing is read or answered


@dataclass(frozen=True)
class SimulatorConfig:
    """Behaviour shared by every simulator; times are seconds."""

    system_id: str = "touchpoint"
    password: str = "secret"
    ack_latency_s: float = 0.0
    receipts: bool = True
    receipt_delay_s: float = 0.0
    receipt_status: ReceiptStatus = ReceiptStatus.DELIVERED
    replies: bool = False
    reply_delay_s: float = 1.0
    reply_fn: ReplyFn | None = None  # None: ReplyMix() when replies are on
    shuffle_multipart: bool = True  # send multipart replies out of order
    redeliver_delay_s: float = 0.2
    message_id_base: int = 0x2A000000
    seed: int = 0
    log_path: Path | None = None
    trace: bool = False  # keep a SubmitTrace per submit_sm and a MoTrace per reply, in memory


@dataclass
class _Delivery:
    fields: dict[str, Any]
    kind: str  # "receipt" or "mo"
    attempts: int = 0
    trace: MoTrace | None = None  # the reply this part belongs to, when tracing
    part: int = 0


def precise_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers fire on time: epoll and poll round every wait up to whole
    milliseconds, which would add ~0.5 ms to each simulated ack latency; select() takes microseconds."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


class SMSCSimulator:
    """The happy SMSC: accepts every submit; subclasses override `decide`."""

    def __init__(self, config: SimulatorConfig | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.host, self.port = host, port
        self.rng = random.Random(self.config.seed)
        self.stats = SimulatorStats()
        self._log: list[SubmitLogEntry] = []
        self._submit_trace: list[SubmitTrace] = []
        self._mo_trace: list[MoTrace] = []
        self.throttle_times: list[float] = []
        self.submit_times: list[float] = []
        self.fault_times: list[float] = []
        self._bind_attempts = 0
        self._cond = threading.Condition()
        self._next_id = self.config.message_id_base
        self._sequence = 0
        self._sessions: set[EsmeConnection] = set()
        self._connections = 0
        self._parked: list[_Delivery] = []
        self._reassembler = Reassembler(ttl=3600)
        self._part_ids: dict[tuple[str, str, int, int, int], str] = {}
        self._reply_fn = self.config.reply_fn or ReplyMix()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.handlers: dict[int, Callable[[EsmeConnection, wire.Header, bytes], None]] = {
            wire.COMMAND_IDS["bind_transmitter"]: self.on_bind,
            wire.COMMAND_IDS["bind_receiver"]: self.on_bind,
            wire.COMMAND_IDS["bind_transceiver"]: self.on_bind,
            wire.COMMAND_IDS["submit_sm"]: self.on_submit_sm,
            wire.COMMAND_IDS["deliver_sm_resp"]: self.on_deliver_sm_resp,
            wire.COMMAND_IDS["enquire_link"]: self.on_enquire_link,
            wire.COMMAND_IDS["enquire_link_resp"]: lambda s, h, f: None,
            wire.COMMAND_IDS["unbind"]: self.on_unbind,
            wire.COMMAND_IDS["unbind_resp"]: lambda s, h, f: None,
            wire.GENERIC_NACK: self.on_generic_nack,
        }

    # -- behaviour hook ---------------------------------------------------------------------------

    late_ack_s = 0.0  # how late Action.ACK_LATE acks
    nack_status = wire.RSYSERR  # the status Action.NACK answers with

    def decide(self, session: EsmeConnection, number: int) -> Action:
        """What to do with the number-th submit_sm received (1-based); override per behaviour."""
        return Action.ACCEPT

    def refuse_bind(self, session: EsmeConnection, attempt: int) -> int:
        """The error status to refuse the attempt-th bind with (1-based), ROK to let it through."""
        return wire.ROK

    def fault(self) -> None:
        """Note the time of a misbehaving act (for recovery times)."""
        self.fault_times.append(time.monotonic())

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "SMSCSimulator":
        """Serve on a background thread; returns once the port is bound (self.port)."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, args=(ready,),
                                        name="smsc-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("simulator did not start")
        return self

    def _thread_main(self, ready: threading.Event) -> None:
        self._loop = precise_event_loop()
        self._loop.run_until_complete(self.listen())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def listen(self) -> None:
        """Bind the listening socket (port 0 picks a free one) and record the port."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMSC simulator listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Close every connection and the server, and end the thread."""
        if self._loop is None or self._thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.shutdown(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def shutdown(self) -> None:
        """Stop listening, cut every connection and let their tasks finish."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.abort()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> "SMSCSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- observing (any thread) ------------------------------------------------------------------

    @property
    def log(self) -> list[SubmitLogEntry]:
        """A copy of the accepted-message log."""
        with self._cond:
            return list(self._log)

    def traces(self) -> tuple[list[SubmitTrace], list[MoTrace]]:
        """The submit and reply timings kept with ``trace=True`` (read them once traffic is over)."""
        with self._cond:
            return list(self._submit_trace), list(self._mo_trace)

    def wait_until(self, predicate: Callable[["SMSCSimulator"], bool], timeout: float) -> bool:
        """Wait (on events, not a sleep loop) until predicate(self) holds."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def _changed(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- injecting traffic (any thread) ----------------------------------------------------------

    def send_mo(self, source: str, destination: str, text: str, *, order: list[int] | None = None,
                use_sar: bool = False, ref: int | None = None) -> None:
        """Have a subscriber send text; order lists 1-based part numbers to send, in that order."""
        self._call(self._send_mo, source, destination, text, order, use_sar, ref)

    def send_raw(self, data: bytes) -> None:
        """Write raw bytes to every bound session (for malformed-PDU tests)."""
        self._call(lambda: [s.write(data) for s in self._sessions if s.bound])

    def drop_all(self) -> None:
        """Abort every connection now, as a crash or a network cut would."""
        self._call(lambda: [s.abort() for s in list(self._sessions)])

    def hang_all(self) -> None:
        """Stop reading and answering on every connection, which stay open (a hung SMSC)."""
        def hang() -> None:
            self.fault()
            for session in self._sessions:
                session.muted = True
        self._call(hang)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None, "start() the simulator first"
        self._loop.call_soon_threadsafe(fn, *args)

    # -- connection handling (loop thread) -------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = EsmeConnection(writer, self.config.ack_latency_s)
        self._connections += 1
        session.number = self._connections
        self._sessions.add(session)
        frames = wire.FrameBuffer()
        try:
            while not session.closing:
                data = await reader.read(65536)
                if not data:
                    break
                session.arrived = asyncio.get_running_loop().time()
                frames.feed(data)
                while (not session.closing and not session.muted
                       and (frame := frames.next_frame()) is not None):
                    head = wire.header(frame)
                    handler = self.handlers.get(head.command_id)
                    if handler is None:
                        self.stats.unknown_commands += 1
                        session.write(wire.generic_nack(head.sequence, wire.RINVCMDID))
                    else:
                        handler(session, head, frame)
                self._changed()  # wake tests waiting on stats, once per read batch
        except (wire.FramingError, ConnectionError) as exc:
            log.warning("simulator session ended: %s", exc)
        finally:
            await session.close_after_acks(reader)
            self._sessions.discard(session)
            for delivery in session.inflight.values():
                self._redeliver(delivery)
            session.inflight.clear()
            self._changed()

    def on_bind(self, session: EsmeConnection, head: wire.Header, frame: bytes) -> None:
        """Authenticate a bind and answer it."""
        pdu = wire.parse(frame)
        resp = head.name + "_resp"
        system_id, password = wire.text_field(pdu.system_id), wire.text_field(pdu.password)
        status = wire.ROK
        self._bind_attempts += 1
        if session.bound:
            status = wire.RALYBND
        elif system_id != self.config.system_id:
            status = wire.RINVSYSID
        elif password != self.config.password:
            status = wire.RINVPASWD
        elif (status := self.refuse_bind(session, self._bind_attempts)) != wire.ROK:
            self.fault()
        session.write(wire.build(resp, sequence=head.sequence, status=status,
                                 system_id="touchpoint-smsc"))
        if status != wire.ROK:
            self.stats.bind_failures += 1
            return
        session.bound = True
        session.mode = _BINDS[head.name]
        self.stats.binds += 1
        if session.receives:
            parked, self._parked = self._parked, []
            for delivery in parked:
                self._deliver(delivery)
        self._changed()

    def on_enquire_link(self, session: EsmeConnection, head: wire.Header, frame: bytes) -> None:
        """Answer a keepalive."""
        self.stats.enquire_links += 1
        session.write(wire.build("enquire_link_resp", sequence=head.sequence))

    def on_unbind(self, session: EsmeConnection, head: wire.Header, frame: bytes) -> None:
        """Answer unbind and close once the acks due are written."""
        self.stats.unbinds += 1
        session.write(wire.build("unbind_resp", sequence=head.sequence))
        session.bound = False
        session.closing = True

    def on_generic_nack(self, session: EsmeConnection, head: wire.Header, frame: bytes) -> None:
        """The ESME could not parse something we sent; count it."""
        self.stats.nacks_received += 1
        delivery = session.inflight.pop(head.sequence, None)
        if delivery is not None:
            self._redeliver(delivery)
        self._changed()

    def on_submit_sm(self, session: EsmeConnection, head: wire.Header, frame: bytes) -> None:
        """Accept, throttle or drop a submit_sm as `decide` says."""
        if not session.bound or not session.can_submit:
            session.write(wire.submit_sm_resp(head.sequence, status=wire.RINVBNDSTS))
            return
        try:
            pdu = wire.parse(frame)
        except Exception:
            session.write(wire.submit_sm_resp(head.sequence, status=wire.RINVMSGLEN))
            return
        received = time.monotonic()
        self.stats.submits += 1
        action = self.decide(session, self.stats.submits)
        if action != Action.ACCEPT:
            self.fault()
        if action == Action.MUTE:
            session.muted = True
            return
        if action == Action.NACK:
            session.write(wire.generic_nack(head.sequence, self.nack_status))
            return
        if action in (Action.THROTTLE, Action.QUEUE_FULL):
            self.stats.throttled += 1
            self.throttle_times.append(time.monotonic())
            status = wire.RTHROTTLED if action == Action.THROTTLE else wire.RMSGQFUL
            session.ack(wire.submit_sm_resp(head.sequence, status=status))
            return
        if action == Action.REJECT:
            session.ack(wire.submit_sm_resp(head.sequence, status=wire.RSUBMITFAIL))
            return
        if action == Action.DROP:
            self.stats.drops += 1
            session.closing = True
            return
        message_id = self._accept(pdu)
        trace = self._trace_submit(session, pdu, message_id, received)
        if action == Action.ACCEPT_AND_DROP:
            self.stats.drops += 1
            session.closing = True
            return
        if action == Action.IGNORE:
            return
        session.ack(wire.submit_sm_resp(head.sequence, message_id),
                    trace.mark_responded if trace is not None else None,
                    latency=self.late_ack_s if action == Action.ACK_LATE else None)
        self.stats.max_outstanding = max(self.stats.max_outstanding, session.pending_acks)

    def on_deliver_sm_resp(self, session: EsmeConnection, head: wire.Header, frame: bytes) -> None:
        """Settle a receipt or reply; an error status means deliver it again later."""
        delivery = session.inflight.pop(head.sequence, None)
        if delivery is None:
            return
        if head.status == wire.ROK:
            self.stats.deliveries_acked += 1
            if delivery.trace is not None:
                delivery.trace.part_acked(delivery.part)
        else:
            self.stats.deliveries_refused += 1
            self._redeliver(delivery)
        self._changed()

    # -- accepting messages ------------------------------------------------------------------------

    def _trace_submit(self, session: EsmeConnection, pdu: Any, message_id: str,
                      received: float) -> SubmitTrace | None:
        if not self.config.trace:
            return None
        body = pdu.short_message or pdu.message_payload or b""
        if (pdu.esm_class or 0) & ESM_UDHI:
            body = split_udh(body)[1]
        trace = SubmitTrace(wire.text_field(pdu.destination_addr), message_id,
                            decode(body, pdu.data_coding or 0), received, session.number)
        with self._cond:
            self._submit_trace.append(trace)
        return trace

    def _accept(self, pdu: Any) -> str:
        self._next_id += 1
        number = self._next_id
        message_id = f"{number:X}"  # hex in submit_sm_resp, decimal in receipts
        source, destination = wire.text_field(pdu.source_addr), wire.text_field(pdu.destination_addr)
        data_coding = pdu.data_coding or 0
        body = pdu.short_message or pdu.message_payload or b""
        self.stats.accepted_segments += 1
        self.submit_times.append(time.monotonic())
        if (pdu.esm_class or 0) & ESM_UDHI:
            concat, body = split_udh(body)
        else:
            concat = concat_from_sar(pdu.sar_msg_ref_num, pdu.sar_total_segments,
                                     pdu.sar_segment_seqnum)
        if concat is None or concat.total == 1:
            self._record(source, destination, decode(body, data_coding), (message_id,), 1,
                         data_coding)
        else:
            key = (source, destination, concat.ref, concat.total)
            self._part_ids.setdefault((*key, concat.seqnum), message_id)
            assembled = self._reassembler.add(
                Fragment(source, destination, concat, body, data_coding), now=time.monotonic())
            if assembled is not None:
                ids = tuple(self._part_ids.pop((*key, i), "") for i in range(1, concat.total + 1))
                self._record(source, destination, assembled.text, ids, concat.total, data_coding)
        if self.config.receipts and (pdu.registered_delivery or 0) & 0x03:
            self._schedule(self.config.receipt_delay_s, self._send_receipt, number, source,
                           destination)
        return message_id

    def _record(self, source: str, destination: str, text: str, ids: tuple[str, ...],
                segments: int, data_coding: int) -> None:
        entry = SubmitLogEntry(source, destination, text, ids, segments, data_coding, time.time())
        with self._cond:
            self._log.append(entry)
            self._cond.notify_all()
        if self.config.log_path is not None:
            with open(self.config.log_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        if self.config.replies:
            for text_reply in self._reply_fn(destination, text, self.rng):
                self._schedule(self.config.reply_delay_s, self._send_mo, destination, source,
                               text_reply, None, False, None)

    def _schedule(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        if delay <= 0:
            fn(*args)
        else:
            self._loop.call_later(delay, fn, *args)

    # -- deliveries to the ESME ------------------------------------------------------------------

    def _send_receipt(self, number: int, source: str, destination: str) -> None:
        now = datetime.now(timezone.utc)
        receipt = DeliveryReceipt(message_id=str(number), status=self.config.receipt_status,
                                  submitted=1, delivered=int(
                                      self.config.receipt_status == ReceiptStatus.DELIVERED),
                                  submit_date=now, done_date=now)
        self.stats.receipts_sent += 1
        self._deliver(_Delivery(dict(
            source_addr=destination, destination_addr=source, esm_class=0x04, data_coding=0,
            short_message=format_receipt(receipt).encode("ascii"),
            receipted_message_id=f"{number:012d}",
            message_state=STATE_CODES[self.config.receipt_status]), "receipt"))

    def _send_mo(self, source: str, destination: str, text: str, order: list[int] | None,
                 use_sar: bool, ref: int | None) -> None:
        segments = segment(text, ref=self.rng.randrange(256) if ref is None else ref,
                           use_sar=use_sar)
        parts = list(segments.parts)
        if order is not None:
            parts = [segments.parts[i - 1] for i in order]
        elif self.config.shuffle_multipart:
            self.rng.shuffle(parts)
        self.stats.mo_sent += 1
        trace = None
        if self.config.trace:
            trace = MoTrace(source, destination, text, len(parts), time.monotonic())
            with self._cond:
                self._mo_trace.append(trace)
        for index, part in enumerate(parts):
            self._deliver(_Delivery(dict(
                source_addr=source, destination_addr=destination, esm_class=segments.esm_class,
                data_coding=segments.data_coding, short_message=part.short_message,
                **part.optional_params()), "mo", trace=trace, part=index))

    def _deliver(self, delivery: _Delivery) -> None:
        receivers = [s for s in self._sessions if s.bound and s.receives and not s.closing]
        if not receivers:
            self._parked.append(delivery)  # sent when an ESME binds as a receiver
            return
        session = receivers[delivery.attempts % len(receivers)]
        delivery.attempts += 1
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        session.inflight[self._sequence] = delivery
        session.write(wire.build("deliver_sm", sequence=self._sequence, **delivery.fields))

    def _redeliver(self, delivery: _Delivery) -> None:
        self._schedule(self.config.redeliver_delay_s, self._deliver, delivery)


def run_simulator(host: str, port: int, system_id: str, password: str, *,
                  ack_latency_s: float = 0.0, replies: bool = True, reply_delay_s: float = 5.0,
                  log_path: Path | None = None, seed: int = 0,
                  ready: Callable[[int], None] | None = None, **options: Any) -> None:
    """Serve until interrupted (the `touchpoint smsc` command); ready(port) once listening."""
    config = SimulatorConfig(system_id=system_id, password=password, ack_latency_s=ack_latency_s,
                             replies=replies, reply_delay_s=reply_delay_s, log_path=log_path, seed=seed, **options)
    simulator = SMSCSimulator(config, host=host, port=port)

    async def main() -> None:
        await simulator.listen()
        if ready is not None:
            ready(simulator.port)
        await asyncio.Event().wait()

    try:
        loop = precise_event_loop()
        loop.run_until_complete(main())
    except KeyboardInterrupt:
        pass
