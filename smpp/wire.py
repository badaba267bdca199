"""PDU framing and the smpplib codec, shared by the client and the simulator.

smpplib reads a PDU with two blocking recv calls and cannot tell a garbage frame from a dead
socket; here bytes are buffered, cut into frames by command_length, and each frame is parsed on
its own so one bad PDU can be answered (generic_nack) without losing the session.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from smpplib import command_codes, consts, smpp
from smpplib.exceptions import UnknownCommandError

HEADER = struct.Struct(">LLLL")
MAX_PDU = 64 * 1024  # far above any legal PDU; a larger length means the stream is garbage

ROK = consts.SMPP_ESME_ROK
RINVMSGLEN = consts.SMPP_ESME_RINVMSGLEN
RINVCMDLEN = consts.SMPP_ESME_RINVCMDLEN
RINVCMDID = consts.SMPP_ESME_RINVCMDID
RINVSRCADR = consts.SMPP_ESME_RINVSRCADR
RINVDSTADR = consts.SMPP_ESME_RINVDSTADR
RINVBNDSTS = consts.SMPP_ESME_RINVBNDSTS
RSYSERR = consts.SMPP_ESME_RSYSERR
RALYBND = consts.SMPP_ESME_RALYBND
RINVPASWD = consts.SMPP_ESME_RINVPASWD
RINVSYSID = consts.SMPP_ESME_RINVSYSID
RSUBMITFAIL = consts.SMPP_ESME_RSUBMITFAIL
RBINDFAIL = consts.SMPP_ESME_RBINDFAIL
RMSGQFUL = consts.SMPP_ESME_RMSGQFUL
RTHROTTLED = consts.SMPP_ESME_RTHROTTLED
RX_T_APPN = consts.SMPP_ESME_RX_T_APPN

GENERIC_NACK = 0x80000000
RESPONSE_BIT = 0x80000000
COMMAND_IDS: dict[str, int] = dict(command_codes.commands)
COMMAND_NAMES: dict[int, str] = {code: name for name, code in COMMAND_IDS.items()}
SUBMIT_SM = COMMAND_IDS["submit_sm"]
SUBMIT_SM_RESP = COMMAND_IDS["submit_sm_resp"]
_SAR = struct.Struct(">HHHHHBHHB")


class FramingError(ValueError):
    """The byte stream holds an impossible command_length; the session cannot resynchronise."""


@dataclass(frozen=True)
class Header:
    """The 16-byte PDU header."""

    length: int
    command_id: int
    status: int
    sequence: int

    @property
    def is_response(self) -> bool:
        """True for *_resp and generic_nack."""
        return bool(self.command_id & RESPONSE_BIT)

    @property
    def name(self) -> str | None:
        """smpplib's command name, None for an unknown command id."""
        return COMMAND_NAMES.get(self.command_id)


class FrameBuffer:
    """Accumulates received bytes and yields whole PDUs."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buf += data

    def next_frame(self) -> bytes | None:
        """Pop one whole PDU, or None when more bytes are needed; FramingError on garbage."""
        if len(self._buf) < 4:
            return None
        (length,) = struct.unpack_from(">L", self._buf)
        if length < HEADER.size or length > MAX_PDU:
            raise FramingError(f"command_length {length} is impossible")
        if len(self._buf) < length:
            return None
        frame = bytes(self._buf[:length])
        del self._buf[:length]
        return frame


class _NoSequence:
    """Stands in for smpplib's client when parsing: parsing must not consume sequence numbers."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_PARSER_CLIENT = _NoSequence()


def header(frame: bytes) -> Header:
    """Unpack the header of a whole frame."""
    return Header(*HEADER.unpack_from(frame))


def parse(frame: bytes) -> Any:
    """Parse a frame with smpplib, tolerating unknown TLVs; raises on an unknown or broken PDU."""
    pdu = smpp.parse_pdu(frame, client=_PARSER_CLIENT, allow_unknown_opt_params=True)
    if pdu is None:
        raise UnknownCommandError("empty PDU")
    return pdu


def build(command: str, *, sequence: int, status: int = ROK, **fields: Any) -> bytes:
    """Generate a PDU's bytes with an explicit sequence number."""
    pdu = smpp.make_pdu(command, client=_PARSER_CLIENT, status=status, **fields)
    pdu.sequence = sequence  # smpplib ignores a sequence kwarg once its dummy client answers 0
    return pdu.generate()


class FieldTooLong(ValueError):
    """A value does not fit its PDU field; status is the error an SMSC would answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _cstring(value: str, field: str, limit: int, status: int) -> bytes:
    data = value.encode("latin-1")
    if len(data) >= limit:
        raise FieldTooLong(f"{field}: {len(data)} characters, at most {limit - 1} fit", status)
    return data + b"\0"


def submit_sm(*, source_addr_ton: int, source_addr_npi: int, source_addr: str,
              dest_addr_ton: int, dest_addr_npi: int, destination_addr: str, esm_class: int,
              data_coding: int, registered_delivery: int, short_message: bytes,
              sar: tuple[int, int, int] | None = None, sequence: int = 0) -> bytes:
    """Encode a submit_sm, byte for byte as smpplib would, in a tenth of its time.

    Every outbound segment is encoded here, on the caller's thread, so its cost delays the
    I/O thread by way of the GIL. sar is (sar_msg_ref_num, sar_total_segments,
    sar_segment_seqnum). Unlike smpplib, which cuts an address too long for its field,
    this raises FieldTooLong.
    """
    if len(short_message) > 254:
        raise FieldTooLong(f"short_message: {len(short_message)} octets, at most 254 fit",
                           RINVMSGLEN)
    body = b"".join((
        b"\0",  # service_type: the SMSC default
        bytes((source_addr_ton, source_addr_npi)), _cstring(source_addr, "source_addr", 21, RINVSRCADR),
        bytes((dest_addr_ton, dest_addr_npi)), _cstring(destination_addr, "destination_addr", 21,
                                                                RINVDSTADR),
        # esm_class, protocol_id, priority_flag, schedule_delivery_time and validity_period
        # (both empty: now, SMSC default), registered_delivery, replace_if_present_flag,
        # data_coding, sm_default_msg_id, sm_length
        bytes((esm_class, 0, 0, 0, 0, registered_delivery, 0, data_coding, 0,
               len(short_message))),
        short_message,
        b"" if sar is None else _SAR.pack(0x020C, 2, sar[0], 0x020E, 1, sar[1], 0x020F, 1, sar[2]),
    ))
    return HEADER.pack(HEADER.size + len(body), SUBMIT_SM, ROK, sequence) + body


def submit_sm_resp(sequence: int, message_id: str = "", status: int = ROK) -> bytes:
    """Encode a submit_sm_resp (an error answer carries no body, as smpplib writes it)."""
    body = b"\0" if status != ROK else _cstring(message_id, "message_id", 65, RSYSERR)
    return HEADER.pack(HEADER.size + len(body), SUBMIT_SM_RESP, status, sequence) + body


def submit_sm_resp_id(frame: bytes) -> str:
    """The message_id of a submit_sm_resp frame: the C-string after the header."""
    return frame[HEADER.size:].split(b"\0", 1)[0].decode("latin-1")


def generic_nack(sequence: int, status: int) -> bytes:
    """A generic_nack (answer to a PDU whose header cannot be honoured)."""
    return HEADER.pack(HEADER.size, GENERIC_NACK, status, sequence)


def text_field(value: Any) -> str:
    """smpplib returns C-octet strings as bytes; addresses are ASCII digits in practice."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return str(value)
