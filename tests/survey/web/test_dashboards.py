"""The manager and channel-lead pages: every route for every role, scope by guessed codes and ids,
filters that change the numbers, and a 400 naming a bad parameter."""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from tests.survey.reports.seeding import CHANNEL_OF, NORTH, local, people, seed, standard_plan

LEAD = ("S001", "HL1")
# Codes, names and places of the outlets the lead must never see a trace of.
OTHERS = ("S002", "浦东合作厅", "S101", "西湖代理点", "WEB1", "网上营业厅", "N001", NORTH["name"], "华北", "北京", "杭州")


@pytest.fixture
def users(db, clock, outlets):
    return people(db, clock)


@pytest.fixture
def seeded(db, clock, outlets, users):
    return seed(db, clock, standard_plan())


def answer_of(seeded, outlet: str) -> int:
    return seeded.answer_ids[seeded.plan.index(seeded.answered(outlet=outlet)[0])]


def pages(seeded) -> list[tuple[str, str]]:
    """Every page with a marker its content must show to a manager."""
    return [
        ("/", "满意度（前两项）"), ("/shortboards", "S002 浦东合作厅"), ("/shortboards?by=channel_business_type&view=adjusted", "营业厅 / 宽带"),
        ("/regions", "华北"), (f"/regions/{quote('华东')}", "杭州"), (f"/regions/{quote('华东')}/{quote('上海')}", "S002 浦东合作厅"),
        ("/outlets/S001", "徐汇1号营业厅"), (f"/answers/{answer_of(seeded, 'S001')}", "138****"),
        ("/trends", "恶化预警"), ("/trends?by=outlet&grain=week", "S002 浦东合作厅"), ("/reasons", "等待时间长"),
    ]


def in_window(p) -> bool:
    return local(2026, 10, 22) <= p.ended_at < local(2026, 11, 21)


def test_every_page_sends_anonymous_visitors_to_sign_in(client, seeded):
    for path, _ in pages(seeded):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login?next="), path


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_managers_and_admins_see_everything(client, users, sign_in, seeded, role):
    sign_in(users[role])
    for path, marker in pages(seeded):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and marker in page, path
        assert "+86" not in page  # phones are masked for everyone on pages


def test_a_lead_sees_the_same_pages_with_only_their_outlets(client, users, sign_in, seeded):
    sign_in(users["lead"])
    lead_pages = [("/", "满意度（前两项）"), ("/shortboards", "S001 徐汇1号营业厅"), ("/shortboards?by=city", "上海"),
                  ("/regions", "华东"), (f"/regions/{quote('华东')}", "上海"),
                  (f"/regions/{quote('华东')}/{quote('上海')}", "HL1 10086热线中心"), ("/outlets/HL1", "10086热线中心"),
                  (f"/answers/{answer_of(seeded, 'S001')}", "138****"), ("/trends?by=outlet", "S001 徐汇1号营业厅"),
                  ("/reasons", "等待时间长")]
    for path, marker in lead_pages:
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and marker in page, path
        leaked = [name for name in OTHERS if name in page]
        assert not leaked, (path, leaked)
        assert "+86" not in page


def test_a_lead_guessing_outside_their_scope_finds_nothing(client, users, sign_in, seeded):
    sign_in(users["lead"])
    guesses = [
        "/outlets/S002", "/outlets/N001", "/outlets/NOPE", f"/answers/{answer_of(seeded, 'S002')}",
        f"/answers/{answer_of(seeded, 'N001')}", "/answers/999999999", f"/regions/{quote('华北')}",
        f"/regions/{quote('华东')}/{quote('杭州')}", f"/regions/{quote('华北')}/{quote('北京')}",
        "/?outlet=S002", "/shortboards?outlet=S001&outlet=S101", "/trends?outlet=N001", "/reasons?outlet=WEB1",
        "/regions?outlet=S002", "/outlets/S001?outlet=S002",
    ]
    for path in guesses:
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 404, path
        assert not [name for name in OTHERS if name in page], path


def test_the_same_guesses_work_for_a_manager(client, users, sign_in, seeded):
    sign_in(users["manager"])
    for path in ["/outlets/S002", f"/answers/{answer_of(seeded, 'S002')}", f"/regions/{quote('华北')}",
                 "/?outlet=S002"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/outlets/NOPE").status_code == 404


def kpi(page: str, key: str) -> str:
    """The big figure of one overview card."""
    return re.search(rf'data-kpi="{key}">.*?<b>(.*?)</b>.*?n = ([\d,]+)', page, re.S).groups()


FILTERS = [
    ("", lambda p: True),
    ("?channel=hotline", lambda p: CHANNEL_OF[p.outlet] == "hotline"),
    ("?channel=门店&business_type=宽带", lambda p: CHANNEL_OF[p.outlet] == "store" and p.business == "宽带"),
    ("?business_type=payment", lambda p: p.business == "缴费"),
    ("?tier=金卡", lambda p: p.tier == "金卡"),
    ("?brand=动感地带&tier=普通", lambda p: p.brand == "动感地带" and p.tier == "普通"),
    ("?since=2026-11-10&until=2026-11-15", lambda p: local(2026, 11, 10) <= p.ended_at < local(2026, 11, 16)),
]


def test_filters_change_the_numbers(client, users, sign_in, seeded):
    sign_in(users["manager"])
    for query, keep in FILTERS:
        window = (lambda p: True) if "since" in query else in_window
        chosen = [p for p in seeded.answered(survey="csat-default") if window(p) and keep(p)]
        satisfied = sum(p.value <= 2 for p in chosen)
        page = client.get("/" + query).get_data(as_text=True)
        assert kpi(page, "csat") == (f"{100 * satisfied / len(chosen):.1f}%", str(len(chosen))), query
        # The other pages count the same answers.
        regions = client.get("/regions" + query).get_data(as_text=True)
        total = re.search(r'<tr class="total">\s*<td><b>合计</b></td>\s*<td class="num">([\d,]+)</td>', regions)
        assert total.group(1) == str(len(chosen)), query
        reasons = client.get("/reasons" + query).get_data(as_text=True)
        assert f"{len(chosen)} 份有效回复" in reasons, query


def test_a_lead_filter_stays_inside_their_scope(client, users, sign_in, seeded):
    sign_in(users["lead"])
    page = client.get("/?channel=store").get_data(as_text=True)
    chosen = [p for p in seeded.answered(outlet="S001") if in_window(p)]
    assert kpi(page, "csat")[1] == str(len(chosen))


@pytest.mark.parametrize("path, parameter", [
    ("/?period=8d", "period"), ("/?since=2026-02-30", "since"), ("/shortboards?until=soon", "until"),
    ("/regions?channel=shop", "channel"), ("/reasons?business_type=haircut", "business_type"),
    ("/trends?tier=%00", "tier"), ("/?brand=%E2%80%AE", "brand"), ("/shortboards?by=staff", "by"),
    ("/shortboards?view=pretty", "view"), ("/trends?grain=day", "grain"), ("/trends?by=msisdn", "by"),
    ("/outlets/S001?page=0", "page"), ("/?since=2026-11-20&until=2026-11-01", "since"),
])
def test_a_bad_parameter_is_a_400_that_names_it(client, users, sign_in, path, parameter):
    sign_in(users["lead"])
    response = client.get(path)
    assert response.status_code == 400
    assert f'data-parameter="{parameter}"' in response.get_data(as_text=True)


def chart_data(page: str, chart: str) -> dict:
    return json.loads(re.search(rf'<script type="application/json" id="{chart}-data">(.*?)</script>', page, re.S).group(1))


def test_charts_get_their_data_as_json_with_n_and_intervals_and_a_table_fallback(client, users, sign_in, seeded):
    sign_in(users["manager"])
    page = client.get("/shortboards").get_data(as_text=True)
    funnel = chart_data(page, "funnel-chart")
    s002 = next(p for p in funnel["points"] if p["name"] == "S002 浦东合作厅")
    n = len([p for p in seeded.answered(outlet="S002") if in_window(p)])
    assert s002["n"] == n and s002["flagged"] and s002["low"] < s002["rate"] < s002["high"]
    assert s002["url"].startswith("/outlets/S002") and funnel["limits"][0]["low95"] < funnel["target"]
    assert "/static/echarts/echarts.min.js" in page and "<noscript>" in page and 'id="boards"' in page
    trend = chart_data(client.get("/trends?by=channel").get_data(as_text=True), "trend-chart")
    assert {s["name"] for s in trend["series"]} == {"营业厅", "客服热线", "网厅/App"}
    drill = chart_data(client.get("/regions").get_data(as_text=True), "groups-chart")
    assert {i["name"] for i in drill["items"]} == {"华东", "华北"} and all(i["url"].startswith("/regions/") for i in drill["items"])
    pareto = chart_data(client.get("/reasons").get_data(as_text=True), "pareto-chart")
    assert pareto["items"][0]["name"] == "等待时间长" and pareto["items"][-1]["cumulative"] == 1.0


def test_the_vendored_chart_library_is_served_with_its_licence(client):
    script = client.get("/static/echarts/echarts.min.js")
    assert script.status_code == 200 and b"Apache" in script.data[:2000]
    script.close()
    for name in ("LICENSE", "NOTICE"):
        response = client.get(f"/static/echarts/{name}")
        assert response.status_code == 200 and b"Apache" in response.data
        response.close()


def test_links_carry_the_filters(client, users, sign_in, seeded):
    sign_in(users["manager"])
    page = client.get("/regions?channel=hotline&period=90d").get_data(as_text=True)
    assert f'href="/regions/{quote("华东")}?period=90d&amp;channel=hotline"' in page
    assert 'href="/exports/drilldown.csv?period=90d&amp;channel=hotline' in page


def test_times_are_shown_in_the_configured_zone(client, users, sign_in, seeded):
    sign_in(users["manager"])
    first = seeded.answered(outlet="S001")[0]
    # Seeded answers come 15 minutes after the interaction ended, which the plan gives in Shanghai time.
    shown = (first.ended_at.replace(minute=first.ended_at.minute + 15)).strftime("%Y-%m-%d %H:%M")
    page = client.get(f"/answers/{answer_of(seeded, 'S001')}").get_data(as_text=True)
    assert shown in page and "Asia/Shanghai" in page


def test_pages_keep_their_figures_a_minute_and_never_across_scopes(client, users, sign_in, seeded, db, clock):
    from tests.survey.reports.seeding import Planned

    sign_in(users["manager"])
    before = client.get("/reasons").get_data(as_text=True)
    n = len([p for p in seeded.answered(survey="csat-default") if in_window(p)])
    assert f"{n} 份有效回复" in before and "数据计算于 10:00:00" in before
    seed(db, clock, [Planned("S001", local(2026, 11, 18, 10), value=4, reasons=("wait_time",))], first=len(seeded.plan))
    clock.advance(seconds=30)
    assert f"{n} 份有效回复" in client.get("/reasons").get_data(as_text=True)  # within the minute
    sign_in(users["lead"])  # same filters, another scope: computed for the lead
    mine = len([p for p in seeded.answered(survey="csat-default") if in_window(p) and p.outlet in LEAD]) + 1
    assert f"{mine} 份有效回复" in client.get("/reasons").get_data(as_text=True)
    sign_in(users["manager"])
    clock.advance(seconds=31)
    after = client.get("/reasons").get_data(as_text=True)
    assert f"{n + 1} 份有效回复" in after and "数据计算于 10:01:01" in after
