"""Normalisation folds the ways one reply can be typed into one form."""
from __future__ import annotations

import pytest

from survey.replies.normalize import MAX_CHARS, normalise, numeral_value


@pytest.mark.parametrize("text, expected", [
    ("１２３", "123"), ("ＴＤ", "td"), ("Very Satisfied!", "very satisfied"), ("③", "3"), ("❼", "7"),
    ("滿意", "满意"), ("態度不好", "态度不好"), ("【1】", "1"), ("1。谢谢", "1 谢谢"), ("1🙂", "1"), ("1🙂👍", "1 赞"), ("👍👍", "赞赞"), ("👎", "差"),
    ("  2\n\t", "2"), ("\x002\x1f", "2"), ("a\ud800b", "a b"), ("3:30", "3:30"), ("3.5", "3.5"),
    ("so-so", "so-so"), ("？？", "??"), ("1、2", "1 2"), ("a__b", "a b"), ("", ""),
])
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_long_text_is_truncated():
    assert len(normalise("满" * (MAX_CHARS * 3))) == MAX_CHARS


@pytest.mark.parametrize("word, value", [
    ("一", 1), ("五", 5), ("两", 2), ("零", 0), ("十", 10), ("拾", 10), ("十二", 12), ("二十", 20),
    ("二十一", 21), ("贰拾壹", 21), ("壹", 1), ("一二", None), ("十十", None), ("零十", None), ("一二三四", None),
])
def test_numeral_value(word, value):
    assert numeral_value(word) == value
