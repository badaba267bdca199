"""End to end over loopback: interactions → the worker → the SMSC simulator's subscribers → dissatisfied
replies → cases → a lead signs in through the sign-in form and resolves two → recovery SMS → "1" and
"2" → one recovered, one reopened → the manager's board shows the recovery rate."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from channels.services import record_interactions, seed_business_types, upsert_outlets
from smpp.simulator import SMSCSimulator, SimulatorConfig
from survey import database
from survey.accounts.models import Role
from survey.accounts.services import create_user
from survey.cases.states import CaseState, RecoveryState
from survey.jobs.build import build_worker
from survey.models import Case, CaseRecovery
from survey.runtime import Runtime
from survey.web import create_app

UNHAPPY = {"+8613900000001", "+8613900000002", "+8613900000003"}
RECOVERS = "+8613900000001"  # answers the recovery SMS with 1; ...0002 answers 2


class Subscribers:
    """Unhappy numbers answer 4 with a reason; the others 1; a recovery SMS gets 1 or 2."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies = 0

    def __call__(self, destination: str, text: str, rng) -> list[str]:
        number = f"+{destination}"
        if "问题已处理" in text:
            reply = "1" if number == RECOVERS else "2 还是没解决"
        elif "回复1非常满意" in text:
            reply = "4 排队太久" if number in UNHAPPY else "1"
        else:
            return []
        with self.lock:
            self.replies += 1
        return [reply]


@pytest.fixture
def world(tmp_path, settings, clock, outlet_rows):
    subscribers = Subscribers()
    simulator = SMSCSimulator(SimulatorConfig(replies=True, reply_delay_s=0, reply_fn=subscribers, seed=3))
    simulator.start()
    runtime = Runtime.build(settings.replace(database_url=f"sqlite:///{tmp_path / 'loop.db'}", smpp_port=simulator.port,
                                             smpp_window=10, smpp_tps=0),
                            clock=clock)
    database.upgrade(runtime.engine)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows))
        create_user(db, "lead", "password123", Role.CHANNEL_LEAD, now=clock.now(), outlet_codes=("S001",))
        create_user(db, "manager", "password123", Role.MANAGER, now=clock.now())
    worker = build_worker(runtime)
    worker.client.start()
    assert worker.client.wait_bound(10)
    app = create_app(runtime=runtime)
    yield runtime, worker, simulator, subscribers, app
    worker.stop()
    simulator.stop()
    runtime.engine.dispose()


def settle(worker, simulator, subscribers, clock, rounds=4):
    for _ in range(rounds):
        worker.run_once(clock.now())
        assert worker.client.wait_idle(60)
        assert simulator.wait_until(
            lambda s: s.stats.mo_sent == subscribers.replies
            and s.stats.deliveries_acked == s.stats.receipts_sent + s.stats.mo_sent, 60)
        worker.record(clock.now())
        clock.advance(seconds=30)


def signed_in(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": "password123", "csrf_token": token})
    assert response.status_code == 302
    return client


def token_on(client, path: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_from_a_dissatisfied_reply_to_the_recovery_rate(world, clock):
    runtime, worker, simulator, subscribers, app = world
    numbers = sorted(UNHAPPY) + [f"+86139000000{n:02d}" for n in range(10, 20)]
    items = [{"source": "crm", "external_id": f"loop-{i}", "msisdn": number, "outlet": "S001" if i < 8 else "S101",
              "business_type": "缴费", "ended_at": (clock.now() - timedelta(minutes=10)).isoformat(),
              "brand": "全球通"} for i, number in enumerate(numbers)]
    with runtime.session_factory.begin() as db:
        assert record_interactions(db, items, now=clock.now(), tz=runtime.settings.tz).created == len(numbers)
    settle(worker, simulator, subscribers, clock)
    with runtime.session_factory() as db:
        cases = {c.msisdn: c for c in db.scalars(select(Case))}
    assert set(cases) == UNHAPPY and all(c.outlet_code == "S001" for c in cases.values())

    lead = signed_in(app, "lead")
    queue = lead.get("/cases/").get_data(as_text=True)
    assert all(f"#{c.id}<" in queue for c in cases.values()) and "139****0001" in queue and "排队太久" in queue
    for number in (RECOVERS, "+8613900000002"):
        case_id = cases[number].id
        token = token_on(lead, f"/cases/{case_id}")
        response = lead.post(f"/cases/{case_id}/resolve", data={
            "root_cause": "queue_capacity", "action": "process_changed", "note": "高峰增开窗口", "csrf_token": token})
        assert response.status_code == 302
    settle(worker, simulator, subscribers, clock)
    recovery_sms = [e for e in simulator.log if "问题已处理" in e.text]
    assert sorted(e.destination for e in recovery_sms) == ["8613900000001", "8613900000002"]  # once each

    with runtime.session_factory() as db:
        states = {c.msisdn: c.state for c in db.scalars(select(Case))}
        checks = {c.msisdn: c.state for c in db.scalars(select(CaseRecovery))}
    assert states == {"+8613900000001": CaseState.RESOLVED, "+8613900000002": CaseState.REOPENED,
                      "+8613900000003": CaseState.OPEN}
    assert checks == {"+8613900000001": RecoveryState.SATISFIED, "+8613900000002": RecoveryState.DISSATISFIED}

    manager = signed_in(app, "manager")
    board = manager.get("/cases/board").get_data(as_text=True)
    assert re.search(r"<b>50\.0%</b>回访满意率<small>1/2</small>", board)
    assert re.search(r"<b>3</b>开单", board) and "窗口/座席不足" in board
