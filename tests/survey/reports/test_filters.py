"""The pages' filters: parsed once from the query string, pure, a bad value names its parameter."""
from __future__ import annotations

import ast
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import survey.reports.filters as filters_module
from survey.reports.filters import BadParameter, parse_choice, parse_filter, parse_page, parse_text

TODAY = date(2026, 11, 20)
SH = ZoneInfo("Asia/Shanghai")


def parse(**args):
    return parse_filter({k: v if isinstance(v, list) else [v] for k, v in args.items()}, today=TODAY)


def test_the_default_is_the_last_30_local_days_and_the_previous_period_is_as_long():
    f = parse()
    assert (f.start, f.end, f.days) == (date(2026, 10, 22), TODAY, 30)
    assert (f.previous.start, f.previous.end, f.previous.days) == (date(2026, 9, 22), date(2026, 10, 21), 30)
    # Local midnights in UTC: Shanghai is 8 hours ahead, so each day starts at 16:00 UTC the day before.
    assert f.bounds(SH) == (datetime(2026, 10, 21, 16, tzinfo=timezone.utc), datetime(2026, 11, 20, 16, tzinfo=timezone.utc))
    assert f.query_args() == {}


@pytest.mark.parametrize("period, start, end", [
    ("7d", date(2026, 11, 14), TODAY), ("365d", date(2025, 11, 21), TODAY),
    ("2026-02", date(2026, 2, 1), date(2026, 2, 28)), ("2025-12", date(2025, 12, 1), date(2025, 12, 31)),
])
def test_periods(period, start, end):
    f = parse(period=period)
    assert (f.start, f.end) == (start, end) and f.query_args() == {"period": [period]}


def test_dates_win_over_the_period_and_travel_in_links():
    f = parse(period="7d", since="2026-01-01", until="2026-01-31")
    assert (f.start, f.end, f.period, f.previous.start) == (date(2026, 1, 1), date(2026, 1, 31), None, date(2025, 12, 1))
    assert f.query_args() == {"since": ["2026-01-01"], "until": ["2026-01-31"]}


def test_value_filters_repeat_accept_chinese_channel_names_and_ignore_empty_values():
    f = parse(channel=["门店", "hotline", "store", ""], business_type=["宽带"], tier=["金卡", "普通"], brand="",
              outlet=["S001"])
    assert f.channels == ("store", "hotline") and f.business_types == ("宽带",)
    assert f.attributes == (("tier", ("金卡", "普通")),) and f.outlets == ("S001",)
    assert f.query_args() == {"channel": ["store", "hotline"], "business_type": ["宽带"], "tier": ["金卡", "普通"],
                              "outlet": ["S001"]}


@pytest.mark.parametrize("args, parameter", [
    ({"period": "8d"}, "period"), ({"period": "2026-13"}, "period"), ({"period": ["7d", "30d"]}, "period"),
    ({"since": "2026-02-30"}, "since"), ({"until": "yesterday"}, "until"), ({"since": "1999-12-31"}, "since"),
    ({"since": "2026-11-20", "until": "2026-11-01"}, "since"), ({"since": "2020-01-01", "until": "2026-01-01"}, "since"),
    ({"channel": "shop"}, "channel"), ({"business_type": "x" * 65}, "business_type"),
    ({"tier": "gold\x00"}, "tier"), ({"brand": "\u202egold"}, "brand"), ({"outlet": "S0\u200b01"}, "outlet"),
    ({"channel": ["store"] * 51}, "channel"),
])
def test_a_bad_value_names_its_parameter(args, parameter):
    with pytest.raises(BadParameter) as caught:
        parse(**args)
    assert caught.value.parameter == parameter and str(caught.value).startswith(f"{parameter}: ")


def test_page_parameters():
    choices = {"outlet": ("outlet",), "city": ("city",)}
    assert parse_choice({}, "by", choices, "outlet") == ("outlet",)
    assert parse_choice({"by": ["city"]}, "by", choices, "outlet") == ("city",)
    with pytest.raises(BadParameter, match="^by: 'outlet; drop' is not one of outlet, city"):
        parse_choice({"by": ["outlet; drop"]}, "by", choices, "outlet")
    assert parse_page({"page": ["3"]}) == 3
    for bad in ("0", "-1", "x", "99999"):
        with pytest.raises(BadParameter, match="^page: "):
            parse_page({"page": [bad]})
    assert parse_text({"region": ["华东"]}, "region") == "华东" and parse_text({}, "region") is None


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return imported | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_the_filter_module_is_pure_and_the_services_know_no_web_framework():
    """The read API and the CLI can call the services and parse filters the same way as the pages."""
    filters_path = Path(filters_module.__file__)
    assert not imports_of(filters_path) & {"flask", "sqlalchemy", "werkzeug"}
    for path in filters_path.parent.glob("*.py"):
        assert not imports_of(path) & {"flask", "flask_login", "werkzeug"}, path.name
