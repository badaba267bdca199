"""The record job's second half: delivery receipts, stored as received (before the SMSC is answered)
and matched to their segments; a message is delivered when every segment is acked and receipted."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from smpp.receipts import DeliveryReceipt, ReceiptStatus, message_id_candidates
from survey.models import InboundReceipt, OutboundMessage, OutboundSegment
from survey.states import OutboundState, ReceiptState

log = logging.getLogger(__name__)

FAILED_RECEIPTS = {ReceiptStatus.UNDELIVERABLE, ReceiptStatus.EXPIRED, ReceiptStatus.REJECTED,
                   ReceiptStatus.DELETED, ReceiptStatus.UNKNOWN}


def store_receipts(connection: Connection, receipts: list[DeliveryReceipt], *, now: datetime) -> None:
    """Keep receipts as received; the caller commits before the SMSC is answered."""
    if receipts:
        connection.execute(insert(InboundReceipt.__table__), [
            {"smsc_id": r.message_id[:64], "status": r.status.value, "error": r.error[:16] if r.error else None,
             "done_at": r.done_date, "received_at": now, "state": ReceiptState.RECEIVED.value}
            for r in receipts])


def apply_stored_receipts(db: Session, *, now: datetime, patience: timedelta, only: int | None = None) -> int:
    """Match stored receipts to their segments; returns how many still wait for a match.

    One that matches nothing may have overtaken its ack and is tried again at the next run, until
    patience has passed (its ack never came: the message was resent under another id).
    """
    table = InboundReceipt.__table__
    query = (select(table.c.id, table.c.smsc_id, table.c.status, table.c.error, table.c.done_at, table.c.received_at)
             .where(table.c.state == ReceiptState.RECEIVED.value).order_by(table.c.id)
             .with_for_update(skip_locked=True))  # one another worker is matching is its to match
    rows = db.execute(query if only is None else query.where(table.c.id == only)).all()
    receipts = [DeliveryReceipt(row.smsc_id, ReceiptStatus(row.status), row.error, done_date=row.done_at)
                for row in rows]
    unmatched = set(record_receipts(db, receipts, now=now))
    changes, waiting = [], 0
    for position, row in enumerate(rows):
        if position not in unmatched:
            changes.append({"receipt_id": row.id, "state": ReceiptState.MATCHED.value})
        elif now - row.received_at >= patience:
            log.warning("receipt for unknown SMSC id %s given up", row.smsc_id)
            changes.append({"receipt_id": row.id, "state": ReceiptState.UNMATCHED.value})
        else:
            waiting += 1
    if changes:
        db.connection().execute(update(table).where(table.c.id == bindparam("receipt_id"))
                                .values(state=bindparam("state")), changes)
    return waiting


def stored_receipt_ids(db: Session) -> list[int]:
    """Receipts stored and not matched yet, oldest first."""
    table = InboundReceipt.__table__
    return list(db.scalars(select(table.c.id).where(table.c.state == ReceiptState.RECEIVED.value)
                           .order_by(table.c.id)))


def set_receipt_aside(db: Session, receipt_id: int) -> None:
    """A receipt that cannot be matched without an error is given up, like one whose ack never came."""
    table = InboundReceipt.__table__
    db.execute(update(table).where(table.c.id == receipt_id).values(state=ReceiptState.UNMATCHED.value))


def record_receipts(db: Session, receipts: list[DeliveryReceipt], *, now: datetime) -> list[int]:
    """Match receipts to segments whatever the id's form; returns the positions of those that
    matched no segment.

    A receipt can overtake its submit_sm_resp, so the caller offers the unmatched ones again later.
    Receipts come by the thousand, so this works on rows and executemany, not ORM objects.
    """
    if not receipts:
        return []
    segments = OutboundSegment.__table__
    forms = {r: message_id_candidates(r.message_id) for r in receipts}
    wanted = {form for candidates in forms.values() for form in candidates}
    by_form: dict[str, list] = {}
    for row in db.execute(select(segments.c.id, segments.c.message_id, segments.c.smsc_id, segments.c.smsc_id_alt,
                                 segments.c.receipt_status)
                          .where(or_(segments.c.smsc_id.in_(wanted), segments.c.smsc_id_alt.in_(wanted)))
                          .order_by(segments.c.id)):
        entry = [row.id, row.message_id, row.receipt_status]
        by_form[row.smsc_id] = entry  # the newest wins if an SMSC ever reuses an id
        if row.smsc_id_alt:
            by_form.setdefault(row.smsc_id_alt, entry)
    unmatched, updates, settled = [], [], set()
    for position, receipt in enumerate(receipts):
        entry = next((by_form[f] for f in forms[receipt] if f in by_form), None)
        if entry is None:
            unmatched.append(position)
            continue
        segment_id, message_id, status = entry
        if status is not None and ReceiptStatus(status).is_final:
            continue  # SMSCs resend receipts; the second is a no-op
        entry[2] = receipt.status.value
        updates.append({"segment_id": segment_id, "status": receipt.status.value, "error": receipt.error,
                        "at": receipt.done_date or now})
        if receipt.status.is_final:
            settled.add(message_id)
    if updates:
        db.connection().execute(
            update(segments).where(segments.c.id == bindparam("segment_id"))
            .values(receipt_status=bindparam("status"), receipt_error=bindparam("error"),
                    receipt_at=bindparam("at")), updates)
    settle_deliveries(db, settled, now=now)
    return unmatched


def settle_deliveries(db: Session, message_ids: set[int], *, now: datetime) -> None:
    """An acked message is delivered when every segment's receipt says so, undelivered when any
    final one failed. Until every segment is acked the message stays SUBMITTING, whatever the
    receipts say: its later segments' acks must still be recorded."""
    if not message_ids:
        return
    segments, messages = OutboundSegment.__table__, OutboundMessage.__table__
    statuses: dict[int, list[ReceiptStatus | None]] = {}
    for message_id, status in db.execute(select(segments.c.message_id, segments.c.receipt_status)
                                         .where(segments.c.message_id.in_(message_ids))):
        statuses.setdefault(message_id, []).append(ReceiptStatus(status) if status else None)
    changes = []
    for message_id, expected in db.execute(select(messages.c.id, messages.c.segments)
                                           .where(messages.c.id.in_(message_ids),
                                                  messages.c.state == OutboundState.ACKED.value)):
        known = statuses.get(message_id, [])
        if any(s in FAILED_RECEIPTS for s in known):
            changes.append({"message_id": message_id, "state": OutboundState.UNDELIVERED.value, "at": None})
        elif len(known) == expected and all(s is ReceiptStatus.DELIVERED for s in known):
            changes.append({"message_id": message_id, "state": OutboundState.DELIVERED.value, "at": now})
    if changes:
        db.connection().execute(
            update(messages).where(messages.c.id == bindparam("message_id"))
            .values(state=bindparam("state"), delivered_at=bindparam("at")), changes)
