"""Several workers on one database: claims never overlap, a dead worker's claims come back by lease
expiry (or at once when its process is known gone), a starting worker leaves a live one's claims
alone, and a job that must run once runs once. The clock is injected; nothing sleeps."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from channels.models import Interaction
from channels.services import record_interactions
from smpp.ack_journal import AckJournal
from smpp.messages import SubmitResult
from survey.jobs import claims, dispatch, leases
from survey.jobs.decide import evaluate_pending
from survey.jobs.replies import _claim as claim_replies
from survey.jobs.receipts import apply_stored_receipts
from survey.models import InboundMessage, InboundReceipt, OutboundMessage, SurveySession
from survey.settings import host_worker_prefix
from survey.states import InboundState, MessagePurpose, OutboundState, ReceiptState
from tests.survey.jobs.conftest import LEASE, make_worker


def postgres_only(runtime):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("holding a transaction open while another claims needs row locks (PostgreSQL)")


def add_messages(runtime, count: int) -> None:
    """count due texts tied to no session (thanks-like: quiet hours do not hold them)."""
    now = runtime.clock.now()
    with runtime.writing() as db:
        db.execute(insert(OutboundMessage), [
            {"msisdn": f"+86139{i:08d}", "text": "感谢您的评价", "purpose": MessagePurpose.THANKS,
             "state": OutboundState.PENDING, "due_at": now - timedelta(seconds=1), "attempts": 0, "segments": 0,
             "ref": 0, "created_at": now} for i in range(count)])


def add_interactions(runtime, numbers: list[str]) -> None:
    now = runtime.clock.now()
    with runtime.writing() as db:
        result = record_interactions(db, [
            {"source": "crm", "external_id": f"i{i}", "msisdn": number, "outlet": "S001",
             "ended_at": (now - timedelta(minutes=10)).isoformat()} for i, number in enumerate(numbers)],
            now=now, tz=runtime.settings.tz)
    assert result.created == len(numbers)


def states(runtime) -> Counter:
    with runtime.session_factory() as db:
        return Counter((m.state, m.claimed_by) for m in db.scalars(select(OutboundMessage)))


def test_workers_claiming_at_once_never_claim_one_message_twice(shared):
    add_messages(shared, 300)
    workers = [make_worker(shared, f"w{i}") for i in range(3)]
    claimed: dict[str, list[str]] = {}
    start = threading.Barrier(len(workers))

    def claim_all(worker) -> None:
        start.wait()
        mine = claimed.setdefault(worker.worker_id, [])
        while True:
            with shared.writing() as db:
                batch = dispatch.claim_due(db, now=shared.clock.now(), ctx=worker.ctx, limit=7,
                                           worker_id=worker.worker_id, lease_until=shared.clock.now() + LEASE)
            if not batch:
                return
            mine.extend(m.key for m in batch)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [key for keys in claimed.values() for key in keys]
    assert len(every) == len(set(every)) == 300
    # Each row names the worker that handed it to its client.
    assert states(shared) == Counter({(OutboundState.SUBMITTING, w): len(keys) for w, keys in claimed.items()})


def test_a_claim_in_an_open_transaction_is_skipped_not_waited_for(shared):
    postgres_only(shared)
    add_messages(shared, 10)
    first, second = make_worker(shared, "a"), make_worker(shared, "b")
    now = shared.clock.now()
    with shared.writing() as db_a:
        held = dispatch.claim_due(db_a, now=now, ctx=first.ctx, limit=4, worker_id="a", lease_until=now + LEASE)
        with shared.writing() as db_b:  # while a's transaction is still open
            taken = dispatch.claim_due(db_b, now=now, ctx=second.ctx, limit=100, worker_id="b",
                                       lease_until=now + LEASE)
    assert len(held) == 4 and len(taken) == 6
    assert not {m.key for m in held} & {m.key for m in taken}


def test_two_workers_evaluating_one_number_open_one_session(shared):
    postgres_only(shared)
    number = "+8613900000001"
    add_interactions(shared, [number, number])
    worker = make_worker(shared, "a")
    now, outcome = shared.clock.now(), {}
    with shared.writing() as db_a:
        first = evaluate_pending(db_a, now=now, config=worker.ctx.config, surveys=worker.ctx.surveys, limit=1)

        def second() -> None:  # waits for the number's lock, held by a until it commits
            with shared.writing() as db_b:
                outcome.update(evaluate_pending(db_b, now=now, config=worker.ctx.config,
                                                surveys=worker.ctx.surveys, limit=5))

        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)
        assert other.is_alive(), "the second worker must wait for the number, not decide beside the first"
    other.join(30)
    assert [d.value for d in first] == ["surveyed"]
    assert [d.value for d in outcome] in (["fatigue"], ["open_session"])  # it saw the first's session
    with shared.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(SurveySession)) == 1
        assert db.scalar(select(func.count()).select_from(Interaction).where(Interaction.decision.is_(None))) == 0


def test_a_numbers_replies_are_handled_by_one_worker_in_order(shared):
    postgres_only(shared)
    now = shared.clock.now()
    with shared.writing() as db:
        db.execute(insert(InboundMessage), [
            {"msisdn": msisdn, "destination": "10655", "text": text, "received_at": now,
             "state": InboundState.RECEIVED} for msisdn, text in
            (("+8613900000001", "4"), ("+8613900000001", "排队太久"), ("+8613900000002", "1"))])
    with shared.writing() as db_a:
        (first,) = claim_replies(db_a, 1)
        with shared.writing() as db_b:
            # b may not take the number's second reply while a handles its first, nor before it.
            assert [m.text for m in claim_replies(db_b, 10)] == ["1"]
    assert first.text == "4"
    with shared.writing() as db:
        assert [m.text for m in claim_replies(db, 10)] == ["4", "排队太久", "1"]


def test_a_dead_workers_claims_come_back_when_its_lease_runs_out(shared, clock):
    add_messages(shared, 5)
    dead, survivor = make_worker(shared, "a"), make_worker(shared, "b")
    dead.recover()
    dead.run_once()
    assert len(dead.client.sent) == 5  # then it is killed: nothing acked, nothing renewed
    survivor.recover()
    assert states(shared) == Counter({(OutboundState.SUBMITTING, "a"): 5})
    clock.advance(LEASE - timedelta(seconds=1))
    survivor.run_once()
    assert survivor.client.sent == [] and states(shared) == Counter({(OutboundState.SUBMITTING, "a"): 5})
    clock.advance(seconds=1)
    survivor.run_once()
    assert sorted(m.key for m in survivor.client.sent) == sorted(m.key for m in dead.client.sent)
    assert states(shared) == Counter({(OutboundState.SUBMITTING, "b"): 5})


def test_a_live_worker_keeps_its_claims_past_one_lease_by_renewing_them(shared, clock):
    add_messages(shared, 3)
    slow, other = make_worker(shared, "a"), make_worker(shared, "b")
    slow.run_once()  # its SMSC is slow: no ack for minutes
    for _ in range(5):
        clock.advance(LEASE / 2)
        slow.heartbeat()
        other.run_once()
    assert other.client.sent == []
    assert states(shared) == Counter({(OutboundState.SUBMITTING, "a"): 3})


def test_a_start_requeues_its_own_claims_and_leaves_a_live_workers_alone(shared, clock):
    add_messages(shared, 6)
    live, previous = make_worker(shared, "a", batch=4), make_worker(shared, "b", batch=2)
    live.run_once()
    previous.run_once()  # "b" is killed here; it restarts under the same id
    restarted = make_worker(shared, "b")
    assert restarted.recover() == 2
    assert states(shared) == Counter({(OutboundState.SUBMITTING, "a"): 4, (OutboundState.PENDING, None): 2})
    restarted.run_once()
    assert sorted(m.key for m in restarted.client.sent) == sorted(m.key for m in previous.client.sent)


def test_a_graceful_stop_hands_unacknowledged_claims_back_at_once(shared):
    add_messages(shared, 2)
    worker = make_worker(shared, "a")
    worker.run_once()
    worker.stop()
    assert states(shared) == Counter({(OutboundState.PENDING, None): 2})
    with shared.session_factory() as db:
        assert leases.live_holders(db, leases.WORKER_PREFIX, now=shared.clock.now()) == set()


def test_a_dead_workers_journal_on_this_host_is_recorded_before_its_claims_go_again(shared, clock, tmp_path):
    add_messages(shared, 2)
    root = tmp_path / "journal"
    dead = make_worker(shared, "a", journal=AckJournal(root / "a"), journal_root=root)
    dead.run_once()
    acked, lost = dead.client.unacked
    dead.client.unacked = [acked]
    dead.client.ack_all()  # journaled on the I/O thread; killed before the recorder committed it
    survivor = make_worker(shared, "b", journal=AckJournal(root / "b"), journal_root=root)
    survivor.recover()
    clock.advance(LEASE)
    survivor.run_once()
    assert [m.key for m in survivor.client.sent] == [lost.key]
    with shared.session_factory() as db:
        assert db.get(OutboundMessage, int(acked.key)).state is OutboundState.ACKED
    assert not (root / "a").exists()


def test_a_journal_replayed_only_acks_messages_still_its_workers(shared):
    add_messages(shared, 1)
    worker = make_worker(shared, "b")
    worker.run_once()
    (message,) = worker.client.sent
    with shared.writing() as db:  # "a" acked it before dying; "b" has since taken it over and resent it
        from survey.jobs.acks import record_submit_results
        record_submit_results(db, [SubmitResult(message.key, 1, 1, "A1", 0, False)], now=shared.clock.now(),
                              ctx=worker.ctx, claimed_by="a")
    assert states(shared) == Counter({(OutboundState.SUBMITTING, "b"): 1})


def test_a_worker_of_this_host_whose_process_ended_is_dead_at_once():
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    ids = [f"{host_worker_prefix()}{ended.pid}", f"{host_worker_prefix()}{os.getpid()}",
           f"otherhost-{ended.pid}", "worker-1"]
    assert claims.gone_from_this_host(ids) == {ids[0]}


def test_a_run_once_job_runs_once_under_two_workers(shared):
    now, day = shared.clock.now(), timedelta(days=1)
    with shared.writing() as db:
        assert leases.take_turn(db, "packs:daily", holder="a", now=now, every=day)
    with shared.writing() as db:
        assert not leases.take_turn(db, "packs:daily", holder="b", now=now + timedelta(hours=23), every=day)
    with shared.writing() as db:
        assert leases.take_turn(db, "packs:daily", holder="b", now=now + day, every=day)


def test_a_turn_held_by_a_running_job_is_refused_and_a_crashed_one_is_due_again(shared):
    postgres_only(shared)
    now, day = shared.clock.now(), timedelta(days=1)
    with shared.writing() as db_a:
        assert leases.take_turn(db_a, "packs:daily", holder="a", now=now, every=day)
        with shared.writing() as db_b:
            assert not leases.take_turn(db_b, "packs:daily", holder="b", now=now + 2 * day, every=day)
        db_a.rollback()  # a dies mid-job: its turn was never committed
    with shared.writing() as db:
        assert leases.take_turn(db, "packs:daily", holder="b", now=now, every=day)


def test_expiry_under_two_workers_closes_each_session_once(shared, clock):
    add_interactions(shared, [f"+86139000000{i:02d}" for i in range(20)])
    first, second = make_worker(shared, "a"), make_worker(shared, "b")
    first.run_once()
    first.client.ack_all()
    first.record()
    clock.advance(hours=25)
    both = []
    threads = [threading.Thread(target=lambda w=w: both.append(w.expire())) for w in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(both) == 20
    with shared.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.state == OutboundState.PENDING)) == 0


def test_a_receipt_one_worker_is_matching_is_skipped_by_another(shared):
    postgres_only(shared)
    now = shared.clock.now()
    with shared.writing() as db:
        db.execute(insert(InboundReceipt), [{"smsc_id": "2A", "status": "DELIVERED", "received_at": now,
                                             "state": ReceiptState.RECEIVED}])
    patience = timedelta(minutes=10)
    with shared.writing() as db_a:
        assert apply_stored_receipts(db_a, now=now, patience=patience) == 1  # its ack has not come yet
        with shared.writing() as db_b:
            assert apply_stored_receipts(db_b, now=now, patience=patience) == 0


def test_setting_a_reply_aside_one_by_one_leaves_another_workers_reply_alone(shared):
    postgres_only(shared)
    now = shared.clock.now()
    with shared.writing() as db:
        db.execute(insert(InboundMessage), [{"msisdn": "+8613900000001", "destination": "10655", "text": "1",
                                             "received_at": now, "state": InboundState.RECEIVED}])
    worker = make_worker(shared, "b")
    with shared.writing() as db_a:
        assert len(claim_replies(db_a, 10)) == 1  # a is handling it
        assert worker._replies_one_by_one(now) == Counter()
    with shared.session_factory() as db:
        assert db.scalar(select(InboundMessage.state)) is InboundState.RECEIVED


def test_renewing_claims_skips_one_being_acked_instead_of_waiting_for_it(shared, clock):
    postgres_only(shared)
    add_messages(shared, 3)
    worker = make_worker(shared, "a")
    worker.run_once()
    acking = int(worker.client.sent[0].key)
    later = clock.advance(seconds=30)
    with shared.writing() as recorder:  # the recorder holds one of them while it records its ack
        recorder.execute(select(OutboundMessage).where(OutboundMessage.id == acking).with_for_update())
        with shared.writing() as db:
            claims.renew(db, "a", now=later, ttl=LEASE)
    with shared.session_factory() as db:
        leases_until = dict(db.execute(select(OutboundMessage.id, OutboundMessage.lease_until)).all())
    assert leases_until.pop(acking) < later + LEASE
    assert set(leases_until.values()) == {later + LEASE}
