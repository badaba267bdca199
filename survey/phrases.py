"""Leftmost-longest phrase matching over normalised text, without word boundaries.

Chinese has no spaces, so phrases are found as substrings; a trie finds the longest phrase at each
position in one pass. Phrases that begin or end with a Latin letter or a digit must not be glued to
another letter or digit ("td" is not found inside "outdated", "0000" not inside "100000").
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Hashable, Iterable

Tag = tuple[Hashable, ...]
_END = ""  # key of the tag list in a trie node; never a character of a phrase


def _kind(char: str) -> int:
    """0 for CJK and others, 1 for ASCII letters, 2 for digits: runs of one kind form a word."""
    if "a" <= char <= "z":
        return 1
    if "0" <= char <= "9":
        return 2
    return 0


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int
    tags: tuple[Tag, ...]

    def has(self, category: str) -> bool:
        """True when one of the tags is of this category."""
        return any(tag[0] == category for tag in self.tags)

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
        tags = node.setdefault(_END, [])
        if tag not in tags:
            tags.append(tag)

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
        i, n = 0, len(text)
        while i < n:
            node = root.get(text[i])
            if node is None:
                i += 1
                continue
            best_end, best_tags = 0, None
            j = i
            while node is not None:
                j += 1
                tags = node.get(_END)
                if tags is not None and self._bounded(text, i, j):
                    best_end, best_tags = j, tags
                if j >= n:
                    break
                node = node.get(text[j])
            if best_tags is None:
                i += 1
                continue
            matches.append(Match(i, best_end, tuple(best_tags)))
            i = best_end
        return matches

    @staticmethod
    def _bounded(text: str, start: int, end: int) -> bool:
        first = _kind(text[start])
        if first and start > 0 and _kind(text[start - 1]) == first:
            return False
        last = _kind(text[end - 1])
        return not (last and end < len(text) and _kind(text[end]) == last)
