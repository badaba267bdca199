"""Realistic answers, deterministic: interactions at the outlets already stored, surveys sent, and
the answers people give (mostly satisfied, a few outlets clearly worse, reasons and verbatim
Chinese replies, customer tiers and brands), as the engine would have stored them.

Used by the browser tests' server and the read API's tests; `OUTLETS` is a network for a page that
looks like a real one (the API tests use tests/conftest.py's five outlets instead).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from channels.models import BusinessType, City, Interaction, Outlet, Region
from survey.models import Answer, SurveySession
from survey.states import SessionState


def _outlets() -> list[dict[str, str]]:
    cities = [("华东", "上海", ["徐汇", "浦东", "静安", "闵行", "黄浦", "杨浦"]),
              ("华东", "杭州", ["西湖", "滨江", "拱墅", "上城"]),
              ("华南", "广州", ["天河", "越秀", "海珠", "番禺", "白云"]),
              ("华南", "深圳", ["南山", "福田", "罗湖", "宝安"])]
    out = []
    for region, city, districts in cities:
        prefix = {"上海": "SH", "杭州": "HZ", "广州": "GZ", "深圳": "SZ"}[city]
        for i, district in enumerate(districts, start=1):
            kind, label = [("own", "营业厅"), ("partner", "合作厅"), ("agent", "代理点")][i % 3]
            out.append({"code": f"{prefix}{i:02d}", "name": f"{city}{district}{label}", "channel": "store",
                        "kind": kind, "region": region, "city": city})
    out += [{"code": "HL01", "name": "10086热线上海中心", "channel": "hotline", "kind": "virtual", "region": "华东",
             "city": "上海"},
            {"code": "HL02", "name": "10086热线广州中心", "channel": "hotline", "kind": "virtual", "region": "华南",
             "city": "广州"},
            {"code": "WEB1", "name": "网上营业厅", "channel": "web", "kind": "virtual", "region": "华东", "city": "上海"},
            {"code": "APP1", "name": "手机营业厅APP", "channel": "web", "kind": "virtual", "region": "华东",
             "city": "上海"}]
    return out


OUTLETS = _outlets()
# Outlets whose customers are clearly less satisfied: the short boards a report should find.
WEAK = {"GZ03": 0.62, "SH05": 0.70, "HL02": 0.78, "S002": 0.55}
USUAL = 0.9
SHANGHAI = timedelta(hours=8)  # outlets open 09:00-20:00 local time; customers answer soon after
TIERS = [("普通", 0.55), ("银卡", 0.25), ("金卡", 0.15), ("钻石", 0.05)]
BRANDS = [("全球通", 0.3), ("动感地带", 0.4), ("神州行", 0.3)]
BUSINESS = [("payment", 0.3), ("plan_change", 0.2), ("broadband", 0.15), ("new_account", 0.1),
            ("sim_replacement", 0.1), ("complaint", 0.05), ("inquiry", 0.1)]
REPLIES = {
    1: ["1", "１", "非常满意", "1 非常满意，谢谢", "满意满意"],
    2: ["2", "满意", "２", "还行，满意"],
    3: ["3", "一般", "3 一般般"],
    4: ["4", "不满意", "4 不满意"],
    5: ["5", "非常不满意", "5 太差了"],
}
REASONS = [
    ("wait_time", ["排队太久了", "等了一个多小时", "取号后等太久"]),
    ("attitude", ["营业员态度很差", "服务态度冷淡，不耐烦"]),
    ("competence", ["业务不熟练，办了三次才好", "工作人员不会操作"]),
    ("unresolved", ["问题没有解决", "宽带还是不通"]),
    ("billing", ["乱扣费", "套餐资费说不清楚"]),
    ("network", ["信号太差"]),
]


@dataclass(frozen=True)
class Seeded:
    interactions: int
    sent: int
    answers: int


def _pick(rng: random.Random, weighted):
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _opening_hours(now: datetime, days_ago: int, share: float) -> datetime:
    """A time between 09:00 and 20:00 Shanghai time `days_ago` days before now, and before now."""
    local_midnight = datetime.combine((now + SHANGHAI).date(), datetime.min.time(), now.tzinfo) - SHANGHAI
    ended = local_midnight - timedelta(days=days_ago) + timedelta(hours=9 + 11 * share)
    return ended if ended < now - timedelta(hours=2) else ended - timedelta(days=1)


def seed_answers(db: Session, *, now: datetime, interactions: int = 600, days: int = 270, seed: int = 7,
                 weak: dict[str, float] | None = None) -> Seeded:
    """Interactions over the last `days` at every stored outlet, 90% surveyed, 65% of those answered.

    Hotline interactions are half NPS surveys. Deterministic for a given seed and set of outlets.
    """
    rng = random.Random(seed)
    weak = WEAK if weak is None else weak
    rows = db.execute(select(Outlet.id, Outlet.code, Outlet.channel, City.name, Region.name)
                      .join(City, City.id == Outlet.city_id).join(Region, Region.id == City.region_id)
                      .order_by(Outlet.code)).all()
    business = {code: (id_, name) for id_, code, name in
                db.execute(select(BusinessType.id, BusinessType.code, BusinessType.name))}
    plans = []
    for i in range(interactions):
        outlet_id, code, channel, city, region = rows[rng.randrange(len(rows))]
        ended = _opening_hours(now, rng.randrange(days), rng.random())
        plans.append(dict(
            i=i, outlet_id=outlet_id, code=code, channel=str(channel), city=city, region=region,
            business=_pick(rng, BUSINESS), tier=_pick(rng, TIERS), brand=_pick(rng, BRANDS), ended=ended,
            msisdn=f"+86139{rng.randrange(10**8):08d}", sent=rng.random() < 0.9, answered=rng.random() < 0.65,
            nps=str(channel) == "hotline" and rng.random() < 0.5, u=rng.random(), v=rng.random(), w=rng.random(),
        ))
    ids = db.scalars(insert(Interaction).returning(Interaction.id, sort_by_parameter_order=True), [
        dict(source="seed", external_id=f"seed-{seed}-{p['i']}", channel=p["channel"], outlet_id=p["outlet_id"],
             business_type_id=business[p["business"]][0], msisdn=p["msisdn"], ended_at=p["ended"],
             staff_id=None, attributes={"tier": p["tier"], "brand": p["brand"]}, received_at=p["ended"],
             evaluated_at=p["ended"], decision="surveyed" if p["sent"] else "sampled_out")
        for p in plans]).all()
    surveyed = [(p, id_) for p, id_ in zip(plans, ids) if p["sent"]]
    session_ids = db.scalars(insert(SurveySession).returning(SurveySession.id, sort_by_parameter_order=True), [
        dict(interaction_id=id_, msisdn=p["msisdn"], survey="nps-default" if p["nps"] else "csat-default",
             state=SessionState.COMPLETED if p["answered"] else SessionState.EXPIRED, question=None, reasks=0,
             scheduled_for=p["ended"] + timedelta(minutes=5), sent_at=p["ended"] + timedelta(minutes=5),
             last_reply_at=None, expires_at=p["ended"] + timedelta(hours=24, minutes=5), ended_at=None,
             segments_sent=2, created_at=p["ended"])
        for p, id_ in surveyed]).all()
    answers = []
    for (p, _), session_id in zip(surveyed, session_ids):
        if not p["answered"]:
            continue
        answered = p["ended"] + timedelta(minutes=5 + int(p["w"] * 90))
        common = dict(session_id=session_id, inbound_id=None, answered_at=min(answered, now),
                      response_seconds=int(p["w"] * 5400), msisdn=p["msisdn"], channel=p["channel"],
                      outlet_code=p["code"], region=p["region"], city=p["city"],
                      business_type=business[p["business"]][1],  # the engine tags answers with the name
                      attributes={"tier": p["tier"], "brand": p["brand"]})
        satisfied_share = weak.get(p["code"], USUAL)
        if p["nps"]:
            score = 9 + int(p["v"] * 2) if p["u"] < satisfied_share else int(p["v"] * 9)
            answers.append(dict(survey="nps-default", question="recommend", value=score, reasons=[],
                                text=str(score), **common))
            continue
        value = (1 if p["v"] < 0.7 else 2) if p["u"] < satisfied_share else 3 + int(p["v"] * 3)
        text = REPLIES[value][int(p["w"] * len(REPLIES[value]))]
        answers.append(dict(survey="csat-default", question="satisfaction", value=value, reasons=[], text=text,
                            **common))
        if value >= 3:
            code, words = REASONS[int(p["v"] * 97) % len(REASONS)]
            answers.append(dict(survey="csat-default", question="reason", value=None, reasons=[code],
                                text=words[int(p["w"] * 31) % len(words)], **common))
    if answers:
        db.execute(insert(Answer), answers)
    db.flush()
    return Seeded(len(plans), len(surveyed), sum(1 for a in answers if a["question"] != "reason"))
