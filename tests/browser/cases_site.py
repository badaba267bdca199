"""The closed loop behind a real server, for the browser: a file SQLite database, the SMSC simulator
with subscribers who answer, the real worker bound to it (driven with run_once and the injected
clock, as tests/survey/cases/test_closed_loop_e2e.py drives it), and the app served on loopback.

Additive to tests/browser/site.py (whose seeded site has no SMSC): the same users' passwords, the
outlets of tests/conftest.py, a channel lead of S001 only.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from werkzeug.serving import make_server

from channels.services import record_interactions, seed_business_types, upsert_outlets
from smpp.simulator import SMSCSimulator, SimulatorConfig
from survey import database
from survey.accounts.models import Role
from survey.accounts.services import create_user
from survey.clock import FrozenClock
from survey.jobs.build import build_worker
from survey.jobs.worker import Worker
from survey.runtime import Runtime
from survey.settings import Settings
from survey.web import create_app
from tests.browser.site import PASSWORD
from tests.conftest import OUTLETS

LEAD_OUTLET = "S001"  # the lead's only outlet
OTHER_OUTLET = "S101"  # another city's outlet: its cases are not the lead's
UNHAPPY = ("+8613900000001", "+8613900000002", "+8613900000003")  # dissatisfied customers of S001
UNHAPPY_ELSEWHERE = "+8613900000004"  # a dissatisfied customer of S101
RECOVERS = "+8613900000001"  # answers the recovery SMS with 1
RELAPSES = "+8613900000002"  # answers the recovery SMS with 2
SURVEY_REPLY = "4 排队太久"
RELAPSE_REPLY = "2 还是没解决"


class Subscribers:
    """The simulator's subscribers: the unhappy answer the survey 4 with a reason, the others 1; the
    recovery SMS gets 1 from RECOVERS and 2 from everyone else."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies = 0

    def __call__(self, destination: str, text: str, rng) -> list[str]:
        number = f"+{destination}"
        if "问题已处理" in text:
            reply = "1" if number == RECOVERS else RELAPSE_REPLY
        elif "回复1非常满意" in text:
            reply = SURVEY_REPLY if number in UNHAPPY or number == UNHAPPY_ELSEWHERE else "1"
        else:
            return []
        with self.lock:
            self.replies += 1
        return [reply]


@dataclass(frozen=True)
class LoopSite:
    url: str
    runtime: Runtime
    clock: FrozenClock
    worker: Worker
    simulator: SMSCSimulator
    subscribers: Subscribers

    def push_interactions(self) -> int:
        """Interactions as the CRM pushes them: 8 at the lead's outlet (3 unhappy), 7 at the other (1 unhappy)."""
        numbers = list(UNHAPPY) + [f"+86139000000{n:02d}" for n in range(10, 15)] + [UNHAPPY_ELSEWHERE] + \
            [f"+86139000000{n:02d}" for n in range(20, 26)]
        ended = (self.clock.now() - timedelta(minutes=10)).isoformat()
        items = [{"source": "crm", "external_id": f"browser-loop-{i}", "msisdn": number,
                  "outlet": LEAD_OUTLET if i < 8 else OTHER_OUTLET, "business_type": "缴费", "ended_at": ended,
                  "brand": "全球通"} for i, number in enumerate(numbers)]
        with self.runtime.writing() as db:
            created = record_interactions(db, items, now=self.clock.now(), tz=self.runtime.settings.tz).created
        assert created == len(items)
        return created

    def settle(self, rounds: int = 4) -> None:
        """Run every job until the SMSC's subscribers have answered and their replies are stored;
        the clock moves 30 s a round (time travels, nothing sleeps)."""
        for _ in range(rounds):
            self.worker.run_once(self.clock.now())
            assert self.worker.client.wait_idle(60)
            assert self.simulator.wait_until(
                lambda s: s.stats.mo_sent == self.subscribers.replies
                and s.stats.deliveries_acked == s.stats.receipts_sent + s.stats.mo_sent, 60)
            self.worker.record(self.clock.now())
            self.clock.advance(seconds=30)


@contextmanager
def serving_loop(folder: Path, clock: FrozenClock) -> Iterator[LoopSite]:
    """The simulator, a migrated database with the outlets and users, the worker bound, the app served."""
    with ExitStack() as stack:
        subscribers = Subscribers()
        simulator = SMSCSimulator(SimulatorConfig(replies=True, reply_delay_s=0, reply_fn=subscribers, seed=3))
        simulator.start()
        stack.callback(simulator.stop)
        settings = Settings(instance_path=folder, database_url=f"sqlite:///{folder / 'loop.db'}",
                            timezone="Asia/Shanghai", secret_key="browser-tests-only",
                            smpp_port=simulator.port, smpp_window=10, smpp_tps=0)
        runtime = Runtime.build(settings, clock=clock)
        stack.callback(runtime.engine.dispose)
        database.upgrade(runtime.engine)
        with runtime.writing() as db:
            seed_business_types(db)
            result = upsert_outlets(db, enumerate(OUTLETS, start=2))
            assert not result.errors, result.errors
            create_user(db, "lead", PASSWORD, Role.CHANNEL_LEAD, now=clock.now(), outlet_codes=(LEAD_OUTLET,))
            create_user(db, "manager", PASSWORD, Role.MANAGER, now=clock.now())
        worker = build_worker(runtime)
        worker.client.start()
        stack.callback(worker.stop)
        assert worker.client.wait_bound(10)
        server = make_server("127.0.0.1", 0, create_app(runtime=runtime), threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="browser-loop-server", daemon=True)
        thread.start()
        stack.callback(thread.join, timeout=10)
        stack.callback(server.shutdown)
        yield LoopSite(f"http://127.0.0.1:{server.server_port}", runtime, clock, worker, simulator, subscribers)
