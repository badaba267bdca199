"""The worker: APScheduler jobs around one SMPP client, all state in the database.

Jobs (each opens its own transaction and can be killed at any point):
  evaluate  new interactions → decision, and a session + first question for the surveyed
  dispatch  due outbound rows → SUBMITTING (committed) → the SMPP client
  record    acks queued by the client's I/O thread, then the receipts its store thread stored (a
            receipt that overtook its ack waits); under start() a thread of its own records them
            as they arrive
  replies   stored replies → parsed → answers, follow-ups, opt-outs (and the parts of a multipart
            reply that stopped arriving → an incomplete reply)
  expire    sessions whose reply window (or survey end) has passed
  escalate  closed-loop cases: warnings before the deadline, escalation after it, recovery checks
            settled (cases themselves open with the answers that call for them, in replies)
  heartbeat renew this worker's lease and its claims'; take over the work of workers whose lease
            ran out: record the acks in their journals (when on this host), requeue their claims;
            under start() a thread of its own, every third of the lease

Several workers may share one database (survey.jobs.claims): each claims its rows with row locks,
its messages in flight carry its id and lease, and expire and escalate run in one worker at a time
(a turn in survey.jobs.leases). Each worker journals its acks in a folder of its own,
INSTANCE/journal/<worker id>/; see reclaim() for what becomes of a dead worker's journal.

Replies and receipts are stored by the client's store thread, in batches, before deliver_sm_resp
is written, so an SMSC is told "received" only for what is committed; each part of a multipart
reply is a row of its own until the last one arrives, so a restart between parts loses none. Jobs
share one executor thread: SQLite has one writer at a time anyway, and ordered jobs are easier to
reason about.
"""
from __future__ import annotations

import logging
import queue
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Mapping

from sqlalchemy import select, update

from smpp.ack_journal import AckJournal
from smpp.client import SmppClient
from smpp.config import ClientConfig
from smpp.messages import InboundMessage as SmppInbound, SubmitResult
from smpp.reassembly import Fragment
from smpp.receipts import DeliveryReceipt
from survey.cases.config import CaseLoop
from survey.cases.opening import CaseOpener
from survey.definitions import Survey
from survey.jobs import acks, claims, dispatch, leases, receipts
from survey.jobs.decide import evaluate_pending
from survey.jobs.escalate import escalate_due
from survey.jobs.expire import expire_due
from survey.jobs.fragments import flush_stale_fragments, store_fragment
from survey.jobs.replies import process_received, store_inbound
from survey.jobs.steps import Context
from survey.models import InboundMessage
from survey.policy import PolicyConfig
from survey.runtime import Runtime
from survey.states import InboundState

log = logging.getLogger(__name__)

RECEIPT_PATIENCE = timedelta(minutes=10)
RECEIPTS_STORED = object()  # queued by the store thread after it commits receipts: wakes the recorder


@dataclass(frozen=True)
class JournalSealed:
    """Queued after every ack written to a journal file that is now sealed: once this event's batch
    is committed, the file holds nothing the database lacks."""

    path: Path


@dataclass
class WorkerCounts:
    """What the worker has done since it started (for logs, tests and the demo)."""

    decisions: Counter = field(default_factory=Counter)
    submitted: int = 0
    replies: Counter = field(default_factory=Counter)
    expired: int = 0
    alerts: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Intervals:
    """Seconds between job runs (record: how often held receipts are offered again when idle)."""

    evaluate: float = 2.0
    dispatch: float = 0.5
    record: float = 0.2
    replies: float = 0.5
    expire: float = 60.0
    escalate: float = 30.0
    heartbeat: float | None = None  # None: a third of the lease


class Worker:
    """Runs the survey engine against one SMSC; run_once() drives every job once (tests, benchmarks)."""

    def __init__(self, runtime: Runtime, *, client_config: ClientConfig, surveys: Mapping[str, Survey],
                 policy: PolicyConfig, batch: int = 500, journal: AckJournal | None = None,
                 client_factory: Callable[..., SmppClient] = SmppClient, cases: CaseLoop | None = None,
                 worker_id: str = "worker", lease: timedelta = timedelta(seconds=60),
                 journal_root: Path | None = None) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.lease = lease
        # Where every worker on this host keeps its journal folder (None: do not look at others').
        self.journal_root = journal_root
        self.cases = cases  # None: no closed-loop cases
        self.ctx = Context(surveys=surveys, config=policy, cases=CaseOpener(cases) if cases is not None else None)
        self.batch = batch
        # Claim no more than about two seconds of sending: a message claimed is SUBMITTING, and one
        # that waits long in the client's queue was checked against quiet hours long ago.
        self.max_backlog = int(2 * client_config.tps) if client_config and client_config.tps else None
        # Parts of a reply wait for their siblings as long as the client would hold them in memory.
        self.fragment_ttl = timedelta(seconds=client_config.reassembly_ttl_s if client_config else 600)
        self.counts = WorkerCounts()
        self.journal = journal
        self._events: queue.SimpleQueue[SubmitResult | JournalSealed | object] = queue.SimpleQueue()
        self.client = client_factory(client_config, on_submitted=self._on_submitted,
                                     on_replies=self._store_replies)
        self._scheduler = None
        self._recorder: threading.Thread | None = None
        self._heartbeat: threading.Thread | None = None
        self._stopping = threading.Event()
        self._carry: list = []
        self._receipts_waiting = True  # stored receipts not matched yet (a restart may have left some)

    def _now(self) -> datetime:
        return self.runtime.clock.now()

    def _on_submitted(self, result: SubmitResult) -> None:
        # On the SMPP I/O thread, as each ack is read: on disk before anything else happens to it.
        if self.journal is not None:
            try:
                sealed = self.journal.append(result)
            except OSError:
                log.exception("ack journal write failed; the ack is still recorded in the database")
            else:
                if sealed is not None:
                    self._events.put(JournalSealed(sealed))
        self._events.put(result)

    def _store_replies(self, items: list[SmppInbound | Fragment | DeliveryReceipt]) -> None:
        # On the SMPP client's store thread, one transaction for all that arrived together; an
        # exception here makes the client ask the SMSC to deliver them again.
        now, region = self._now(), self.runtime.settings.default_region
        delivery = [item for item in items if isinstance(item, DeliveryReceipt)]
        with self.runtime.writing() as db:
            connection = db.connection()
            receipts.store_receipts(connection, delivery, now=now)
            for item in items:
                if isinstance(item, Fragment):
                    store_fragment(connection, item, now=now, region=region)
                elif isinstance(item, SmppInbound):
                    store_inbound(connection, item, now=now, region=region)
        if delivery:
            self._events.put(RECEIPTS_STORED)

    # -- jobs ------------------------------------------------------------------------------------

    def evaluate(self, now: datetime | None = None) -> Counter:
        now = now or self._now()
        with self.runtime.writing() as db:
            counts = evaluate_pending(db, now=now, config=self.ctx.config, surveys=self.ctx.surveys,
                                      limit=self.batch)
        self.counts.decisions.update(counts)
        return counts

    def dispatch(self, now: datetime | None = None) -> int:
        now = now or self._now()
        room = self.batch if self.max_backlog is None else min(self.batch, self.max_backlog - self.client.backlog)
        if room <= 0:
            return 0
        with self.runtime.writing() as db:
            messages = dispatch.claim_due(db, now=now, ctx=self.ctx, limit=room, worker_id=self.worker_id,
                                          lease_until=now + self.lease)
        # Committed as SUBMITTING before the client sees them: a crash now means a resend, never a loss.
        self.client.submit_many(messages)
        self.counts.submitted += len(messages)
        return len(messages)

    def record(self, now: datetime | None = None) -> int:
        """Store acks in arrival order, then match the stored receipts (acks first: a receipt can only
        match a segment whose ack is stored; one that overtook its ack waits for the next run)."""
        now = now or self._now()
        events, self._carry = self._carry, []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        if not events and not self._receipts_waiting:
            return 0
        results = [event for event in events if isinstance(event, SubmitResult)]
        try:
            with self.runtime.writing() as db:
                acks.record_submit_results(db, results, now=now, ctx=self.ctx)
                waiting = receipts.apply_stored_receipts(db, now=now, patience=RECEIPT_PATIENCE)
        except Exception:
            log.exception("recording %d acks and the stored receipts together failed; one at a time", len(results))
            try:
                waiting = self._record_one_by_one(results, now)
            except Exception:
                self._carry = events  # the database itself failed: not lost, the next run records them
                raise
        self._receipts_waiting = waiting > 0
        for event in events:
            if isinstance(event, JournalSealed):
                event.path.unlink(missing_ok=True)
        return len(results)

    def _record_one_by_one(self, results: list[SubmitResult], now: datetime) -> int:
        """Each ack, then each stored receipt, in a transaction of its own; one that fails alone is
        set aside with its reason (on its message, or as an unmatched receipt) instead of holding
        back every ack after it, run after run."""
        for ack in results:
            try:
                with self.runtime.writing() as db:
                    acks.record_submit_results(db, [ack], now=now, ctx=self.ctx)
            except Exception as exc:
                log.exception("ack for message %s part %d set aside", ack.key, ack.segment_index)
                with self.runtime.writing() as db:
                    acks.set_ack_aside(db, ack, f"{type(exc).__name__}: {exc}")
        waiting = 0
        with self.runtime.read_factory() as db:
            receipt_ids = receipts.stored_receipt_ids(db)
        for receipt_id in receipt_ids:
            try:
                with self.runtime.writing() as db:
                    waiting += receipts.apply_stored_receipts(db, now=now, patience=RECEIPT_PATIENCE,
                                                              only=receipt_id)
            except Exception:
                log.exception("receipt %d set aside", receipt_id)
                with self.runtime.writing() as db:
                    receipts.set_receipt_aside(db, receipt_id)
        return waiting

    def has_events(self) -> bool:
        """Whether acks or receipts wait to be recorded."""
        return bool(self._carry) or not self._events.empty() or self._receipts_waiting

    def replies(self, now: datetime | None = None) -> Counter:
        now = now or self._now()
        try:
            with self.runtime.writing() as db:
                flush_stale_fragments(db.connection(), now=now, ttl=self.fragment_ttl)
                counts = process_received(db, now=now, ctx=self.ctx, limit=self.batch)
        except Exception:
            log.exception("a batch of replies failed; handling them one at a time")
            counts = self._replies_one_by_one(now)
        self.counts.replies.update(counts)
        return counts

    def _replies_one_by_one(self, now: datetime) -> Counter:
        """Each reply in its own transaction; one that fails is set aside as ERROR, so a reply the
        code cannot handle does not hold back every reply after it, run after run."""
        counts: Counter = Counter()
        for _ in range(self.batch):
            with self.runtime.read_factory() as db:
                first = db.scalar(select(InboundMessage.id).where(InboundMessage.state == InboundState.RECEIVED)
                                  .order_by(InboundMessage.id).limit(1))
            if first is None:
                break
            try:
                with self.runtime.writing() as db:
                    handled = process_received(db, now=now, ctx=self.ctx, limit=1, only=first)
                if not handled:
                    break  # another worker has it (or its number) now
                counts.update(handled)
            except Exception as exc:
                log.exception("reply %d set aside", first)
                with self.runtime.writing() as db:
                    db.execute(update(InboundMessage).where(InboundMessage.id == first,
                                                            InboundMessage.state == InboundState.RECEIVED).values(
                        state=InboundState.ERROR, error=f"{type(exc).__name__}: {exc}"[:256], processed_at=now))
                counts[InboundState.ERROR.value] += 1
        return counts

    def expire(self, now: datetime | None = None) -> int:
        now = now or self._now()
        with self.runtime.writing() as db:
            # One worker at a time: the others would only find the same sessions locked.
            expired = expire_due(db, now=now, ctx=self.ctx) if self._turn(db, "expire", now) else 0
        self.counts.expired += expired
        return expired

    def escalate(self, now: datetime | None = None) -> Counter:
        if self.cases is None:
            return Counter()
        now = now or self._now()
        with self.runtime.writing() as db:
            # One worker at a time: settling recovery checks locks nothing of its own.
            counts = (escalate_due(db, now=now, loop=self.cases, limit=self.batch)
                      if self._turn(db, "escalate", now) else Counter())
        self.counts.alerts.update(counts)
        return counts

    def _turn(self, db, job: str, now: datetime, *, wait: bool = False) -> bool:
        return leases.take_turn(db, f"job:{job}", holder=self.worker_id, now=now, wait=wait)

    def heartbeat(self, now: datetime | None = None) -> int:
        """Renew this worker's lease and its claims', then take over dead workers' claims; returns
        how many messages were put back to PENDING."""
        now = now or self._now()
        with self.runtime.writing() as db:
            claims.renew(db, self.worker_id, now=now, ttl=self.lease)
        return self.reclaim(now)

    def reclaim(self, now: datetime | None = None, *, wait: bool = False) -> int:
        """Take over the claims of workers whose lease has run out; returns how many messages were put
        back to PENDING.

        Before their messages are requeued, the acks in the journals of dead workers on this host
        are recorded, so a text the SMSC acknowledged to a worker killed before it could commit the
        ack is not sent again. A dead worker on another host leaves its journal there: its messages
        go again once its lease has run out (at-least-once, as for a lost ack), and its journal is
        replayed when a worker on that host starts or reclaims (the acks then find their messages
        taken over and are dropped: the copy sent again has its own ack)."""
        now = now or self._now()
        with self.runtime.writing() as db:
            if not self._turn(db, "reclaim", now, wait=wait):
                return 0
            alive = leases.live_holders(db, leases.WORKER_PREFIX, now=now)
            folders = {f.name for f in self.journal_root.iterdir() if f.is_dir()} if self._has_journals() else set()
            gone = claims.gone_from_this_host((alive | folders) - {self.worker_id})
            replayed = self._replay_dead_journals(db, now, alive=(alive - gone) | {self.worker_id}, gone=gone)
            requeued = claims.requeue(db, now=now, dead=gone)
        for path in replayed:
            path.unlink(missing_ok=True)
            if path.parent != self.journal_root and not any(path.parent.iterdir()):
                path.parent.rmdir()
        if requeued:
            log.warning("%d messages claimed by workers whose lease ran out go again", requeued)
        return requeued

    def _has_journals(self) -> bool:
        return self.journal_root is not None and self.journal_root.is_dir()

    def _replay_dead_journals(self, db, now: datetime, *, alive: set[str], gone: set[str]) -> list[Path]:
        """Record the acks in the journals of this host's dead workers (and in a journal from before
        workers had folders); returns the files replayed, to delete once that is committed."""
        if not self._has_journals():
            return []
        owners: list[tuple[str | None, AckJournal]] = [(None, AckJournal(self.journal_root))]
        owners += [(folder.name, AckJournal(folder)) for folder in sorted(self.journal_root.iterdir())
                   if folder.is_dir() and folder.name not in alive]
        replayed: list[Path] = []
        for owner, journal in owners:
            files = journal.files()
            if not files:
                if owner is not None and not any(journal.directory.iterdir()):
                    journal.directory.rmdir()  # a dead worker's folder, empty: nothing to take over
                continue
            # A worker restarting under this id waits for this lock before it replays its own journal.
            if owner is not None and not leases.take_turn(db, leases.worker_lease(owner), holder=self.worker_id,
                                                          now=now, force=owner in gone):
                continue
            acks.record_submit_results(db, journal.replay(), now=now, ctx=self.ctx, claimed_by=owner)
            if owner is not None:
                leases.release(db, leases.worker_lease(owner), holder=self.worker_id)
            replayed += files
            log.warning("replayed the ack journal of worker %s, whose lease ran out", owner or "(before ids)")
        return replayed

    def run_once(self, now: datetime | None = None) -> None:
        """Every job once, in the order data flows."""
        now = now or self._now()
        self.record(now)
        self.evaluate(now)
        self.replies(now)
        self.expire(now)
        self.escalate(now)
        self.heartbeat(now)
        self.dispatch(now)

    # -- lifecycle -------------------------------------------------------------------------------

    def recover(self) -> int:
        """Take this worker's lease, record the acks its journal holds, then put its own messages whose
        ack was lost (a previous life under the same id) back in the queue, and those of workers whose
        lease ran out (reclaim); returns how many were put back.

        Another live worker's claims are left alone: they are in flight and will be acked."""
        now = self._now()
        with self.runtime.writing() as db:
            # First, so that no other worker takes this id's journal for a dead worker's meanwhile.
            claims.renew(db, self.worker_id, now=now, ttl=self.lease)
        journaled = self.journal.replay() if self.journal is not None else []
        with self.runtime.writing() as db:
            acks.record_submit_results(db, journaled, now=now, ctx=self.ctx, claimed_by=self.worker_id)
            requeued = claims.requeue(db, now=now, worker_id=self.worker_id)
        if self.journal is not None:
            self.journal.clear()
        if requeued:
            log.warning("%d messages claimed before the worker stopped were never acknowledged; they go again "
                        "(a repeat only for those the SMSC had received)", requeued)
        return requeued + self.reclaim(now, wait=True)

    def start(self, intervals: Intervals = Intervals()) -> None:
        """Recover, start the SMPP client and the scheduler; returns at once."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.recover()
        # The SMPP thread waits on the network and must get the interpreter back at once when its
        # data arrives; with the default 5 ms switch interval a busy job thread delays every PDU.
        sys.setswitchinterval(0.0005)
        self.client.start()
        self._stopping.clear()
        self._recorder = threading.Thread(target=self._record_loop, args=(intervals.record,),
                                          name="recorder", daemon=True)
        self._recorder.start()
        # Its own thread, not the scheduler's: a heartbeat waiting behind a long batch (or skipped
        # as late, as the scheduler does) would let the lease run out under a live worker, and the
        # others would send its texts in flight again.
        self._heartbeat = threading.Thread(target=self._heartbeat_loop,
                                           args=(intervals.heartbeat or self.lease.total_seconds() / 3,),
                                           name="heartbeat", daemon=True)
        self._heartbeat.start()
        scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)},
                                        job_defaults={"coalesce": True, "max_instances": 1})
        for name in ("evaluate", "dispatch", "replies", "expire", "escalate"):
            scheduler.add_job(self._guarded(name), "interval", seconds=getattr(intervals, name), id=name)
        from survey.jobs.packs import INTERVAL_S, scheduled  # report packs (#13): built once per period
        scheduler.add_job(scheduled(self.runtime, self._now), "interval", seconds=INTERVAL_S, id="packs")
        # One executor thread, so a job due while another runs waits and a late one is skipped by
        # design; APScheduler would log each skip as a warning.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        scheduler.start()
        self._scheduler = scheduler

    def _guarded(self, name: str) -> Callable[[], None]:
        job = getattr(self, name)

        def run() -> None:
            try:
                job()
            except Exception:  # one bad batch must not stop the service; the rows stay for the next run
                log.exception("job %s failed; will run again", name)

        return run

    def _record_loop(self, idle: float) -> None:
        """Record acks and receipts as they arrive, not on a timer: a message acknowledged by the
        SMSC but not yet recorded looks unsent after a crash and goes again at the next start."""
        record = self._guarded("record")
        while not self._stopping.is_set():
            try:
                self._carry.append(self._events.get(timeout=idle))
            except queue.Empty:
                if not self._receipts_waiting and not self._carry:
                    continue
            record()

    def _heartbeat_loop(self, every: float) -> None:
        heartbeat = self._guarded("heartbeat")
        while not self._stopping.wait(every):
            heartbeat()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.client.stop()  # waits for the acks of what is in flight
        self._stopping.set()
        for thread in (self._recorder, self._heartbeat):
            if thread is not None:
                thread.join()
        self._recorder = self._heartbeat = None
        try:
            self.record()
        except Exception:  # what is not recorded stays in the journal and is replayed at the next start
            log.exception("recording the last acks failed")
        if self._carry:
            return  # acks not recorded: the journal keeps them and the claims stay, for the next start
        if self.journal is not None:
            self.journal.clear()  # every ack it holds is committed
        try:
            with self.runtime.writing() as db:
                # Nothing is in flight any more: what has no ack goes again, at once, from any worker.
                claims.requeue(db, now=self._now(), worker_id=self.worker_id)
                leases.release(db, leases.worker_lease(self.worker_id), holder=self.worker_id)
        except Exception:  # the claims run out with the lease instead
            log.exception("releasing this worker's claims failed")
