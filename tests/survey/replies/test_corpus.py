"""The parser on every labelled reply we have: our own corpus (its training part and its held-out
quarter, which no model trained on and no rule was tuned on) and the shared development set.

Thresholds are the accuracies measured when the parser was built, less a small margin; no test
names a text, so a change that helps one reply and hurts others shows here as a lower figure."""
from __future__ import annotations

import json

import pytest

from survey.definitions import load_surveys
from survey.replies.corpus import CORPUS_FILE, read_cases, split
from survey.replies.parser import ParsedReply, ReplyKind, parse_reply
from survey.replies.scoring import evaluate, format_report, is_hit

from .test_scoring import DEV_FILE, needs_dev_file

SURVEYS = load_surveys()
CASES = list(read_cases(CORPUS_FILE))
TRAINING, HELD_OUT = split(CASES)


def _accuracy(cases) -> float:
    hits = sum(is_hit(c["gold"], parse_reply(SURVEYS[c["survey"]].question(c["question"]), c["text"])) for c in cases)
    return hits / len(cases)


def test_the_corpus_is_big_and_split_a_quarter_held_out():
    assert len(CASES) >= 1000
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert 0.2 <= len(HELD_OUT) / len(CASES) <= 0.3
    assert {c["question"] for c in HELD_OUT} == {"satisfaction", "reason", "recommend"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_every_corpus_reply_parses(case):
    question = SURVEYS[case["survey"]].question(case["question"])
    got = parse_reply(question, case["text"])
    assert isinstance(got, ParsedReply) and got.text == case["text"]
    assert got.kind in set(ReplyKind)
    if got.value is not None:
        assert question.min_value <= got.value <= question.max_value


def test_accuracy_on_the_corpus_training_part():
    assert _accuracy(TRAINING) >= 0.97


def test_accuracy_on_the_held_out_part():
    assert _accuracy(HELD_OUT) >= 0.85


@needs_dev_file
def test_accuracy_on_the_shared_dev_set():
    report = evaluate(DEV_FILE)
    assert report.accuracy >= 0.99, format_report(report)


def test_eval_prints_a_confusion_table_before_its_last_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CASES[:300]), encoding="utf-8")
    lines = format_report(evaluate(path)).splitlines()
    assert lines[-1].startswith("accuracy: ")
    start = lines.index("confusion by reason (rows: gold, columns: found; - is none):")
    assert lines[start + 2].split()[0] == "wait_time"
