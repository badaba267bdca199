"""Several workers on one PostgreSQL database (issue #16): 1 worker against 3, then 3 with one SIGKILLed.

Each scenario gets a fresh database (created on the server of --server, dropped after), the same
interactions, one number each, stored once every worker is bound, and the SMSC simulator of the
crash campaign in this process, whose subscribers answer deterministically per number, so how every
session must end is known in advance (benchmarks/crash_campaign.py: prepare, profiles, the checks). Workers are real
`touchpoint worker` processes, each with its own TOUCHPOINT_WORKER_ID, its own SMPP bind and
window; they are started one after another, each once the previous one is bound, so the
simulator's connection numbers say which worker sent what.

Figures per scenario: interactions/s end to end, from the moment the interactions are stored to
the moment nothing is left to do (no interaction undecided, no message PENDING or SUBMITTING, no
reply unparsed; stable for a second), and steady, while the middle 80 % of the expected texts went
out (the first and last seconds are the pipeline's latency: job intervals, not throughput);
texts sent more than once and why, by the crash campaign's bands: (a) the copy before was in flight
when its worker was killed, (b) acked at most 20 ms before the kill, (c) acked earlier or no kill in
between — (c) is a duplicate acknowledged submit, goal 0, and so is any copy two live workers both
sent; sessions not as their subscriber's profile says, replies lost, messages stuck (goal 0 each:
"0 lost"). The ratio is 3 workers' interactions/s over 1 worker's, measured in the same run.

Two ack latencies show two regimes: at 5 ms a worker is CPU-bound (its Python and PostgreSQL's),
so the ratio is what the machine's cores allow; at 100 ms each bind is held to window/latency
messages/s, as an operator's SMSC holds each bind, and a worker mostly waits: there three binds
carry three times the traffic if the cores can keep up.

Usage: python benchmarks/bench_scale.py [--server postgresql+psycopg://postgres@127.0.0.1:5432]
       [--interactions 3000] [--ack-latency-ms 5 100] [--window 10] [--lease-seconds 10] [--skip-kill]
Exits 1 when a goal (duplicates 0, lost 0) is missed; the ratio is reported, not judged.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from channels.services import record_interactions  # noqa: E402
from channels.synthetic import outlet_rows  # noqa: E402

from crash_campaign import (  # noqa: E402
    FINAL, LATE_ACK_S, Campaign, Copy, Run, Stored, Subscribers, check_expectations, check_replies, check_resends,
    check_sessions, number, pending_work, prepare, profile_of,
)
from smpp.simulator import SMSCSimulator, SimulatorConfig  # noqa: E402

SEED = 1


@dataclass
class Outcome:
    """One scenario's figures."""

    name: str
    workers: int
    elapsed: float | None  # None: never drained
    rate: float  # interactions / elapsed
    steady: float  # interactions/s while the texts from 10 % to 90 % of those expected went out
    resent: dict[str, int]
    off: int
    lost: int
    stuck: int
    after_reply: int
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Copies of a text whose previous copy the SMSC had acked more than 20 ms before its
        worker's kill, or that two live workers both sent."""
        return self.resent.get("c", 0) + self.resent.get("c: no stop in between", 0)

    @property
    def ok(self) -> bool:
        return self.elapsed is not None and not self.duplicates and not (self.off or self.lost or self.stuck
                                                                          or self.after_reply or self.notes)


def drop_database(server: str, name: str, *, create: bool = False) -> str:
    """Drop database name on the server (and create it afresh); returns its URL."""
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def store_interactions(url: str, count: int) -> None:
    """The interactions prepare() would store (one number each, ended a minute ago), stored now,
    once the workers are bound, so that every worker is there from the first one."""
    engine = create_engine(url)
    sessions = sessionmaker(engine)
    outlets, now = outlet_rows(), datetime.now(timezone.utc)
    items = [{"source": "campaign", "external_id": f"c{i}", "msisdn": number(i),
              "outlet": outlets[i % len(outlets)]["code"], "ended_at": (now - timedelta(minutes=1)).isoformat()}
             for i in range(count)]
    for start in range(0, count, 1000):
        with sessions.begin() as db:
            result = record_interactions(db, items[start:start + 1000], now=now, tz=ZoneInfo("Asia/Shanghai"))
            if result.rejected:
                raise SystemExit(f"interactions rejected: {result.rejected[:3]}")
    engine.dispose()


def start_workers(camp: Campaign, simulator: SMSCSimulator, count: int) -> list[subprocess.Popen]:
    """Start count workers (w0, w1, …), each once the one before is bound: connection i+1 is worker i."""
    workers = []
    for i in range(count):
        binds = simulator.stats.binds
        camp.runs.append(Run(time.monotonic()))
        env = {**camp.env, "TOUCHPOINT_WORKER_ID": f"w{i}"}
        with open(camp.folder / f"worker-w{i}.log", "w") as log:
            workers.append(subprocess.Popen([sys.executable, "-c", "from survey.cli import main; main()", "worker"],
                                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        if not simulator.wait_until(lambda s: s.stats.binds > binds, 60):
            raise SystemExit(f"worker w{i} did not bind within 60 s ({camp.folder / f'worker-w{i}.log'})")
    return workers


def wait_drained(camp: Campaign, simulator: SMSCSimulator, workers: list[subprocess.Popen], timeout: float,
                 marks: dict[float, float | None]) -> float | None:
    """The moment (monotonic) the work ran out, once nothing has changed for a second after it; marks
    (share of the expected texts -> None) gets the moment the simulator had accepted that share."""
    reader = create_engine(camp.url)
    deadline, last, since = time.monotonic() + timeout, None, None
    expected = marks.pop("expected")
    try:
        while time.monotonic() < deadline:
            for share in marks:
                if marks[share] is None and simulator.stats.accepted_segments >= share * expected:
                    marks[share] = time.monotonic()
            if any(w.poll() is not None and w.returncode != -signal.SIGKILL for w in workers):
                camp.notes.append("a worker exited by itself (see its log)")
                return None
            pending, snapshot = pending_work(reader)
            unsettled = sum(t.acked is None for t in simulator.traces()[1])
            state = (pending, unsettled, snapshot, simulator.stats.accepted_segments, simulator.stats.mo_sent)
            now = time.monotonic()
            if pending or unsettled or state != last:
                last, since = state, (now if not (pending or unsettled) else None)
            elif since is not None and now - since >= 1.0:
                return since
            time.sleep(0.1)
        camp.notes.append(f"not drained in {timeout:.0f} s")
        return None
    finally:
        reader.dispose()


def copies_by_worker(simulator: SMSCSimulator) -> dict[tuple[str, str], list[Copy]]:
    """Every text the simulator accepted, its copies in order, each with the worker that sent it
    (connection n is worker n-1: see start_workers)."""
    submits = {t.message_id: t for t in simulator.traces()[0]}
    copies: dict[tuple[str, str], list[Copy]] = defaultdict(list)
    for entry in simulator.log:
        parts = [submits[i] for i in entry.message_ids if i in submits]
        responded = None if any(p.responded is None for p in parts) else max(p.responded for p in parts)
        copies[entry.destination, entry.text].append(
            Copy(min(p.received for p in parts), responded, parts[0].connection - 1))
    for found in copies.values():
        found.sort(key=lambda c: c.received)
    return copies


def acked_before_kill(camp: Campaign, copies: dict[tuple[str, str], list[Copy]]) -> list[str]:
    """For each text sent again after its first copy's ack was written before the kill (band c): how
    long before the kill the simulator wrote that ack. A worker the machine did not schedule for that
    long never read it (it was on its way, in the socket); one read would be in its journal."""
    lines = []
    for (destination, text_), found in copies.items():
        for earlier, later in zip(found, found[1:]):
            stop = camp.runs[earlier.run].signalled
            if stop is not None and later.run != earlier.run and earlier.responded is not None \
                    and earlier.responded <= stop - LATE_ACK_S:
                lines.append(f"{destination[:3]}****{destination[-4:]} resent: its first copy was acked "
                             f"{(stop - earlier.responded) * 1000:.0f} ms before the kill")
    return lines


def run_scenario(args: argparse.Namespace, name: str, workers: int, latency_ms: float, kill: bool) -> Outcome:
    profiles = {number(i).lstrip("+"): profile_of(number(i), SEED) for i in range(args.interactions)}
    subscribers = Subscribers(profiles)
    expected_submits = sum(len(p.texts) for p in profiles.values())
    simulator = SMSCSimulator(SimulatorConfig(
        ack_latency_s=latency_ms / 1000, replies=True, reply_delay_s=0, reply_fn=subscribers,
        redeliver_delay_s=0.05, seed=SEED, trace=True)).start()
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    database = f"bench_scale_{os.getpid()}"
    options = argparse.Namespace(database=drop_database(args.server, database, create=True), interactions=0,
                                 window=args.window, signal="KILL", drain_timeout=args.timeout)
    processes: list[subprocess.Popen] = []
    try:
        env, url = prepare(options, folder, simulator.port)  # the schema and the outlets
        env["TOUCHPOINT_LEASE_SECONDS"] = str(args.lease_seconds)
        camp = Campaign(options, folder, url, env)
        processes = start_workers(camp, simulator, workers)
        started = time.monotonic()
        store_interactions(url, args.interactions)
        if kill:
            # Mid-run: a third of the texts out, so the victim holds claims, acks and replies.
            simulator.wait_until(lambda s: s.stats.accepted_segments >= expected_submits // 3, args.timeout)
            victim = processes[1]
            camp.runs[1].signalled = time.monotonic()
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            camp.runs[1].exited = time.monotonic()
        marks = {"expected": expected_submits, 0.1: None, 0.9: None}
        drained = wait_drained(camp, simulator, processes, args.timeout, marks)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)
        stored = Stored.read(url)
        copies = copies_by_worker(simulator)
        examples: dict[str, str] = {}
        off, _wrong = check_sessions(profiles, stored, copies, examples)
        lost, _filed = check_replies(simulator.traces()[1], stored)
        resent, after_reply = check_resends(camp, copies, simulator.traces()[1], subscribers.answered, examples)
        stuck = sum(n for state, n in stored.outbound.items() if state not in FINAL)
        elapsed = None if drained is None else drained - started
        steady = (0.8 * args.interactions / (marks[0.9] - marks[0.1])
                  if None not in (marks[0.1], marks[0.9]) and marks[0.9] > marks[0.1] else 0.0)
        outcome = Outcome(name, workers, elapsed, args.interactions / elapsed if elapsed else 0.0, steady,
                          dict(resent), sum(off.values()), sum(lost.values()), stuck, after_reply, camp.notes)
        outcome.notes += [f"e.g. {key}: {example}" for key, example in examples.items()]
        outcome.notes += acked_before_kill(camp, copies)
        for log in sorted(folder.glob("worker-*.log")):
            lines = log.read_text(errors="replace").splitlines()
            errors = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
            if errors:
                # The line that logged it and the exception it ends with.
                said = next((lines[i] for i in range(errors[0] - 1, -1, -1) if lines[i].strip()), "")
                ended = next((line for line in lines[errors[0]:] if line and not line.startswith((" ", "Traceback"))),
                             "")
                outcome.notes.append(f"{log.name}: {len(errors)} tracebacks, the first after {said[-120:]!r}: "
                                     f"{ended[:200]}")
        return outcome
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        simulator.stop()
        drop_database(args.server, database)
        shutil.rmtree(folder, ignore_errors=True)


def report(outcome: Outcome) -> None:
    took = f"{outcome.elapsed:6.1f} s" if outcome.elapsed is not None else "NOT drained"
    bands = ", ".join(f"{k}: {n}" for k, n in sorted(outcome.resent.items())) or "none"
    print(f"  {outcome.name:<34} {took}  {outcome.rate:7.1f} interactions/s end to end, {outcome.steady:7.1f} "
          f"steady  duplicate acknowledged submits "
          f"{outcome.duplicates} (goal 0)  lost: sessions off {outcome.off}, replies {outcome.lost}, stuck "
          f"{outcome.stuck}, questions after their reply {outcome.after_reply} (goal 0)  copies sent again: {bands}")
    for note in outcome.notes:
        print(f"    note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("BENCH_SCALE_SERVER",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432"),
                        help="a PostgreSQL server where this may create and drop databases")
    parser.add_argument("--interactions", type=int, default=3000)
    parser.add_argument("--ack-latency-ms", type=float, nargs="+", default=[5.0, 100.0])
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--lease-seconds", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args()
    logging.getLogger("smpp.simulator").setLevel(logging.ERROR)  # a kill cuts a connection: expected
    check_expectations()
    print(f"bench_scale: {args.interactions} interactions, window {args.window} per bind, lease "
          f"{args.lease_seconds} s, {os.cpu_count()} CPUs, PostgreSQL at {make_url(args.server).host}")
    ok = True
    for latency in args.ack_latency_ms:
        print(f"ack latency {latency:g} ms (one bind carries at most {args.window / latency * 1000:,.0f} msg/s):")
        one = run_scenario(args, "1 worker", 1, latency, kill=False)
        report(one)
        three = run_scenario(args, "3 workers", 3, latency, kill=False)
        report(three)
        ratio = three.rate / one.rate if one.rate else 0.0
        steady = three.steady / one.steady if one.steady else 0.0
        print(f"  ratio 3 workers / 1 worker: {ratio:.2f}x end to end, {steady:.2f}x steady "
              f"(goal >= 2.5x given the cores)")
        outcomes = [one, three]
        if not args.skip_kill:
            killed = run_scenario(args, "3 workers, w1 SIGKILLed mid-run", 3, latency, kill=True)
            report(killed)
            outcomes.append(killed)
        ok &= all(o.ok for o in outcomes)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
