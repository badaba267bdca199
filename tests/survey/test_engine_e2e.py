"""End to end over loopback: 1,000 interactions → worker → SMSC simulator → replies → answers.

Subscribers reply by the last digit of their number, so every count is known in advance and the
totals must reconcile exactly.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from channels.models import Interaction, Subscriber
from channels.services import record_interactions, seed_business_types, upsert_outlets
from smpp.simulator import SMSCSimulator, SimulatorConfig
from survey import database
from survey.jobs.build import build_worker
from survey.models import Answer, SurveySession
from survey.runtime import Runtime
from survey.states import SessionState

# last digit → what that subscriber does with the first question
SCRIPT = {
    "0": "silent", "1": "1", "2": "非常满意", "3": "4 排队太久", "4": "4 then 2", "5": "TD",
    "6": "你们是谁 then 2", "7": "3 then silent", "8": "２", "9": "1",
}
FINAL = {"silent": SessionState.EXPIRED, "TD": SessionState.OPTED_OUT, "3 then silent": SessionState.EXPIRED}
ANSWERS = {"silent": 0, "TD": 0, "4 then 2": 2, "3 then silent": 1}


class Subscribers:
    """The simulator's reply function: replies to questions only, never to thanks or confirmations."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies = 0

    def __call__(self, destination: str, text: str, rng) -> list[str]:
        plan = SCRIPT[destination[-1]]
        if "抱歉" in text or "原因" in text:  # a re-ask or the reason question
            reply = plan.split(" then ")[1] if " then " in plan else ""
        elif "回复1" in text:  # the satisfaction question
            reply = plan.split(" then ")[0]
        else:
            reply = ""
        if reply in ("", "silent"):
            return []
        with self.lock:
            self.replies += 1
        return [reply]


@pytest.fixture
def world(tmp_path, settings, clock, outlet_rows):
    subscribers = Subscribers()
    simulator = SMSCSimulator(SimulatorConfig(replies=True, reply_delay_s=0, reply_fn=subscribers, seed=3))
    simulator.start()
    runtime = Runtime.build(settings.replace(database_url=f"sqlite:///{tmp_path / 'e2e.db'}",
                                             smpp_port=simulator.port, smpp_window=10, smpp_tps=0), clock=clock)
    database.upgrade(runtime.engine)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows))
    worker = build_worker(runtime)
    worker.client.start()
    assert worker.client.wait_bound(10)
    yield runtime, worker, simulator, subscribers
    worker.stop()
    simulator.stop()
    runtime.engine.dispose()


def settle(worker, simulator, subscribers, clock, rounds=8):
    """Run the jobs until every submit is acked and every reply is stored, a few times over."""
    for _ in range(rounds):
        worker.run_once(clock.now())
        assert worker.client.wait_idle(60)
        assert simulator.wait_until(
            lambda s: s.stats.mo_sent == subscribers.replies
            and s.stats.deliveries_acked == s.stats.receipts_sent + s.stats.mo_sent, 60)
        worker.record(clock.now())
        clock.advance(seconds=30)


def test_thousand_interactions_reconcile_exactly(world, clock, outlet_rows):
    runtime, worker, simulator, subscribers = world
    rng = random.Random(5)
    numbers = [f"+86138{n:08d}" for n in rng.sample(range(10**8), 900)]
    items = []
    for i in range(1000):
        msisdn = numbers[i % 900]  # 100 numbers come twice: the second is fatigue
        ended = clock.now() - timedelta(minutes=10)
        if i % 97 == 0:
            ended = clock.now() - timedelta(hours=30)  # too old to survey: stale
        items.append({"source": "crm", "external_id": f"e{i}", "msisdn": msisdn,
                      "outlet": outlet_rows[i % len(outlet_rows)]["code"], "business_type": "缴费",
                      "ended_at": ended.isoformat(), "tier": "普通"})
    opted_out = numbers[1::50]
    with runtime.session_factory.begin() as db:
        assert record_interactions(db, items, now=clock.now(), tz=runtime.settings.tz).created == 1000
        for msisdn in opted_out:
            db.add(Subscriber(msisdn=msisdn, attributes={}, created_at=clock.now(), do_not_survey=False,
                              opted_out_at=clock.now(), opt_out_source="test"))

    settle(worker, simulator, subscribers, clock)
    clock.advance(hours=25)  # every reply window closes
    settle(worker, simulator, subscribers, clock, rounds=2)

    with runtime.session_factory() as db:
        decisions = Counter(dict(db.execute(select(Interaction.decision, func.count())
                                            .group_by(Interaction.decision)).all()))
        states = Counter(dict(db.execute(select(SurveySession.state, func.count())
                                         .group_by(SurveySession.state)).all()))
        sessions = db.execute(select(SurveySession.id, SurveySession.msisdn, SurveySession.state)).all()
        answers = Counter(dict(db.execute(select(Answer.session_id, func.count()).group_by(Answer.session_id)).all()))

    # Interactions = surveyed + each skip reason.
    assert sum(decisions.values()) == 1000
    assert set(decisions) <= {"surveyed", "fatigue", "stale", "opted_out"}
    assert decisions["stale"] == len([i for i in range(1000) if i % 97 == 0])
    assert decisions["surveyed"] == len(sessions)
    assert decisions["opted_out"] > 0 and decisions["fatigue"] > 0
    # Sessions by final state, and answers per session, as each subscriber's script says.
    expected_states = Counter(FINAL.get(SCRIPT[m[-1]], SessionState.COMPLETED) for _, m, _ in sessions)
    assert states == expected_states
    for session_id, msisdn, state in sessions:
        assert answers.get(session_id, 0) == ANSWERS.get(SCRIPT[msisdn[-1]], 1), (msisdn, state)
    # The SMSC's log: no number got the same text twice within one session.
    texts_per_number = Counter((entry.destination, entry.text) for entry in simulator.log)
    assert max(texts_per_number.values()) == 1
    assert len({e.destination for e in simulator.log}) == len(sessions)
