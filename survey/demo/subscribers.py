"""The demo's subscribers: they answer the simulator's survey texts as their planted experience says,
after a delay counted on the demo's clock, so replies arrive in simulated time.

The simulator calls the instance (its reply function) when a text reaches a phone; it answers
nothing at once but notes what to send and when. `due(now)` hands over the replies whose time has
come; the caller sends them through the simulator, so they reach the worker at the clock's now.
"""
from __future__ import annotations

import heapq
import itertools
import random
import threading
from datetime import datetime, timedelta
from typing import Callable

from smpp.subscribers import reason_text, score_text, score_with_reason_text
from survey.demo.truth import AnswerPlan

OPT_OUTS = ("TD", "退订", "td", "0000")


def _key(number: str) -> str:
    """The national number (the last 11 digits), whatever prefix the text was addressed with."""
    return number[-11:]


class PlannedSubscribers:
    """A reply function for SMSCSimulator whose replies wait for the demo's clock."""

    def __init__(self, now: Callable[[], datetime], *, seed: int = 3, recovered_share: float = 0.8) -> None:
        self.now = now
        self.minute = timedelta(minutes=1)  # one planned minute; live mode shrinks it
        self.recovered_share = recovered_share
        self._plans: dict[str, AnswerPlan] = {}
        self._answering: dict[str, AnswerPlan] = {}  # the plan of the survey a number is answering
        self._queue: list[tuple[datetime, int, str, str]] = []
        self._seq = itertools.count()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def expect(self, msisdn: str, plan: AnswerPlan) -> None:
        """The customer behind msisdn just had an interaction; this is what they will answer."""
        with self._lock:
            self._plans[_key(msisdn)] = plan

    def __call__(self, destination: str, text: str, rng: random.Random) -> list[str]:
        number = _key(destination)
        with self._lock:
            for reply, minutes in self._replies(number, text):
                due = self.now() + self.minute * minutes
                heapq.heappush(self._queue, (due, next(self._seq), destination, reply))
        return []

    def _replies(self, number: str, text: str) -> list[tuple[str, float]]:
        rng = self._rng
        if "是否满意" in text:  # the recovery check after a resolved case
            return [("1" if rng.random() < self.recovered_share else rng.choice(("2", "还是没解决")),
                     rng.uniform(2, 60))]
        if "原因" in text:  # the reason question
            plan = self._answering.get(number)
            if plan is None or not plan.reasons or rng.random() < 0.1:
                return []
            return [(reason_text(plan.reasons, rng), rng.uniform(1, 8))]
        if "抱歉" in text:  # a re-ask after an unclear reply
            plan = self._answering.get(number)
            return [(str(plan.score), rng.uniform(1, 5))] if plan and plan.score else []
        if "回复1" not in text:  # thanks, confirmations: nothing to answer
            return []
        plan = self._plans.pop(number, None)
        if plan is None:  # a survey about an interaction this run did not make (a reused database)
            plan = AnswerPlan(rng.choices((1, 2, 3, 4, None), (50, 25, 7, 5, 13))[0], ("other",), False,
                              rng.uniform(1, 30), False)
        self._answering[number] = plan
        if plan.opt_out:
            return [(rng.choice(OPT_OUTS), plan.delay_minutes)]
        if plan.score is None:
            return []
        if plan.reason_in_first:
            return [(score_with_reason_text(plan.score, plan.reasons, rng), plan.delay_minutes)]
        return [(score_text(plan.score, rng), plan.delay_minutes)]

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(number, text) of every reply whose time has come, in time order."""
        out = []
        with self._lock:
            while self._queue and self._queue[0][0] <= now:
                _, _, number, text = heapq.heappop(self._queue)
                out.append((number, text))
        return out

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)
