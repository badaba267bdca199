"""Opt-out lookup and the do-not-survey list as services: numbers normalised like ingest, the
list kept by id, each change audit-logged with the number masked."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.models import Subscriber
from channels.phones import PhoneError
from survey.accounts.models import AuditEntry
from survey.optouts import add_to_list, listed, listed_count, look_up, remove_from_list


def test_a_number_never_seen_is_looked_up_without_being_stored(db):
    found = look_up(db, "+86 138-1234-1234", region="CN")
    assert (found.msisdn, found.subscriber_id, found.do_not_survey, found.masked) == (
        "+8613812341234", None, False, "138****1234")
    assert db.scalar(select(Subscriber.id)) is None


def test_a_listed_number_is_created_if_new_listed_once_and_removed_by_id(db, clock, users):
    admin = users["admin"]
    assert add_to_list(db, "13812341234", region="CN", actor=admin, now=clock.now())
    assert not add_to_list(db, "8613812341234", region="CN", actor=admin, now=clock.now())
    found = look_up(db, "13812341234", region="CN")
    assert found.do_not_survey and found.opted_out_at is None
    assert [s.msisdn for s in listed(db)] == ["+8613812341234"] and listed_count(db) == 1
    assert remove_from_list(db, found.subscriber_id, actor=admin, now=clock.now())
    assert not remove_from_list(db, found.subscriber_id, actor=admin, now=clock.now())
    assert not remove_from_list(db, 999_999, actor=admin, now=clock.now())
    assert listed_count(db) == 0
    targets = [e.target for e in db.scalars(select(AuditEntry))]
    assert targets == [f"subscriber {found.subscriber_id} 138****1234"] * 2


def test_a_number_of_another_region_follows_the_configured_one(db, clock, users):
    assert look_up(db, "07400 123456", region="GB").msisdn == "+447400123456"
    with pytest.raises(PhoneError):
        look_up(db, "07400 123456", region="CN")
