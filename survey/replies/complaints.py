"""What a reply complains about: reason codes from phrases, topics with evaluators, and stories.

A reason phrase counts unless praise follows it ("态度很好", "网速还可以") or, for phrases that are
complaints only when they happen, a negator precedes it ("不用排队", "不贵"). A topic ("信号",
"套餐") is a complaint when an evaluator follows it in the same clause ("信号不好", "套餐太贵"),
else a weak hint. Story patterns find reasons told as what happened ("说好回电话，到现在也没人打来"),
and some override the phrases inside them ("还是没信号" after a repair is unresolved).
Strong findings win; weak ones count only when nothing strong is found.
"""
from __future__ import annotations

from bisect import bisect_left

from survey.replies.lexicon import Cat, Lexicon
from survey.replies.phrases import Match
from survey.replies.verbal import GAP_CHARS, VerbalHit

_MAX_BETWEEN = 8
_NOT_AFTER_PRAISE = frozenset("几多久像在不少点一两")
# A degree word right before a topic makes it praise unless an evaluator follows: "很专业", "挺耐心".
_PRAISING_DEGREE = ("非常", "十分", "特别", "相当", "比较", "很", "挺", "蛮", "超", "好")
_SHORTEST_STORY = 4  # characters; shorter replies are phrases, not stories


def _close(norm: str, end: int, start: int) -> bool:
    """True when the next phrase, at start, is still in the clause of the one ending at end, a few
    characters on, with no negation between ("宽带晚上特别慢", "信号在家里不好")."""
    if not 0 <= start - end <= _MAX_BETWEEN:
        return False
    between = norm[end:start]
    return " " not in between and "不" not in between and "没" not in between


def _praises(norm: str, match: Match) -> bool:
    """True for praise that is not the start of something else ("好几十", "快一个小时")."""
    return Cat.PRAISE in match.categories and Cat.EVAL not in match.categories and (
        match.end == len(norm) or norm[match.end] not in _NOT_AFTER_PRAISE)


def _negated(norm: str, start: int, lex: Lexicon) -> bool:
    """True when a negator ends right before position start (gap characters allowed between)."""
    end = start
    while end > 0 and norm[end - 1] in GAP_CHARS and norm[end - 1] != " ":
        end -= 1
    return norm.endswith(lex.negators, 0, end)


def read_complaints(norm: str, matches: list[Match], hits: list[VerbalHit], lex: Lexicon) -> tuple[str, ...]:
    """Reason codes a normalised reply names, strongest evidence first (unordered codes, as a tuple)."""
    strong: set[str] = set()
    weak: set[str] = set()
    absorbed = _stories(norm, lex, strong, weak) if len(norm) >= _SHORTEST_STORY else ()
    praised_clauses = {norm.count(" ", 0, m.start) for m in matches if _praises(norm, m)}
    positive_starts = sorted(hit.start for hit in hits if hit.level > 0)
    used: set[int] = set()  # evaluators and praise already read with the phrase before them
    count = len(matches)
    for index, match in enumerate(matches):
        if index in used:
            continue
        categories = match.categories
        if Cat.REASON not in categories and Cat.TOPIC not in categories:
            continue
        following = matches[index + 1] if index + 1 < count else None
        if following is not None and not _close(norm, match.end, following.start):
            following = None
        if following is not None and _praises(norm, following):
            used.add(index + 1)
            continue  # "态度很好": praise
        if positive_starts and _followed_by(norm, match.end, positive_starts):
            continue  # "态度很满意"
        if absorbed and any(start <= match.start < end and code in codes
                            for start, end, codes in absorbed for code in _codes(match)):
            continue
        for tag in match.tags:
            if tag[0] == Cat.REASON:
                _, code, is_strong, negatable = tag
                if negatable and _negated(norm, match.start, lex):
                    continue
                (strong if is_strong else weak).add(code)
            elif tag[0] == Cat.TOPIC:
                code = tag[1]
                if following is not None and Cat.EVAL in following.categories:
                    if not _names_strong_reason(following):
                        used.add(index + 1)  # its own reading ("慢": waiting) gives way to the topic's
                        strong.add(code)
                        continue
                # A topic alone is a hint, unless its clause praises ("5G网速很快") or a degree word
                # makes it praise ("很专业").
                if norm.endswith(_PRAISING_DEGREE, 0, match.start) or norm.count(" ", 0, match.start) in praised_clauses:
                    continue
                weak.add(code)
    return tuple(strong or weak)


def _followed_by(norm: str, end: int, starts: list[int]) -> bool:
    """True when one of the sorted starts comes right after position end, gap characters allowed
    between (as verbal.adjacent): a bisection, so a long reply costs no phrases x hits."""
    reach = end
    while reach < len(norm) and norm[reach] in GAP_CHARS:
        reach += 1
    index = bisect_left(starts, end)
    return index < len(starts) and starts[index] <= reach


def _codes(match: Match) -> list[str]:
    return [tag[1] for tag in match.tags if tag[0] == Cat.REASON or tag[0] == Cat.TOPIC]


def _names_strong_reason(match: Match) -> bool:
    return any(tag[0] == Cat.REASON and tag[2] for tag in match.tags)


def _stories(norm: str, lex: Lexicon, strong: set[str], weak: set[str]) -> list[tuple[int, int, frozenset[str]]]:
    """Apply the story patterns; returns the spans whose phrases they override."""
    found = []
    for pattern in lex.patterns:
        hit = pattern.regex.search(norm)
        if hit is not None:
            found.append((pattern, hit.start(), hit.end()))
    if not found:
        return []
    absorbed: list[tuple[int, int, frozenset[str]]] = []
    for pattern, start, end in found:
        if pattern.absorbs:
            clause_end = norm.find(" ", end)
            absorbed.append((start, len(norm) if clause_end < 0 else clause_end, pattern.absorbs))
    for pattern, start, _ in found:
        # One story overrides another's reading of its own span ("说好上午来装机，等到晚上都没来").
        if not any(s <= start < e and pattern.reason in codes for s, e, codes in absorbed):
            (strong if pattern.strong else weak).add(pattern.reason)
    return absorbed
