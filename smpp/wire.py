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
RINVBNDSTS = consts.SMPP_ESME_RINVBNDSTS
RSYSERR = consts.SMPP_ESME_RSYSERR
RALYBND = consts.SMPP_ESME_RALYBND
RINVPASWD = consts.SMPP_ESME_RINVPASWD
RINVSYSID = consts.SMPP_ESME_RINVSYSID
RSUBMITFAIL = consts.SMPP_ESME_RSUBMITFAIL
RMSGQFUL = consts.SMPP_ESME_RMSGQFUL
RTHROTTLED = consts.SMPP_ESME_RTHROTTLED
RX_T_APPN = consts.SMPP_ESME_RX_T_APPN

GENERIC_NACK = 0x80000000
RESPONSE_BIT = 0x80000000
COMMAND_IDS: dict[str, int] = dict(command_codes.commands)
COMMAND_NAMES: dict[int, str] = {code: name for name, code in COMMAND_IDS.items()}


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
