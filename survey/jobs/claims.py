"""What lets several workers share one database without doing anything twice.

Work that lives inside one transaction (interactions to evaluate, replies to handle, sessions to
expire, cases to escalate) is claimed by locking its rows with SELECT … FOR UPDATE SKIP LOCKED: a
second worker skips them and takes the next ones, and a worker killed mid-batch has its transaction
rolled back, which frees them. SQLite has one writer at a time, so there the locks are moot.

A message SUBMITTING outlives the transaction that claimed it (it waits in the SMPP client and on
the SMSC's ack), so its claim is written on the row: claimed_by and lease_until. The worker renews
the leases of its own claims while it runs (renew); once a lease has run out its worker is taken
for dead and any worker puts the message back to PENDING (requeue), having first recorded the acks
that worker's journal holds if it can reach it (survey.jobs.worker).

Per subscriber number, work must also be serial: two open sessions for one number, or two replies
of one number handled out of order, would file answers in the wrong place. Numbers are locked with
PostgreSQL advisory locks for the transaction, always in key order, so two workers never deadlock.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from survey.jobs.leases import acquire, lock_key, worker_lease
from survey.models import OutboundMessage
from survey.settings import host_worker_prefix
from survey.states import OutboundState

NUMBER_LOCKS = 1016  # the advisory lock class of subscriber numbers (the second key is the number's hash)


def lock_numbers(db: Session, numbers: Iterable[str]) -> None:
    """Wait for, and hold until the transaction ends, the lock of each number (PostgreSQL)."""
    keys = sorted({lock_key(n) for n in numbers})
    if keys and db.get_bind().dialect.name == "postgresql":
        # unnest yields the array in order, so the locks are taken in key order.
        db.execute(text("SELECT pg_advisory_xact_lock(:cls, k) FROM unnest(CAST(:keys AS integer[])) AS k"),
                   {"cls": NUMBER_LOCKS, "keys": keys})


def try_lock_numbers(db: Session, numbers: Iterable[str]) -> set[str]:
    """The numbers whose lock this transaction now holds, without waiting for the others (all on SQLite)."""
    numbers = set(numbers)
    if not numbers or db.get_bind().dialect.name != "postgresql":
        return numbers
    by_key: dict[int, list[str]] = {}
    for number in numbers:
        by_key.setdefault(lock_key(number), []).append(number)
    keys = sorted(by_key)
    got = db.execute(text("SELECT k FROM unnest(CAST(:keys AS integer[])) AS k "
                          "WHERE pg_try_advisory_xact_lock(:cls, k)"), {"cls": NUMBER_LOCKS, "keys": keys}).scalars()
    return {number for key in got for number in by_key[key]}


def renew(db: Session, worker_id: str, *, now: datetime, ttl: timedelta) -> None:
    """Extend this worker's lease and its claims' to now + ttl.

    The lease is held under the worker's id, so a worker restarted under the same id takes it back
    at once; two live processes given one TOUCHPOINT_WORKER_ID would share it unnoticed (and requeue
    each other's claims at their starts): ids must differ, as the default hostname-pid does."""
    acquire(db, worker_lease(worker_id), holder=worker_id, now=now, ttl=ttl)
    _update_unlocked(db, (OutboundMessage.state == OutboundState.SUBMITTING,
                          OutboundMessage.claimed_by == worker_id), lease_until=now + ttl)


def requeue(db: Session, *, now: datetime, worker_id: str | None = None, dead: Iterable[str] = ()) -> int:
    """Put back to PENDING the messages SUBMITTING whose lease has run out (their worker died), those
    of the dead workers named, and with worker_id those this worker claimed (at its start or stop:
    none of them is in flight).

    A live worker's claims are left alone: they are in its client's queue or on the wire, and
    sending them again would repeat texts the SMSC is about to acknowledge."""
    owners = {*dead, *([worker_id] if worker_id is not None else [])}
    return _update_unlocked(db, (OutboundMessage.state == OutboundState.SUBMITTING,
                                 or_(OutboundMessage.lease_until.is_(None), OutboundMessage.lease_until <= now,
                                     OutboundMessage.claimed_by.in_(owners))),
                            state=OutboundState.PENDING, claimed_by=None, lease_until=None)


def _update_unlocked(db: Session, where: tuple, **values) -> int:
    """UPDATE the messages matching where that no other transaction has locked; returns how many.

    A row locked is being acked by its worker's recorder (which updates its messages one by one, in
    the order the acks came): waiting for it here, in another order, would deadlock the two. It is
    left for the next run, by when it is settled."""
    ids = select(OutboundMessage.id).where(*where).with_for_update(skip_locked=True).scalar_subquery()
    return db.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(**values)
                      .execution_options(synchronize_session=False)).rowcount


def gone_from_this_host(worker_ids: Iterable[str]) -> set[str]:
    """Of these worker ids, the default ones of this host (hostname-pid) whose process has ended:
    dead for certain, so their claims need not wait for their lease to run out (a worker restarted
    after a kill resends its predecessor's unacknowledged texts at once, as a single worker did)."""
    prefix, gone = host_worker_prefix(), set()
    for worker_id in worker_ids:
        pid = worker_id[len(prefix):]
        if worker_id.startswith(prefix) and pid.isdigit() and int(pid) > 0:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                gone.add(worker_id)
            except PermissionError:  # alive, another user's
                pass
    return gone
