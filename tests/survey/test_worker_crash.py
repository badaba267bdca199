"""`touchpoint worker` killed with SIGKILL in the middle of a run, then started again.

Nothing may be lost, and nothing sent twice except what SMPP cannot tell apart: a message whose ack
had not been recorded when the worker died (it is still SUBMITTING in the database).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from channels.services import record_interactions, seed_business_types, upsert_outlets
from smpp.simulator import SMSCSimulator, SimulatorConfig
from survey import database
from survey.models import Answer, OutboundMessage, SurveySession
from survey.runtime import Runtime
from survey.settings import load_settings
from survey.states import OutboundState, SessionState

COUNT = 400
QUESTION, THANKS = "回复1", "感谢"


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from survey.cli import main; main()", "worker"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_run_resumes_without_losing_anything(tmp_path, outlet_rows):
    simulator = SMSCSimulator(SimulatorConfig(
        replies=True, reply_delay_s=0, ack_latency_s=0.005, redeliver_delay_s=0.05,
        reply_fn=lambda destination, text, rng: ["1"] if QUESTION in text else [])).start()
    env = {**os.environ, "TOUCHPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'crash.db'}",
           "TOUCHPOINT_INSTANCE_PATH": str(tmp_path), "TOUCHPOINT_SMPP_PORT": str(simulator.port),
           "TOUCHPOINT_SMPP_TPS": "0", "TOUCHPOINT_SEND_DELAY_MINUTES": "0",
           "TOUCHPOINT_QUIET_START": "00:00", "TOUCHPOINT_QUIET_END": "00:00"}
    env.pop("TOUCHPOINT_CONFIG", None)
    runtime = Runtime.build(load_settings(env))
    database.upgrade(runtime.engine)
    now = datetime.now(timezone.utc)  # the worker runs on the real clock
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows))
        record_interactions(db, [{"source": "crm", "external_id": f"k{i}", "msisdn": f"+86139{i:08d}",
                                  "outlet": outlet_rows[i % len(outlet_rows)]["code"],
                                  "ended_at": (now - timedelta(minutes=1)).isoformat()}
                                 for i in range(COUNT)], now=now, tz=runtime.settings.tz)
    worker = start_worker(env)
    try:
        # Kill it while questions, replies and thanks are all on the move.
        assert simulator.wait_until(lambda s: sum(THANKS in e.text for e in s.log) >= COUNT // 4, 60), \
            worker.stderr.read() if worker.poll() is not None else "no progress"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        with runtime.session_factory() as db:
            unrecorded = {(m.msisdn.lstrip("+"), m.text) for m in db.scalars(select(OutboundMessage).where(
                OutboundMessage.state == OutboundState.SUBMITTING))}
        worker = start_worker(env)
        assert simulator.wait_until(lambda s: len({e.destination for e in s.log if THANKS in e.text}) == COUNT,
                                    60), "not every subscriber was thanked after the restart"
    finally:
        worker.send_signal(signal.SIGTERM)  # a graceful stop: it waits for the acks in flight
        worker.wait(60)
        simulator.stop()

    with runtime.session_factory() as db:
        states = Counter(db.scalars(select(SurveySession.state)))
        answers = Counter(db.scalars(select(Answer.value)))
        stuck = db.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.state.in_((OutboundState.PENDING, OutboundState.SUBMITTING))))
    runtime.engine.dispose()
    assert states == {SessionState.COMPLETED: COUNT}
    assert answers == {1: COUNT}  # every reply was stored and understood exactly once
    assert stuck == 0
    sent = Counter((e.destination, e.text) for e in simulator.log)
    assert {d for d, t in sent if QUESTION in t} == {d for d, t in sent if THANKS in t}
    twice = {pair for pair, n in sent.items() if n > 1}
    assert twice <= unrecorded  # only messages whose ack died with the worker went again
    assert all(n <= 2 for n in sent.values())
