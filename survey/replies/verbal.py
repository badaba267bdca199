"""The grammar of verbal satisfaction: a head word shaped by degree and negation before it.

Levels run from +2 (非常满意) to -2 (非常不满意). Modifiers apply from the head outwards, so
"很不满意" is -2 (very + not) while "不很满意" is -1 (not very), and "没什么不满意" is +1.
"""
from __future__ import annotations

from typing import NamedTuple

from survey.replies.lexicon import Cat, NegKind
from survey.replies.phrases import Match

# Characters that may sit between a modifier and its head without breaking the phrase.
GAP_CHARS = frozenset(" 的了都也得啦啊呀哦是")


class VerbalHit(NamedTuple):
    level: int
    start: int  # of the first modifier, or of the head
    end: int
    head: int  # index of the head match
    used: tuple[int, ...]  # indices of all matches that make up the phrase
    negated: bool


_SKIPPABLE = frozenset({Cat.FILLER, Cat.ACK})  # "的", "是" between a modifier and its head


def _sign(level: int) -> int:
    return (level > 0) - (level < 0)


def adjacent(text: str, end: int, start: int) -> bool:
    """True when only gap characters separate position `end` from position `start`."""
    if end == start:
        return True
    return end < start and GAP_CHARS.issuperset(text[end:start])


def _apply(level: int, tag: tuple) -> tuple[int, bool]:
    """The level after one modifier, and whether that modifier negated."""
    category = tag[0]
    if category is Cat.STRONG or category is Cat.AFTER:
        return 2 * _sign(level), False
    if category is Cat.MILD:
        return level, False
    kind = tag[1]
    if level == 0:  # "不一般" means remarkable, not dissatisfied: leave neutral alone
        return 0, True
    if kind is NegKind.STRONG:
        return -2 * _sign(level), True
    if kind is NegKind.MILD:
        return -_sign(level), True
    return (-level if abs(level) == 1 else -_sign(level)), True


def read_levels(matches: list[Match], text: str) -> list[VerbalHit]:
    """Every verbal satisfaction phrase in the matches, in text order."""
    hits: list[VerbalHit] = []
    taken: set[int] = set()
    count = len(matches)
    for index, match in enumerate(matches):
        head = match.head
        if head is None or index in taken:
            continue
        _, level, needs_modifier = head
        used = [index]
        modified = negated = False
        after = index + 1
        if after < count and Cat.AFTER in matches[after].categories and adjacent(text, match.end, matches[after].start):
            level, modified = 2 * _sign(level), True
            used.append(after)
        start, k = match.start, index - 1
        while k >= 0 and k not in taken:
            before = matches[k]
            tag = before.modifier
            gap_only = GAP_CHARS.issuperset(text[before.start:before.end])
            if tag is None and before.categories <= _SKIPPABLE and gap_only:
                k -= 1  # "非常的满意": a filler that is only gap characters is a gap
                continue
            if tag is None or not adjacent(text, before.end, start):
                break
            level, flipped = _apply(level, tag)
            negated ^= flipped
            modified = True
            used.append(k)
            start, k = before.start, k - 1
        if needs_modifier and not modified:
            continue
        taken.update(used)
        used.sort()
        hits.append(VerbalHit(level, start, matches[used[-1]].end, index, tuple(used), negated))
    return hits
