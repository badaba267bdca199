"""Interactions as the operator's systems report them: by the hour of a working day, over the
outlets by their traffic, each with the answer its customer will give (the planted truth)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Iterator

from channels.taxonomy import Channel
from survey.demo.operator import Operator
from survey.demo.truth import AnswerPlan, Truth

# Share of a day's interactions ending in each local hour (stores and the hotline are busiest
# late morning and afternoon; nothing is surveyed in quiet hours, so the backfill's day is 08-21).
HOURS = {8: 3, 9: 8, 10: 10, 11: 10, 12: 7, 13: 8, 14: 10, 15: 10, 16: 9, 17: 8, 18: 7, 19: 6, 20: 4}
# Business types by channel (code, weight): what customers come for.
BUSINESS = {
    Channel.STORE: (("payment", 14), ("new_account", 10), ("plan_change", 14), ("broadband", 10),
                    ("sim_replacement", 12), ("complaint", 4), ("inquiry", 10), ("device", 10),
                    ("number_transfer", 3), ("cancellation", 3)),
    Channel.HOTLINE: (("inquiry", 30), ("plan_change", 16), ("broadband", 16), ("complaint", 14), ("payment", 10),
                      ("cancellation", 4)),
    Channel.WEB: (("payment", 40), ("plan_change", 20), ("inquiry", 20), ("device", 10), ("broadband", 10)),
    Channel.KIOSK: (("payment", 60), ("sim_replacement", 25), ("inquiry", 15)),
    Channel.ACCOUNT_MANAGER: (("plan_change", 30), ("broadband", 25), ("new_account", 20), ("complaint", 10),
                              ("inquiry", 15)),
}


@dataclass(frozen=True)
class Planned:
    """An interaction for the ingest API and what its customer will answer."""

    item: dict[str, str]
    plan: AnswerPlan


class Traffic:
    """Draws interactions over the operator's outlets and customers."""

    def __init__(self, operator: Operator, truth: Truth, *, tz: tzinfo, seed: int, source: str = "crm") -> None:
        self.operator, self.truth, self.tz, self.source = operator, truth, tz, source
        self.rng = random.Random(seed)
        self._outlets = list(operator.outlets)
        self._weights = [o.weight for o in operator.outlets]
        self._serial = 0

    def day_counts(self, day: date, per_day: int) -> dict[int, int]:
        """Interactions ending in each local hour of a day (weekends a little quieter)."""
        total = per_day * (0.8 if day.weekday() >= 5 else 1.0)
        weight = sum(HOURS.values())
        return {hour: int(self.rng.random() + total * share / weight) for hour, share in HOURS.items()}

    def between(self, start: datetime, end: datetime, count: int) -> Iterator[Planned]:
        """count interactions ending between start and end (aware datetimes)."""
        span = (end - start).total_seconds()
        for _ in range(count):
            ended = start + timedelta(seconds=self.rng.uniform(0, span))
            yield self.one(ended)

    def one(self, ended: datetime) -> Planned:
        """One interaction that ended at `ended`, and its customer's answer."""
        rng = self.rng
        outlet = rng.choices(self._outlets, self._weights)[0]
        customer = rng.choice(self.operator.customers)
        codes, weights = zip(*BUSINESS[outlet.channel])
        business = rng.choices(codes, weights)[0]
        local = ended.astimezone(self.tz)
        self._serial += 1
        item = {"source": self.source, "external_id": f"{self.source}-{local:%Y%m%d%H%M%S}-{self._serial:07d}",
                "msisdn": customer.msisdn, "outlet": outlet.code, "business_type": business,
                "ended_at": local.strftime("%Y-%m-%d %H:%M:%S"), "staff_id": f"E{rng.randrange(1000, 9999)}",
                "tier": customer.tier, "brand": customer.brand}
        return Planned(item, self.truth.answer(outlet.code, business, customer.tier, local.date(), rng))


def local_hour(day: date, hour: int, tz: tzinfo) -> datetime:
    """The aware datetime of a local hour."""
    return datetime.combine(day, time(hour), tz)
