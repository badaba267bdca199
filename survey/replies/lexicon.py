"""The reply lexicons (survey/replies/data/*.yaml) loaded once into phrase tries and number rules."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import yaml

from survey.reasons import REASON_CODES
from survey.replies.normalize import LEXICON_DIR, normalise
from survey.replies.phrases import PhraseTrie



class Cat(StrEnum):
    """Categories of phrase tags in the replies trie."""

    HEAD = "head"  # ("head", level, needs_modifier)
    STRONG = "strong"  # degree: 非常, 很
    MILD = "mild"  # degree: 比较, 挺
    NEG = "neg"  # ("neg", NegKind)
    AFTER = "after"  # degree after the head: 满意极了
    OPTOUT = "optout"
    OPTOUT_WEAK = "optout_weak"  # opt-out only when it is the whole reply
    ACK = "ack"
    QUESTION = "question"
    GREETING = "greeting"
    UNKNOWN = "unknown"
    FILLER = "filler"
    FULL_MARKS = "full_marks"
    OPTION = "option"  # ("option", value): a survey's own label that the grammar cannot read
    REASON = "reason"  # ("reason", code, strong, negatable) in the reasons trie
    TOPIC = "topic"  # ("topic", code): what a complaint is about ("信号"), a complaint with an evaluator
    EVAL = "eval"  # a negative evaluation that makes a topic a complaint ("不好", "太高")
    PRAISE = "praise"  # said right after a reason phrase, it praises ("态度很好")
    NEUTRAL = "neutral"  # consumes its characters, names no reason ("补卡", "说了半天")


class NegKind(StrEnum):
    PLAIN = "plain"  # 不满意: flips
    MILD = "mild"  # 不太满意: flips and softens
    STRONG = "strong"  # 很不满意: flips and strengthens


class LexiconError(ValueError):
    """A lexicon file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class StoryPattern:
    """A reason told as what happened: a regular expression over the normalised text."""

    reason: str
    regex: re.Pattern[str]
    strong: bool = True
    absorbs: frozenset[str] = frozenset()  # reasons it overrides inside its span, to the clause's end


@dataclass(frozen=True)
class Lexicon:
    replies: PhraseTrie
    reasons: PhraseTrie
    optout_asking: tuple[str, ...]
    optout_quoting: tuple[str, ...]
    negators: tuple[str, ...]
    patterns: tuple[StoryPattern, ...]
    product_after: tuple[str, ...]
    units: re.Pattern[str]
    before: tuple[str, ...]
    numeral_before: frozenset[str]
    numeral_after: frozenset[str]


def _read(name: str) -> dict[str, Any]:
    path = LEXICON_DIR / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: expected a mapping at the top level")
    return data


def _words(data: dict, key: str, source: str) -> list[str]:
    node: Any = data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return []
    if not isinstance(node, list):
        raise LexiconError(f"{LEXICON_DIR / source}: {key}: expected a list of phrases")
    for word in node:
        if not isinstance(word, str):  # YAML reads 0000 as the integer 0: quote such phrases
            raise LexiconError(f"{LEXICON_DIR / source}: {key}: {word!r} must be a quoted string")
    return [normalise(word) for word in node]


def _join(left: str, right: str) -> str:
    # Latin words need the space that Chinese does without.
    if left and right and left[-1].isascii() and right[0].isascii():
        return f"{left} {right}"
    return left + right


@cache
def lexicon() -> Lexicon:
    """The lexicon, loaded and compiled once per process."""
    replies_data, reasons_data = _read("replies.yaml"), _read("reasons.yaml")
    words = lambda key: _words(replies_data, key, "replies.yaml")  # noqa: E731

    replies = PhraseTrie()
    for section, needs_modifier in (("heads", False), ("needs_modifier", True)):
        for phrase, level in (replies_data.get("verbal", {}).get(section) or {}).items():
            if level not in (-2, -1, 0, 1, 2):
                raise LexiconError(f"{LEXICON_DIR / 'replies.yaml'}: verbal.{section}.{phrase}: "
                                   f"level must be -2..2, got {level!r}")
            replies.add(normalise(str(phrase)), (Cat.HEAD, level, needs_modifier))
    replies.add_all(words("verbal.strong"), (Cat.STRONG,))
    replies.add_all(words("verbal.mild"), (Cat.MILD,))
    replies.add_all(words("verbal.negators"), (Cat.NEG, NegKind.PLAIN))
    replies.add_all(words("verbal.mild_negators"), (Cat.NEG, NegKind.MILD))
    replies.add_all(words("verbal.strong_negators"), (Cat.NEG, NegKind.STRONG))
    replies.add_all(words("verbal.after"), (Cat.AFTER,))
    replies.add_all(words("optout.strong"), (Cat.OPTOUT,))
    replies.add_all(words("optout.weak"), (Cat.OPTOUT_WEAK,))
    for prohibition in words("optout.prohibitions"):
        for filler in words("optout.fillers") or [""]:
            for verb in words("optout.verbs"):
                replies.add(_join(_join(prohibition, filler), verb), (Cat.OPTOUT,))
    replies.add_all(words("acknowledgements"), (Cat.ACK,))
    replies.add_all(words("questions"), (Cat.QUESTION,))
    replies.add_all(words("greetings"), (Cat.GREETING,))
    replies.add_all(words("unknown"), (Cat.UNKNOWN,))
    replies.add_all(words("fillers"), (Cat.FILLER,))
    replies.add_all(words("full_marks"), (Cat.FULL_MARKS,))

    reasons = _reasons_trie(reasons_data)

    units = sorted(words("numbers.units"), key=len, reverse=True)
    return Lexicon(
        replies=replies,
        reasons=reasons,
        optout_asking=tuple(words("optout.asking")),
        optout_quoting=tuple(words("optout.quoting")),
        negators=tuple(sorted(_words(reasons_data, "negators", "reasons.yaml"), key=len, reverse=True)),
        patterns=_patterns(reasons_data),
        product_after=tuple(words("optout.product_after")),
        units=re.compile("|".join(map(re.escape, units)) or "(?!)"),
        before=tuple(sorted(words("numbers.before"), key=len, reverse=True)),
        numeral_before=frozenset(words("numbers.numeral_before")),
        numeral_after=frozenset(words("numbers.numeral_after")),
    )


_REASON_SECTIONS = ("strong", "weak", "topics", "negatable")
_SHARED_SECTIONS = {"evaluators": Cat.EVAL, "praise": Cat.PRAISE, "neutral": Cat.NEUTRAL}
_OTHER_KEYS = {"negators", "patterns", *_SHARED_SECTIONS}


def _reasons_trie(data: dict) -> PhraseTrie:
    """Reason phrases, topics, evaluators, praise and neutral phrases in one trie: the longest wins."""
    source = "reasons.yaml"
    trie = PhraseTrie()
    for code, entry in data.items():
        if code in _OTHER_KEYS:
            continue
        if code not in REASON_CODES:
            raise LexiconError(f"{LEXICON_DIR / source}: {code}: unknown reason code")
        if not isinstance(entry, dict) or set(entry) - set(_REASON_SECTIONS):
            raise LexiconError(f"{LEXICON_DIR / source}: {code}: expected sections {', '.join(_REASON_SECTIONS)}")
        negatable = set(_words(data, f"{code}.negatable", source))
        for phrase in _words(data, f"{code}.strong", source):
            trie.add(phrase, (Cat.REASON, code, True, phrase in negatable))
        trie.add_all(_words(data, f"{code}.weak", source), (Cat.REASON, code, False, True))
        trie.add_all(_words(data, f"{code}.topics", source), (Cat.TOPIC, code))
        for phrase in negatable:
            trie.add(phrase, (Cat.REASON, code, True, True))
    for key, category in _SHARED_SECTIONS.items():
        trie.add_all(_words(data, key, source), (category,))
    return trie


def _patterns(data: dict) -> tuple[StoryPattern, ...]:
    where = f"{LEXICON_DIR / 'reasons.yaml'}: patterns"
    patterns = []
    for index, item in enumerate(data.get("patterns") or []):
        if not isinstance(item, dict) or item.get("reason") not in REASON_CODES or "regex" not in item:
            raise LexiconError(f"{where}[{index}]: expected a reason code and a regex")
        absorbs = item.get("absorbs") or []
        if not set(absorbs) <= set(REASON_CODES):
            raise LexiconError(f"{where}[{index}]: absorbs: unknown reason code in {absorbs!r}")
        try:
            regex = re.compile(str(item["regex"]))
        except re.error as exc:
            raise LexiconError(f"{where}[{index}]: regex: {exc}") from exc
        patterns.append(StoryPattern(item["reason"], regex, bool(item.get("strong", True)), frozenset(absorbs)))
    return tuple(patterns)
