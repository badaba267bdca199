"""The channel taxonomy: where an interaction happened, and what kind of outlet served it."""
from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    STORE = "store"
    HOTLINE = "hotline"
    WEB = "web"
    KIOSK = "kiosk"
    ACCOUNT_MANAGER = "account_manager"


class OutletKind(StrEnum):
    """Store outlets are own, partner or agent outlets; other channels have virtual outlets."""

    OWN = "own"
    PARTNER = "partner"
    AGENT = "agent"
    VIRTUAL = "virtual"


# Chinese names people put in CSV files, next to the codes.
CHANNEL_ALIASES: dict[str, Channel] = {
    "门店": Channel.STORE, "营业厅": Channel.STORE, "实体渠道": Channel.STORE,
    "热线": Channel.HOTLINE, "客服热线": Channel.HOTLINE, "10086": Channel.HOTLINE,
    "网厅": Channel.WEB, "app": Channel.WEB, "网上营业厅": Channel.WEB, "掌厅": Channel.WEB,
    "自助终端": Channel.KIOSK, "自助": Channel.KIOSK,
    "客户经理": Channel.ACCOUNT_MANAGER, "account manager": Channel.ACCOUNT_MANAGER,
}

OUTLET_KIND_ALIASES: dict[str, OutletKind] = {
    "自营": OutletKind.OWN, "自有": OutletKind.OWN, "合作": OutletKind.PARTNER,
    "合作厅": OutletKind.PARTNER, "代理": OutletKind.AGENT, "代理点": OutletKind.AGENT,
    "虚拟": OutletKind.VIRTUAL,
}

# Business types seeded by `touchpoint db upgrade`; more can be added as rows.
DEFAULT_BUSINESS_TYPES: tuple[tuple[str, str], ...] = (
    ("payment", "缴费"),
    ("new_account", "开户"),
    ("plan_change", "套餐变更"),
    ("broadband", "宽带"),
    ("sim_replacement", "补换卡"),
    ("complaint", "投诉"),
    ("inquiry", "咨询"),
    ("device", "终端购机"),
    ("number_transfer", "携号转网"),
    ("cancellation", "销户"),
)


def parse_channel(text: str) -> Channel | None:
    """A channel from its code or a common Chinese name; None when unknown."""
    key = text.strip().lower()
    try:
        return Channel(key)
    except ValueError:
        return CHANNEL_ALIASES.get(key)


def parse_outlet_kind(text: str) -> OutletKind | None:
    """An outlet kind from its code or a common Chinese name; None when unknown."""
    key = text.strip().lower()
    try:
        return OutletKind(key)
    except ValueError:
        return OUTLET_KIND_ALIASES.get(key)
