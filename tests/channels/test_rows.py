from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from channels.rows import FieldError, InteractionRow, canonical_header, parse_interaction, parse_time
from channels.taxonomy import Channel

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


def parse(**raw):
    base = {"source": "crm", "external_id": "1", "msisdn": "13812341234", "outlet": "S1",
            "ended_at": "2026-11-20 09:00:00"}
    return parse_interaction({**base, **raw}, tz=TZ, now=NOW)


@pytest.mark.parametrize("text", ["2026-11-20 09:00:00", "2026/11/20 09:00", "2026-11-20T09:00:00+08:00",
                                  "2026-11-20T01:00:00Z", "2026-11-20T01:00:00+00:00"])
def test_time_forms(text):
    assert parse_time(text, tz=TZ) == datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


def test_a_good_row_keeps_extra_columns_as_attributes():
    row = parse(channel="热线", tier="金卡", brand="")
    assert isinstance(row, InteractionRow)
    assert row.channel is Channel.HOTLINE
    assert row.attributes == {"tier": "金卡"}


@pytest.mark.parametrize("raw, error", [
    ({"msisdn": "12"}, FieldError("msisdn", "not a mainland mobile number: '12'")),
    ({"ended_at": "2026-11-20 10:06"}, FieldError("ended_at", "in the future")),
    ({"ended_at": "noon"}, FieldError("ended_at", "not a date and time: 'noon'")),
    ({"channel": "fax"}, FieldError("channel", "unknown channel 'fax' (one of store, hotline, web, kiosk, account_manager)")),
    ({"external_id": ["x"]}, FieldError("external_id", "expected text, got list")),
    ({"outlet": "x" * 40}, FieldError("outlet", "longer than 32 characters")),
    ({"attributes": [1]}, FieldError("attributes", "expected an object")),
])
def test_each_problem_names_its_field(raw, error):
    assert parse(**raw) == [error]


def test_a_few_minutes_of_clock_drift_is_not_the_future():
    assert isinstance(parse(ended_at="2026-11-20 10:04"), InteractionRow)


def test_headers_in_chinese_and_with_bom_map_to_fields():
    assert canonical_header("\ufeff手机号码 ") == "msisdn"
    assert canonical_header("Outlet_Code") == "outlet"


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31T23:59:59-12:00"])
def test_times_utc_cannot_hold_are_a_value_error(text):
    with pytest.raises(ValueError):
        parse_time(text, tz=TZ)


def test_every_text_field_goes_through_one_check():
    """Outlet rows too: names, regions and cities are shown as they are."""
    from channels.rows import parse_outlet
    row = {"code": "S9", "name": "静安\u202e店", "channel": "store", "kind": "own", "region": "华东", "city": "上\x00海"}
    assert parse_outlet(row) == [FieldError("name", "contains a bidirectional control (U+202E)"),
                                 FieldError("city", "contains a control character (U+0000)")]
