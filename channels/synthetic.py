"""Synthetic outlets and interactions for the demo and the benchmarks (seeded, reproducible)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, tzinfo
from typing import Iterator

from channels.taxonomy import DEFAULT_BUSINESS_TYPES, Channel, OutletKind

REGIONS = {
    "华东": ("上海", "杭州", "南京", "苏州"),
    "华南": ("广州", "深圳", "南宁"),
    "华北": ("北京", "天津", "石家庄"),
    "西南": ("成都", "重庆", "昆明"),
}
TIERS = ("普通", "银卡", "金卡", "钻石")
BRANDS = ("全球通", "动感地带", "神州行")
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157",
                   "158", "159", "178", "182", "183", "184", "187", "188", "195", "198")


def outlet_rows(stores_per_city: int = 5, seed: int = 7) -> list[dict[str, str]]:
    """Stores of every kind in every city, plus one virtual outlet per other channel and region."""
    rng = random.Random(seed)
    rows = []
    for r, (region, cities) in enumerate(REGIONS.items()):
        for c, city in enumerate(cities):
            for s in range(stores_per_city):
                kind = rng.choices((OutletKind.OWN, OutletKind.PARTNER, OutletKind.AGENT), (5, 3, 2))[0]
                rows.append({"code": f"S{r}{c:02d}{s:03d}", "name": f"{city}{s + 1}号营业厅",
                             "channel": Channel.STORE.value, "kind": kind.value,
                             "region": region, "city": city})
        capital = cities[0]
        for channel, label in ((Channel.HOTLINE, "10086热线中心"), (Channel.WEB, "网上营业厅"),
                               (Channel.KIOSK, "自助终端"), (Channel.ACCOUNT_MANAGER, "客户经理团队")):
            rows.append({"code": f"{channel.value[:2].upper()}{r}", "name": f"{region}{label}",
                         "channel": channel.value, "kind": OutletKind.VIRTUAL.value,
                         "region": region, "city": capital})
    return rows


def msisdn(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def interactions(count: int, outlet_codes: list[str], *, end: datetime, tz: tzinfo,
                 span: timedelta = timedelta(hours=12), seed: int = 11,
                 subscribers: int | None = None, source: str = "demo") -> Iterator[dict[str, str]]:
    """Interactions ended in the span before end, local times as integrators send them."""
    rng = random.Random(seed)
    pool = [msisdn(rng) for _ in range(subscribers)] if subscribers else None
    business = [name for _, name in DEFAULT_BUSINESS_TYPES]
    for i in range(count):
        ended = end - timedelta(seconds=rng.uniform(0, span.total_seconds()))
        yield {
            "source": source,
            "external_id": f"{source}-{seed}-{i:08d}",
            "msisdn": rng.choice(pool) if pool else msisdn(rng),
            "outlet": rng.choice(outlet_codes),
            "business_type": rng.choice(business),
            "ended_at": ended.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            "staff_id": f"E{rng.randrange(1000, 9999)}",
            "tier": rng.choice(TIERS),
            "brand": rng.choice(BRANDS),
        }
