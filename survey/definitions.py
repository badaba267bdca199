"""Survey definitions as data: YAML files under survey/definitions/ loaded into frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

DEFINITIONS_DIR = Path(__file__).with_name("definitions")
OPTOUT_HINT = "回复TD退订"
TEXT_KEYS = ("reask", "thanks", "optout_confirm")


class DefinitionError(ValueError):
    """A survey definition is invalid; the message names the file and the field."""


class QuestionKind(StrEnum):
    SCALE = "scale"  # single choice on an ordered scale, e.g. 1..5 with labels
    REASONS = "reasons"  # multi-choice reason codes plus free text
    RATING = "rating"  # a bare number, e.g. 0..10


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    aliases: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class Condition:
    """Ask a question only when an earlier answer's value is in `values`."""

    question: str
    values: tuple[int, ...]
    unless_reasons: bool = False

    def is_met(self, value: int | None, reasons: tuple[str, ...] = ()) -> bool:
        """True when the earlier answer (value, reasons) calls for this question."""
        if value not in self.values:
            return False
        return not (self.unless_reasons and reasons)


@dataclass(frozen=True)
class Question:
    key: str
    kind: QuestionKind
    text: str
    options: tuple[Option, ...] = ()
    min_value: int = 1
    max_value: int = 5
    ask_when: Condition | None = None

    def option(self, value: int) -> Option | None:
        """The option with this value, if any."""
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Survey:
    key: str
    name: str
    questions: tuple[Question, ...]
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def question(self, key: str) -> Question:
        """The question with this key; KeyError names the survey when absent."""
        for question in self.questions:
            if question.key == key:
                return question
        raise KeyError(f"survey {self.key!r} has no question {key!r}")


def load_survey(key: str, directory: Path = DEFINITIONS_DIR) -> Survey:
    """Load one survey definition by key (the file stem)."""
    path = directory / f"{key}.yaml"
    if not path.is_file():
        raise DefinitionError(f"{path}: no survey definition named {key!r}")
    return _load_cached(path)


def load_surveys(directory: Path = DEFINITIONS_DIR) -> dict[str, Survey]:
    """All survey definitions in a directory, keyed by survey key."""
    surveys = [_load_cached(path) for path in sorted(directory.glob("*.yaml"))]
    return {s.key: s for s in surveys}


def survey_from_dict(data: Any, *, source: str = "<dict>") -> Survey:
    """Build a Survey from already-parsed data; errors name `source` and the field."""
    return _Reader(source).survey(data)


@cache
def _load_cached(path: Path) -> Survey:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path}: cannot read YAML: {exc}") from exc
    return survey_from_dict(data, source=str(path))


class _Reader:
    """Validates raw data field by field so every error carries its location."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> DefinitionError:
        return DefinitionError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def text(self, data: dict, name: str, where: str, *, required: bool = True) -> str | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{name}", "expected a non-empty string")
        return value

    def integer(self, data: dict, name: str, where: str, default: int | None = None) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}{name}", f"expected an integer, got {value!r}")
        return value

    def survey(self, data: Any) -> Survey:
        data = self.mapping(data, "survey")
        key = self.text(data, "key", "")
        name = self.text(data, "name", "")
        texts = self.mapping(data.get("texts", {}), "texts")
        for text_key in TEXT_KEYS:
            self.text(texts, text_key, "texts.")
        raw_questions = data.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            raise self.fail("questions", "expected a non-empty list")
        questions = tuple(self.question(q, f"questions[{i}].") for i, q in enumerate(raw_questions))
        keys = [q.key for q in questions]
        if len(set(keys)) != len(keys):
            raise self.fail("questions", f"duplicate question keys in {keys}")
        for i, q in enumerate(questions):
            if q.ask_when and q.ask_when.question not in keys[:i]:
                raise self.fail(f"questions[{i}].ask_when.question",
                                f"{q.ask_when.question!r} is not an earlier question")
        return Survey(key, name, questions, MappingProxyType({k: str(v) for k, v in texts.items()}))

    def question(self, data: Any, where: str) -> Question:
        data = self.mapping(data, where.rstrip("."))
        key = self.text(data, "key", where)
        raw_kind = data.get("kind")
        try:
            kind = QuestionKind(raw_kind)
        except ValueError:
            allowed = ", ".join(k.value for k in QuestionKind)
            raise self.fail(f"{where}kind", f"{raw_kind!r} is not one of {allowed}") from None
        text = self.text(data, "text", where)
        raw_options = data.get("options", [])
        if not isinstance(raw_options, list):
            raise self.fail(f"{where}options", "expected a list")
        options = tuple(self.option(o, f"{where}options[{i}].", kind) for i, o in enumerate(raw_options))
        if kind is not QuestionKind.RATING and not options:
            raise self.fail(f"{where}options", f"a {kind} question needs options")
        values = [o.value for o in options]
        if len(set(values)) != len(values):
            raise self.fail(f"{where}options", f"duplicate option values {values}")
        low = self.integer(data, "min_value", where, min(values, default=0))
        high = self.integer(data, "max_value", where, max(values, default=10))
        if low > high:
            raise self.fail(f"{where}min_value", f"{low} is greater than max_value {high}")
        ask_when = self.condition(data["ask_when"], f"{where}ask_when.") if "ask_when" in data else None
        return Question(key, kind, text, options, low, high, ask_when)

    def option(self, data: Any, where: str, kind: QuestionKind) -> Option:
        data = self.mapping(data, where.rstrip("."))
        value = self.integer(data, "value", where)
        label = self.text(data, "label", where)
        aliases = data.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
            raise self.fail(f"{where}aliases", "expected a list of non-empty strings")
        reason = self.text(data, "reason", where, required=kind is QuestionKind.REASONS)
        return Option(value, str(label), tuple(aliases), reason)

    def condition(self, data: Any, where: str) -> Condition:
        data = self.mapping(data, where.rstrip("."))
        question = self.text(data, "question", where)
        values = data.get("values")
        if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
            raise self.fail(f"{where}values", "expected a list of integers")
        unless = data.get("unless_reasons", False)
        if not isinstance(unless, bool):
            raise self.fail(f"{where}unless_reasons", "expected true or false")
        return Condition(str(question), tuple(values), unless)
