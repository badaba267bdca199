"""Reassembly of multipart short messages (UDH 05 00 03, UDH 06 08 04 and SAR TLVs).

Parts are keyed on (source, destination, reference, total), accepted in any order, duplicates
are ignored, and incomplete messages expire after a time to live. A key does not name one message:
references wrap, so a later message may reuse the key of one still waiting or just completed
(``place`` decides which message a part belongs to). Time is passed in (`now`, in seconds on any
monotonic scale), never read from a hidden clock.

The Reassembler holds parts in memory only: a part acknowledged to the SMSC and then lost in a
crash is gone. A client that must not lose replies passes each part to durable storage instead
(``on_fragment``) and joins them there with ``assemble``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

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


def place(seqnum: int, body: bytes, waiting: Sequence[Mapping[int, bytes]]) -> int | None:
    """Which of the incomplete messages on one key (oldest first, each seqnum → body) a part belongs
    to; len(waiting) for a new message, None when one of them holds this very part already.

    A key is not unique: a handset's 8-bit reference wraps (some send the same one every time), so
    a part whose number a waiting message has with other text belongs to a later message. Which
    one is a guess: handsets send parts in order, so the oldest message the part continues (all its
    parts numbered lower) wins; else the oldest that lacks it, as when the SMSC retries a part we
    refused after a later message began. So a message whose part never comes does not capture the
    next one's parts, and a part redelivered late still finds its own message.
    """
    if any(parts.get(seqnum) == body for parts in waiting):
        return None  # SMSCs resend a part whose deliver_sm_resp they missed
    lacking = [i for i, parts in enumerate(waiting) if seqnum not in parts]
    in_order = [i for i in lacking if max(waiting[i], default=0) < seqnum]
    return (in_order or lacking or [len(waiting)])[0]


@dataclass(eq=False)
class _Pending:
    first_seen: float
    parts: dict[int, Fragment] = field(default_factory=dict)


@dataclass(eq=False)
class _Completed:
    at: float
    parts: frozenset[tuple[int, bytes]]


Key = tuple[str, str, int, int]


class Reassembler:
    """Collects fragments until a message is complete; not thread-safe (one I/O owner).

    With remember_completed, the parts of a completed message are kept for the ttl, so that a part
    sent again (an SMSC redelivers a deliver_sm whose answer it missed, even after the message was
    whole) is a no-op rather than the start of a stray message. Leave it off where identical parts
    are a new message (an SMSC receiving an ESME's resubmit).
    """

    def __init__(self, *, ttl: float = 600.0, remember_completed: bool = False) -> None:
        self.ttl = ttl
        self.remember_completed = remember_completed
        self._pending: dict[Key, list[_Pending]] = {}  # per key, oldest first
        self._completed: dict[Key, list[_Completed]] = {}
        self._completed_order: deque[tuple[Key, _Completed]] = deque()

    def __len__(self) -> int:
        """The number of incomplete messages held."""
        return sum(len(waiting) for waiting in self._pending.values())

    def add(self, fragment: Fragment, *, now: float) -> Assembled | None:
        """Store a fragment; return the whole message when this fragment completes it."""
        self.expire(now=now)
        c = fragment.concat
        key = (fragment.source, fragment.destination, c.ref, c.total)
        if any((c.seqnum, fragment.body) in done.parts for done in self._completed.get(key, ())):
            return None  # a part of a message already handed on, sent again
        waiting = self._pending.setdefault(key, [])
        index = place(c.seqnum, fragment.body, [{n: f.body for n, f in p.parts.items()} for p in waiting])
        if index is None:
            return None
        if index == len(waiting):
            waiting.append(_Pending(first_seen=now))
        pending = waiting[index]
        pending.parts[c.seqnum] = fragment
        if len(pending.parts) < c.total:
            return None
        del waiting[index]
        if not waiting:
            del self._pending[key]
        ordered = tuple(pending.parts[i] for i in range(1, c.total + 1))
        if self.remember_completed:
            done = _Completed(now, frozenset((f.concat.seqnum, f.body) for f in ordered))
            self._completed.setdefault(key, []).append(done)
            self._completed_order.append((key, done))
        return Assembled(fragment.source, fragment.destination, c.ref, assemble(ordered),
                         fragment.data_coding, ordered)

    def restore(self, assembled: Assembled, *, except_seqnum: int, now: float) -> None:
        """Put an assembled message's parts back, minus one the SMSC will send again."""
        first = assembled.fragments[0]
        key = (first.source, first.destination, first.concat.ref, first.concat.total)
        parts = frozenset((f.concat.seqnum, f.body) for f in assembled.fragments)
        completed = self._completed.get(key, [])
        for done in completed:
            if done.parts == parts:  # no longer handed on: the part sent again must complete it
                completed.remove(done)
                break
        kept = {f.concat.seqnum: f for f in assembled.fragments if f.concat.seqnum != except_seqnum}
        if kept:  # the oldest message on its key again: it was first to be complete
            self._pending.setdefault(key, []).insert(0, _Pending(first_seen=now, parts=kept))

    def expire(self, *, now: float) -> list[Key]:
        """Drop incomplete messages older than the time to live, and forget completed ones as old;
        return the keys of the incomplete messages dropped."""
        stale = [(key, p) for key, waiting in self._pending.items() for p in waiting
                 if now - p.first_seen > self.ttl]
        for key, pending in stale:
            waiting = self._pending[key]
            waiting.remove(pending)
            if not waiting:
                del self._pending[key]
        while self._completed_order and now - self._completed_order[0][1].at > self.ttl:
            key, done = self._completed_order.popleft()
            completed = self._completed.get(key, [])
            if done in completed:  # by identity: a restored message was removed already
                completed.remove(done)
            if not completed:
                self._completed.pop(key, None)
        return [key for key, _ in stale]
