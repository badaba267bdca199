"""Exports mask phones and keep replies verbatim; charts are self-contained SVG."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from analysis.charts import funnel_svg, pareto_svg, trend_svg
from analysis.exports import outlet_scores_csv, outlet_scores_xlsx, responses_csv, responses_xlsx
from analysis.frame import build_frame
from channels.phones import mask_msisdn
from analysis.metrics import group_metrics
from analysis.frame import ResponseRow
from analysis.shortboard import shortboard_report
from analysis.trends import TrendSeries


@pytest.mark.parametrize("raw,masked", [
    ("+8613812341234", "138****1234"), ("13812341234", "138****1234"), ("8613812341234", "138****1234"),
    ("+447700900123", "447*****0123"), ("10086", "***86"), ("", ""), (None, ""),
])
def test_mask_msisdn(raw, masked):
    assert mask_msisdn(raw) == masked


def responses():
    at = datetime(2026, 1, 5, 16, 30, tzinfo=timezone.utc)
    return [ResponseRow(at, "store", "0231", "payment", "+8613812341234", 4, ("wait_time",), "4 排队太久了"),
            ResponseRow(at, "web", "W1", None, "+8613900001111", 1, (), "=HYPERLINK(\"x\")")]


def test_response_list_csv_masks_phones_and_keeps_replies_verbatim():
    text = responses_csv(responses())
    assert "+8613812341234" not in text and "13812341234" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][4] == "phone" and rows[1][4] == "138****1234"
    assert rows[1][7] == "4 排队太久了" and rows[1][0] == "2026-01-06 00:30"  # shown in Shanghai time
    assert rows[2][7] == "'=HYPERLINK(\"x\")"  # a formula stays text


def test_response_list_times_are_in_the_zone_asked_for(tmp_path):
    rows = list(csv.reader(io.StringIO(responses_csv(responses(), zone=ZoneInfo("Europe/Berlin")))))
    assert rows[1][0] == "2026-01-05 17:30"
    responses_xlsx(responses(), tmp_path / "r.xlsx", zone=ZoneInfo("America/New_York"))
    assert load_workbook(tmp_path / "r.xlsx").active["A2"].value == "2026-01-05 11:30"


def test_response_list_xlsx_masks_phones(tmp_path):
    path = tmp_path / "responses.xlsx"
    responses_xlsx(responses(), path)
    ws = load_workbook(path).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[1][4] == "138****1234" and values[2][4] == "139****1111"
    assert all("+86" not in str(v) for row in values for v in row)
    assert ws.cell(row=3, column=8).data_type == "s"


def test_outlet_scores_csv_and_xlsx(tmp_path):
    frame = build_frame({"outlet": ["a", "a", "b"]}, [1, 4, 2], reasons=[[], ["billing"], []], count=[8, 2, 5])
    metrics = group_metrics(frame, ["outlet"], sent={("a",): 20, ("b",): 5})
    rows = list(csv.DictReader(io.StringIO(outlet_scores_csv(metrics))))
    assert rows[0]["group"] == "a" and rows[0]["csat"] == "0.8" and rows[0]["response_rate"] == "0.5"
    assert rows[0]["top_reasons"] == "billing 20%"
    buf = io.BytesIO()
    outlet_scores_xlsx(metrics, buf)
    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    assert [c.value for c in ws[1]][:3] == ["group", "responses", "sent"]
    assert ws.cell(row=3, column=1).value == "b" and ws.cell(row=3, column=6).value == 1.0


def _no_external_refs(svg: str) -> None:
    ET.fromstring(svg)  # well-formed
    assert "<script" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in svg


def test_charts_are_offline_svg():
    groups = {"outlet": [f"o{i}" for i in range(30) for _ in (0, 1)]}
    values = [1, 4] * 30
    counts = [v for i in range(30) for v in ((170, 30) if i else (100, 100))]
    rep = shortboard_report(build_frame(groups, values, count=counts), ["outlet"])
    svg = funnel_svg(rep)
    _no_external_refs(svg)
    assert svg.count("<circle") == 30 and "o0: 50.0% of 200" in svg
    series = TrendSeries(("a<b>",), ("2026-01-01", "2026-02-01"), (10, 12), (0.8, 0.9), (0.5, 0.6), (0.9, 0.95))
    trend = trend_svg([series])
    _no_external_refs(trend)
    assert "a&lt;b&gt;" in trend
    pareto = pareto_svg([("wait_time", 30), ("billing", 10), ("other", 0)])
    _no_external_refs(pareto)
    assert pareto.count("<rect") == 3  # background + two bars; a reason never named has no bar
