"""SMS texts of a survey, rendered with the outlet and business type, and their segment cost."""
from __future__ import annotations

import string
from typing import Mapping

from smpp.encoding import segment_count
from survey.definitions import OPTOUT_HINT, Survey


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill {outlet} and {business}; an unknown placeholder renders empty instead of failing a send."""
    text = string.Formatter().vformat(template, (), _Blank(values))
    return text if OPTOUT_HINT in text else f"{text}{OPTOUT_HINT}"


def question_text(survey: Survey, question: str, values: Mapping[str, str]) -> str:
    return render(survey.question(question).text, values)


def reask_text(survey: Survey, question: str, values: Mapping[str, str]) -> str:
    """The survey's re-ask for its first question; for later ones the question itself again."""
    if question == survey.questions[0].key:
        return render(survey.texts["reask"], values)
    return question_text(survey, question, values)


def survey_text(survey: Survey, key: str, values: Mapping[str, str]) -> str:
    return render(survey.texts[key], values)


def oversized_texts(survey: Survey, values: Mapping[str, str]) -> list[tuple[str, int]]:
    """(text name, segments) of each rendered text that needs more than one segment."""
    names = [(f"question {q.key}", q.text) for q in survey.questions] + list(survey.texts.items())
    rendered = ((name, render(template, values)) for name, template in names)
    return [(name, n) for name, text in rendered if (n := segment_count(text)) > 1]
