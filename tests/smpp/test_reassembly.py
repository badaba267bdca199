"""MO reassembly: UDH 8- and 16-bit references, SAR, any order, duplicates, expiry."""
from __future__ import annotations

import itertools

import pytest

from smpp.encoding import segment
from smpp.reassembly import Concat, Fragment, Reassembler, concat_from_sar, split_udh

TEXT = "我上午十点到营业厅办理补换卡业务，取号以后前面只有六个人，结果足足等了一个多小时才轮到我" * 4


def _fragments(text: str = TEXT, *, source: str = "8613800000000", ref: int = 7) -> list[Fragment]:
    result = segment(text, ref=ref)
    out = []
    for part in result.parts:
        concat, body = split_udh(part.short_message)
        assert concat is not None
        out.append(Fragment(source, "10655", concat, body, result.data_coding))
    return out


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_any_order_completes_once(order: tuple[int, ...]) -> None:
    fragments = _fragments()
    assert len(fragments) == 3
    reassembler = Reassembler()
    results = [reassembler.add(fragments[i], now=0.0) for i in order]
    assert results[:2] == [None, None]
    assert results[2] is not None and results[2].text == TEXT
    assert len(reassembler) == 0


def test_duplicates_are_ignored() -> None:
    first, second, third = _fragments()
    reassembler = Reassembler()
    assert reassembler.add(first, now=0) is None
    assert reassembler.add(first, now=1) is None
    assert reassembler.add(third, now=2) is None
    done = reassembler.add(second, now=3)
    assert done is not None and done.text == TEXT


def test_sixteen_bit_reference_udh() -> None:
    concat, body = split_udh(bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + b"abc")
    assert concat == Concat(0x1234, 2, 1)
    assert body == b"abc"


def test_udh_with_other_elements_before_concat() -> None:
    # A port-addressing element (IEI 05) first, then 00 03 ref total seq.
    concat, body = split_udh(bytes([11, 5, 4, 0x0B, 0x84, 0x23, 0xF0, 0, 3, 9, 2, 2]) + b"x")
    assert concat == Concat(9, 2, 2)
    assert body == b"x"


def test_sar_fields() -> None:
    assert concat_from_sar(300, 2, 1) == Concat(300, 2, 1)
    assert concat_from_sar(None, 2, 1) is None
    assert concat_from_sar(1, 2, 3) is None


def test_different_senders_with_the_same_reference_do_not_mix() -> None:
    a, b = _fragments(source="8613800000001"), _fragments(source="8613800000002")
    reassembler = Reassembler()
    for fragment in a[:2] + b[:2]:
        assert reassembler.add(fragment, now=0) is None
    assert reassembler.add(a[2], now=0).source == "8613800000001"
    assert reassembler.add(b[2], now=0).source == "8613800000002"


def test_incomplete_messages_expire() -> None:
    first, second, third = _fragments()
    reassembler = Reassembler(ttl=60)
    reassembler.add(first, now=0)
    assert reassembler.expire(now=59) == []
    assert len(reassembler.expire(now=61)) == 1
    assert reassembler.add(second, now=62) is None
    assert reassembler.add(third, now=63) is None  # the first part is gone


def test_surrogate_pair_split_by_a_sender_is_joined() -> None:
    body = "😀".encode("utf-16-be")
    reassembler = Reassembler()
    reassembler.add(Fragment("1", "2", Concat(1, 2, 1), body[:2], 8), now=0)
    done = reassembler.add(Fragment("1", "2", Concat(1, 2, 2), body[2:], 8), now=0)
    assert done is not None and done.text == "😀"


OTHER = TEXT[::-1]  # another complaint of the same length, sent later with the same reference


def _feed(reassembler: Reassembler, sequence: str, *, now: float = 0.0) -> list[str]:
    """Add parts named like "A1 B1 A2" (message A or B, then the part's number); the texts completed."""
    messages = {"A": _fragments(), "B": _fragments(OTHER)}
    done = [reassembler.add(messages[name[0]][int(name[1:]) - 1], now=now) for name in sequence.split()]
    return [assembled.text for assembled in done if assembled is not None]


@pytest.mark.parametrize("remember_completed", [False, True])
def test_a_second_message_on_a_reused_reference_is_assembled(remember_completed: bool) -> None:
    reassembler = Reassembler(remember_completed=remember_completed)
    assert _feed(reassembler, "A1 A2 A3 B1 B2 B3") == [TEXT, OTHER]
    assert len(reassembler) == 0


@pytest.mark.parametrize("sequence, texts", [
    ("A1 B1 A2 B2 A3 B3", [TEXT, OTHER]),  # part 1 of B before part 2 of A: B is a new message
    ("A3 A1 B3 B1 A2 B2", [TEXT, OTHER]),
    ("A2 B2 A1 A3 B3 B1", [TEXT, OTHER]),
    ("A1 A3 B1 B2 B3", [OTHER]),  # A's second part never comes: it must not capture B's
])
def test_parts_of_two_messages_on_one_reference_do_not_mix(sequence: str, texts: list[str]) -> None:
    reassembler = Reassembler(remember_completed=True)
    assert _feed(reassembler, sequence) == texts
    assert len(reassembler) == (1 if len(texts) == 1 else 0)


@pytest.mark.parametrize("sequence", ["A1 A2 A3 A3", "A1 A2 A3 A1 A2 A3", "A1 A2 A3 A2 B1 B2 A3 B3"])
def test_a_part_sent_again_after_its_message_was_complete_changes_nothing(sequence: str) -> None:
    reassembler = Reassembler(remember_completed=True)
    assert _feed(reassembler, sequence) == [TEXT] + ([OTHER] if "B" in sequence else [])
    assert len(reassembler) == 0  # no stray part waiting for siblings that were already joined


def test_completed_messages_are_forgotten_after_the_time_to_live() -> None:
    reassembler = Reassembler(ttl=60, remember_completed=True)
    assert _feed(reassembler, "A1 A2 A3", now=0) == [TEXT]
    assert _feed(reassembler, "A1 A2 A3", now=61) == [TEXT]  # the same text again, later: a new message


def test_without_remember_completed_an_identical_message_is_a_new_one() -> None:
    # The simulator's view of an ESME that submits the same text again: the SMSC takes it as new.
    assert _feed(Reassembler(), "A1 A2 A3 A1 A2 A3") == [TEXT, TEXT]


def test_restored_parts_complete_again_when_the_last_part_is_sent_again() -> None:
    reassembler = Reassembler(remember_completed=True)
    first, second, third = _fragments()
    reassembler.add(first, now=0)
    reassembler.add(third, now=0)
    assembled = reassembler.add(second, now=0)
    reassembler.restore(assembled, except_seqnum=2, now=1)  # storing it failed: the SMSC sends part 2 again
    assert len(reassembler) == 1
    again = reassembler.add(second, now=2)
    assert again is not None and again.text == TEXT
