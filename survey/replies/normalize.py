"""Text normalisation for SMS replies: one canonical form that lexicons and numbers are matched on.

normalise() keeps the string's length meaningful for matching only, never for display: the parser
keeps the verbatim text separately.
"""
from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import yaml

LEXICON_DIR = Path(__file__).with_name("data")
MAX_CHARS = 2000  # longer replies are truncated: nobody answers a survey in an essay

# Chinese numerals, including the financial forms (壹贰叁) people use to look formal.
NUMERAL_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "六": 6, "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "叁": 3, "肆": 4,
    "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9,
}
NUMERAL_TENS = {"十", "拾"}
NUMERAL_CHARS = "".join(NUMERAL_DIGITS) + "".join(NUMERAL_TENS)

# Circled digits that NFKC leaves alone (dingbats); ①..⑳ are already folded by NFKC.
_DINGBAT_DIGITS = {
    **{0x2776 + i: str(i + 1) for i in range(9)}, 0x277F: "10",
    **{0x2780 + i: str(i + 1) for i in range(9)}, 0x2789: "10",
    **{0x278A + i: str(i + 1) for i in range(9)}, 0x2793: "10",
    **{0x24F5 + i: str(i + 1) for i in range(9)}, 0x24FE: "10",
    0x24EA: "0", 0x24FF: "0", 0x3007: "零", 0x1F51F: "10",
}
# Emoji that answer: a thumbs up is praise, a thumbs down a complaint (other emoji are decoration).
_SYMBOL_WORDS = {0x1F44D: "赞", 0x1F44E: "差"}

# Characters kept besides letters, digits and CJK: '?' marks questions; ':' '.' '/' '-' join
# digits into times, decimals and dates, which must not be read as answers.
# Lone surrogates are not \w either, so they go with the emoji.
_DROP = re.compile(r"[^\w?:./\-]+|_+")


@cache
def _translation() -> dict[int, str]:
    data = yaml.safe_load((LEXICON_DIR / "traditional.yaml").read_text(encoding="utf-8"))
    table: dict[int, str] = {**_DINGBAT_DIGITS, **_SYMBOL_WORDS}
    for pair in str(data["pairs"]).split():
        if len(pair) != 2:
            raise ValueError(f"{LEXICON_DIR / 'traditional.yaml'}: pairs: {pair!r} is not two characters")
        table[ord(pair[0])] = pair[1]
    # Punctuation that NFKC keeps as CJK forms, and the enumeration comma people put between options.
    for char in "。，、；：！…—～·「」『』【】〔〕《》〈〉“”‘’":
        table[ord(char)] = " "
    return table


def normalise(text: str) -> str:
    """Fold width, case, traditional characters, circled digits; drop emoji, controls and punctuation."""
    text = text[:MAX_CHARS]
    if text.isalnum() and text.isascii():  # the common reply: "1", "10", "td"
        return text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = text.translate(_translation())
    text = _DROP.sub(" ", text.lower())
    return " ".join(text.split())


def numeral_value(word: str) -> int | None:
    """Value of a Chinese numeral word up to 99 (五, 十, 十二, 二十, 贰拾壹), or None if malformed."""
    if len(word) == 1:
        if word in NUMERAL_TENS:
            return 10
        return NUMERAL_DIGITS.get(word)
    if len(word) > 3:
        return None
    head, *rest = word
    if head in NUMERAL_TENS:  # 十二
        tail = "".join(rest)
        return 10 + NUMERAL_DIGITS[tail] if len(tail) == 1 and tail in NUMERAL_DIGITS else None
    if head in NUMERAL_DIGITS and rest and rest[0] in NUMERAL_TENS and NUMERAL_DIGITS[head] > 0:
        tail = "".join(rest[1:])
        if not tail:
            return NUMERAL_DIGITS[head] * 10
        if tail in NUMERAL_DIGITS and NUMERAL_DIGITS[tail] > 0:
            return NUMERAL_DIGITS[head] * 10 + NUMERAL_DIGITS[tail]
    return None
