"""Requests the SMSC sends us: receipts and replies become dataclasses handed to callbacks, and
every request gets the answer SMPP expects, including the malformed ones.

Nothing is stored here: for a reply or a receipt handle_request returns a PendingStore, which the
client runs on its store thread (a slow database must not stall acks and keepalives on the I/O
thread) and then answers with respond()."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from smpp import wire
from smpp.encoding import ESM_UDHI, decode
from smpp.masking import mask_address
from smpp.messages import InboundMessage
from smpp.reassembly import Assembled, Fragment, Reassembler, concat_from_sar, split_udh
from smpp.receipts import DeliveryReceipt, is_receipt_esm, receipt_from_deliver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingStore:
    """A reply (or one part of it) or a receipt, to store before its deliver_sm is answered."""

    sequence: int
    item: InboundMessage | Fragment | DeliveryReceipt
    assembled: Assembled | None = None  # joined in memory: put its other parts back if storing fails
    last_part: int = 0  # the part whose arrival completed `assembled`; the SMSC resends only it


class InboundHandler:
    """Turns deliver_sm into receipts and replies, and builds the response PDU for each request.

    With keep_fragments, each part of a multipart reply is handed on to be stored as it is;
    otherwise parts are joined here, in memory, and only whole replies are handed on.
    """

    def __init__(self, *, keep_fragments: bool = False,
                 monotonic: Callable[[], float] = time.monotonic,
                 reassembly_ttl: float = 600.0) -> None:
        self._keep_fragments = keep_fragments
        self._monotonic = monotonic
        # An SMSC redelivers a part whose answer it missed, even once the reply is whole.
        self.reassembler = Reassembler(ttl=reassembly_ttl, remember_completed=True)

    def handle_request(self, head: wire.Header, frame: bytes, stats: Any) -> bytes | PendingStore | None:
        """Act on one request PDU and return the bytes of its response (None: no response), or the
        reply or receipt to store first (answer it with respond())."""
        name = head.name
        if name is None:
            stats.malformed += 1
            log.error("unknown command id %#x (sequence %d): generic_nack", head.command_id,
                      head.sequence)
            return wire.generic_nack(head.sequence, wire.RINVCMDID)
        if name == "enquire_link":
            return wire.build("enquire_link_resp", sequence=head.sequence)
        if name == "unbind":
            return wire.build("unbind_resp", sequence=head.sequence)
        if name == "alert_notification":
            return None  # has no response PDU
        if name != "deliver_sm":
            stats.malformed += 1
            log.error("unexpected %s from the SMSC: generic_nack", name)
            return wire.generic_nack(head.sequence, wire.RINVCMDID)
        try:
            pdu = wire.parse(frame)
        except Exception as exc:  # smpplib raises struct.error, KeyError, ... on broken bodies
            stats.malformed += 1
            log.error("malformed deliver_sm (sequence %d): %s", head.sequence, exc)
            return wire.build("deliver_sm_resp", sequence=head.sequence, status=wire.RINVMSGLEN)
        outcome = self._deliver(head.sequence, pdu, stats)
        if isinstance(outcome, PendingStore):
            return outcome
        return wire.build("deliver_sm_resp", sequence=head.sequence, status=outcome)

    def respond(self, pending: PendingStore, stored: bool, stats: Any) -> bytes:
        """The deliver_sm_resp for a reply or receipt once its store has run."""
        if stored and isinstance(pending.item, DeliveryReceipt):
            stats.receipts += 1
        elif stored:
            stats.inbound += 1
        elif pending.assembled is not None:
            self.reassembler.restore(pending.assembled, except_seqnum=pending.last_part,
                                     now=self._monotonic())
        return wire.build("deliver_sm_resp", sequence=pending.sequence,
                          status=wire.ROK if stored else wire.RX_T_APPN)

    def _deliver(self, sequence: int, pdu: Any, stats: Any) -> int | PendingStore:
        esm = pdu.esm_class or 0
        data_coding = pdu.data_coding or 0
        body = pdu.short_message or pdu.message_payload or b""
        source, destination = wire.text_field(pdu.source_addr), wire.text_field(pdu.destination_addr)
        if is_receipt_esm(esm):
            return self._receipt(sequence, pdu, decode(body, data_coding), source, destination, stats)
        if esm & ESM_UDHI:
            concat, body = split_udh(body)
        else:
            concat = concat_from_sar(pdu.sar_msg_ref_num, pdu.sar_total_segments,
                                     pdu.sar_segment_seqnum)
        if concat is None or concat.total == 1:
            return PendingStore(sequence, InboundMessage(
                source, destination, decode(body, data_coding), data_coding))
        fragment = Fragment(source, destination, concat, body, data_coding)
        if self._keep_fragments:
            return PendingStore(sequence, fragment)
        assembled = self.reassembler.add(fragment, now=self._monotonic())
        if assembled is None:
            return wire.ROK
        return PendingStore(sequence, InboundMessage(
            source, destination, assembled.text, data_coding, segments=concat.total,
            reference=concat.ref), assembled, concat.seqnum)

    def _receipt(self, sequence: int, pdu: Any, text: str, source: str, destination: str,
                 stats: Any) -> int | PendingStore:
        network_error = pdu.network_error_code.hex() if pdu.network_error_code else None
        receipt = receipt_from_deliver(
            text, receipted_message_id=wire.text_field(pdu.receipted_message_id) or None,
            message_state=pdu.message_state, network_error=network_error,
            source=source, destination=destination)
        if receipt is None:
            # Retrying cannot make an unreadable receipt readable: acknowledge and log it.
            stats.malformed += 1
            log.error("unreadable delivery receipt from %s: %r", mask_address(source), text)
            return wire.ROK
        return PendingStore(sequence, receipt)

