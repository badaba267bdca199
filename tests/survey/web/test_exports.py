"""Downloads: every table as CSV and XLSX for every role, a lead's files hold only their outlets and
only masked numbers, filters and guessed codes apply as on the pages."""
from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import openpyxl
import pytest

from tests.survey.reports.seeding import local, people, seed, standard_plan

LEAD = ("S001", "HL1")
OTHER_OUTLETS = ("S002", "S101", "WEB1", "N001")
DOWNLOADS = ["overview", "shortboards", "drilldown", "answers", "trends", "alerts", "reasons", "outlet-scores"]
PHONE = re.compile(r"\+?86\s?1\d{10}|1[3-9]\d{9}")


@pytest.fixture
def users(db, clock, outlets):
    return people(db, clock)


@pytest.fixture
def seeded(db, clock, outlets, users):
    return seed(db, clock, standard_plan())


def rows_of(response, fmt: str) -> list[list[str]]:
    """The file's rows as text, whatever the format."""
    if fmt == "csv":
        text = response.get_data(as_text=True)
        assert text.startswith("\ufeff")  # so Excel reads the Chinese as UTF-8
        return list(csv.reader(io.StringIO(text[1:])))
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    return [["" if v is None else str(v) for v in row] for row in book.active.iter_rows(values_only=True)]


def test_anonymous_downloads_go_to_sign_in(client, seeded):
    for name in DOWNLOADS:
        for fmt in ("csv", "xlsx"):
            response = client.get(f"/exports/{name}.{fmt}")
            assert response.status_code == 302 and response.location.startswith("/login?next="), name


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_every_table_downloads_in_both_formats(client, users, sign_in, seeded, role):
    sign_in(users[role])
    for name in DOWNLOADS:
        for fmt in ("csv", "xlsx"):
            response = client.get(f"/exports/{name}.{fmt}")
            assert response.status_code == 200, (name, fmt)
            assert f".{fmt}" in response.headers["Content-Disposition"]
            rows = rows_of(response, fmt)
            assert len(rows) >= 2, (name, fmt)  # a header and data
            assert not PHONE.search(repr(rows)), (name, fmt)


def test_a_leads_files_hold_only_their_outlets_and_masked_numbers(client, users, sign_in, seeded):
    sign_in(users["lead"])
    for fmt in ("csv", "xlsx"):
        scores = rows_of(client.get(f"/exports/outlet-scores.{fmt}"), fmt)
        assert [r[0] for r in scores[1:]] == sorted(LEAD)
        answers = rows_of(client.get(f"/exports/answers.{fmt}"), fmt)
        header = answers[0]
        outlet, phone = header.index("网点"), header.index("手机号（已隐藏）")
        expected = [p for p in seeded.answered(survey="csat-default") if p.outlet in LEAD
                    and local(2026, 10, 22) <= p.ended_at < local(2026, 11, 21)]
        assert len(answers) - 1 == len(expected)
        assert {r[outlet] for r in answers[1:]} == set(LEAD)
        assert all(re.fullmatch(r"138\*{4}\d{4}", r[phone]) for r in answers[1:])
        for name in DOWNLOADS:
            text = repr(rows_of(client.get(f"/exports/{name}.{fmt}"), fmt))
            assert not [code for code in OTHER_OUTLETS if code in text], (name, fmt)
            assert not PHONE.search(text) and "华北" not in text and "杭州" not in text, (name, fmt)


def test_a_lead_guessing_codes_in_a_download_gets_404(client, users, sign_in, seeded):
    sign_in(users["lead"])
    for path in ["/exports/answers.csv?outlet=S002", "/exports/outlet-scores.xlsx?outlet=N001",
                 "/exports/answers.xlsx?outlet=S001&outlet=S101", f"/exports/drilldown.csv?region={quote('华北')}",
                 f"/exports/drilldown.xlsx?region={quote('华东')}&city={quote('杭州')}", "/exports/overview.csv?outlet=NOPE"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"S002" not in response.data and "华北".encode() not in response.data
    assert client.get("/exports/answers.csv?outlet=HL1").status_code == 200


def test_unknown_downloads_are_404(client, users, sign_in):
    sign_in(users["manager"])
    for path in ["/exports/users.csv", "/exports/answers.pdf", "/exports/outlet-scores.json", "/exports/.csv"]:
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("path, parameter", [
    ("/exports/answers.csv?period=forever", "period"), ("/exports/shortboards.xlsx?by=phone", "by"),
    ("/exports/trends.csv?grain=hour", "grain"), ("/exports/outlet-scores.csv?channel=fax", "channel"),
    ("/exports/reasons.xlsx?business_type=haircut", "business_type"), ("/exports/drilldown.csv?region=%00", "region"),
])
def test_a_bad_parameter_in_a_download_is_a_400_naming_it(client, users, sign_in, path, parameter):
    sign_in(users["lead"])
    response = client.get(path)
    assert response.status_code == 400 and response.get_data(as_text=True).startswith(f"参数错误 {parameter}: ")


def test_downloads_respect_the_filters(client, users, sign_in, seeded):
    sign_in(users["manager"])
    for query, keep in [("?channel=hotline", lambda p: p.outlet == "HL1"),
                        ("?business_type=宽带&tier=金卡", lambda p: p.business == "宽带" and p.tier == "金卡"),
                        ("?brand=动感地带", lambda p: p.brand == "动感地带"),
                        ("?since=2026-10-01&until=2026-10-31", lambda p: p.ended_at < local(2026, 11, 1))]:
        window = (lambda p: True) if "since" in query else (lambda p: local(2026, 10, 22) <= p.ended_at)
        expected = [p for p in seeded.answered(survey="csat-default") if keep(p) and window(p)]
        answers = rows_of(client.get(f"/exports/answers.csv{query}"), "csv")
        assert len(answers) - 1 == len(expected) > 0, query
        scores = rows_of(client.get(f"/exports/outlet-scores.xlsx{query}"), "xlsx")
        assert sum(int(r[1]) for r in scores[1:]) == len(expected), query


def test_a_reply_that_looks_like_a_formula_stays_text(client, users, sign_in, seeded):
    sign_in(users["manager"])
    for fmt in ("csv", "xlsx"):
        answers = rows_of(client.get(f"/exports/answers.{fmt}?outlet=S002"), fmt)
        replies = [r[answers[0].index("客户原话")] for r in answers[1:]]
        assert "'=HYPERLINK(\"http://x\")" in replies


def test_the_shortboard_download_is_the_pages_table(client, users, sign_in, seeded):
    sign_in(users["manager"])
    rows = rows_of(client.get("/exports/shortboards.xlsx?view=adjusted"), "xlsx")
    assert rows[0][:4] == ["排名", "分组", "比较范围", "n"] and rows[1][1] == "S002 浦东合作厅" and rows[1][13] == "是"
