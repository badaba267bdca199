"""Multipart replies: each part stored as it arrives (before the SMSC is answered), joined into one
received reply in the database when the last part is in, or stored incomplete when parts stop coming."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from smpp.reassembly import Concat, Fragment, assemble
from survey.inbox import msisdn_of, storable_text
from survey.models import InboundFragment, InboundMessage
from survey.states import InboundState

_FRAGMENTS = InboundFragment.__table__


def store_fragment(connection: Connection, fragment: Fragment, *, now: datetime, region: str = "CN") -> int | None:
    """Store one part of a multipart reply; the part that completes it also stores the whole text as
    a received reply, in the same (caller's) transaction. Returns that reply's id, else None.

    A part the SMSC sends again hits the unique key and changes nothing, even after the reply was
    joined: joined parts are kept for the reassembly time to live (see flush_stale_fragments).
    """
    key = {"msisdn": msisdn_of(fragment.source, region), "destination": fragment.destination[:32],
           "ref": fragment.concat.ref, "total": fragment.concat.total}
    insert_new = (postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert)(_FRAGMENTS)
    stored = connection.execute(insert_new.values(
        **key, seqnum=fragment.concat.seqnum, data_coding=fragment.data_coding, body=fragment.body,
        received_at=now).on_conflict_do_nothing()).rowcount
    if not stored:
        return None
    parts = _parts(connection, key)
    if len(parts) < fragment.concat.total or any(inbound_id is not None for _, inbound_id in parts):
        return None  # parts missing, or a late part of a reply already stored incomplete
    return _join(connection, key, [f for f, _ in parts], now=now)


def flush_stale_fragments(connection: Connection, *, now: datetime, ttl: timedelta) -> int:
    """Store replies whose parts stopped arriving a ttl ago with the parts that did arrive (a
    subscriber's words are kept, marked incomplete), and forget parts joined more than a ttl ago."""
    oldest = func.min(_FRAGMENTS.c.received_at)
    keys = [dict(row._mapping) for row in connection.execute(
        select(_FRAGMENTS.c.msisdn, _FRAGMENTS.c.destination, _FRAGMENTS.c.ref, _FRAGMENTS.c.total)
        .where(_FRAGMENTS.c.inbound_id.is_(None))
        .group_by(_FRAGMENTS.c.msisdn, _FRAGMENTS.c.destination, _FRAGMENTS.c.ref, _FRAGMENTS.c.total)
        .having(oldest < now - ttl))]
    for key in keys:
        _join(connection, key, [f for f, inbound_id in _parts(connection, key) if inbound_id is None], now=now)
    connection.execute(delete(_FRAGMENTS).where(_FRAGMENTS.c.inbound_id.is_not(None),
                                                _FRAGMENTS.c.received_at < now - ttl))
    return len(keys)


def _parts(connection: Connection, key: dict) -> list[tuple[Fragment, int | None]]:
    rows = connection.execute(
        select(_FRAGMENTS.c.seqnum, _FRAGMENTS.c.body, _FRAGMENTS.c.data_coding, _FRAGMENTS.c.inbound_id)
        .where(*(_FRAGMENTS.c[column] == value for column, value in key.items())))
    return [(Fragment(key["msisdn"], key["destination"], Concat(key["ref"], key["total"], seqnum), body, data_coding),
             inbound_id) for seqnum, body, data_coding, inbound_id in rows]


def _join(connection: Connection, key: dict, fragments: list[Fragment], *, now: datetime) -> int:
    missing = key["total"] - len(fragments)
    inbound_id = connection.execute(insert(InboundMessage.__table__).values(
        msisdn=key["msisdn"], destination=key["destination"], text=storable_text(assemble(fragments)), received_at=now,
        state=InboundState.RECEIVED.value,
        error=f"incomplete: {missing} of {key['total']} parts never arrived" if missing else None,
    ).returning(InboundMessage.__table__.c.id)).scalar_one()
    connection.execute(update(_FRAGMENTS).where(
        *(_FRAGMENTS.c[column] == value for column, value in key.items()), _FRAGMENTS.c.inbound_id.is_(None))
        .values(inbound_id=inbound_id))
    return inbound_id
