"""Reply understanding: an SMS reply to one survey question becomes an answer, an opt-out or unclear.

Driven by the question's definition (its kind, range and option labels) and the lexicons in
survey/lexicon/, so a new survey needs data, not code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping, NamedTuple

from survey.definitions import Question, QuestionKind
from survey.reasons import REASON_CODES
from survey.replies.complaints import read_complaints
from survey.replies.lexicon import Cat, Lexicon, lexicon
from survey.replies.ngram_model import MAX_CHARS, NgramModel, reason_model
from survey.replies.normalize import normalise
from survey.replies.numbers import MAX_ANSWER_DIGITS, NumberReading, read_numbers
from survey.replies.phrases import Match, PhraseTrie
from survey.replies.verbal import VerbalHit, adjacent, read_levels


class ReplyKind(StrEnum):
    ANSWER = "answer"
    OPTOUT = "optout"
    UNCLEAR = "unclear"


class ParsedReply(NamedTuple):  # immutable and cheap to build: one per reply
    kind: ReplyKind
    value: int | None
    reasons: tuple[str, ...]
    text: str  # verbatim, as received


# Tags that only shape a head; left alone ("十分" on a 0..10 question) they are not content.
_MODIFIER_CATS = frozenset({Cat.STRONG, Cat.MILD, Cat.NEG, Cat.AFTER})
# What may surround a weak opt-out ("取消吧，谢谢") for the reply to still be only an opt-out.
_OPTOUT_COMPANIONS = frozenset({Cat.OPTOUT, Cat.OPTOUT_WEAK, Cat.FILLER, Cat.ACK, Cat.GREETING})
_REASON_ORDER = {code: i for i, code in enumerate(REASON_CODES)}
_SHIPPED = object()  # parse_reply's default model: the one shipped with the lexicons
MEMO_LIMIT = 4096  # readings remembered per question; 0 turns the memo off (the benchmark's cold run)
_Reading = tuple[ReplyKind, int | None, tuple[str, ...]]


@dataclass(frozen=True)
class _Compiled:
    """A question prepared for parsing: its phrase tries and how verbal levels map to options."""

    question: Question
    replies: PhraseTrie
    reasons: PhraseTrie
    level_values: dict[int, int]  # verbal level -> option value (scale questions)
    option_values: frozenset[int]
    option_reasons: dict[int, str]  # option value -> reason code (reasons questions)
    memo: dict[str, _Reading] = field(default_factory=dict)  # normalised text -> reading


_compiled: dict[int, _Compiled] = {}  # id(question) -> its compiled form


def _compile(question: Question) -> _Compiled:
    lex = lexicon()
    replies = lex.replies.copy()
    reasons = lex.reasons.copy()
    level_values: dict[int, int] = {}
    if question.kind is QuestionKind.SCALE:
        for option in question.options:
            for phrase in (option.label, *option.aliases):
                norm = normalise(phrase)
                level = _whole_level(lex.replies, norm)
                if level is None:
                    replies.add(norm, (Cat.OPTION, option.value))  # a label the grammar cannot read
                else:
                    level_values.setdefault(level, option.value)
    option_reasons = {o.value: o.reason for o in question.options if o.reason}
    if question.kind is QuestionKind.REASONS:
        for option in question.options:
            if option.reason and option.reason != "other":
                for phrase in (option.label, *option.aliases):
                    reasons.add(normalise(phrase), (Cat.REASON, option.reason, True, False))
    option_values = frozenset(o.value for o in question.options)
    return _Compiled(question, replies, reasons, level_values, option_values, option_reasons)


def _whole_level(trie: PhraseTrie, phrase: str) -> int | None:
    """The verbal level of a label when the grammar reads the whole label as one phrase."""
    hits = read_levels(trie.scan(phrase), phrase)
    if len(hits) == 1 and hits[0].start == 0 and hits[0].end == len(phrase):
        return hits[0].level
    return None


# A reply is read up to two SMS segments of Chinese, as far as the reason model reads (the longest
# real reply we know has 37 characters): work per reply stays bounded, so a 255-part message costs
# the engine no more than any other reply. The whole text is still kept verbatim with the answer.
READ_LIMIT = MAX_CHARS


def parse_reply(question: Question, text: str, *,
                learned: Mapping[str, tuple[str, int | None, tuple[str, ...]]] | None = None,
                model: NgramModel | None | object = _SHIPPED) -> ParsedReply:
    """Understand one reply to `question`; never raises on any text.

    `learned` maps normalised texts to readings people gave them in the review queue (see
    survey.replies.learned): a labelled text is read as labelled, before any rule. `model` replaces
    the shipped reason model (None: the lexicon alone), for cross-validation in train_model; such
    readings are not remembered.
    """
    # Keyed by identity: hashing a whole Question on every reply would cost more than parsing "1".
    compiled = _compiled.get(id(question))
    if compiled is None or compiled.question is not question:
        compiled = _compiled[id(question)] = _compile(question)
    norm = normalise(text[:READ_LIMIT])
    if learned:
        label = learned.get(norm)
        if label is not None:
            return ParsedReply(ReplyKind(label[0]), label[1], tuple(label[2]), text)
    if model is not _SHIPPED:
        return ParsedReply(*_read(compiled, norm, model), text)
    # Replies repeat heavily ("1", "满意", "【2】"): the reading of a normalised text is pure, so
    # it is remembered per question, in a bounded memo that is simply emptied when full.
    reading = compiled.memo.get(norm)
    if reading is None:
        reading = _read(compiled, norm, reason_model())
        if MEMO_LIMIT:
            if len(compiled.memo) >= MEMO_LIMIT:
                compiled.memo.clear()
            compiled.memo[norm] = reading
    return ParsedReply(*reading, text)


def clear_memo() -> None:
    """Forget remembered readings (after a lexicon change, or to measure cold parsing)."""
    for compiled in _compiled.values():
        compiled.memo.clear()


_UNCLEAR: _Reading = (ReplyKind.UNCLEAR, None, ())
_OPTOUT: _Reading = (ReplyKind.OPTOUT, None, ())


def _read(compiled: _Compiled, norm: str, model: NgramModel | None) -> _Reading:
    """Kind, value and reasons of one normalised reply."""
    if not norm:
        return _UNCLEAR
    question = compiled.question
    lex = lexicon()
    kind = question.kind
    # Most replies are a bare number: no phrase in the lexicons is a number of at most 3 digits
    # ("0000" is 4), so such a reply needs no phrase scanning.
    bare_number = len(norm) <= MAX_ANSWER_DIGITS and norm.isdigit()
    matches = [] if bare_number else compiled.replies.scan(norm)
    if matches and _is_optout(matches, norm, lex):
        return _OPTOUT
    hits = read_levels(matches, norm) if matches else []
    numbers = read_numbers(norm, _masked(matches, hits) if matches else [], question, compiled.option_values, lex)
    reason_matches = [] if bare_number else compiled.reasons.scan(norm)
    if kind is QuestionKind.REASONS:
        return _reasons_reading(compiled, norm, matches, hits, reason_matches, numbers, model)
    reasons = _ordered(_complaints(norm, reason_matches, hits, model)) if reason_matches or len(norm) > 3 else ()
    if numbers.out_of_range or len(set(numbers.values)) > 1:
        return _UNCLEAR  # "8", "1 2": ask again
    value = numbers.values[0] if numbers.values else None
    if value is None and kind is QuestionKind.RATING and any(m.has(Cat.FULL_MARKS) for m in matches):
        value = question.max_value
    if value is None and kind is QuestionKind.SCALE:
        value = _verbal_value(compiled, norm, matches, hits)
        if value is None and any(m.has(Cat.FULL_MARKS) for m in matches):
            value = _level_value(compiled.level_values, 2)  # "满分": the top of the scale
    if value is None:
        # A complaint without a score ("排队太久了") is asked again: the score is what was asked.
        return _UNCLEAR
    return ReplyKind.ANSWER, value, reasons


def _is_optout(matches: list[Match], norm: str, lex: Lexicon) -> bool:
    weak = covered = 0
    for match in matches:
        if match.has(Cat.OPTOUT) and not _about_product(norm, match.end, lex) \
                and not norm.endswith(lex.optout_asking, 0, match.start) and not _quoted(norm, match.start, lex):
            return True
        if match.has(Cat.OPTOUT_WEAK):
            weak += 1
        if match.categories & _OPTOUT_COMPANIONS:
            covered += match.end - match.start - norm.count(" ", match.start, match.end)
    if not weak:
        return False
    # A weak phrase ("取消") opts out only when nothing else is said.
    return covered == len(norm.replace(" ", ""))


def _quoted(norm: str, start: int, lex: Lexicon) -> bool:
    """True when the clause holding position start is someone's words reported after a quote mark."""
    clause = norm.rfind(" ", 0, start)
    return clause > 0 and norm.endswith(lex.optout_quoting, 0, clause)


def _about_product(norm: str, end: int, lex: Lexicon) -> bool:
    """True when an opt-out word is followed by a product: "退订套餐" is business, not a stop."""
    rest = norm[end:].lstrip(" 了掉的个这那")
    return rest.startswith(lex.product_after)


def _masked(matches: list[Match], hits: list[VerbalHit]) -> list[tuple[int, int]]:
    """Spans whose characters are words, not numbers: "一般", "十分满意", "一直占线"."""
    used = {i for hit in hits for i in hit.used}
    return [(m.start, m.end) for i, m in enumerate(matches)
            if i in used or not m.categories <= _MODIFIER_CATS]


def _verbal_value(compiled: _Compiled, norm: str, matches: list[Match], hits: list[VerbalHit]) -> int | None:
    """The option named in words: the first verbal phrase or option label that maps to an option."""
    candidates: list[tuple[int, int]] = []
    for hit in hits:
        option = matches[hit.head].get(Cat.OPTION)
        if option is not None and not hit.negated:
            candidates.append((hit.start, option[1]))
            continue
        value = _level_value(compiled.level_values, hit.level)
        if value is not None:
            candidates.append((hit.start, value))
    heads = {hit.head for hit in hits}
    for index, match in enumerate(matches):
        option = match.get(Cat.OPTION)
        if option is not None and index not in heads:
            before = matches[index - 1] if index else None
            negated = before is not None and before.has(Cat.NEG) and adjacent(norm, before.end, match.start)
            if not negated:
                candidates.append((match.start, option[1]))
    return min(candidates)[1] if candidates else None


def _level_value(level_values: dict[int, int], level: int) -> int | None:
    value = level_values.get(level)
    if value is None and abs(level) == 2:  # a 3-point scale has no "very": fall back to the plain level
        value = level_values.get(level // 2)
    return value


def _ordered(codes: set[str]) -> tuple[str, ...]:
    if len(codes) > 1:
        codes.discard("other")  # other only when nothing more specific is found
    return tuple(sorted(codes, key=_REASON_ORDER.__getitem__))


def _complaints(norm: str, reason_matches: list[Match], hits: list[VerbalHit], model: NgramModel | None) -> set[str]:
    """The reasons the lexicon finds, arbitrated by the model when it finds several."""
    codes = set(read_complaints(norm, reason_matches, hits, lexicon()))
    if model is not None and len(codes) > 1:
        codes = _arbitrate(model, norm, codes)
    return codes


def _reasons_reading(compiled: _Compiled, norm: str, matches: list[Match], hits: list[VerbalHit],
                     reason_matches: list[Match], numbers: NumberReading, model: NgramModel | None) -> _Reading:
    codes = _complaints(norm, reason_matches, hits, model)
    codes.update(compiled.option_reasons[v] for v in numbers.values if v in compiled.option_reasons)
    if not codes:
        if numbers.out_of_range or not _is_free_text(norm, matches, reason_matches):
            return _UNCLEAR
        # An opinion in the customer's own words: the n-gram model may still recognise a reason.
        codes.add((model.reason(norm) if model is not None else None) or "other")
    return ReplyKind.ANSWER, None, _ordered(codes)


def _arbitrate(model: NgramModel, norm: str, codes: set[str]) -> set[str]:
    """Of several reasons the lexicon found, those the model finds at least `model.arbitration` times
    as likely as the likeliest of them: a word read out of its story ("话费充了，可打出去对方老是听不见")
    gives way. The ratio is chosen by cross-validation on the corpora's training parts when the model
    is trained (see train_model). The model replacing a single finding it is confident is wrong did no
    better there (1,575 of 1,656 held-back replies right with it or without it)."""
    probabilities = model.probabilities(norm)
    likelihood = {code: float(probabilities[model.classes.index(code)]) for code in codes if code in model.classes}
    top = max(likelihood.values(), default=0.0)
    return {code for code in codes if likelihood.get(code, top) >= model.arbitration * top}


def _is_free_text(norm: str, matches: list[Match], reason_matches: list[Match]) -> bool:
    """True when the reply says something of its own, not just thanks, a greeting or a question."""
    if "?" in norm or any(m.has(Cat.QUESTION) for m in matches):
        return False
    covered = [False] * len(norm)
    for match in (*matches, *reason_matches):
        covered[match.start:match.end] = [True] * (match.end - match.start)
    return sum(1 for c, hit in zip(norm, covered) if not hit and c.isalpha()) >= 2
