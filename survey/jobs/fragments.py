"""Multipart replies: each part stored as it arrives (before the SMSC is answered), joined into one
received reply in the database when the last part is in, or stored incomplete when parts stop coming.

A part's key (number, destination, reference, total) does not name one reply: references wrap after
255 messages (some handsets send the same one every time), so a later reply may reuse the key while
parts of an earlier one are still kept. Each reply on a key is an occurrence of it, and the parts of
all occurrences are kept a time to live after they arrived, so that a part the SMSC sends again
(its deliver_sm_resp was lost, say in a crash between our commit and our answer) is recognised:
same key, same number, same body. Any other part belongs to a reply still waiting for it, or starts
a new one (smpp.reassembly.place decides which).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from smpp.reassembly import Concat, Fragment, assemble, place
from survey.jobs.replies import msisdn_of, storable_text
from survey.models import InboundFragment, InboundMessage
from survey.states import InboundState

_FRAGMENTS = InboundFragment.__table__
_KEY = ("msisdn", "destination", "ref", "total")


def store_fragment(connection: Connection, fragment: Fragment, *, now: datetime, region: str = "CN") -> int | None:
    """Store one part of a multipart reply; the part that completes it also stores the whole text as
    a received reply, in the same (caller's) transaction. Returns that reply's id, else None.

    A part the SMSC sends again changes nothing, even after its reply was joined. Two queries for a
    part (its key's kept parts, the insert), two more for the part that completes a reply.
    """
    key = {"msisdn": msisdn_of(fragment.source, region), "destination": fragment.destination[:32],
           "ref": fragment.concat.ref, "total": fragment.concat.total}
    seqnum, body = fragment.concat.seqnum, fragment.body
    kept = connection.execute(
        select(_FRAGMENTS.c.occurrence, _FRAGMENTS.c.seqnum, _FRAGMENTS.c.body, _FRAGMENTS.c.data_coding,
               _FRAGMENTS.c.inbound_id)
        .where(*_matching(key)).order_by(_FRAGMENTS.c.occurrence)).all()
    if any(row.inbound_id is not None and (row.seqnum, row.body) == (seqnum, body) for row in kept):
        return None  # sent again after its reply was joined
    waiting: dict[int, dict[int, Row]] = {}  # occurrences not joined yet, oldest first
    for row in kept:
        if row.inbound_id is None:
            waiting.setdefault(row.occurrence, {})[row.seqnum] = row
    index = place(seqnum, body, [{n: row.body for n, row in parts.items()} for parts in waiting.values()])
    if index is None:
        return None  # sent again while its reply waits for other parts
    occurrences = list(waiting)
    if index < len(occurrences):
        occurrence = occurrences[index]
    else:  # a new reply: a number no kept part has, joined or not (the unique key spans them all)
        occurrence = max((row.occurrence for row in kept), default=-1) + 1
    # A plain insert: should another writer have taken this place meanwhile, the error makes the
    # SMSC send the part again rather than have it acknowledged and dropped.
    connection.execute(insert(_FRAGMENTS).values(
        **key, occurrence=occurrence, seqnum=seqnum, data_coding=fragment.data_coding, body=body, received_at=now))
    parts = waiting.get(occurrence, {})
    if len(parts) + 1 < fragment.concat.total:
        return None
    fragments = [_fragment(key, row.seqnum, row.body, row.data_coding) for row in parts.values()]
    return _join(connection, key, occurrence, fragments + [fragment], now=now)


def flush_stale_fragments(connection: Connection, *, now: datetime, ttl: timedelta) -> int:
    """Store replies whose parts stopped arriving a ttl ago with the parts that did arrive (a
    subscriber's words are kept, marked incomplete), and forget parts that arrived more than a ttl
    ago once joined (an SMSC sends a part again within minutes, not later)."""
    columns = [_FRAGMENTS.c[column] for column in (*_KEY, "occurrence")]
    stale = connection.execute(
        select(*columns).where(_FRAGMENTS.c.inbound_id.is_(None))
        .group_by(*columns).having(func.min(_FRAGMENTS.c.received_at) < now - ttl)).all()
    for row in stale:
        key = {column: row._mapping[column] for column in _KEY}
        rows = connection.execute(
            select(_FRAGMENTS.c.seqnum, _FRAGMENTS.c.body, _FRAGMENTS.c.data_coding)
            .where(*_matching(key), _FRAGMENTS.c.occurrence == row.occurrence, _FRAGMENTS.c.inbound_id.is_(None)))
        _join(connection, key, row.occurrence,
              [_fragment(key, seqnum, body, data_coding) for seqnum, body, data_coding in rows], now=now)
    connection.execute(delete(_FRAGMENTS).where(_FRAGMENTS.c.inbound_id.is_not(None),
                                                _FRAGMENTS.c.received_at < now - ttl))
    return len(stale)


def _matching(key: dict) -> list:
    return [_FRAGMENTS.c[column] == value for column, value in key.items()]


def _fragment(key: dict, seqnum: int, body: bytes, data_coding: int) -> Fragment:
    return Fragment(key["msisdn"], key["destination"], Concat(key["ref"], key["total"], seqnum), body, data_coding)


def _join(connection: Connection, key: dict, occurrence: int, fragments: list[Fragment], *, now: datetime) -> int:
    missing = key["total"] - len(fragments)
    inbound_id = connection.execute(insert(InboundMessage.__table__).values(
        msisdn=key["msisdn"], destination=key["destination"], text=storable_text(assemble(fragments)), received_at=now,
        state=InboundState.RECEIVED.value,
        error=f"incomplete: {missing} of {key['total']} parts never arrived" if missing else None,
    ).returning(InboundMessage.__table__.c.id)).scalar_one()
    connection.execute(update(_FRAGMENTS).where(
        *_matching(key), _FRAGMENTS.c.occurrence == occurrence, _FRAGMENTS.c.inbound_id.is_(None))
        .values(inbound_id=inbound_id))
    return inbound_id
