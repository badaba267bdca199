"""The Chinese names the pages and downloads give to codes: channels, groupings, scores, reasons."""
from __future__ import annotations

import re

from analysis.frame import MISSING
from survey.policy import Decision
from survey.reasons import REASON_LABELS

CHANNEL_LABELS = {
    "store": "营业厅", "hotline": "客服热线", "web": "网厅/App", "kiosk": "自助终端", "account_manager": "客户经理",
}
DIMENSION_LABELS = {
    "channel": "渠道", "region": "区域", "city": "城市", "outlet": "网点", "business_type": "业务类型",
    "tier": "客户等级", "brand": "品牌",
}
# The reference CSAT survey's options (survey/definitions/csat-default.yaml): 1 is best.
SCORE_LABELS = {1: "非常满意", 2: "满意", 3: "一般", 4: "不满意", 5: "非常不满意"}
DECISION_LABELS = {
    Decision.SURVEYED: "已发起调查", Decision.NOT_MOBILE: "非手机号", Decision.OPTED_OUT: "已退订",
    Decision.DO_NOT_SURVEY: "免打扰名单", Decision.STALE: "已超时", Decision.FATIGUE: "近期已调查（疲劳度）",
    Decision.OPEN_SESSION: "有进行中的调查", Decision.SAMPLED_OUT: "未抽中", Decision.TARGET_MET: "网点已达目标",
    Decision.NO_SURVEY: "无适用问卷",
}


def channel_label(code: str) -> str:
    """营业厅 for store; an unknown code as it is."""
    return CHANNEL_LABELS.get(code, code)


def reason_label(code: str) -> str:
    """等待时间长 for wait_time; an unknown code as it is."""
    return REASON_LABELS.get(code, code)


def value_label(dimension: str, value: str) -> str:
    """A group's value as shown: channels by their Chinese name, a missing tag as 未填."""
    if value == MISSING:
        return "未填"
    return channel_label(value) if dimension == "channel" else value


def group_label(by: tuple[str, ...], key: tuple[str, ...]) -> str:
    """A group's printable name, e.g. "营业厅 / 宽带"; "全部" for the whole selection."""
    return " / ".join(value_label(d, v) for d, v in zip(by, key)) if key else "全部"


# analysis.shortboard names a roll-up "city 上海: 3 small groups" (+ " (still under 30 answers)").
POOLED = re.compile(r"^(?P<level>\w+) (?P<parent>.+): (?P<count>\d+) small groups(?P<short> \(still under (?P<min>\d+) answers\))?$")


def pooled_label(text: str) -> str:
    """A roll-up of small groups in Chinese, e.g. 上海（3 个回复不足的网点合并）; other text as it is."""
    m = POOLED.match(text)
    if m is None:
        return text
    label = f"{m['parent']}（{m['count']} 个回复不足的分组合并）"
    return label + f"，合并后仍不足 {m['min']} 份" if m["short"] else label
