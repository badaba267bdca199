"""Leftmost-longest phrase matching over normalised text, without word boundaries.

Chinese has no spaces, so phrases are found as substrings; a trie finds the longest phrase at each
position in one pass. Phrases that begin or end with a Latin letter or a digit must not be glued to
another letter or digit ("td" is not found inside "outdated", "0000" not inside "100000").
"""
from __future__ import annotations

import copy
from typing import Hashable, Iterable, NamedTuple

Tag = tuple[Hashable, ...]
_END = ""  # key of the tag list in a trie node; never a character of a phrase
# Tag categories (see survey.lexicon.Cat) precomputed per phrase for the verbal grammar.
_MODIFIER_CATEGORIES = frozenset({"strong", "mild", "neg"})


def _kind(char: str) -> int:
    """0 for CJK and others, 1 for ASCII letters, 2 for digits: runs of one kind form a word."""
    if "a" <= char <= "z":
        return 1
    if "0" <= char <= "9":
        return 2
    return 0


class Match(NamedTuple):  # a NamedTuple: built for every phrase found, so it must be cheap
    start: int
    end: int
    tags: tuple[Tag, ...]
    categories: frozenset  # the first element of every tag, for quick membership tests
    head: Tag | None = None  # the verbal head tag, if any
    modifier: Tag | None = None  # the degree or negation tag, if any

    def has(self, category: str) -> bool:
        """True when one of the tags is of this category."""
        return category in self.categories

    def get(self, category: str) -> Tag | None:
        """The first tag of this category, if any."""
        return next((tag for tag in self.tags if tag[0] == category), None)


class PhraseTrie:
    """A character trie mapping phrases to tags; the same phrase may carry several tags."""

    def __init__(self) -> None:
        self._root: dict = {}

    def add(self, phrase: str, tag: Tag) -> None:
        """Add a (normalised, non-empty) phrase with a tag."""
        if not phrase:
            return
        node = self._root
        for char in phrase:
            node = node.setdefault(char, {})
        old = node.get(_END)
        tags = old[0] if old else ()
        if tag not in tags:
            tags = (*tags, tag)
        # Precomputed per phrase: its tags, their categories, and whether its ends need a boundary check.
        head = next((t for t in tags if t[0] == "head"), None)
        modifier = next((t for t in tags if t[0] in _MODIFIER_CATEGORIES), None)
        node[_END] = (tags, frozenset(t[0] for t in tags), bool(_kind(phrase[0])), bool(_kind(phrase[-1])),
                      head, modifier)

    def add_all(self, phrases: Iterable[str], tag: Tag) -> None:
        """Add several phrases with the same tag."""
        for phrase in phrases:
            self.add(phrase, tag)

    def copy(self) -> "PhraseTrie":
        """An independent copy, to extend with one question's own phrases."""
        other = PhraseTrie()
        other._root = copy.deepcopy(self._root)
        return other

    def scan(self, text: str) -> list[Match]:
        """Non-overlapping matches, leftmost first, the longest valid phrase at each position."""
        root = self._root
        matches: list[Match] = []
        n = len(text)
        resume = 0  # matches do not overlap: skip the inside of the last one
        for i, char in enumerate(text):
            if i < resume or char not in root:
                continue
            node = root[char]
            best_end, best = 0, None
            j = i
            while node is not None:
                j += 1
                entry = node.get(_END)
                if entry is not None and (not (entry[2] or entry[3])
                                          or self._bounded(text, i, j, entry[2], entry[3])):
                    best_end, best = j, entry
                if j >= n:
                    break
                node = node.get(text[j])
            if best is not None:
                matches.append(Match(i, best_end, best[0], best[1], best[4], best[5]))
                resume = best_end
        return matches

    @staticmethod
    def _bounded(text: str, start: int, end: int, check_start: bool, check_end: bool) -> bool:
        if check_start and start > 0 and _kind(text[start - 1]) == _kind(text[start]):
            return False
        return not (check_end and end < len(text) and _kind(text[end]) == _kind(text[end - 1]))
