"""Replies parsed per second on one core, over the dev replies plus generated variants.

Run from the repo root: `python benchmarks/bench_parse.py`. Prints the parser's rate and a
baseline measured in the same run (NFKC plus one regex search per text), so the ratio stays
comparable across machines. Goal: at least 50,000 replies/s on the realistic mix.

Three parser figures: "realistic" starts every timed pass with an empty memo, so each distinct
reply is parsed in full once and its repeats are remembered, as in production; "cold" turns the
memo off and parses every reply in full; "stories" parses the labelled story corpus
(tests/data/replies_stories.jsonl: long replies that reach the story patterns and the n-gram model)
in full, memo off, the worst case the parser meets.
"""
from __future__ import annotations

import json
import random
import re
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from survey.definitions import Question, load_surveys  # noqa: E402
from survey.replies import parser  # noqa: E402
from survey.replies.parser import clear_memo, parse_reply  # noqa: E402

DEV_FILE = ROOT.parent / "shared" / "data" / "replies_dev.jsonl"
STORIES_FILE = ROOT / "tests" / "data" / "replies_stories.jsonl"
GOAL = 50_000

# Shapes people wrap answers in, and extra content they add.
_DECORATIONS = ("{}", "{}。", "【{}】", "回复{}", "我选{}", "{}!!!", "{}🙂", "{}，谢谢", "谢谢！{}", " {} ")
_EXTRAS = ("", "", "", " 排队太久", "，态度不好", " 网速太慢了", "，3点去的", "，等了40分钟")
_FREE = ("营业员一直在玩手机", "系统升级办不了业务", "取消套餐的时候等太久", "不要再发短信了",
         "你们是谁", "好的", "非常满意，辛苦了", "不太满意", "满意，就是手续有点多")


def _mix(surveys: dict, count: int, seed: int = 7) -> list[tuple[Question, str]]:
    """A realistic mix: mostly short answers, some with reasons, decoration or free text."""
    rng = random.Random(seed)
    cases: list[tuple[Question, str]] = []
    if DEV_FILE.is_file():
        for line in DEV_FILE.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            cases.append((surveys[case["survey"]].question(case["question"]), case["text"]))
    questions = [q for s in surveys.values() for q in s.questions]
    while len(cases) < count:
        question = rng.choice(questions)
        if rng.random() < 0.15:
            text = rng.choice(_FREE)
        else:
            number = str(rng.randint(question.min_value, question.max_value))
            text = rng.choice(_DECORATIONS).format(number) + rng.choice(_EXTRAS)
        cases.append((question, text))
    rng.shuffle(cases)
    return cases


def _stories(surveys: dict) -> list[tuple[Question, str]]:
    """The story corpus's replies with their questions (empty when the file is absent)."""
    if not STORIES_FILE.is_file():
        return []
    cases = [json.loads(line) for line in STORIES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(surveys[c["survey"]].question(c["question"]), c["text"]) for c in cases]


def _rate(run, cases: list, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run(cases)
        best = min(best, time.perf_counter() - started)
    return len(cases) / best


def _parse_all(cases: list) -> None:
    clear_memo()
    for question, text in cases:
        parse_reply(question, text)


_BASELINE = re.compile(r"\d+")


def _baseline(cases: list) -> None:
    for _, text in cases:
        _BASELINE.search(unicodedata.normalize("NFKC", text))


def main() -> int:
    """Measure and print the figures."""
    surveys = load_surveys()
    cases = _mix(surveys, 20_000)
    stories = _stories(surveys)
    _parse_all(cases[:200] + stories[:20])  # compile questions, load lexicons and the model outside the timing
    parser_rate = _rate(_parse_all, cases)
    limit, parser.MEMO_LIMIT = parser.MEMO_LIMIT, 0
    try:
        cold_rate = _rate(_parse_all, cases)
        stories_rate = _rate(_parse_all, stories) if stories else 0.0
    finally:
        parser.MEMO_LIMIT = limit
    baseline_rate = _rate(_baseline, cases)
    distinct = len({(q.key, t) for q, t in cases})
    print(f"replies: {len(cases)}, distinct: {distinct} (dev file {'included' if DEV_FILE.is_file() else 'absent'})")
    print(f"parse_reply, realistic mix: {parser_rate:,.0f} replies/s (goal {GOAL:,})")
    print(f"parse_reply, cold (memo off): {cold_rate:,.0f} replies/s")
    if stories:
        print(f"parse_reply, stories (memo off, {len(stories)} replies): {stories_rate:,.0f} replies/s")
    print(f"baseline (NFKC + one regex search): {baseline_rate:,.0f} texts/s")
    print(f"ratio realistic/baseline: {parser_rate / baseline_rate:.3f}, "
          f"cold/baseline: {cold_rate / baseline_rate:.3f}"
          + (f", stories/baseline: {stories_rate / baseline_rate:.3f}" if stories else ""))
    # A figure, not a test: a busy machine must not fail `make bench`.
    print(f"goal met: {'yes' if parser_rate >= GOAL else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
