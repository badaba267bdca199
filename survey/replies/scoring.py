"""Evaluate the reply parser on labelled replies (JSONL: id, survey, question, text, gold)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from survey.definitions import DEFINITIONS_DIR, Survey, load_surveys
from survey.reasons import REASON_CODES
from survey.replies.parser import ParsedReply, parse_reply


class EvalFileError(ValueError):
    """A line of the evaluation file is unusable; the message names the line and the field."""


@dataclass(frozen=True)
class Miss:
    case_id: str
    survey: str
    question: str
    text: str
    gold: Mapping[str, Any]
    got: ParsedReply


@dataclass(frozen=True)
class EvalReport:
    total: int
    hits: int
    per_question: Mapping[str, tuple[int, int]]  # "survey/question" -> (hits, total)
    misses: tuple[Miss, ...] = field(default_factory=tuple)
    # (gold reason, reason found) -> count, over replies whose gold names reasons; "-" is none.
    confusion: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Share of cases that were hits (0.0 for an empty file)."""
        return self.hits / self.total if self.total else 0.0


def is_hit(gold: Mapping[str, Any], got: ParsedReply) -> bool:
    """Kind and value must match; reasons (as a set) only where gold names them."""
    if got.kind != gold.get("kind") or got.value != gold.get("value"):
        return False
    return "reasons" not in gold or set(got.reasons) == set(gold["reasons"])


def _case(line: str, number: int, path: Path) -> dict[str, Any]:
    where = f"{path}:{number}"
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalFileError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(case, dict):
        raise EvalFileError(f"{where}: expected a JSON object")
    for name in ("survey", "question", "text", "gold"):
        if name not in case:
            raise EvalFileError(f"{where}: missing field {name!r}")
    if not isinstance(case["gold"], dict) or "kind" not in case["gold"]:
        raise EvalFileError(f"{where}: gold: expected an object with a 'kind'")
    return case


def evaluate(path: Path | str, surveys: Mapping[str, Survey] | None = None) -> EvalReport:
    """Parse every labelled reply in a JSONL file and compare with its gold label."""
    path = Path(path)
    surveys = load_surveys(DEFINITIONS_DIR) if surveys is None else surveys
    hits, totals = Counter(), Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    misses: list[Miss] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            case = _case(line, number, path)
            survey = surveys.get(case["survey"])
            if survey is None:
                raise EvalFileError(f"{path}:{number}: survey: unknown survey {case['survey']!r}")
            try:
                question = survey.question(case["question"])
            except KeyError as exc:
                raise EvalFileError(f"{path}:{number}: question: {exc.args[0]}") from None
            got = parse_reply(question, str(case["text"]))
            key = f"{survey.key}/{question.key}"
            totals[key] += 1
            if case["gold"].get("reasons"):
                _confuse(confusion, case["gold"]["reasons"], got.reasons if got.kind == "answer" else ())
            if is_hit(case["gold"], got):
                hits[key] += 1
            else:
                misses.append(Miss(str(case.get("id", number)), survey.key, question.key,
                                   str(case["text"]), case["gold"], got))
    per_question = {key: (hits[key], totals[key]) for key in totals}
    return EvalReport(sum(totals.values()), sum(hits.values()), per_question, tuple(misses), dict(confusion))


def _confuse(confusion: Counter, gold: list[str], got: tuple[str, ...]) -> None:
    """Each gold reason against itself when found, else against a reason found instead (or "-");
    each reason found that gold lacks against "-"."""
    extra = [code for code in got if code not in gold]
    for code in gold:
        confusion[(code, code if code in got else (extra[0] if extra else "-"))] += 1
    for code in extra:
        confusion[("-", code)] += 1


def format_confusion(confusion: Mapping[tuple[str, str], int]) -> list[str]:
    """The confusion table by reason: gold in rows, found in columns."""
    codes = [c for c in (*REASON_CODES, "-") if any(c in pair for pair in confusion)]
    if not codes:
        return []
    width = max(len(c) for c in codes) + 1
    lines = ["confusion by reason (rows: gold, columns: found; - is none):",
             "  " + " " * width + "".join(f"{c[:5]:>6}" for c in codes)]
    for gold in codes:
        lines.append(f"  {gold:<{width}}" + "".join(f"{confusion.get((gold, got), 0) or '.':>6}" for got in codes))
    return lines


def _describe(got: ParsedReply) -> str:
    parts = {"kind": str(got.kind)}
    if got.value is not None:
        parts["value"] = got.value
    if got.reasons:
        parts["reasons"] = list(got.reasons)
    return json.dumps(parts, ensure_ascii=False)


def format_report(report: EvalReport) -> str:
    """A readable report; the last line is `accuracy: 0.xxx (hits/total)`."""
    lines = ["per question:"]
    for key, (hits, total) in sorted(report.per_question.items()):
        lines.append(f"  {key}: {hits / total:.3f} ({hits}/{total})")
    if report.misses:
        lines.append(f"misses ({len(report.misses)}):")
        for miss in report.misses:
            gold = json.dumps(dict(miss.gold), ensure_ascii=False)
            lines.append(f"  [{miss.case_id}] {miss.question} text={miss.text!r} gold={gold} got={_describe(miss.got)}")
    lines.extend(format_confusion(report.confusion))
    lines.append(f"accuracy: {report.accuracy:.3f} ({report.hits}/{report.total})")
    return "\n".join(lines)
