"""Numbers in a reply that are answers, as opposed to times, quantities, dates and phone numbers.

"First number in range" is not the answer: in "3点去的，很不满意" the 3 is a time of day, in
"等了40分钟" a duration. A number counts only when nothing around it makes it a quantity.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from survey.definitions import Question, QuestionKind
from survey.replies.lexicon import Lexicon
from survey.replies.normalize import NUMERAL_CHARS, numeral_value

_NUMBER = re.compile(rf"(\d+)|([{NUMERAL_CHARS}]+)")
_JOINERS = ":./-"  # 3:30, 3.5, 5/1, 5-1
_TIME_JOINERS = ":"  # on a reasons question "1.2.3" lists options; only 3:30 stays a time
MAX_ANSWER_DIGITS = 3  # longer runs are phone numbers, ids, years: never an answer


class NumberReading(NamedTuple):
    values: list[int]  # answers in range, in text order
    out_of_range: bool  # a number that looks like an answer but is not an option


def _is_cjk(char: str) -> bool:
    return char >= "\u2e80"


# "第一个", "第2项": the option by its place in the list, not an ordinal of something else.
_ORDINAL_OPTION_AFTER = ("个吧", "个啊", "个呀", "个 ", "项", "条", "种", "档", "选项")


def _ordinal_option(norm: str, start: int, end: int) -> bool:
    """True for "第一个" / "第2项" standing for an option (not "第3次", "第2个月")."""
    if start == 0 or norm[start - 1] != "第":
        return False
    return end == len(norm) or norm.startswith(_ORDINAL_OPTION_AFTER, end) or norm.endswith("个", end)


def _quantity(norm: str, start: int, end: int, lex: Lexicon, joiners: str) -> bool:
    """True when the number at norm[start:end] is a time, quantity, ordinal or part of a word."""
    if _ordinal_option(norm, start, end):
        return False
    if start > 0:
        before = norm[start - 1]
        if before in joiners and start > 1 and norm[start - 2].isdigit():
            return True
        if before.isascii() and before.isalpha():
            return True
        if norm.endswith(lex.before, 0, start):
            return True
    if end < len(norm):
        after = norm[end]
        if after in joiners and end + 1 < len(norm) and norm[end + 1].isdigit():
            return True
        if after.isascii() and after.isalpha():
            return True
        if lex.units.match(norm, end):
            return True
    return False


def _set_apart(norm: str, start: int, end: int, lex: Lexicon) -> bool:
    """True when a Chinese numeral stands on its own ("选二", "五分吧"), not inside a word ("一般")."""
    if _ordinal_option(norm, start, end):
        return True
    if start > 0 and _is_cjk(norm[start - 1]):
        if norm[start - 1] not in lex.numeral_before and norm[max(0, start - 2):start] not in lex.numeral_before:
            return False
    if end < len(norm) and _is_cjk(norm[end]):
        if norm[end] not in lex.numeral_after and norm[end:end + 2] not in lex.numeral_after:
            return False
    return True


def _out_of(norm: str, end: int, top: int) -> bool:
    """True for "9/10": a score written as a fraction of the top of the scale."""
    return norm.startswith(f"/{top}", end) and not norm[end + 1 + len(str(top)):end + 2 + len(str(top))].isdigit()


def _glued_to_words(norm: str, start: int, end: int, lex: Lexicon) -> bool:
    """True when digits sit right after Chinese words that are not an answer's framing ("扣15")."""
    if start == 0 or not _is_cjk(norm[start - 1]) or _ordinal_option(norm, start, end):
        return False
    return norm[start - 1] not in lex.numeral_before and norm[max(0, start - 2):start] not in lex.numeral_before


# "满分10分给9", "10分满分，我给6": the top of the scale named, not given.
_TOP_BEFORE = ("满分", "总分", "满分是", "满分为")
_TOP_AFTER = ("分满分", "满分", "分制", "分为满分", "分是满分")


def _names_the_top(norm: str, start: int, end: int) -> bool:
    return norm.endswith(_TOP_BEFORE, 0, start) or norm.startswith(_TOP_AFTER, end)


def _inside(spans: list[tuple[int, int]], starts: list[int], position: int) -> bool:
    """True when position lies in one of the spans (in order, not overlapping; starts are theirs)."""
    index = bisect_right(starts, position) - 1
    return index >= 0 and position < spans[index][1]


def read_numbers(norm: str, masked: list[tuple[int, int]], question: Question, options: frozenset[int],
                 lex: Lexicon) -> NumberReading:
    """The answer numbers in a normalised reply, skipping spans already read as words."""
    values: list[int] = []
    out_of_range = False
    reasons_kind = question.kind is QuestionKind.REASONS
    joiners = _TIME_JOINERS if reasons_kind else _JOINERS
    masked_starts = [start for start, _ in masked]
    for match in _NUMBER.finditer(norm):
        start, end = match.span()
        if _inside(masked, masked_starts, start):
            continue
        if question.kind is QuestionKind.RATING and _out_of(norm, end, question.max_value):
            values.append(int(match.group(1)) if match.group(1) else -1)  # "9/10": nine out of ten
            if values[-1] > question.max_value or values[-1] < question.min_value:
                values.pop()
                out_of_range = True
            continue
        if _quantity(norm, start, end, lex, joiners):
            continue
        if question.kind is QuestionKind.RATING and _names_the_top(norm, start, end):
            continue  # a reply of only "满分10分" still answers: the parser reads its "满分"
        if norm.startswith("分半", end):
            out_of_range = True  # "9分半": a half point is no answer
            continue
        if reasons_kind and _glued_to_words(norm, start, end, lex):
            continue  # "每月扣15": an amount inside a sentence, not an option
        digits = match.group(1)
        if digits is None:
            if not _set_apart(norm, start, end, lex):
                continue
            value = numeral_value(match.group(2))
            if value is None:
                continue
            digits = str(value)
        if len(digits) > MAX_ANSWER_DIGITS:
            continue
        value = int(digits)
        if reasons_kind:
            if value in options:
                values.append(value)
            elif len(digits) <= len(options) and all(int(d) in options for d in digits):
                values.extend(int(d) for d in digits)  # "13" when 13 is not an option: 1 and 3
            else:
                out_of_range = True
        elif question.min_value <= value <= question.max_value:
            values.append(value)
        else:
            out_of_range = True
    return NumberReading(values, out_of_range)
