"""Delivery receipts: one real-world sample per test, named after its source, and id matching."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from smpp.receipts import (ReceiptStatus, canonical_message_id, ids_match, is_receipt_esm,
                           message_id_candidates, parse_receipt, receipt_from_deliver)


def test_smpp34_appendix_b_sample() -> None:
    receipt = parse_receipt("id:0123456789 sub:001 dlvrd:001 submit date:0610191018 "
                            "done date:0610191018 stat:DELIVRD err:000 text:Hello")
    assert receipt is not None
    assert receipt.message_id == "0123456789"
    assert receipt.status is ReceiptStatus.DELIVERED
    assert (receipt.submitted, receipt.delivered, receipt.error) == (1, 1, "000")
    assert receipt.submit_date == datetime(2006, 10, 19, 10, 18, tzinfo=timezone.utc)
    assert receipt.text == "Hello"


def test_kannel_style_undeliverable_with_seconds() -> None:
    receipt = parse_receipt("id:2a0003e9 sub:001 dlvrd:000 submit date:2611231130 "
                            "done date:261123113045 stat:UNDELIV err:001 text:请对本次服务评价")
    assert receipt is not None
    assert receipt.status is ReceiptStatus.UNDELIVERABLE
    assert receipt.done_date == datetime(2026, 11, 23, 11, 30, 45, tzinfo=timezone.utc)
    assert receipt.text == "请对本次服务评价"


def test_china_mobile_cmpp_gateway_expired_uppercase_keys() -> None:
    receipt = parse_receipt("ID:1500000000000000 SUB:001 DLVRD:000 SUBMIT DATE:2611201000 "
                            "DONE DATE:2611221000 STAT:EXPIRED ERR:006 TEXT:")
    assert receipt is not None
    assert receipt.status is ReceiptStatus.EXPIRED
    assert receipt.error == "006"


def test_rejected_receipt_with_text_containing_colons() -> None:
    receipt = parse_receipt("id:7 sub:1 dlvrd:0 submit date:2611201000 done date:2611201000 "
                            "stat:REJECTD err:0B text:id:fake stat:DELIVRD")
    assert receipt is not None
    assert receipt.message_id == "7"
    assert receipt.status is ReceiptStatus.REJECTED


@pytest.mark.parametrize("text", ["", "hello", "id: stat:DELIVRD", "id:5 stat:WHATEVER"])
def test_not_a_receipt(text: str) -> None:
    assert parse_receipt(text) is None


def test_tlvs_are_preferred_over_the_text() -> None:
    receipt = receipt_from_deliver(
        "id:99 sub:001 dlvrd:001 submit date:2611201000 done date:2611201000 stat:DELIVRD err:000",
        receipted_message_id="2A0003E9", message_state=5, source="8613800000000")
    assert receipt is not None
    assert receipt.message_id == "2A0003E9"
    assert receipt.status is ReceiptStatus.UNDELIVERABLE
    assert receipt.source == "8613800000000"


def test_tlvs_alone_make_a_receipt() -> None:
    receipt = receipt_from_deliver("", receipted_message_id="42", message_state=2)
    assert receipt is not None and receipt.status is ReceiptStatus.DELIVERED


@pytest.mark.parametrize("esm_class, expected", [(0x04, True), (0x44, True), (0x00, False),
                                                 (0x40, False), (0x08, False)])
def test_receipt_esm_class(esm_class: int, expected: bool) -> None:
    assert is_receipt_esm(esm_class) is expected


@pytest.mark.parametrize("submit_id, receipt_id", [
    ("2A0003E9", "704644073"),  # hex in submit_sm_resp, decimal in the receipt
    ("2a0003e9", "000704644073"),  # lower case, zero padded
    ("00012345", "12345"),  # leading zeros
    ("0x1F", "31"),
    ("100000", "1048576"),  # digit-only hex
    ("ABCDEF", "abcdef"),
    ("msg-77", "MSG-77"),  # not numeric at all: compared case-insensitively
])
def test_ids_match_whatever_the_form(submit_id: str, receipt_id: str) -> None:
    assert ids_match(submit_id, receipt_id)


def test_different_ids_do_not_match() -> None:
    assert not ids_match("2A0003E9", "704644074")
    assert canonical_message_id("0012345") == "12345"
    assert message_id_candidates("12") == ("12", "18")
