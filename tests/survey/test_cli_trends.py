"""`touchpoint trends`: from an answers CSV and from the database, text and JSON, bad options named."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from survey.cli import main
from tests.survey.reports.seeding import Planned, local, seed


def run(app, *args):
    return app.test_cli_runner().invoke(main, ["trends", *args])


@pytest.fixture
def answers_csv(tmp_path):
    """Hotline answers of 12 cities, 300 a month January to September 2026 (swinging a little):
    city c03 drops 18 points in September, c05 rises 10 points from July; store answers elsewhere."""
    rng = np.random.default_rng(5)
    path = tmp_path / "answers.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["answered_at", "channel", "region", "city", "outlet", "business_type", "value", "reasons"])
        for city in range(12):
            for month in range(1, 10):
                rate = 0.85 + rng.normal(0, 0.01) - (0.18 if city == 3 and month == 9 else 0)
                rate += 0.10 if city == 5 and month >= 7 else 0
                satisfied = rng.binomial(300, rate)
                for i in range(300):
                    writer.writerow([f"2026-{month:02d}-{1 + i % 28:02d}T03:00:00+00:00", "hotline", "华东",
                                     f"c{city:02d}", f"H{city:02d}", "缴费", 1 if i < satisfied else 4, ""])
        for month in range(1, 10):  # a store whose September collapses: not hotline, so not in the report
            for i in range(300):
                writer.writerow([f"2026-{month:02d}-10T03:00:00+00:00", "store", "华东", "c03", "S99", "缴费",
                                 4 if month == 9 else 1, ""])
        writer.writerow(["2026-09-10T03:00:00+00:00", "hotline", "华东", "c01", "H01", "缴费", "9", ""])
    return path


def test_trends_from_a_csv_keep_deterioration_and_improvement_apart(app, answers_csv):
    result = run(app, "--answers", str(answers_csv), "--by", "city", "--channel", "hotline", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["windows"] == {"baseline": ["2026-01-01", "2026-06-01"], "long": ["2026-07-01", "2026-09-01"],
                               "short": ["2026-09-01", "2026-09-01"], "short_baseline": ["2026-03-01", "2026-08-01"]}
    assert {a["group"] for a in body["deteriorated"]} == {"c03"}
    assert ("c03", "short") in {(a["group"], a["window"]) for a in body["deteriorated"]}
    assert {a["group"] for a in body["improved"]} == {"c05"}
    assert 0 < body["allowance"]["tau"] < 0.05 and body["allowance"]["groups"] == 12
    c03 = next(a for a in body["groups"] if a["group"] == "c03" and a["window"] == "short")
    assert c03["n_recent"] == 300 and c03["n_baseline"] == 1800  # the store's answers are not counted
    assert body["dissatisfied_per_10k"] is None  # a CSV has no interactions
    assert "value" in result.stderr  # the bad row is reported, not fatal


def test_trends_as_text(app, answers_csv):
    result = run(app, "--answers", str(answers_csv), "--by", "city", "--channel", "热线")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "month-to-month swing allowed for" in out and "estimated from 12 groups" in out
    deteriorated, improved = out.split("\nimproved:")
    assert "c03" in deteriorated and "c05" not in deteriorated and "c05" in improved


def test_with_no_months_before_the_windows_the_swing_is_said_to_be_not_estimable(app, tmp_path):
    path = tmp_path / "two-months.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["answered_at", "channel", "region", "city", "outlet", "business_type", "value", "reasons"])
        for month, satisfied in ((10, 90), (11, 60)):
            for i in range(100):
                writer.writerow([f"2026-{month:02d}-05T03:00:00+00:00", "hotline", "华南", "广州", "H1", "缴费",
                                 1 if i < satisfied else 4, ""])
    out = run(app, "--answers", str(path), "--by", "city").stdout
    assert "not estimable" in out and "sampling error only" in out
    assert "广州" in out.split("\nimproved:")[0]  # 90% -> 60% on sampling error alone


@pytest.mark.parametrize("args, named", [
    (("--channel", "fax"), "--channel"), (("--by", "staff"), "--by"), (("--month", "2026-13"), "--month"),
])
def test_bad_options_are_named(app, answers_csv, args, named):
    result = run(app, "--answers", str(answers_csv), *args)
    assert result.exit_code == 2 and named in result.output


def test_trends_from_the_database_with_per_10k_and_scope(app, db, clock, outlets):
    # The clock is 20 November 2026: October is the last month ended. S002 falls from 90% to 50% in
    # October; S001 stays at 90%.
    plan = []
    for month in range(1, 11):
        for i in range(40):
            bad_s002 = (i % 2 == 0) if month == 10 else (i % 10 == 0)
            plan.append(Planned("S002", local(2026, month, 1 + i % 28, 10), value=4 if bad_s002 else 1))
            plan.append(Planned("S001", local(2026, month, 1 + i % 28, 11), value=4 if i % 10 == 0 else 1))
    seed(db, clock, plan)
    body = json.loads(run(app, "--by", "outlet", "--json").stdout)
    assert body["windows"]["short"] == ["2026-10-01", "2026-10-01"]
    assert {(a["group"], a["window"]) for a in body["deteriorated"]} >= {("S002", "short")}
    assert {a["group"] for a in body["deteriorated"]} == {"S002"}
    per_10k = {s["group"]: s["periods"] for s in body["dissatisfied_per_10k"]}
    october = next(p for p in per_10k["S002"] if p["period"] == "2026-10-01")
    assert (october["dissatisfied"], october["interactions"], october["per_10k"]) == (20, 40, 5000.0)
    scoped = json.loads(run(app, "--by", "outlet", "--outlets", "S001", "--json").stdout)
    assert {a["group"] for a in scoped["groups"]} == {"S001"} and scoped["deteriorated"] == []
    # --month moves the windows: September as the short window has nothing to alert.
    september = json.loads(run(app, "--by", "outlet", "--month", "2026-09", "--json").stdout)
    assert september["windows"]["short"] == ["2026-09-01", "2026-09-01"] and september["deteriorated"] == []
