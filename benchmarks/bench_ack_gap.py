"""How long an SMSC's ack lives only in memory: from the moment the I/O thread reads it to the moment a
crash can no longer lose it.

The engine runs with its own scheduler against the simulator (child process, 10 ms ack latency,
subscribers that reply). For every ack two moments are taken in the same run: when its line is in
the ack journal (one write on the I/O thread), and when the recorder's database commit that holds it
returns (the only record before the journal, and still the baseline). A kill inside the gap sends
the text again at the next start. Usage: python benchmarks/bench_ack_gap.py [--interactions 3000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import ROOT, progress, start_simulator  # noqa: E402

sys.path.insert(0, str(ROOT))
from channels.services import record_interactions, seed_business_types, upsert_outlets  # noqa: E402
from channels.synthetic import interactions, outlet_rows  # noqa: E402
from survey import database  # noqa: E402
from survey.jobs import acks  # noqa: E402
from survey.clock import FrozenClock  # noqa: E402
from survey.jobs.build import build_worker  # noqa: E402
from survey.runtime import Runtime  # noqa: E402
from survey.settings import Settings  # noqa: E402
from survey.jobs.worker import Intervals  # noqa: E402


def measure(port: int, count: int, folder: Path, *, database_url: str | None = None,
            seed: int = 21) -> tuple[list[float], list[float]]:
    """Per ack: seconds from the I/O thread reading it to its journal line, and to the database commit
    that records it; on a database of its own in folder unless database_url names one (bench_web)."""
    clock = FrozenClock(datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc))
    runtime = Runtime.build(Settings(database_url=database_url or f"sqlite:///{folder / 'gap.db'}",
                                     instance_path=folder, smpp_port=port, smpp_window=50, smpp_tps=0,
                                     fatigue_days=0), clock=clock)
    database.upgrade(runtime.engine)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows()))
    worker = build_worker(runtime)
    read_at: dict[tuple[str, int], float] = {}
    journaled: list[float] = []
    committed: list[float] = []
    in_batch: list[tuple[str, int]] = []

    append = worker.journal.append

    def timed_append(result):
        began = time.perf_counter()  # the I/O thread calls this as soon as it has parsed the ack
        sealed = append(result)
        read_at[(result.key, result.segment_index)] = began
        journaled.append(time.perf_counter() - began)
        return sealed

    worker.journal.append = timed_append
    record_results = acks.record_submit_results

    def noting(db, results, **kwargs):
        results = list(results)
        in_batch.extend((r.key, r.segment_index) for r in results)
        return record_results(db, results, **kwargs)

    record = worker.record

    def timed_record(now=None):
        in_batch.clear()
        count = record(now)
        done = time.perf_counter()  # the commit has returned
        committed.extend(done - read_at[key] for key in in_batch if key in read_at)
        return count

    acks.record_submit_results = noting
    worker.record = timed_record
    try:
        worker.start(Intervals(evaluate=0.1, dispatch=0.1, record=0.1, replies=0.1, expire=5))
        worker.client.wait_bound(10)
        items = list(interactions(count, [row["code"] for row in outlet_rows()], end=clock.now() - timedelta(minutes=6),
                                  tz=runtime.settings.tz, span=timedelta(minutes=1), seed=seed))
        for start in range(0, count, 500):
            with runtime.writing() as db:
                record_interactions(db, items[start:start + 500], now=clock.now(), tz=runtime.settings.tz)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with runtime.session_factory() as db:
                if progress(db)[0] == 0 and worker.client.wait_idle(0) and not worker.has_events():
                    break
        worker.stop()
    finally:
        acks.record_submit_results = record_results
        runtime.engine.dispose()
    return journaled, committed


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"median {statistics.median(ordered) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, "
            f"max {ordered[-1] * 1000:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interactions", type=int, default=3000)
    args = parser.parse_args()
    proc, port = start_simulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            journaled, committed = measure(port, args.interactions, Path(tmp))
    finally:
        proc.terminate()
        proc.wait()
    print(f"{len(journaled)} acks journaled, {len(committed)} recorded in the database")
    print(f"ack read → journal line written:    {describe(journaled)}")
    print(f"ack read → database commit returned: {describe(committed)}  (baseline: the only record before)")
    print(f"gap, baseline / journal: median {statistics.median(committed) / statistics.median(journaled):,.0f}x, "
          f"max {max(committed) / max(journaled):,.0f}x (goal: journal max in milliseconds)")


if __name__ == "__main__":
    main()
