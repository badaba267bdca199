"""The recovery check's question and what a reply to it means; pure (the question is data, parsed
by the survey parser like any other)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from survey.cases.rules import DATA
from survey.cases.states import RecoveryState
from survey.definitions import Question, Survey, survey_from_dict
from survey.replies.parser import ParsedReply, ReplyKind, parse_reply

QUESTION = "recovered"
SATISFIED, DISSATISFIED = 1, 2


@cache
def recovery_survey(path: Path = DATA / "recovery.yaml") -> Survey:
    """The recovery check as a one-question survey (its texts: the question, the opt-out confirmation)."""
    survey = survey_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))
    survey.question(QUESTION)  # KeyError names the file's survey when the question is missing
    return survey


def recovery_question() -> Question:
    return recovery_survey().question(QUESTION)


def read_reply(text: str) -> tuple[RecoveryState | None, ParsedReply]:
    """What a reply to the recovery SMS says: satisfied, dissatisfied, an opt-out, or None (unclear)."""
    parsed = parse_reply(recovery_question(), text)
    if parsed.kind is ReplyKind.OPTOUT:
        return RecoveryState.OPTED_OUT, parsed
    if parsed.kind is ReplyKind.ANSWER and parsed.value == SATISFIED:
        return RecoveryState.SATISFIED, parsed
    if parsed.kind is ReplyKind.ANSWER and parsed.value == DISSATISFIED:
        return RecoveryState.DISSATISFIED, parsed
    return None, parsed
