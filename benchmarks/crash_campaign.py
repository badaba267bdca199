"""Crash campaign (issue #11): `touchpoint worker` killed at random moments, restarted, then checked.

Interactions (one number each) are stored, then the real worker process runs against the SMSC
simulator in this process, whose subscribers answer deterministically per number (a hash of the
number and the seed picks a score, a reason, a multipart complaint, an opt-out, an unclear reply or
silence), so what every session must end as is known in advance. The worker is killed (SIGKILL, or
SIGTERM with --signal TERM) at seeded random moments, most when the simulator has received a
seeded share of the expected submits, some in the first second or so after a start, and restarted
each time. After the last restart it drains until nothing changes and is stopped gracefully; then
the database is compared with the expectation and with the simulator's own trace of when each
submit_sm was read and acked and each reply was settled.

A subscriber answers each question once, on the first copy it receives: a copy sent again is what
a crash costs, and is counted as such, not answered again. With --answer-copies it answers every
copy it receives, the same way, as a patient subscriber would: the engine must then not take the
second answer for the next question.

Each figure is printed with its goal: interactions undecided; sessions not as expected (number,
state, answers, or kinds of text received); wrong answers (value, reasons or text not what the
subscriber replied to that question); replies lost (sent by the simulator but not stored, or left
unmatched while a session was waiting); texts sent again, by what the previous copy's
submit_sm_resp had done at the stop of the worker that sent it: (a) not yet written, (b) written at
most 20 ms before, (c) earlier, or no stop in between (the stop is the signal for SIGKILL, the exit
for SIGTERM, after which nothing may be sent twice); questions sent again after the simulator had
the deliver_sm_resp of their reply; messages not in a final state. It runs the code of the working
tree: edits landing mid-run show up as workers that exit by themselves.

Usage: python benchmarks/crash_campaign.py [--interactions 5000] [--kills 20] [--seed 1]
       [--signal KILL|TERM] [--database URL] [--ack-latency-ms 5] [--window 10] [--answer-copies]
       [--verbose] [--keep]
Exits 1 when a goal is missed.
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select  # noqa: E402

from channels.models import Interaction  # noqa: E402
from channels.services import record_interactions, seed_business_types, upsert_outlets  # noqa: E402
from channels.synthetic import outlet_rows  # noqa: E402
from smpp.simulator import SMSCSimulator, SimulatorConfig  # noqa: E402
from smpp.subscribers import ReplyKind as MixKind, reply_of_kind  # noqa: E402
from survey import database  # noqa: E402
from survey.definitions import load_survey  # noqa: E402
from survey.models import Answer, InboundFragment, InboundMessage, OutboundMessage, SurveySession  # noqa: E402
from survey.replies.parser import ReplyKind, parse_reply  # noqa: E402
from survey.runtime import Runtime  # noqa: E402
from survey.settings import load_settings  # noqa: E402
from survey.states import InboundState, OutboundState, SessionState  # noqa: E402

SURVEY = "csat-default"
SATISFACTION, REASON, REASK, THANKS, CONFIRM = "satisfaction", "reason", "reask", "thanks", "optout_confirm"
QUESTIONS = (SATISFACTION, REASON, REASK)
# How each text of the survey is recognised (checked against its definition at start).
MARKERS = {SATISFACTION: "请对", REASON: "不满意原因", REASK: "没看懂", THANKS: "感谢您的评价",
           CONFIRM: "您已退订"}
FINAL = {OutboundState.ACKED, OutboundState.DELIVERED, OutboundState.UNDELIVERED, OutboundState.FAILED,
         OutboundState.CANCELLED}
AFTER_END = "unmatched after the end"  # a reply to a copy that came after its session ended
LATE_ACK_S = 0.020  # band (b): the first copy was acked at most this long before the kill

LONG = reply_of_kind(MixKind.LONG_COMPLAINT, random.Random(0))[0]  # "5 " + a complaint of 3 SMS
COMPLAINT = LONG.split(" ", 1)[1]
# The long complaint's reasons are what the parser reads in it (its accuracy is measured by
# replies-eval, not here): the campaign checks that the engine stores that reading, once, in the
# right session, whatever the kills.
COMPLAINT_REASONS = parse_reply(load_survey(SURVEY).question(REASON), COMPLAINT).reasons
# What the parser must read in each reply the subscribers send: (value, reasons) per question.
READINGS: dict[str, dict[str, tuple[int | None, tuple[str, ...]]]] = {
    SATISFACTION: {"1": (1, ()), "１": (1, ()), "非常满意": (1, ()), "很满意，谢谢": (1, ()), "2": (2, ()),
                   "２": (2, ()), "满意": (2, ()), "3": (3, ()), "一般": (3, ()), "4": (4, ()), "不满意": (4, ()),
                   "5": (5, ()), "非常不满意": (5, ()), "太差了": (5, ()), "4 排队太久": (4, ("wait_time",)),
                   "3 态度差": (3, ("attitude",)), "５ 业务不熟练": (5, ("competence",)),
                   LONG: (5, COMPLAINT_REASONS)},
    REASON: {"1": (None, ("wait_time",)), "2": (None, ("attitude",)), "1 2": (None, ("wait_time", "attitude")),
             "排队太久": (None, ("wait_time",)), "态度差": (None, ("attitude",)),
             "网络信号不好": (None, ("network",)), COMPLAINT: (None, COMPLAINT_REASONS)},
}
HAPPY = ("1", "１", "非常满意", "很满意，谢谢", "2", "２", "满意")
LOW = ("3", "一般", "4", "不满意", "5", "非常不满意", "太差了")
WITH_REASON = ("4 排队太久", "3 态度差", "５ 业务不熟练")
SHORT_REASONS = ("1", "2", "1 2", "排队太久", "态度差", "网络信号不好")
OPT_OUTS, UNCLEAR = ("TD", "退订"), ("你好", "在吗")
KINDS = {"happy": 50, "low_then_reason": 22, "score_with_reason": 8, "long_complaint": 4,
         "low_then_long_reason": 3, "unclear_then_score": 4, "opt_out": 3, "low_then_opt_out": 2, "silent": 4}


@dataclass(frozen=True)
class Profile:
    """One subscriber: its reply to each question, and how its session must end."""

    kind: str
    replies: dict[str, str]  # question (satisfaction, reason, reask) -> the reply to it
    state: SessionState
    answers: dict[str, tuple[int | None, tuple[str, ...]]]
    texts: frozenset[str]  # the kinds of text it must receive

    def answer_text(self, question: str) -> str | None:
        """The reply an answer to question must hold (after an unclear reply: the one to the re-ask)."""
        return self.replies.get(REASK if question == SATISFACTION and REASK in self.replies else question)


def profile_of(number: str, seed: int) -> Profile:
    """The subscriber behind a number: the same for the same number and seed."""
    rng = random.Random(hashlib.sha256(f"{seed}:{number}".encode()).digest())
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    done, done_texts = SessionState.COMPLETED, frozenset({SATISFACTION, THANKS})
    if kind in ("happy", "score_with_reason", "long_complaint"):
        reply = rng.choice({"happy": HAPPY, "score_with_reason": WITH_REASON, "long_complaint": (LONG,)}[kind])
        return Profile(kind, {SATISFACTION: reply}, done, {SATISFACTION: READINGS[SATISFACTION][reply]}, done_texts)
    if kind in ("low_then_reason", "low_then_long_reason", "low_then_opt_out"):
        score = rng.choice(LOW)
        first = {SATISFACTION: READINGS[SATISFACTION][score]}
        if kind == "low_then_opt_out":
            return Profile(kind, {SATISFACTION: score, REASON: rng.choice(OPT_OUTS)}, SessionState.OPTED_OUT, first,
                           frozenset({SATISFACTION, REASON, CONFIRM}))
        reason = rng.choice(SHORT_REASONS) if kind == "low_then_reason" else COMPLAINT
        return Profile(kind, {SATISFACTION: score, REASON: reason}, done,
                       {**first, REASON: READINGS[REASON][reason]}, frozenset({SATISFACTION, REASON, THANKS}))
    if kind == "unclear_then_score":
        score = rng.choice(HAPPY)
        return Profile(kind, {SATISFACTION: rng.choice(UNCLEAR), REASK: score}, done,
                       {SATISFACTION: READINGS[SATISFACTION][score]}, frozenset({SATISFACTION, REASK, THANKS}))
    if kind == "opt_out":
        return Profile(kind, {SATISFACTION: rng.choice(OPT_OUTS)}, SessionState.OPTED_OUT, {},
                       frozenset({SATISFACTION, CONFIRM}))
    return Profile(kind, {}, SessionState.SENT, {}, frozenset({SATISFACTION}))


def text_kind(text: str) -> str:
    return next((kind for kind, marker in MARKERS.items() if marker in text), "other")


class Subscribers:
    """The simulator's reply function: each subscriber answers a question as its profile says, once
    or (answer_copies) on every copy it receives."""

    def __init__(self, profiles: dict[str, Profile], *, answer_copies: bool = False) -> None:
        self.profiles = profiles  # by number as the simulator sees it (no "+")
        self.answer_copies = answer_copies
        self.answered: dict[tuple[str, str], str] = {}  # (number, question) -> the reply sent

    def __call__(self, destination: str, mt_text: str, rng: random.Random) -> list[str]:
        question, profile = text_kind(mt_text), self.profiles.get(destination)
        if profile is None or question not in profile.replies:
            return []
        if (destination, question) in self.answered and not self.answer_copies:
            return []
        self.answered[destination, question] = profile.replies[question]
        return [profile.replies[question]]


def check_expectations() -> None:
    """The campaign's readings and markers must be what the survey and the parser say."""
    survey = load_survey(SURVEY)
    texts = {SATISFACTION: survey.question(SATISFACTION).text, REASON: survey.question(REASON).text,
             REASK: survey.texts["reask"], THANKS: survey.texts["thanks"], CONFIRM: survey.texts["optout_confirm"]}
    wrong = [f"{kind}: {text!r} reads as {text_kind(text)}" for kind, text in texts.items() if text_kind(text) != kind]
    for question, readings in READINGS.items():
        for reply, expected in readings.items():
            parsed = parse_reply(survey.question(question), reply)
            if parsed.kind is not ReplyKind.ANSWER or (parsed.value, parsed.reasons) != expected:
                wrong.append(f"{question}: {reply[:20]!r} parses as {parsed[:3]}, the campaign expects {expected}")
    for reply in OPT_OUTS + UNCLEAR:
        kind = parse_reply(survey.question(SATISFACTION), reply).kind
        if kind is not (ReplyKind.OPTOUT if reply in OPT_OUTS else ReplyKind.UNCLEAR):
            wrong.append(f"{reply!r} parses as {kind}")
    if wrong:
        sys.exit("the campaign's expectations disagree with the survey or the parser:\n  " + "\n  ".join(wrong))


# -- the run ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One life of the worker process (monotonic times)."""

    started: float
    signalled: float | None = None
    exited: float | None = None
    returncode: int | None = None
    early: bool = False  # killed at a random moment soon after its start, not at a submit count
    by_itself: bool = False  # it exited without being told to


@dataclass
class Campaign:
    """The worker's lives and what went wrong with them beyond the figures."""

    args: argparse.Namespace
    folder: Path
    url: str
    env: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    worker: subprocess.Popen | None = None  # the current one

    def start_worker(self, number: int) -> subprocess.Popen:
        """Start `touchpoint worker` (as tests/survey/test_worker_crash.py does), its output to a file."""
        self.runs.append(Run(time.monotonic()))
        with open(self.folder / f"worker-{number:02d}.log", "w") as log:
            self.worker = subprocess.Popen([sys.executable, "-c", "from survey.cli import main; main()", "worker"],
                                           env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self.worker

    def stop_worker(self, worker: subprocess.Popen, signum: int) -> None:
        """Signal the current worker and wait for it to end (SIGKILL after 60 s)."""
        run = self.runs[-1]
        run.signalled = time.monotonic()
        worker.send_signal(signum)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            self.notes.append(f"worker {len(self.runs)} did not stop within 60 s of {signum.name}: killed")
            worker.kill()
            worker.wait()
        run.exited, run.returncode = time.monotonic(), worker.returncode


def prepare(args: argparse.Namespace, folder: Path, port: int) -> tuple[dict[str, str], str]:
    """Schema, outlets and the interactions; returns the worker's environment and the database URL."""
    url = args.database or f"sqlite:///{folder / 'campaign.db'}"
    env = {**os.environ, "TOUCHPOINT_DATABASE_URL": url, "TOUCHPOINT_INSTANCE_PATH": str(folder),
           "TOUCHPOINT_SMPP_HOST": "127.0.0.1", "TOUCHPOINT_SMPP_PORT": str(port),
           "TOUCHPOINT_SMPP_TPS": "0", "TOUCHPOINT_SMPP_WINDOW": str(args.window),
           "TOUCHPOINT_SEND_DELAY_MINUTES": "0", "TOUCHPOINT_DELAY_BY_CHANNEL": "",
           "TOUCHPOINT_SAMPLING_BY_CHANNEL": "", "TOUCHPOINT_OUTLET_MONTHLY_TARGET": "0",
           "TOUCHPOINT_DEFAULT_SURVEY": SURVEY, "TOUCHPOINT_SURVEY_BY_CHANNEL": "",
           "TOUCHPOINT_SURVEY_BY_BUSINESS": "", "TOUCHPOINT_QUIET_START": "00:00", "TOUCHPOINT_QUIET_END": "00:00",
           "PYTHONPATH": str(ROOT)}
    env.pop("TOUCHPOINT_CONFIG", None)
    runtime = Runtime.build(load_settings(env))
    database.upgrade(runtime.engine)
    outlets = outlet_rows()
    now = datetime.now(timezone.utc)  # the worker runs on the real clock
    with runtime.session_factory.begin() as db:
        if db.scalar(select(func.count()).select_from(Interaction)):
            sys.exit(f"{url} already holds interactions: the campaign needs an empty database")
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlets))
    items = [{"source": "campaign", "external_id": f"c{i}", "msisdn": number(i),
              "outlet": outlets[i % len(outlets)]["code"], "ended_at": (now - timedelta(minutes=1)).isoformat()}
             for i in range(args.interactions)]
    for start in range(0, len(items), 1000):
        with runtime.session_factory.begin() as db:
            result = record_interactions(db, items[start:start + 1000], now=now, tz=runtime.settings.tz)
            if result.rejected:
                sys.exit(f"interactions rejected: {result.rejected[:3]}")
    runtime.engine.dispose()
    return env, url


def number(i: int) -> str:
    return f"+86139{i:08d}"


def run_campaign(camp: Campaign, simulator: SMSCSimulator, expected_submits: int) -> bool:
    """Start, kill and restart the worker, then drain and stop it; returns whether it drained.

    A worker that exits by itself is noted and restarted without using up a kill; three in a row
    end the campaign (the code cannot start)."""
    args = camp.args
    rng = random.Random(args.seed)
    signum = signal.SIGKILL if args.signal == "KILL" else signal.SIGTERM
    thresholds = sorted(rng.uniform(0.03, 0.9) * expected_submits for _ in range(args.kills))
    worker, kills, failures = camp.start_worker(0), 0, 0
    while kills < len(thresholds):
        run, binds, threshold = camp.runs[-1], simulator.stats.binds, thresholds[kills]
        run.early = rng.random() < 0.15
        delay = rng.uniform(0.2, 1.5) if run.early else rng.uniform(0, 0.03)
        if not run.early:
            deadline = time.monotonic() + 120
            while worker.poll() is None and time.monotonic() < deadline and not simulator.wait_until(
                    lambda s: s.stats.accepted_segments >= threshold and s.stats.binds > binds, 0.5):
                pass
            if worker.poll() is None and time.monotonic() >= deadline:
                camp.notes.append(f"kill {kills + 1}: {threshold:.0f} submits not reached in 120 s "
                                  f"({simulator.stats.accepted_segments} so far); killed anyway")
        if worker.poll() is None:
            time.sleep(delay)
        number = len(camp.runs) - 1
        if worker.poll() is not None:
            run.early, run.by_itself, run.exited, run.returncode = False, True, time.monotonic(), worker.returncode
            camp.notes.append(f"worker {number} exited by itself with status {worker.returncode} "
                              f"(worker-{number:02d}.log)")
            failures += 1
            if failures == 3:
                camp.notes.append("three workers in a row exited by themselves: campaign abandoned")
                return False
        else:
            camp.stop_worker(worker, signum)
            kills, failures = kills + 1, 0
        worker = camp.start_worker(number + 1)
    drained = drain(camp, simulator, worker)
    camp.stop_worker(worker, signal.SIGTERM)
    if camp.runs[-1].returncode != 0:
        camp.notes.append(f"the final graceful stop exited with status {camp.runs[-1].returncode}")
    return drained


def pending_work(reader) -> tuple[int, tuple]:
    """(work the engine still has, a snapshot of everything that changes while it works)."""
    with reader.connect() as connection:
        def count(model, *where):
            return connection.scalar(select(func.count()).select_from(model).where(*where))
        undecided = count(Interaction, Interaction.decision.is_(None))
        unsent = count(OutboundMessage, OutboundMessage.state.in_((OutboundState.PENDING, OutboundState.SUBMITTING)))
        parts = count(InboundFragment, InboundFragment.inbound_id.is_(None))
        unparsed = count(InboundMessage, InboundMessage.state == InboundState.RECEIVED)
        snapshot = tuple(connection.execute(select(OutboundMessage.state, func.count()).group_by(
            OutboundMessage.state)).all()) + tuple(connection.execute(select(SurveySession.state, func.count())
                                                                      .group_by(SurveySession.state)).all())
        snapshot += (count(InboundMessage), count(Answer))
    return undecided + unsent + parts + unparsed, snapshot


def drain(camp: Campaign, simulator: SMSCSimulator, worker: subprocess.Popen) -> bool:
    """Wait until the worker has nothing left and nothing changes for a second."""
    reader = create_engine(camp.url)
    deadline, last, stable_since = time.monotonic() + camp.args.drain_timeout, None, None
    pending = unsettled = None
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
            pending, snapshot = pending_work(reader)
            replies = simulator.traces()[1]
            unsettled = sum(t.acked is None for t in replies)
            state = (pending, unsettled, snapshot, simulator.stats.accepted_segments, simulator.stats.mo_sent)
            if pending or unsettled or state != last:
                last, stable_since = state, (time.monotonic() if not (pending or unsettled) else None)
            elif stable_since is not None and time.monotonic() - stable_since >= 1.0:
                return True
        if worker.poll() is not None:
            camp.notes.append(f"the last worker exited by itself with status {worker.returncode}")
        else:
            camp.notes.append(f"not drained after {camp.args.drain_timeout:.0f} s: {pending} rows of work left, "
                              f"{unsettled} replies not acknowledged")
        return False
    finally:
        reader.dispose()


# -- the verdict ----------------------------------------------------------------------------------


@dataclass
class Copy:
    """One copy of a text as the simulator accepted it."""

    received: float
    responded: float | None  # when its last segment's submit_sm_resp was written
    run: int  # the worker life that sent it


@dataclass
class Stored:
    """What the database holds at the end, by number (as the simulator writes it: no "+")."""

    decisions: Counter
    sessions: dict[str, list]
    answers: dict[int, list]
    replies: list
    outbound: Counter

    @classmethod
    def read(cls, url: str) -> "Stored":
        reader = create_engine(url)
        with reader.connect() as db:
            sessions: dict[str, list] = defaultdict(list)
            for row in db.execute(select(SurveySession.id, SurveySession.msisdn, SurveySession.state,
                                         SurveySession.ended_at)):
                sessions[row.msisdn.lstrip("+")].append(row)
            answers: dict[int, list] = defaultdict(list)
            for row in db.execute(select(Answer.session_id, Answer.question, Answer.value, Answer.reasons,
                                         Answer.text)):
                answers[row.session_id].append(row)
            stored = cls(Counter(db.scalars(select(Interaction.decision))), sessions, answers,
                         db.execute(select(InboundMessage.msisdn, InboundMessage.text, InboundMessage.state,
                                           InboundMessage.received_at)).all(),
                         Counter(OutboundState(s) for s in db.scalars(select(OutboundMessage.state))))
        reader.dispose()
        return stored


def copies_by_text(simulator: SMSCSimulator, runs: list[Run]) -> dict[tuple[str, str], list[Copy]]:
    """Every text the simulator accepted, its copies in order, each with the worker life that sent it."""
    traces = simulator.traces()[0]
    submits = {t.message_id: t for t in traces}
    # A connection belongs to the life that started last before its first submit (a worker needs far
    # longer to start than the simulator needs to read what a killed one had written).
    opened: dict[int, float] = {}
    for t in traces:
        opened[t.connection] = min(t.received, opened.get(t.connection, t.received))
    starts = [run.started for run in runs]
    life = {connection: bisect.bisect_right(starts, first) - 1 for connection, first in opened.items()}
    copies: dict[tuple[str, str], list[Copy]] = defaultdict(list)
    for entry in simulator.log:
        parts = [submits[i] for i in entry.message_ids if i in submits]
        received = min(p.received for p in parts)
        responded = None if any(p.responded is None for p in parts) else max(p.responded for p in parts)
        copies[entry.destination, entry.text].append(Copy(received, responded, life[parts[0].connection]))
    for found in copies.values():
        found.sort(key=lambda c: c.received)
    return copies


def check_sessions(profiles: dict[str, Profile], stored: Stored, copies: dict, examples: dict[str, str]
                   ) -> tuple[Counter[str], int]:
    """(sessions off their profile, by cause; answers that are not what the subscriber replied)."""
    received: dict[str, set[str]] = defaultdict(set)
    for destination, text in copies:
        received[destination].add(text_kind(text))
    off: Counter[str] = Counter()
    wrong = 0
    for destination, profile in profiles.items():
        found = stored.sessions.get(destination, [])
        rows = stored.answers[found[0].id] if len(found) == 1 else []
        for a in rows:
            expected = profile.answers.get(a.question)
            if (a.value, tuple(a.reasons)) != expected or a.text != profile.answer_text(a.question):
                wrong += 1
                examples.setdefault("wrong answer", f"{destination} {a.question}: stored ({a.value}, "
                                    f"{tuple(a.reasons)}) from {a.text[:12]!r}, expected {expected}")
        answers = {a.question: (a.value, tuple(a.reasons)) for a in rows}
        cause = (f"{len(found)} sessions" if len(found) != 1 else
                 f"state {found[0].state}" if found[0].state != profile.state else
                 "answers" if answers != profile.answers else
                 "texts received" if received[destination] != profile.texts else None)
        if cause is not None:
            off[cause] += 1
            examples.setdefault(cause, f"{destination} ({profile.kind}): answers {answers}; texts "
                                f"{sorted(received[destination])}")
    return off, wrong


def check_replies(replies: list, stored: Stored) -> tuple[Counter[str], Counter[str]]:
    """(replies the simulator sent that were not filed, by what became of them; stored replies by state).

    A redelivery of the same reply by the SMSC is stored again, as a duplicate; unmatched is right
    only when no session was waiting any more (an answer to a copy that came after the end)."""
    inbound: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for msisdn, text, state, received_at in stored.replies:
        label, sessions = InboundState(state).value, stored.sessions.get(msisdn.lstrip("+"), [])
        if label == InboundState.UNMATCHED and sessions and all(
                s.ended_at is not None and s.ended_at <= received_at for s in sessions):
            label = AFTER_END
        inbound[msisdn.lstrip("+"), text][label] += 1
    filed_states = (InboundState.PROCESSED, InboundState.DUPLICATE, AFTER_END)
    lost: Counter[str] = Counter()
    for key, count in Counter((t.source, t.text) for t in replies).items():
        filed = sum(inbound[key][s] for s in filed_states)
        if filed < count:
            lost[",".join(sorted(set(inbound[key]) - set(filed_states))) or "not stored"] += count - filed
    return lost, sum(inbound.values(), Counter())


def check_resends(camp: Campaign, copies: dict, replies: list, answered: dict[tuple[str, str], str],
                  examples: dict[str, str]) -> tuple[Counter[str], int]:
    """(copies sent again, by band; questions sent again after their reply was stored).

    A band says what the previous copy's ack had done when the worker that sent it was stopped: (a)
    not written yet, (b) written at most LATE_ACK_S before, (c) earlier, or no stop in between."""
    settled: dict[tuple[str, str], float] = {}  # when each reply was first acknowledged as stored
    for t in replies:
        if t.acked is not None:
            settled[t.source, t.text] = min(t.acked, settled.get((t.source, t.text), t.acked))
    bands: Counter[str] = Counter()
    after_reply, origin = 0, camp.runs[0].started
    for (destination, text), found in copies.items():
        kind = text_kind(text)
        reply_stored = settled.get((destination, answered.get((destination, kind))))
        for earlier, later in zip(found, found[1:]):
            run = camp.runs[earlier.run]
            stop = (run.signalled or run.exited) if camp.args.signal == "KILL" else run.exited
            if later.run == earlier.run or stop is None:
                bands["c: no stop in between"] += 1
                acked = "never" if earlier.responded is None else f"{earlier.responded - earlier.received:.3f} s later"
                examples.setdefault("resent with no stop in between", (
                    f"{destination} {kind} by worker {earlier.run} at {earlier.received - origin:.3f} s (acked "
                    f"{acked}) and at {later.received - origin:.3f} s"))
            elif earlier.responded is None or earlier.responded > stop:
                bands["a"] += 1
            else:
                bands["b" if stop - earlier.responded <= LATE_ACK_S else "c"] += 1
            if kind in QUESTIONS and reply_stored is not None and reply_stored < later.received:
                after_reply += 1
    return bands, after_reply


def verdict(camp: Campaign, simulator: SMSCSimulator, subscribers: Subscribers, drained: bool,
            elapsed: float) -> bool:
    """Print the figures against their goals; True when every goal is met."""
    args, stored = camp.args, Stored.read(camp.url)
    submits, replies = simulator.traces()
    copies = copies_by_text(simulator, camp.runs)
    examples: dict[str, str] = {}
    off, wrong = check_sessions(subscribers.profiles, stored, copies, examples)
    lost, filed = check_replies(replies, stored)
    unsettled = sum(t.acked is None for t in replies)
    bands, after_reply = check_resends(camp, copies, replies, subscribers.answered, examples)
    stuck = {state: n for state, n in stored.outbound.items() if state not in FINAL}
    # With SIGKILL a copy in flight, or acked in the last moments, may go again; a graceful stop
    # waits for the acks in flight, so with SIGTERM nothing may.
    allowed = None if args.signal == "KILL" else 0
    no_stop = bands["c: no stop in between"]
    lines = [
        ("interactions undecided", stored.decisions[None], 0, ""),
        ("sessions not as expected", sum(off.values()), 0, ", ".join(f"{k}: {n}" for k, n in off.most_common())),
        ("wrong answers", wrong, 0, ""),
        ("replies lost", sum(lost.values()), 0, ", ".join(f"{k}: {n}" for k, n in lost.most_common())
         + (f"; {unsettled} never acknowledged to the SMSC" if unsettled else "")),
        ("texts resent (a) in flight at the stop", bands["a"], allowed, ""),
        (f"texts resent (b) acked <= {LATE_ACK_S * 1000:.0f} ms before the stop", bands["b"], allowed, ""),
        ("texts resent (c) acked earlier", bands["c"] + no_stop, 0,
         f"{no_stop} with no stop in between" if no_stop else ""),
        ("questions resent after their reply was stored", after_reply, 0, ""),
        ("messages stuck", sum(stuck.values()), 0, ", ".join(f"{s}: {n}" for s, n in stuck.items())),
    ]
    stops = [r for r in camp.runs[:-1] if not r.by_itself]
    print(f"crash campaign: {args.interactions} interactions, {len(stops)} x SIG{args.signal} "
          f"({sum(r.early for r in stops)} soon after a start), seed {args.seed}, ack latency "
          f"{args.ack_latency_ms:g} ms, window {args.window}, {'answering every copy, ' * args.answer_copies}"
          f"{'SQLite' if camp.url.startswith('sqlite') else camp.url}")
    ok = drained and not camp.notes
    for name, figure, goal, detail in lines:
        met = goal is None or figure <= goal
        ok &= met
        print(f"{name:<52} {figure:>6}  {'allowed' if goal is None else f'goal {goal}':<8} "
              f"{'ok' if met else 'MISSED'}" + (f"  ({detail})" if detail else ""))
    for key, example in examples.items():
        print(f"  e.g. {key}: {example}")
    print(f"totals: {len(submits)} submits, {sum(t.responded is not None for t in submits)} acks, {len(replies)} "
          f"replies, {len(simulator.log)} texts ({sum(len(c) > 1 for c in copies.values())} sent more than once); "
          f"replies stored {dict(filed)}; decisions {dict(stored.decisions)}; {len(camp.runs)} worker starts")
    print(f"elapsed: {elapsed:.1f} s (first start to graceful stop), {'drained' if drained else 'NOT drained'}")
    if args.verbose:
        sent_by_run = Counter(c.run for found in copies.values() for c in found)
        origin = camp.runs[0].started
        for i, run in enumerate(camp.runs):
            end = f"{run.exited - origin:7.2f}" if run.exited is not None else "      -"
            how = "by itself" if run.by_itself else "early" if run.early else ""
            print(f"  worker {i:2d}: {run.started - origin:7.2f} s to {end} s, {sent_by_run[i]:5d} texts, "
                  f"exit {run.returncode} {how}")
    for note in camp.notes:
        print(f"note: {note}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--signal", choices=("KILL", "TERM"), default="KILL")
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: a fresh SQLite file)")
    parser.add_argument("--ack-latency-ms", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--answer-copies", action="store_true", help="subscribers answer every copy of a question")
    parser.add_argument("--verbose", action="store_true", help="list the worker's lives")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (database, worker logs); kept anyway when a goal is missed")
    args = parser.parse_args()
    logging.getLogger("smpp.simulator").setLevel(logging.ERROR)  # every kill cuts a connection: expected
    check_expectations()
    profiles = {number(i).lstrip("+"): profile_of(number(i), args.seed) for i in range(args.interactions)}
    subscribers = Subscribers(profiles, answer_copies=args.answer_copies)
    expected_submits = sum(len(p.texts) for p in profiles.values())
    simulator = SMSCSimulator(SimulatorConfig(
        ack_latency_s=args.ack_latency_ms / 1000, replies=True, reply_delay_s=0, reply_fn=subscribers,
        redeliver_delay_s=0.05, seed=args.seed, trace=True)).start()
    folder = Path(tempfile.mkdtemp(prefix="crash-campaign-"))
    ok, camp = False, None
    try:
        try:
            env, url = prepare(args, folder, simulator.port)
            camp = Campaign(args, folder, url, env)
            started = time.monotonic()
            drained = run_campaign(camp, simulator, expected_submits)
            elapsed = time.monotonic() - started
        finally:
            if camp is not None and camp.worker is not None and camp.worker.poll() is None:
                camp.worker.kill()  # interrupted: leave no worker behind
                camp.worker.wait()
            simulator.stop()
        ok = verdict(camp, simulator, subscribers, drained, elapsed)
    finally:
        if args.keep or not ok:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
