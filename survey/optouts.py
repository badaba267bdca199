"""Who may not be texted: numbers that opted out (by replying TD; only the subscriber can do that or
undo it, so the admin pages only show it) and the do-not-survey list an admin keeps
(Subscriber.do_not_survey, which the evaluate job's policy honours for every interaction it decides
after the change, and the dispatcher for every survey or case check scheduled before it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.models import Subscriber
from channels.phones import mask_msisdn, normalize_msisdn
from channels.sql.bulk import insert_rows
from survey.accounts.audit import AuditAction, record
from survey.accounts.models import User

LIST_PAGE = 200


@dataclass(frozen=True)
class Lookup:
    """What is known about one number."""

    msisdn: str  # E.164
    subscriber_id: int | None  # None: never seen (no interaction, no reply, never listed)
    opted_out_at: datetime | None = None
    opt_out_source: str | None = None
    do_not_survey: bool = False

    @property
    def masked(self) -> str:
        return mask_msisdn(self.msisdn)


def look_up(db: Session, text: str, *, region: str) -> Lookup:
    """A number as typed, normalised like ingest does (channels.phones.PhoneError when it is not a
    mobile number), and its opt-out and do-not-survey state."""
    msisdn = normalize_msisdn(text, region=region)
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))
    if subscriber is None:
        return Lookup(msisdn, None)
    return Lookup(msisdn, subscriber.id, subscriber.opted_out_at, subscriber.opt_out_source,
                  subscriber.do_not_survey)


def _target(subscriber: Subscriber) -> str:
    # Masked even in the log: the log is read more widely and longer than the number is needed.
    return f"subscriber {subscriber.id} {mask_msisdn(subscriber.msisdn)}"


def _set(db: Session, subscriber: Subscriber, listed: bool, *, actor: User, now: datetime) -> bool:
    if subscriber.do_not_survey == listed:
        return False
    subscriber.do_not_survey = listed
    record(db, actor=actor, action=AuditAction.DO_NOT_SURVEY_ADDED if listed else AuditAction.DO_NOT_SURVEY_REMOVED,
           target=_target(subscriber), now=now, before={"do_not_survey": not listed},
           after={"do_not_survey": listed})
    return True


def add_to_list(db: Session, text: str, *, region: str, actor: User, now: datetime) -> bool:
    """Put a number on the do-not-survey list, a number never seen too (so its first interaction is
    already skipped); False when it was on it."""
    msisdn = normalize_msisdn(text, region=region)
    # The worker creates subscribers as their interactions arrive, with the same statement: either
    # of us may come first, and neither fails.
    insert_rows(db, "subscribers", ("msisdn", "attributes", "created_at", "do_not_survey"),
                [{"msisdn": msisdn, "attributes": {}, "created_at": now, "do_not_survey": False}],
                conflict=("msisdn",))
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))
    return _set(db, subscriber, True, actor=actor, now=now)


def remove_from_list(db: Session, subscriber_id: int, *, actor: User, now: datetime) -> bool:
    """Take a subscriber off the list (by id, so the page need not carry the number); False when
    there is no such subscriber or it was not listed."""
    subscriber = db.get(Subscriber, subscriber_id)
    if subscriber is None:
        return False
    return _set(db, subscriber, False, actor=actor, now=now)


def listed(db: Session, *, after_id: int | None = None, limit: int = LIST_PAGE) -> list[Subscriber]:
    """The do-not-survey list, a page at a time in the order numbers were first seen."""
    query = select(Subscriber).where(Subscriber.do_not_survey.is_(True)).order_by(Subscriber.id).limit(limit)
    if after_id is not None:
        query = query.where(Subscriber.id > after_id)
    return list(db.scalars(query))


def listed_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Subscriber).where(Subscriber.do_not_survey.is_(True))) or 0
