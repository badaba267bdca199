"""The page services on seeded answers: every figure checked against the plan that was seeded."""
from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest

from analysis.stats import wilson
from survey.reports.answers import answer_detail, answers_table, outlet_page
from survey.reports.drilldown import drilldown
from survey.reports.filters import BadParameter, parse_filter
from survey.reports.overview import overview
from survey.reports.pareto import pareto
from survey.reports.selection import NotVisible, resolve
from survey.reports.shortboards import shortboard_page, shortboard_table
from survey.reports.tables import Table, csv_chunks, write_xlsx
from survey.reports.trends import trend_page
from tests.survey.reports.seeding import CHANNEL_OF, SH, Planned, local, seed, standard_plan

TODAY = date(2026, 11, 20)
LEAD = ("S001", "HL1")


def selection(db, scope=None, **args):
    f = parse_filter({k: v if isinstance(v, list) else [v] for k, v in args.items()}, today=TODAY)
    return resolve(db, f, scope=scope, tz=SH)


def in_window(p: Planned, start=local(2026, 10, 22), end=local(2026, 11, 21)) -> bool:
    return start <= p.ended_at < end


def test_overview_against_the_plan(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    report = overview(db, selection(db))
    now = [p for p in seeded.answered(survey="csat-default") if in_window(p)]
    before = [p for p in seeded.answered(survey="csat-default") if in_window(p, local(2026, 9, 22), local(2026, 10, 22))]
    csat = report.get("csat")
    sat = sum(p.value <= 2 for p in now)
    assert (csat.current.n, csat.current.value) == (len(now), pytest.approx(sat / len(now)))
    assert (csat.current.low, csat.current.high) == (pytest.approx(float(wilson(sat, len(now)).low)),
                                                     pytest.approx(float(wilson(sat, len(now)).high)))
    assert csat.previous.n == len(before) and csat.change == pytest.approx(
        sat / len(now) - sum(p.value <= 2 for p in before) / len(before))
    nps_items = [p for p in seeded.answered(survey="nps-default") if in_window(p)]
    nps = report.get("nps")
    promoters, detractors = sum(p.value >= 9 for p in nps_items), sum(p.value <= 6 for p in nps_items)
    assert nps.current.n == len(nps_items) and nps.current.value == pytest.approx(100 * (promoters - detractors) / len(nps_items))
    assert report.get("responses").current.n == len(now) + len(nps_items)
    sent = [p for p in seeded.plan if p.sent and in_window(p)]
    rate = report.get("response_rate").current
    assert (rate.n, rate.value) == (len(sent), pytest.approx(sum(p.value is not None for p in sent) / len(sent)))
    interactions = [p for p in seeded.plan if in_window(p)]
    per_10k = report.get("dissatisfied_per_10k").current
    assert (per_10k.n, per_10k.value) == (len(interactions),
                                          pytest.approx(10_000 * sum(p.value >= 4 for p in now) / len(interactions)))
    cost = report.get("segments_per_response").current
    answered = [p for p in sent if p.value is not None]
    assert cost.value == pytest.approx(sum(p.segments for p in sent) / len(answered))
    hotline = next(c for c in report.by_channel if c.channel == "hotline")
    hl = [p for p in now if CHANNEL_OF[p.outlet] == "hotline"]
    assert hotline.label == "客服热线" and hotline.get("csat").current.n == len(hl)


def test_overview_without_nps_answers_leaves_nps_out(db, clock, outlets):
    seed(db, clock, [Planned("S001", local(2026, 11, 2, 10), value=1)])
    report = overview(db, selection(db))
    assert not report.nps_used and report.get("nps") is None and report.get("csat").current.n == 1


def test_filters_narrow_every_figure(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    for args, keep in [({"channel": "store"}, lambda p: CHANNEL_OF[p.outlet] == "store"),
                       ({"business_type": "broadband"}, lambda p: p.business == "宽带"),
                       ({"tier": "金卡"}, lambda p: p.tier == "金卡"),
                       ({"brand": "动感地带", "channel": "hotline"}, lambda p: p.brand == "动感地带" and p.outlet == "HL1"),
                       ({"outlet": "S002"}, lambda p: p.outlet == "S002"),
                       ({"period": "7d"}, lambda p: p.ended_at >= local(2026, 11, 14))]:
        report = overview(db, selection(db, **args))
        now = [p for p in seeded.answered(survey="csat-default") if in_window(p) and keep(p)]
        assert report.get("csat").current.n == len(now) > 0, args
        assert report.get("dissatisfied_per_10k").current.n == sum(in_window(p) and keep(p) for p in seeded.plan), args


def test_an_unknown_business_type_or_an_outlet_outside_scope(db, clock, outlets):
    seed(db, clock, standard_plan())
    with pytest.raises(BadParameter, match="^business_type: "):
        selection(db, business_type="haircut")
    for code in ("S002", "NOPE"):
        with pytest.raises(NotVisible):
            selection(db, scope=LEAD, outlet=code)
    assert selection(db, scope=LEAD, outlet="HL1").scope == ("HL1",)


def test_shortboards_find_the_seeded_short_board(db, clock, outlets):
    seed(db, clock, standard_plan())
    sel = selection(db)
    page = shortboard_page(db, sel, by=("outlet",))
    assert page.rows[0].outlet == "S002" and page.rows[0].flagged and page.flagged == 1
    assert page.rows[0].group == "S002 浦东合作厅" and page.rows[0].top_reasons[0][0] == "等待时间长"
    assert all(r.expected is not None and r.gap == pytest.approx(r.expected - r.rate) for r in page.rows)
    assert {p.group for p in page.points} == {r.group for r in page.rows} and page.line.n[0] <= 30
    # Outlets under 30 answers are pooled into their city, named in Chinese.
    assert any(r.pooled > 1 and r.group.startswith("上海（") for r in page.rows)
    adjusted = shortboard_page(db, sel, by=("outlet",), view="adjusted")
    assert adjusted.case_mix == ("business_type", "tier") and adjusted.rows[0].outlet == "S002"
    cells = shortboard_page(db, sel, by=("channel", "business_type"))
    assert {r.scope for r in cells.rows} <= {"营业厅", "客服热线", "网厅/App"}
    table = shortboard_table(page, sel)
    rows = list(table.rows)
    assert len(rows) == len(page.rows) and rows[0][1] == "S002 浦东合作厅" and rows[0][13] == "是"


def test_a_lead_sees_only_their_outlets(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    sel = selection(db, scope=LEAD)
    page = shortboard_page(db, sel, by=("outlet",), min_n=1)
    assert {r.outlet for r in page.rows} == set(LEAD)
    assert {r.key for r in drilldown(db, sel).rows} == {"华东"}
    assert {r.key for r in drilldown(db, sel, region="华东", city="上海").rows} == set(LEAD)
    for region, city in [("华北", None), ("华东", "杭州"), ("火星", None)]:
        with pytest.raises(NotVisible):
            drilldown(db, sel, region=region, city=city)
    with pytest.raises(NotVisible):
        outlet_page(db, sel, "S002")
    other = seeded.answer_ids[seeded.plan.index(seeded.answered(outlet="S002")[0])]
    with pytest.raises(NotVisible):
        answer_detail(db, other, scope=LEAD, tz=SH)
    with pytest.raises(NotVisible):
        answer_detail(db, 10 ** 9, scope=None, tz=SH)
    assert overview(db, sel).get("csat").current.n == sum(
        in_window(p) for p in seeded.answered(survey="csat-default") if p.outlet in LEAD)


def test_outlet_page_and_answer_detail_mask_phones_and_keep_the_words(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    page = outlet_page(db, selection(db), "S002", per_page=10, page=2)
    assert page.pages == 3 and page.page == 2 and len(page.answers) == 10
    assert all(a.phone.startswith("138****") and len(a.phone) == 11 for a in page.answers)
    assert page.summary.responses == len([p for p in seeded.answered(outlet="S002") if in_window(p)])
    five = seeded.answered(outlet="S002", value=5)[0]
    detail = answer_detail(db, seeded.answer_ids[seeded.plan.index(five)], scope=None, tz=SH)
    assert detail.phone == "138****" + seeded.phones[seeded.plan.index(five)][-4:]
    assert [a.question for a in detail.answers] == ["满意度", "不满意原因"]
    assert [r.text for r in detail.replies] == ["5 排队太久"] and detail.ended_at.tzinfo is not None
    assert detail.ended_at.utcoffset().total_seconds() == 8 * 3600


def test_drilldown_levels_add_up(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    sel = selection(db)
    regions = drilldown(db, sel)
    assert {r.key for r in regions.rows} == {"华东", "华北"}
    assert regions.total.responses == sum(r.responses for r in regions.rows) == len(
        [p for p in seeded.answered(survey="csat-default") if in_window(p)])
    cities = drilldown(db, sel, region="华东")
    assert [r.key for r in cities.rows] == ["上海", "杭州"] and cities.total.responses == sum(r.responses for r in cities.rows)
    shanghai = drilldown(db, sel, region="华东", city="上海")
    assert [r.key for r in shanghai.rows] == ["HL1", "S001", "S002", "WEB1"]
    s001 = next(r for r in shanghai.rows if r.key == "S001")
    sent = [p for p in seeded.plan if p.outlet == "S001" and p.sent and in_window(p)]
    assert s001.sent == len(sent) and s001.label == "S001 徐汇1号营业厅"


def test_trend_alert_on_a_seeded_deterioration(db, clock, outlets):
    # S002: 90% satisfied February to July, 50% August to October; S001 steady.
    plan = []
    for month in range(2, 11):
        for i in range(12):
            bad = (i % 2 == 0) if month >= 8 else (i == 0)
            plan.append(Planned("S002", local(2026, month, 1 + i, 10), value=4 if bad else 1))
            plan.append(Planned("S001", local(2026, month, 1 + i, 11), value=4 if i == 0 else 1))
    seed(db, clock, plan)
    page = trend_page(db, selection(db, period="365d"), by=("outlet",), grain="month")
    assert page.recent == (date(2026, 8, 1), date(2026, 10, 31)) and page.baseline == (date(2026, 2, 1), date(2026, 7, 31))
    alerts = {(a.label, a.window): a for a in page.alerts}
    worse = alerts["S002 浦东合作厅", "long"]
    assert worse.alert and not any(alerts["S001 徐汇1号营业厅", w].alert for w in ("short", "long"))
    assert worse.n_recent == 36 and worse.n_baseline == 72 and worse.se > 0
    # October alone has 12 answers: too few to test the short window.
    assert alerts["S002 浦东合作厅", "short"].q is None and not alerts["S002 浦东合作厅", "short"].alert
    assert page.short == (date(2026, 10, 1), date(2026, 10, 31)) and page.allowance is not None
    assert page.short_baseline == (date(2026, 4, 1), date(2026, 9, 30))
    assert page.series[0].label == "S002 浦东合作厅"  # the alerted group comes first
    assert page.series[0].periods[0] == "2026-02-01" and sum(page.series[0].n) == 9 * 12
    assert page.per_10k is not None and sum(page.per_10k.interactions) == len(plan)
    # The same months a week at a time.
    weekly = trend_page(db, selection(db, period="365d"), by=(), grain="week")
    assert sum(weekly.series[0].n) == len(plan) and weekly.series[0].label == "全部"


def test_pareto(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    result = pareto(db, selection(db))
    now = [p for p in seeded.answered(survey="csat-default") if in_window(p)]
    mentions = [r for p in now for r in p.reasons]
    assert result.mentions == len(mentions) and result.with_reason == sum(bool(p.reasons) for p in now)
    assert [r.count for r in result.rows] == sorted((mentions.count(c) for c in set(mentions)), reverse=True)
    assert result.rows[-1].cumulative == pytest.approx(1.0) and result.rows[0].label == "等待时间长"


def test_tables_write_csv_with_a_bom_and_xlsx_row_by_row_formulas_as_text(tmp_path):
    rows = [("=1+1", 1, None), ("普通", 2.5, "-3"), ("bell\x07", 0, "x")]
    text = b"".join(csv_chunks(Table("t", "表", ("a", "b", "c"), iter(rows)))).decode("utf-8")
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [["a", "b", "c"], ["'=1+1", "1", ""], ["普通", "2.5", "'-3"],
                                                        ["bell\x07", "0", "x"]]
    path = tmp_path / "t.xlsx"
    with path.open("wb") as out:
        write_xlsx(Table("t", "表", ("a", "b", "c"), iter(rows)), out)
    sheet = openpyxl.load_workbook(path).active
    assert sheet.title == "表" and [c.value for c in sheet[2]] == ["'=1+1", 1, None]
    assert sheet["A4"].value == "bell\ufffd"  # a control character XLSX cannot hold


def test_the_answers_download_masks_phones_and_keeps_replies(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    table = answers_table(db, selection(db, scope=LEAD))
    rows = list(table.rows)
    assert {r[4] for r in rows} == set(LEAD) and all("****" in r[6] and "+86" not in r[6] for r in rows)
    assert len(rows) == len([p for p in seeded.answered(survey="csat-default") if p.outlet in LEAD and in_window(p)])


def test_drilldown_shows_the_reason_drivers_of_the_place_looked_at(db, clock, outlets):
    seed(db, clock, standard_plan())
    sel = selection(db)
    assert drilldown(db, sel).drivers == ()  # all regions: nothing to compare with
    shanghai = drilldown(db, sel, region="华东", city="上海")
    by_label = {d.label: d for d in shanghai.drivers}
    # The seeded slow outlet is in Shanghai: its customers' waiting shows in the city's drivers.
    wait = by_label["等待时间长"]
    assert wait.share > wait.rest_share and wait.q <= 1 and wait.expected is not None
    assert all(0 <= d.share <= 1 and d.count > 0 for d in shanghai.drivers)
    assert drilldown(db, sel, region="华东").drivers  # a region's drivers too
