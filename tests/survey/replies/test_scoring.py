"""The evaluation of the parser on the labelled dev replies."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from survey.replies.scoring import EvalFileError, evaluate, format_report

DEV_FILE = Path(__file__).resolve().parents[3].parent / "shared/data/replies_dev.jsonl"
needs_dev_file = pytest.mark.skipif(not DEV_FILE.is_file(), reason=f"dev data not found at {DEV_FILE}")


@needs_dev_file
def test_dev_accuracy_at_least_97_percent():
    report = evaluate(DEV_FILE)
    assert report.total >= 100
    assert report.accuracy >= 0.97, format_report(report)


@needs_dev_file
def test_report_ends_with_accuracy_line():
    report = evaluate(DEV_FILE)
    last = format_report(report).splitlines()[-1]
    assert re.fullmatch(r"accuracy: \d\.\d{3} \(\d+/\d+\)", last)
    assert last == f"accuracy: {report.accuracy:.3f} ({report.hits}/{report.total})"


def _write(tmp_path, cases) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n", encoding="utf-8")
    return path


def test_hits_misses_and_per_question(tmp_path):
    path = _write(tmp_path, [
        {"id": "a", "survey": "csat-default", "question": "satisfaction", "text": "1",
         "gold": {"kind": "answer", "value": 1}},
        {"id": "b", "survey": "csat-default", "question": "satisfaction", "text": "4 排队太久",
         "gold": {"kind": "answer", "value": 4, "reasons": ["attitude"]}},  # wrong on purpose
        {"id": "c", "survey": "csat-default", "question": "satisfaction", "text": "4 排队太久",
         "gold": {"kind": "answer", "value": 4}},  # reasons not compared when gold has none
        {"id": "d", "survey": "nps-default", "question": "recommend", "text": "TD",
         "gold": {"kind": "optout"}},
    ])
    report = evaluate(path)
    assert (report.hits, report.total) == (3, 4)
    assert report.per_question == {"csat-default/satisfaction": (2, 3), "nps-default/recommend": (1, 1)}
    text = format_report(report)
    assert "[b]" in text and "排队太久" in text and "wait_time" in text and "attitude" in text
    assert "[a]" not in text
    assert text.splitlines()[-1] == "accuracy: 0.750 (3/4)"


def test_bad_line_names_line_and_field(tmp_path):
    path = _write(tmp_path, [{"survey": "csat-default", "question": "satisfaction", "text": "1"}])
    with pytest.raises(EvalFileError, match=r"cases.jsonl:1: missing field 'gold'"):
        evaluate(path)


def test_unknown_question_is_reported(tmp_path):
    path = _write(tmp_path, [{"survey": "csat-default", "question": "nope", "text": "1",
                              "gold": {"kind": "unclear"}}])
    with pytest.raises(EvalFileError, match=r"cases.jsonl:1: question"):
        evaluate(path)
