"""Replies people labelled in the review queue, as data the parser reads before its own rules.

A label says how one normalised text answers one question of one survey. The parser stays pure:
the caller loads the labels (survey.review.load_learned reads them from the database) and passes
the question's share of them to parse_reply(..., learned=...).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Mapping, NamedTuple

from survey.replies.normalize import normalise

Reading = tuple[str, int | None, tuple[str, ...]]  # kind, value, reasons (as ParsedReply holds them)


class LearnedLabel(NamedTuple):
    survey: str
    question: str
    text: str  # normalised or not: it is normalised again here
    kind: str
    value: int | None
    reasons: tuple[str, ...]


_EMPTY: Mapping[str, Reading] = MappingProxyType({})


class Learned:
    """Labels by survey and question, each a read-only map from normalised text to its reading."""

    def __init__(self, labels: Iterable[LearnedLabel] = ()) -> None:
        by_question: dict[tuple[str, str], dict[str, Reading]] = {}
        for label in labels:
            norm = normalise(label.text)
            if norm:
                by_question.setdefault((label.survey, label.question), {})[norm] = (
                    label.kind, label.value, tuple(label.reasons))
        self._by_question = {key: MappingProxyType(texts) for key, texts in by_question.items()}

    def for_question(self, survey: str, question: str) -> Mapping[str, Reading]:
        """The labels of one question (empty when it has none)."""
        return self._by_question.get((survey, question), _EMPTY)

    def __len__(self) -> int:
        return sum(len(texts) for texts in self._by_question.values())
