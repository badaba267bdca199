"""The planted truth: how satisfied each customer really is, so the analysis has something to find.

Satisfaction is drawn on the logit scale: a base rate, a natural spread between outlets, case mix
(business type, VIPs) and the planted short boards —
  an outlet with long waits (low scores, wait_time reasons),
  a business type with billing complaints (plan changes),
  a region's hotline centre that got worse from the first day of last month,
  an outlet that leaves its cases overdue (the simulated staff never contact its customers).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from channels.taxonomy import Channel
from survey.demo.operator import Operator, Outlet

BASE_LOGIT = 2.2  # about 90% satisfied (top-2-box), as operators' surveys are
OUTLET_SPREAD = 0.35  # sd of an outlet's own effect: outlets differ naturally by several points
BUSINESS_EFFECT = {"payment": 0.4, "inquiry": 0.3, "device": 0.1, "new_account": 0.0, "sim_replacement": -0.1,
                   "broadband": -0.5, "complaint": -1.0, "number_transfer": -0.3, "cancellation": -0.4,
                   "plan_change": 0.0}
VIP_EFFECT = -0.3  # VIPs expect more
# Reasons a dissatisfied customer names, when nothing planted says otherwise.
REASONS = {"wait_time": 18, "attitude": 14, "competence": 14, "unresolved": 20, "billing": 10, "network": 12,
           "system": 7, "other": 5}
PLANTED_EFFECT = -2.3  # a planted short board: from ~90% to ~50% satisfied
BILLING_EFFECT = -1.8
NEGLECTED_EFFECT = -0.9
RESPONSE_RATE = 0.72
OPT_OUT_RATE = 0.01


@dataclass(frozen=True)
class Planted:
    """The short boards planted in the data, by outlet code and business type code."""

    slow_outlet: str
    billing_business: str
    worse_hotline: str
    worse_from: date
    neglected_outlet: str

    def describe(self, outlets: dict[str, Outlet]) -> list[str]:
        """One line per planted short board, for the banner."""
        return [f"排队太久的门店 {outlets[self.slow_outlet].name} ({self.slow_outlet})",
                f"资费投诉多的业务类型 套餐变更 ({self.billing_business})",
                f"{self.worse_from:%Y-%m-%d} 起变差的热线 {outlets[self.worse_hotline].name} ({self.worse_hotline})",
                f"工单总是超时的门店 {outlets[self.neglected_outlet].name} ({self.neglected_outlet})"]


def plant(operator: Operator, worse_from: date) -> Planted:
    """The first city's flagship store waits long; the second city's flagship leaves its cases; the
    second region's hotline centre gets worse from worse_from."""
    stores = [o for o in operator.outlets if o.channel is Channel.STORE]
    hotlines = [o for o in operator.outlets if o.channel is Channel.HOTLINE]
    second_city = next(o for o in stores if o.city != stores[0].city)
    return Planted(slow_outlet=stores[0].code, billing_business="plan_change",
                   worse_hotline=hotlines[1 % len(hotlines)].code, worse_from=worse_from,
                   neglected_outlet=second_city.code)


@dataclass(frozen=True)
class AnswerPlan:
    """What one customer will answer about one interaction (score 1 best .. 5; None: stays silent)."""

    score: int | None
    reasons: tuple[str, ...]
    opt_out: bool
    delay_minutes: float  # how long after the question the answer comes
    reason_in_first: bool  # names the reason with the score, so the reason question is not asked


class Truth:
    """The planted truth and every outlet's own effect; draws a customer's answer."""

    def __init__(self, operator: Operator, planted: Planted, seed: int) -> None:
        self.planted = planted
        rng = random.Random(seed)
        self.outlet_effect = {o.code: rng.gauss(0, OUTLET_SPREAD) for o in operator.outlets}
        self.outlet_effect[planted.slow_outlet] = PLANTED_EFFECT
        self.outlet_effect[planted.neglected_outlet] = NEGLECTED_EFFECT  # enough unhappy customers to call back

    def logit(self, outlet: str, business: str, tier: str, day: date) -> float:
        value = BASE_LOGIT + self.outlet_effect.get(outlet, 0.0) + BUSINESS_EFFECT.get(business, 0.0)
        if tier == "VIP":
            value += VIP_EFFECT
        if business == self.planted.billing_business:
            value += BILLING_EFFECT
        if outlet == self.planted.worse_hotline and day >= self.planted.worse_from:
            value += PLANTED_EFFECT
        return value

    def reasons(self, outlet: str, business: str, day: date, rng: random.Random) -> tuple[str, ...]:
        if outlet == self.planted.slow_outlet and rng.random() < 0.85:
            first = "wait_time"
        elif business == self.planted.billing_business and rng.random() < 0.8:
            first = "billing"
        elif outlet == self.planted.worse_hotline and day >= self.planted.worse_from and rng.random() < 0.7:
            first = rng.choice(("unresolved", "wait_time"))
        else:
            first = rng.choices(list(REASONS), weights=list(REASONS.values()))[0]
        if rng.random() < 0.2:
            second = rng.choices(list(REASONS), weights=list(REASONS.values()))[0]
            if second not in (first, "other") and first != "other":
                return (first, second)
        return (first,)

    def answer(self, outlet: str, business: str, tier: str, day: date, rng: random.Random) -> AnswerPlan:
        """A customer's answer to the survey about this interaction."""
        delay = min(rng.expovariate(1 / 25) + 1, 600)
        if rng.random() < OPT_OUT_RATE:
            return AnswerPlan(None, (), True, delay, False)
        if rng.random() > RESPONSE_RATE:
            return AnswerPlan(None, (), False, delay, False)
        satisfied = rng.random() < 1 / (1 + math.exp(-self.logit(outlet, business, tier, day)))
        if satisfied:
            return AnswerPlan(rng.choices((1, 2), (62, 38))[0], (), False, delay, False)
        score = rng.choices((3, 4, 5), (45, 35, 20))[0]
        reasons = self.reasons(outlet, business, day, rng)
        return AnswerPlan(score, reasons, False, delay, rng.random() < 0.3 and "other" not in reasons)
