"""Encoding and segmentation: GSM vs UCS2, limits, boundaries that must not be split."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp.encoding import (DC_GSM, DC_UCS2, ESM_UDHI, MessageTooLong, clusters, decode,
                           gsm_decode, gsm_encode, is_gsm, segment)


def _text(parts) -> str:
    return "".join(p.text for p in parts)


@pytest.mark.parametrize("text, data_coding, n_parts", [
    ("", DC_GSM, 1),
    ("a" * 160, DC_GSM, 1),
    ("a" * 161, DC_GSM, 2),
    ("a" * 306, DC_GSM, 2),
    ("a" * 307, DC_GSM, 3),
    ("€" * 80, DC_GSM, 1),  # 160 septets: each € is ESC + code
    ("€" * 81, DC_GSM, 2),
    ("中" * 70, DC_UCS2, 1),
    ("中" * 71, DC_UCS2, 2),
    ("中" * 134, DC_UCS2, 2),
    ("中" * 135, DC_UCS2, 3),
    ("中" * 200, DC_UCS2, 3),
    ("😀" * 35, DC_UCS2, 1),  # 70 UTF-16 code units
    ("😀" * 36, DC_UCS2, 2),
])
def test_segment_limits(text: str, data_coding: int, n_parts: int) -> None:
    result = segment(text, ref=42)
    assert result.data_coding == data_coding
    assert len(result.parts) == n_parts
    assert _text(result.parts) == text
    assert result.esm_class == (ESM_UDHI if n_parts > 1 else 0)


def test_chinese_200_chars_is_three_ucs2_parts_with_shared_udh_reference() -> None:
    result = segment("满" * 200, ref=0x1F7)
    assert [p.short_message[:6] for p in result.parts] == [
        bytes([5, 0, 3, 0xF7, 3, i]) for i in (1, 2, 3)]
    assert [len(p.short_message) - 6 for p in result.parts] == [134, 134, 132]


def test_sar_option_puts_the_reference_in_tlvs_not_in_the_body() -> None:
    result = segment("a" * 200, ref=0x1234, use_sar=True)
    assert result.esm_class == 0
    assert [p.optional_params() for p in result.parts] == [
        {"sar_msg_ref_num": 0x1234, "sar_total_segments": 2, "sar_segment_seqnum": i}
        for i in (1, 2)]
    assert result.parts[0].short_message == b"a" * 153


def test_gsm_escape_never_straddles_a_segment() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the € would need septets 153 and 154
    parts = segment(text, ref=1).parts
    assert parts[0].text == "a" * 152
    assert parts[1].text.startswith("€")
    assert all(not p.short_message.endswith(b"\x1b") for p in parts)


@pytest.mark.parametrize("emoji", [
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "❤️", "1️⃣", "🇨🇳", "🏳️‍🌈",
])
def test_emoji_is_never_split(emoji: str) -> None:
    for prefix in range(60, 70):
        text = "中" * prefix + emoji + "中" * 80
        parts = segment(text, ref=3).parts
        assert any(emoji in p.text for p in parts), (prefix, [p.text[-3:] for p in parts])
        for p in parts:
            p.short_message[6:].decode("utf-16-be")  # strict: no lone surrogate in any part


def test_clusters_keep_sequences_together() -> None:
    assert list(clusters("a👍🏽b🇨🇳🇺🇸e\u0301")) == ["a", "👍🏽", "b", "🇨🇳", "🇺🇸", "e\u0301"]


def test_too_long_raises() -> None:
    with pytest.raises(MessageTooLong):
        segment("中" * 67 * 256, ref=1)


def test_gsm_round_trip_of_every_character() -> None:
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà^{}\\[~]|€\f"
    assert is_gsm(text)
    assert gsm_decode(gsm_encode(text)) == text


@pytest.mark.parametrize("body, data_coding, expected", [
    (b"5", 0, "5"),  # MO "5" under data_coding 0, the common case
    (b"TD", 0, "TD"),
    (b"\x00 1", 0, "@ 1"),  # GSM @ is 0x00
    (b"\x1b\x65", 0, "€"),
    ("非常满意".encode("utf-16-be"), 8, "非常满意"),
    ("５".encode("utf-16-be"), 8, "５"),
    ("café".encode("latin-1"), 3, "café"),
    ("满意".encode("utf-8"), 0, "满意"),  # some SMSCs pass UTF-8 through under data_coding 0
    (b"\x00\x31\x00", 8, "1"),  # odd length UCS2: the stray byte is dropped, not fatal
    ("好".encode("utf-16-be"), 0x18, "好"),  # GSM general group, UCS2 alphabet
])
def test_decode_is_lenient(body: bytes, data_coding: int, expected: str) -> None:
    assert decode(body, data_coding) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600), st.integers(0, 0xFFFF), st.booleans())
def test_round_trip(text: str, ref: int, use_sar: bool) -> None:
    try:
        result = segment(text, ref=ref, use_sar=use_sar)
    except MessageTooLong:
        return
    assert _text(result.parts) == text
    header = 0 if (use_sar or len(result.parts) == 1) else 6
    body = b"".join(p.short_message[header:] for p in result.parts)
    assert decode(body, result.data_coding) == text or result.data_coding == DC_GSM
    limit = 140 if result.data_coding == DC_UCS2 else 160
    assert all(len(p.short_message) <= limit for p in result.parts)
    if result.data_coding == DC_GSM:
        assert gsm_decode(body) == text


def test_segment_count_is_what_segment_cuts_a_text_into():
    from smpp.encoding import segment_count

    for text in ["感谢", "谢" * 70, "谢" * 71, "谢" * 134, "谢" * 135, "a" * 160, "a" * 161, "😀" * 40, "€" * 90]:
        assert segment_count(text) == len(segment(text, ref=1).parts), text
