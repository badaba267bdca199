"""Multipart replies stored part by part: a reused reference starts a new reply, a redelivered part
changes nothing, parts join in any order, and parts that stop coming are kept as an incomplete reply."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smpp.reassembly import Concat, Fragment
from survey.jobs.fragments import flush_stale_fragments, store_fragment
from survey.models import InboundFragment, InboundMessage
from tests.conftest import START

TTL = timedelta(minutes=10)
SOURCE = "8613812341234"
# Two complaints from one number, both sent with 8-bit reference 7 (it wraps after 255 messages).
A = "不满意，排队太久了，前面只有六个人却等了一个多小时"
B = "营业员态度很差，问了三遍都不耐烦，再也不来这个厅了"


def parts(text: str, total: int = 3, *, ref: int = 7) -> list[Fragment]:
    """A UCS2 reply cut into total parts, as a handset sends it."""
    body, size = text.encode("utf-16-be"), -(-len(text) // total) * 2
    return [Fragment(SOURCE, "10655", Concat(ref, total, i + 1), body[i * size:(i + 1) * size], 8)
            for i in range(total)]


def store(connection, sequence: str, *, minute: float = 0) -> list[int | None]:
    """Store parts named like "A1 B1 A2": message A or B, then the part's number."""
    messages = {"A": parts(A), "B": parts(B)}
    return [store_fragment(connection, messages[name[0]][int(name[1:]) - 1], now=START + timedelta(minutes=minute))
            for name in sequence.split()]


def replies(connection) -> list[tuple[str, str | None]]:
    return [tuple(row) for row in connection.execute(
        select(InboundMessage.text, InboundMessage.error).order_by(InboundMessage.id))]


def fragment_count(connection) -> int:
    return connection.scalar(select(func.count()).select_from(InboundFragment))


def test_two_long_replies_with_the_same_reference_are_both_stored_whole(connection):
    stored = store(connection, "A1 A2 A3 B1 B2 B3")
    assert [id_ is not None for id_ in stored] == [False, False, True, False, False, True]
    assert replies(connection) == [(A, None), (B, None)]


def test_a_reference_reused_after_the_first_reply_was_flushed_incomplete_starts_a_new_reply(connection):
    store(connection, "A1")
    store(connection, "A3", minute=5)  # kept until minute 15, for a redelivery
    assert flush_stale_fragments(connection, now=START + TTL + timedelta(seconds=1), ttl=TTL) == 1
    store(connection, "B1 B2 B3", minute=11)
    assert replies(connection) == [(A[:9] + A[18:], "incomplete: 1 of 3 parts never arrived"), (B, None)]


@pytest.mark.parametrize("sequence", [
    "A1 A2 A1 A3 A2",  # the SMSC missed our answer to a part and sends it again before the join
    "A1 A2 A3 A3",  # ... or our answer to the last part was lost (a crash between commit and answer)
    "A1 A2 A3 A1 A2 A3",  # every answer lost
    "A1 A2 A3 B1 A2 B2 A3 B3",  # a part of the first reply redelivered while the second comes in
])
def test_a_redelivered_part_changes_nothing(connection, sequence):
    store(connection, sequence)
    assert replies(connection) == [(A, None)] + ([(B, None)] if "B" in sequence else [])
    # Not a stray part waiting for siblings either: nothing is left to store as incomplete.
    assert flush_stale_fragments(connection, now=START + TTL + timedelta(seconds=1), ttl=TTL) == 0
    assert len(replies(connection)) == (2 if "B" in sequence else 1)


def test_joined_parts_are_forgotten_a_time_to_live_later(connection):
    store(connection, "A1 A2 A3")
    flush_stale_fragments(connection, now=START + TTL + timedelta(seconds=1), ttl=TTL)
    assert fragment_count(connection) == 0
    store(connection, "A1 A2 A3", minute=11)  # now the same text again is a new reply
    assert replies(connection) == [(A, None), (A, None)]


@pytest.mark.parametrize("sequence", [
    "A3 A1 A2",
    "A2 A3 A1",
    "A1 B1 A2 B2 A3 B3",  # part 1 of B before part 2 of A: B is new, A2 still completes A
    "A3 A1 B3 B1 A2 B2",
    "A1 A2 B1 A3 B3 B2",
    "A2 B2 A1 A3 B3 B1",
    "A1 B1 A1 A2 B1 B2 A3 A2 B3",  # interleaved, with redeliveries
])
def test_parts_join_in_any_order_even_interleaved_with_another_reply_on_the_same_reference(connection, sequence):
    store(connection, sequence)
    assert sorted(replies(connection)) == sorted([(A, None)] + ([(B, None)] if "B" in sequence else []))
    assert flush_stale_fragments(connection, now=START + TTL + timedelta(seconds=1), ttl=TTL) == 0


def test_parts_that_stop_arriving_are_flushed_as_an_incomplete_reply(connection):
    store(connection, "A1 A3")
    store(connection, "B1 B2 B3", minute=5)
    assert flush_stale_fragments(connection, now=START + TTL - timedelta(seconds=1), ttl=TTL) == 0
    assert replies(connection) == [(B, None)]
    assert flush_stale_fragments(connection, now=START + TTL + timedelta(seconds=1), ttl=TTL) == 1
    assert replies(connection) == [(B, None), (A[:9] + A[18:], "incomplete: 1 of 3 parts never arrived")]
    assert flush_stale_fragments(connection, now=START + TTL + timedelta(minutes=6), ttl=TTL) == 0
    assert fragment_count(connection) == 0


def test_a_late_part_of_a_reply_flushed_incomplete_is_kept_as_a_reply_of_its_own(connection):
    store(connection, "A1")
    store(connection, "A3", minute=5)
    flush_stale_fragments(connection, now=START + TTL + timedelta(seconds=1), ttl=TTL)
    assert store(connection, "A2 A3", minute=11) == [None, None]  # A3 again: a redelivery
    flush_stale_fragments(connection, now=START + 2 * TTL + timedelta(minutes=2), ttl=TTL)
    assert replies(connection) == [(A[:9] + A[18:], "incomplete: 1 of 3 parts never arrived"),
                                   (A[9:18], "incomplete: 2 of 3 parts never arrived")]


def test_numbers_and_references_keep_replies_apart(connection):
    other = [Fragment("8613800000002", "10655", f.concat, f.body, 8) for f in parts(B)]
    store_fragment(connection, parts(A)[0], now=START)
    store_fragment(connection, other[0], now=START)
    store_fragment(connection, parts(B, ref=8)[0], now=START)
    for fragment in parts(A)[1:] + other[1:] + parts(B, ref=8)[1:]:
        store_fragment(connection, fragment, now=START)
    assert replies(connection) == [(A, None), (B, None), (B, None)]
