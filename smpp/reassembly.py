"""Reassembly of multipart short messages (UDH 05 00 03, UDH 06 08 04 and SAR TLVs).

Parts are keyed on (source, destination, reference, total), accepted in any order, duplicates
are ignored, and incomplete messages expire after a time to live. Time is passed in (`now`, in
seconds on any monotonic scale), never read from a hidden clock.

The Reassembler holds parts in memory only: a part acknowledged to the SMSC and then lost in a
crash is gone. A client that must not lose replies passes each part to durable storage instead
(``on_fragment``) and joins them there with ``assemble``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from smpp.encoding import decode


@dataclass(frozen=True)
class Concat:
    """Concatenation info of one part: reference, total parts and this part's 1-based number."""

    ref: int
    total: int
    seqnum: int


@dataclass(frozen=True)
class Fragment:
    """One received part: addresses, its concatenation info and the raw body (UDH removed)."""

    source: str
    destination: str
    concat: Concat
    body: bytes
    data_coding: int


@dataclass(frozen=True)
class Assembled:
    """A complete multipart message and the fragments it was built from."""

    source: str
    destination: str
    ref: int
    text: str
    data_coding: int
    fragments: tuple[Fragment, ...]


def split_udh(short_message: bytes) -> tuple[Concat | None, bytes]:
    """Split a UDHI short_message into its concatenation info (if any) and the body."""
    if not short_message:
        return None, short_message
    udhl = short_message[0]
    header, body = short_message[1:1 + udhl], short_message[1 + udhl:]
    concat = None
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2:pos + 2 + length]
        if iei == 0x00 and length == 3 and len(value) == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4 and len(value) == 4:
            concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        pos += 2 + length
    if concat is not None and not 1 <= concat.seqnum <= concat.total:
        concat = None  # a malformed header: treat the part as a message on its own
    return concat, body


def concat_from_sar(ref: int | None, total: int | None, seqnum: int | None) -> Concat | None:
    """Concatenation info from the sar_* TLVs, None when absent or inconsistent."""
    if ref is None or not total or not seqnum or not 1 <= seqnum <= total:
        return None
    return Concat(ref, total, seqnum)


def assemble(fragments: Iterable[Fragment]) -> str:
    """The text of the parts in seqnum order (missing parts are simply absent)."""
    ordered = sorted(fragments, key=lambda f: f.concat.seqnum)
    if not ordered:
        return ""
    # Join the raw bodies before decoding: a sender may split a surrogate pair across parts.
    return decode(b"".join(f.body for f in ordered), ordered[0].data_coding)


@dataclass
class _Pending:
    first_seen: float
    parts: dict[int, Fragment] = field(default_factory=dict)


class Reassembler:
    """Collects fragments until a message is complete; not thread-safe (one I/O owner)."""

    def __init__(self, *, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._pending: dict[tuple[str, str, int, int], _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, fragment: Fragment, *, now: float) -> Assembled | None:
        """Store a fragment; return the whole message when this fragment completes it."""
        self.expire(now=now)
        c = fragment.concat
        key = (fragment.source, fragment.destination, c.ref, c.total)
        pending = self._pending.setdefault(key, _Pending(first_seen=now))
        # SMSCs resend a part whose deliver_sm_resp they missed: the first copy wins.
        pending.parts.setdefault(c.seqnum, fragment)
        if len(pending.parts) < c.total:
            return None
        del self._pending[key]
        ordered = tuple(pending.parts[i] for i in range(1, c.total + 1))
        return Assembled(fragment.source, fragment.destination, c.ref, assemble(ordered),
                         fragment.data_coding, ordered)

    def restore(self, assembled: Assembled, *, except_seqnum: int, now: float) -> None:
        """Put an assembled message's parts back, minus one the SMSC will send again."""
        for fragment in assembled.fragments:
            if fragment.concat.seqnum != except_seqnum:
                self.add(fragment, now=now)

    def expire(self, *, now: float) -> list[tuple[str, str, int, int]]:
        """Drop incomplete messages older than the time to live; return their keys."""
        stale = [key for key, p in self._pending.items() if now - p.first_seen > self.ttl]
        for key in stale:
            del self._pending[key]
        return stale
