"""The grammar of verbal satisfaction: a head word shaped by degree and negation before it.

Levels run from +2 (非常满意) to -2 (非常不满意). Modifiers apply from the head outwards, so
"很不满意" is -2 (very + not) while "不很满意" is -1 (not very), and "没什么不满意" is +1.
"""
from __future__ import annotations

from typing import NamedTuple

from survey.lexicon import Cat, NegKind
from survey.phrases import Match

# Characters that may sit between a modifier and its head without breaking the phrase.
GAP_CHARS = frozenset(" 的了都也得啦啊呀哦")


class VerbalHit(NamedTuple):
    level: int
    start: int  # of the first modifier, or of the head
    end: int
    head: int  # index of the head match
    used: tuple[int, ...]  # indices of all matches that make up the phrase
    negated: bool


def _sign(level: int) -> int:
    return (level > 0) - (level < 0)


def adjacent(text: str, end: int, start: int) -> bool:
    """True when only gap characters separate position `end` from position `start`."""
    return end <= start and all(c in GAP_CHARS for c in text[end:start])


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


_MODIFIERS = (Cat.STRONG, Cat.MILD, Cat.NEG)


def read_levels(matches: list[Match], text: str) -> list[VerbalHit]:
    """Every verbal satisfaction phrase in the matches, in text order."""
    hits: list[VerbalHit] = []
    taken: set[int] = set()
    for index, match in enumerate(matches):
        head = match.get(Cat.HEAD)
        if head is None or index in taken:
            continue
        _, level, needs_modifier = head
        used = [index]
        modified = negated = False
        after = index + 1
        if after < len(matches) and matches[after].has(Cat.AFTER) and adjacent(text, match.end, matches[after].start):
            level, modified = 2 * _sign(level), True
            used.append(after)
        start, k = match.start, index - 1
        while k >= 0 and k not in taken and adjacent(text, matches[k].end, start):
            tag = next((t for t in matches[k].tags if t[0] in _MODIFIERS), None)
            if tag is None:
                break
            level, flipped = _apply(level, tag)
            negated ^= flipped
            modified = True
            used.append(k)
            start, k = matches[k].start, k - 1
        if needs_modifier and not modified:
            continue
        taken.update(used)
        end = max(matches[i].end for i in used)
        hits.append(VerbalHit(level, start, end, index, tuple(sorted(used)), negated))
    return hits
