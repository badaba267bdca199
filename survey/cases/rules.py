"""Rules that open a case from an answer (or from an opt-out after a bad score), as data.

Rules live in survey/cases/data/rules.yaml; the first that matches names the case's trigger. This
module does no I/O beyond reading that file.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import yaml

DATA = Path(__file__).with_name("data")


class RulesError(ValueError):
    """A rule file is invalid; the message names the file and the field."""


class Trigger(StrEnum):
    ANSWER = "answer"
    OPTOUT = "optout"


@dataclass(frozen=True)
class AnswerFacts:
    """One stored answer as the rules see it."""

    survey: str
    question: str
    value: int | None
    reasons: tuple[str, ...] = ()
    text: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    segment: str = ""  # the customer's segment key (survey.cases.deadlines)


def fold(text: str) -> str:
    """Text as words are matched in it: NFKC (full-width to half), case-folded, without spaces."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Rule:
    key: str
    label: str
    trigger: Trigger = Trigger.ANSWER
    surveys: frozenset[str] = frozenset()
    questions: frozenset[str] = frozenset()
    values: frozenset[int] | None = None
    low: int | None = None
    high: int | None = None
    reasons: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()  # folded
    segments: frozenset[str] = frozenset()
    attributes: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, facts: AnswerFacts) -> bool:
        """Whether every condition this rule states holds for the answer."""
        if self.surveys and facts.survey not in self.surveys:
            return False
        if self.questions and facts.question not in self.questions:
            return False
        if self.values is not None and facts.value not in self.values:
            return False
        if self.low is not None and (facts.value is None or facts.value < self.low):
            return False
        if self.high is not None and (facts.value is None or facts.value > self.high):
            return False
        if self.reasons and not self.reasons.intersection(facts.reasons):
            return False
        if self.segments and facts.segment not in self.segments:
            return False
        for name, accepted in self.attributes.items():
            if _attribute_text(facts.attributes.get(name)) not in accepted:
                return False
        if self.words:
            folded = fold(facts.text)
            if not any(word in folded for word in self.words):
                return False
        return True


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip()


def first_match(rules: Sequence[Rule], facts: AnswerFacts) -> Rule | None:
    """The first answer rule that matches a stored answer."""
    return next((rule for rule in rules if rule.trigger is Trigger.ANSWER and rule.matches(facts)), None)


def optout_match(rules: Sequence[Rule], answers: Iterable[AnswerFacts]) -> tuple[Rule, AnswerFacts] | None:
    """The first opt-out rule that one of the session's answers (latest first) meets, and that answer."""
    given = list(answers)[::-1]
    for rule in rules:
        if rule.trigger is not Trigger.OPTOUT:
            continue
        for facts in given:
            if rule.matches(facts):
                return rule, facts
    return None


def load_rules(path: Path = DATA / "rules.yaml") -> tuple[Rule, ...]:
    """The rules of a YAML file, checked field by field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot read YAML: {exc}") from exc
    return rules_from_data(data, source=str(path))


def rules_from_data(data: Any, *, source: str = "<data>") -> tuple[Rule, ...]:
    """Rules from already-parsed data; errors name source and the field."""
    def fail(where: str, problem: str) -> RulesError:
        return RulesError(f"{source}: {where}: {problem}")

    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise fail("rules", "expected a mapping with a list named rules")
    rules, keys = [], set()
    for i, raw in enumerate(data["rules"]):
        where = f"rules[{i}]"
        if not isinstance(raw, dict):
            raise fail(where, "expected a mapping")
        unknown = set(raw) - RULE_FIELDS
        if unknown:
            raise fail(where, f"unknown fields {sorted(unknown)} (known: {sorted(RULE_FIELDS)})")
        key = raw.get("key")
        if not isinstance(key, str) or not key.strip():
            raise fail(f"{where}.key", "expected a non-empty string")
        if key in keys:
            raise fail(f"{where}.key", f"duplicate rule key {key!r}")
        keys.add(key)
        try:
            trigger = Trigger(raw.get("trigger", Trigger.ANSWER.value))
        except ValueError:
            raise fail(f"{where}.trigger", f"expected one of {[t.value for t in Trigger]}") from None
        values = raw.get("values")
        if values is not None and (not isinstance(values, list)
                                   or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)):
            raise fail(f"{where}.values", "expected a list of integers")
        for bound in ("min", "max"):
            if bound in raw and (isinstance(raw[bound], bool) or not isinstance(raw[bound], int)):
                raise fail(f"{where}.{bound}", "expected an integer")
        attributes = raw.get("attributes", {})
        if not isinstance(attributes, dict):
            raise fail(f"{where}.attributes", "expected a mapping of attribute name to a list of values")
        rule = Rule(
            key=key, label=str(raw.get("label") or key), trigger=trigger,
            surveys=_strings(raw, "surveys", where, fail), questions=_strings(raw, "questions", where, fail),
            values=frozenset(values) if values is not None else None, low=raw.get("min"), high=raw.get("max"),
            reasons=_strings(raw, "reasons", where, fail),
            words=tuple(fold(w) for w in sorted(_strings(raw, "words", where, fail)) if fold(w)),
            segments=_strings(raw, "segments", where, fail),
            attributes=MappingProxyType({str(name): frozenset(_attribute_text(v) for v in _list(vals, f"{where}.attributes.{name}", fail))
                                         for name, vals in attributes.items()}))
        if not any((rule.surveys, rule.questions, rule.values is not None, rule.low is not None,
                    rule.high is not None, rule.reasons, rule.words, rule.segments, rule.attributes)):
            raise fail(where, "a rule without a condition would open a case for every answer")
        rules.append(rule)
    return tuple(rules)


RULE_FIELDS = {"key", "label", "trigger", "surveys", "questions", "values", "min", "max", "reasons", "words",
               "segments", "attributes"}


def _list(value: Any, where: str, fail) -> list:
    if not isinstance(value, list):
        raise fail(where, "expected a list")
    return value


def _strings(raw: dict, name: str, where: str, fail) -> frozenset[str]:
    values = _list(raw.get(name, []), f"{where}.{name}", fail)
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip() for v in values):
        raise fail(f"{where}.{name}", "expected a list of non-empty strings")
    return frozenset(str(v).strip() for v in values)
