"""Turns and leases shared by the workers on one database: a row per name in job_leases.

Several workers (processes, possibly on several hosts) run the same scheduler. A job that must not
run twice at once, or only once per period (expiry, escalation, report packs), asks for a turn:

    with runtime.writing() as db:
        if take_turn(db, "packs:daily", holder=worker_id, now=now, every=timedelta(days=1)):
            ...  # the job's work, in this same transaction

The turn's row stays locked until that transaction ends, so no other worker takes the turn while
the job runs (on PostgreSQL the others skip the locked row and go on at once; on SQLite one writer
at a time makes them wait, then find the turn taken). A worker killed mid-job has its transaction
rolled back, which leaves the turn due: nothing to expire, no one to wait for.

Work that spans transactions holds a lease instead: acquire() it (and commit), renew it by
acquiring again before it runs out, release() it at the end. A holder that dies stops renewing and
the lease is free once lease_until passes. Each worker holds one ("worker:<id>"), which says that it
is alive and so that its claims and its ack journal are its own (survey.jobs.claims).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, text as sql_text
from sqlalchemy.orm import Session

from channels.sql.bulk import insert_rows
from survey.models import JobLease

NEVER = datetime(2000, 1, 1, tzinfo=timezone.utc)  # lease_until of a row created free
WORKER_PREFIX = "worker:"
LEASE_NAMES = 1015  # the advisory lock class of lease names being created


def worker_lease(worker_id: str) -> str:
    """The name of a worker's own lease."""
    return WORKER_PREFIX + worker_id


def take_turn(db: Session, name: str, *, holder: str, now: datetime, every: timedelta = timedelta(0),
              wait: bool = False, force: bool = False) -> bool:
    """Whether the caller runs `name` now, in this transaction: True when no other worker is running
    it and its last turn began `every` ago or more (every=0: whenever no one else is). The turn is
    the caller's until `every` from now; the row is locked until the caller's transaction ends.
    wait=True waits for a worker running it to finish instead of giving up; force=True takes it even
    when not due (a lease whose holder is known to be dead)."""
    row = _locked(db, name, now=now, wait=wait)
    if row is None or (row.lease_until > now and not force):
        return False
    _hold(row, holder=holder, now=now, until=now + every)
    return True


def acquire(db: Session, name: str, *, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Hold (or renew) the lease `name` until now + ttl: True when it was free, had run out or was
    already the holder's. The caller commits."""
    row = _locked(db, name, now=now, wait=True)
    if row.holder != holder and row.lease_until > now:
        return False
    _hold(row, holder=holder, now=now, until=now + ttl)
    return True


def release(db: Session, name: str, *, holder: str) -> None:
    """Give the lease up now, if the holder still has it."""
    db.execute(delete(JobLease).where(JobLease.name == name, JobLease.holder == holder))


def live_holders(db: Session, prefix: str, *, now: datetime) -> set[str]:
    """The names after prefix of the leases that have not run out (e.g. the workers alive)."""
    names = db.scalars(select(JobLease.name).where(JobLease.name.startswith(prefix, autoescape=True),
                                                   JobLease.lease_until > now))
    return {name[len(prefix):] for name in names}


def _locked(db: Session, name: str, *, now: datetime, wait: bool) -> JobLease | None:
    """The row, locked for this transaction; None when another transaction holds it (and not wait)."""
    query = select(JobLease).where(JobLease.name == name).with_for_update(skip_locked=not wait)
    row = db.scalar(query)
    if row is None:
        # First use of the name: create it free. A worker creating it at the same moment makes
        # this INSERT wait for its commit and then do nothing; the SELECT below then finds the row.
        # Not waiting, the creator is the one whose lock on the name's key is granted at once.
        if not wait and not try_lock_key(db, LEASE_NAMES, name):
            return None
        insert_rows(db, "job_leases", ("name", "holder", "lease_until", "updated_at"),
                    [{"name": name, "holder": "", "lease_until": NEVER, "updated_at": now}], conflict=("name",))
        row = db.scalar(query.execution_options(populate_existing=True))
    return row


def lock_key(text_: str) -> int:
    """A stable 32-bit key for a text (hash() differs between processes); two texts sharing a key
    only wait for each other."""
    return int.from_bytes(hashlib.blake2b(text_.encode(), digest_size=4).digest(), "big", signed=True)


def try_lock_key(db: Session, lock_class: int, text_: str) -> bool:
    """Take the transaction's advisory lock on (lock_class, text) if no one holds it (PostgreSQL;
    SQLite has one writer at a time: always True)."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.scalar(sql_text("SELECT pg_try_advisory_xact_lock(:cls, :key)"),
                          {"cls": lock_class, "key": lock_key(text_)}))


def _hold(row: JobLease, *, holder: str, now: datetime, until: datetime) -> None:
    row.holder, row.lease_until, row.updated_at = holder, until, now  # flushed with the caller's commit
