"""The simulated operator: regions, cities, outlets of all five channels with their traffic, the
subscribers and the demo's sign-ins — data first, generated from a seed so every run is the same."""
from __future__ import annotations

import random
from dataclasses import dataclass

from channels.synthetic import msisdn
from channels.taxonomy import Channel, OutletKind
from survey.accounts.models import Role

# 3 regions x 4 cities; the first city of a region hosts its hotline centre and web/app teams.
REGIONS: dict[str, tuple[str, ...]] = {
    "华东": ("上海", "杭州", "南京", "苏州"),
    "华南": ("广州", "深圳", "东莞", "佛山"),
    "西南": ("成都", "重庆", "昆明", "贵阳"),
}
DISTRICTS = ("人民路", "解放路", "中山路", "建设路", "新华路", "和平路", "滨江", "高新区", "火车站", "大学城",
             "万达广场", "东站", "西湖", "南湖", "北城", "开发区", "体育中心", "机场", "老城", "新区")
# A city's stores: the mix of own, partner and agent stores (share of stores_per_city).
STORE_KINDS = ((OutletKind.OWN, "营业厅", 0.4), (OutletKind.PARTNER, "合作营业厅", 0.3), (OutletKind.AGENT, "代理点", 0.3))
# Share of all interactions each channel takes (stores share theirs by a random weight each).
CHANNEL_SHARE = {Channel.STORE: 0.50, Channel.HOTLINE: 0.26, Channel.WEB: 0.12, Channel.KIOSK: 0.06,
                 Channel.ACCOUNT_MANAGER: 0.06}
# Customers: tier (VIP or 普通) and brand, as CRM sends them.
BRANDS = (("全球通", 0.25), ("动感地带", 0.30), ("神州行", 0.45))
VIP_SHARE = 0.08
FLAGSHIP_WEIGHT = 6.0  # a city's flagship store serves about six ordinary stores' customers

DEMO_PASSWORD = "touchpoint-demo"


@dataclass(frozen=True)
class Outlet:
    """An outlet as the CSV importer takes it, with the share of the operator's traffic it gets."""

    code: str
    name: str
    channel: Channel
    kind: OutletKind
    region: str
    city: str
    weight: float

    def row(self) -> dict[str, str]:
        """The outlet as a row of the outlets CSV."""
        return {"code": self.code, "name": self.name, "channel": self.channel.value, "kind": self.kind.value,
                "region": self.region, "city": self.city}


@dataclass(frozen=True)
class Customer:
    """A subscriber and the attributes CRM sends with each interaction."""

    msisdn: str
    tier: str
    brand: str


@dataclass(frozen=True)
class DemoUser:
    """A demo sign-in; outlets None for everything, else the codes a channel lead looks after."""

    username: str
    role: Role
    outlets: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Operator:
    outlets: tuple[Outlet, ...]
    customers: tuple[Customer, ...]
    users: tuple[DemoUser, ...]

    def by_code(self) -> dict[str, Outlet]:
        return {o.code: o for o in self.outlets}


def build_outlets(stores_per_city: int, rng: random.Random) -> list[Outlet]:
    """Stores of each kind and an account-manager team per city, two kiosks per city, a hotline
    centre, a web and an app outlet per region; traffic weights with a natural spread."""
    raw: list[tuple[Outlet, float]] = []
    for r, (region, cities) in enumerate(REGIONS.items()):
        for c, city in enumerate(cities):
            n = 0
            for kind, label, share in STORE_KINDS:
                for _ in range(max(1, round(stores_per_city * share))):
                    n += 1
                    weight = rng.lognormvariate(0, 0.5)
                    if n == 1:  # each city's flagship store: its busiest
                        label_n, weight = "旗舰营业厅", FLAGSHIP_WEIGHT
                    else:
                        label_n = f"{DISTRICTS[(n - 2) % len(DISTRICTS)]}{label}"
                    raw.append((Outlet(f"S{r}{c}{n:03d}", f"{city}{label_n}", Channel.STORE, kind, region,
                                       city, 0), weight))
            for k in range(2):
                raw.append((Outlet(f"K{r}{c}{k + 1:02d}", f"{city}{DISTRICTS[k]}自助终端", Channel.KIOSK,
                                   OutletKind.VIRTUAL, region, city, 0), rng.lognormvariate(0, 0.3)))
            raw.append((Outlet(f"AM{r}{c}", f"{city}政企客户经理团队", Channel.ACCOUNT_MANAGER, OutletKind.VIRTUAL,
                               region, city, 0), rng.lognormvariate(0, 0.3)))
        capital = cities[0]
        raw.append((Outlet(f"HL{r}", f"{region}10086热线中心（{capital}）", Channel.HOTLINE, OutletKind.VIRTUAL,
                           region, capital, 0), 1.0))
        raw.append((Outlet(f"WB{r}", f"{region}网上营业厅", Channel.WEB, OutletKind.VIRTUAL, region, capital, 0), 1.0))
        raw.append((Outlet(f"AP{r}", f"{region}手机营业厅App", Channel.WEB, OutletKind.VIRTUAL, region, capital, 0),
                    1.6))
    totals: dict[Channel, float] = {}
    for outlet, w in raw:
        totals[outlet.channel] = totals.get(outlet.channel, 0.0) + w
    return [Outlet(o.code, o.name, o.channel, o.kind, o.region, o.city, CHANNEL_SHARE[o.channel] * w / totals[o.channel])
            for o, w in raw]


def build_customers(count: int, rng: random.Random) -> list[Customer]:
    """Distinct mobile numbers with a tier and a brand."""
    seen: set[str] = set()
    customers = []
    names, weights = zip(*BRANDS)
    while len(customers) < count:
        number = msisdn(rng)
        if number in seen:
            continue
        seen.add(number)
        tier = "VIP" if rng.random() < VIP_SHARE else "普通"
        brand = "全球通" if tier == "VIP" and rng.random() < 0.7 else rng.choices(names, weights)[0]
        customers.append(Customer(number, tier, brand))
    return customers


def build_users(outlets: list[Outlet]) -> list[DemoUser]:
    """An admin, a manager and two channel leads: the first region's stores, and the remote channels."""
    first_region = next(iter(REGIONS))
    stores = tuple(o.code for o in outlets if o.channel is Channel.STORE and o.region == first_region)
    remote = tuple(o.code for o in outlets if o.channel in (Channel.HOTLINE, Channel.WEB))
    return [
        DemoUser("admin", Role.ADMIN, (), "管理员：用户、路由、审计"),
        DemoUser("manager", Role.MANAGER, (), "品质管理部经理：全部渠道"),
        DemoUser("lead", Role.CHANNEL_LEAD, stores, f"渠道负责人：{first_region}的 {len(stores)} 家门店"),
        DemoUser("hotline", Role.CHANNEL_LEAD, remote, f"渠道负责人：热线与网厅/App（{len(remote)} 个）"),
    ]


def build_operator(*, stores_per_city: int, subscribers: int, seed: int) -> Operator:
    """The whole simulated operator from its size and a seed."""
    rng = random.Random(seed)
    outlets = build_outlets(stores_per_city, rng)
    return Operator(tuple(outlets), tuple(build_customers(subscribers, rng)), tuple(build_users(outlets)))
