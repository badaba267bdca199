"""Simulated subscribers: who answers a survey SMS, how, and with what words.

A reply function has the shape ``(destination, mt_text, rng) -> list[str]``: the texts the
subscriber sends back (empty when they ignore the message). `ReplyMix` draws a kind of reply
from configurable weights; its texts are the kinds real subscribers send (full-width digits,
verbal answers in Chinese, a score with a reason, long complaints that need several SMS, opt-outs).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Mapping

ReplyFn = Callable[[str, str, random.Random], list[str]]


class ReplyKind(StrEnum):
    """What a simulated subscriber does with a survey question."""

    DIGIT = "digit"
    FULLWIDTH_DIGIT = "fullwidth_digit"
    VERBAL = "verbal"
    SCORE_WITH_REASON = "score_with_reason"
    LONG_COMPLAINT = "long_complaint"
    OPT_OUT = "opt_out"
    SILENT = "silent"


DEFAULT_WEIGHTS: Mapping[ReplyKind, float] = {
    ReplyKind.DIGIT: 45, ReplyKind.FULLWIDTH_DIGIT: 8, ReplyKind.VERBAL: 15,
    ReplyKind.SCORE_WITH_REASON: 10, ReplyKind.LONG_COMPLAINT: 4, ReplyKind.OPT_OUT: 3,
    ReplyKind.SILENT: 15,
}

# Scores skew to the top, as real satisfaction surveys do (1 is best on the csat scale).
_SCORE_WEIGHTS = (55, 25, 10, 6, 4)
_FULLWIDTH = "１２３４５６７８９０"
_VERBAL = {1: ["非常满意", "很满意，谢谢", "满意满意"], 2: ["满意", "还行挺好的"],
           3: ["一般", "一般般吧"], 4: ["不满意", "不太满意"], 5: ["非常不满意", "太差了"]}
_REASONS = ["排队太久", "等了很久", "服务态度差", "业务不熟练", "问题没解决", "收费不清楚",
            "网络信号不好", "系统老是卡"]
_REASON_REPLIES = ["1", "2", "1 2", "等待时间太长了", "营业员态度不好", "4", "6 办了两次都没办好",
                   "资费太贵，套餐说明不清楚"]
# A text that asks for an answer: "回复1…", "请回复0-10分", or the reasons question.
_ASKS = re.compile(r"回复\s*[0-9０-９]|原因")
_OPT_OUTS = ["TD", "退订", "td", "0000"]
_COMPLAINT = (
    "我上午十点到营业厅办理补换卡业务，取号以后前面只有六个人，结果足足等了一个多小时才轮到我，"
    "中间好几个窗口都没有人办理业务，工作人员在聊天。轮到我以后又说系统故障要重新填写资料，"
    "来回折腾了两次，最后还多收了我十块钱的费用，问了也没有人能解释清楚。希望你们认真改进服务，"
    "不然我真的要考虑换运营商了。"
)


@dataclass(frozen=True)
class ReplyMix:
    """A weighted mix of reply kinds; call it as a reply function."""

    weights: Mapping[ReplyKind, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __call__(self, destination: str, mt_text: str, rng: random.Random) -> list[str]:
        """Replies of one subscriber to one survey message (thanks and confirmations get none)."""
        if not _ASKS.search(mt_text):
            return []
        if "原因" in mt_text:  # the follow-up question asks why: answer with reason codes or words
            return [] if rng.random() < 0.1 else [rng.choice(_REASON_REPLIES)]
        kinds = list(self.weights)
        kind = rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
        return reply_of_kind(kind, rng)


def reply_of_kind(kind: ReplyKind, rng: random.Random) -> list[str]:
    """One subscriber's replies of the given kind."""
    score = rng.choices(range(1, 6), weights=_SCORE_WEIGHTS)[0]
    if kind == ReplyKind.DIGIT:
        return [str(score)]
    if kind == ReplyKind.FULLWIDTH_DIGIT:
        return [_FULLWIDTH[score - 1]]
    if kind == ReplyKind.VERBAL:
        return [rng.choice(_VERBAL[score])]
    if kind == ReplyKind.SCORE_WITH_REASON:
        low = rng.choice([3, 4, 5])
        return [f"{rng.choice([str(low), _FULLWIDTH[low - 1]])} {rng.choice(_REASONS)}"]
    if kind == ReplyKind.LONG_COMPLAINT:
        return ["5 " + _COMPLAINT]
    if kind == ReplyKind.OPT_OUT:
        return [rng.choice(_OPT_OUTS)]
    return []


def always(text: str) -> ReplyFn:
    """A reply function that answers every message with the same text (for tests)."""
    return lambda destination, mt_text, rng: [text]


# -- planned answers (the demo's subscribers answer what their planted experience says) -----------

# Words a subscriber uses for each reason, and the option digit of the csat reason question.
REASON_WORDS: Mapping[str, tuple[str, ...]] = {
    "wait_time": ("排队太久", "等了很久", "等待时间太长了"),
    "attitude": ("服务态度差", "营业员态度不好"),
    "competence": ("业务不熟练", "工作人员不懂业务"),
    "unresolved": ("问题没解决", "问题还是没有解决"),
    "billing": ("收费不清楚", "资费太贵，套餐说明不清楚", "乱扣费"),
    "network": ("网络信号不好",),
    "system": ("系统老是卡",),
    "other": ("其他",),
}
REASON_DIGITS: Mapping[str, str] = {"wait_time": "1", "attitude": "2", "competence": "3",
                                    "unresolved": "4", "billing": "5", "other": "6"}


def score_text(score: int, rng: random.Random) -> str:
    """A csat score (1 best .. 5) as a subscriber writes it: a digit, a full-width digit or words."""
    kind = rng.choices(("digit", "fullwidth", "verbal"), weights=(65, 12, 23))[0]
    if kind == "digit":
        return str(score)
    if kind == "fullwidth":
        return _FULLWIDTH[score - 1]
    return rng.choice(_VERBAL[score])


def score_with_reason_text(score: int, reasons: tuple[str, ...], rng: random.Random) -> str:
    """A low score and the reason in one SMS, e.g. "４ 排队太久"."""
    words = "，".join(rng.choice(REASON_WORDS.get(code, REASON_WORDS["other"])) for code in reasons)
    return f"{rng.choice([str(score), _FULLWIDTH[score - 1]])} {words}"


def reason_text(reasons: tuple[str, ...], rng: random.Random) -> str:
    """An answer to the reason question: option digits when every reason has one, else words."""
    if rng.random() < 0.6 and all(code in REASON_DIGITS for code in reasons):
        return " ".join(REASON_DIGITS[code] for code in reasons)
    return "，".join(rng.choice(REASON_WORDS.get(code, REASON_WORDS["other"])) for code in reasons)
