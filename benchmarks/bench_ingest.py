"""Ingest throughput: batch API (Flask test client and a real server on loopback) and a 1M-row CSV.

Prints interactions/s and rows/s with peak memory, on SQLite and (when TOUCHPOINT_TEST_DATABASE_URL
names one) PostgreSQL. Each figure is also given as a ratio to a baseline measured in the same run:
the same rows, already built, inserted by a SQLAlchemy Core executemany with no parsing, checks
or duplicate detection (what a naive bulk insert costs).
Usage: python benchmarks/bench_ingest.py [--csv-rows 1000000] [--api-items 20000]
"""
from __future__ import annotations

import argparse
import csv
import http.client
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from survey.accounts.services import create_token  # noqa: E402
from channels.models import Interaction  # noqa: E402
from channels.services import seed_business_types, upsert_outlets  # noqa: E402
from channels.synthetic import interactions, outlet_rows  # noqa: E402
from survey import database  # noqa: E402
from survey.web import create_app  # noqa: E402
from survey.clock import SystemClock  # noqa: E402
from survey.runtime import Runtime  # noqa: E402
from survey.settings import Settings  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
CODES = [row["code"] for row in outlet_rows()]
END = datetime.now(timezone.utc) - timedelta(minutes=10)


def fresh_runtime(url: str, folder: Path) -> Runtime:
    engine = database.make_engine(url)
    database.reset(engine)
    database.upgrade(engine)
    runtime = Runtime.build(Settings(instance_path=folder, database_url=url), clock=SystemClock(), engine=engine)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows()))
    return runtime


def clear_interactions(runtime: Runtime) -> None:
    with runtime.session_factory.begin() as db:
        # TRUNCATE on PostgreSQL: a DELETE would leave dead index entries that slow the next run.
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text("TRUNCATE interactions, subscribers CASCADE"))
        else:
            db.execute(text("DELETE FROM interactions"))
            db.execute(text("DELETE FROM subscribers"))


def baseline_insert(runtime: Runtime, items: list[dict]) -> float:
    """The baseline: the same rows, pre-built, inserted by a Core executemany. Returns rows/s."""
    with runtime.session_factory.begin() as db:
        outlet_id = db.execute(text("SELECT id FROM outlets LIMIT 1")).scalar()
    rows = [{"source": i["source"], "external_id": i["external_id"], "channel": "store", "outlet_id": outlet_id,
             "business_type_id": None, "msisdn": "+86" + i["msisdn"], "ended_at": END, "staff_id": None,
             "attributes": {}, "received_at": END} for i in items]
    started = time.perf_counter()
    for start in range(0, len(rows), 5000):
        with runtime.session_factory.begin() as db:
            db.execute(Interaction.__table__.insert(), rows[start:start + 5000])
    elapsed = time.perf_counter() - started
    clear_interactions(runtime)
    return len(rows) / elapsed


def bench_api(runtime: Runtime, count: int) -> tuple[float, float]:
    """interactions/s through the test client and through a real threaded server on loopback."""
    with runtime.session_factory.begin() as db:
        token = create_token(db, "bench", now=runtime.clock.now())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    app = create_app(runtime=runtime)
    rates = []
    for mode, seed in (("test-client", 1), ("server", 2)):
        items = list(interactions(count, CODES, end=END, tz=TZ, seed=seed, source=mode))
        bodies = [json.dumps(items[i:i + 1000]) for i in range(0, count, 1000)]
        if mode == "test-client":
            client = app.test_client()
            started = time.perf_counter()
            for body in bodies:
                assert client.post("/api/v1/interactions", data=body, headers=headers).json["accepted"] == 1000
        else:
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
            started = time.perf_counter()
            for body in bodies:
                conn.request("POST", "/api/v1/interactions", body=body, headers=headers)
                assert json.loads(conn.getresponse().read())["accepted"] == 1000
            server.shutdown()
        rates.append(count / (time.perf_counter() - started))
    clear_interactions(runtime)
    return rates[0], rates[1]


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = None
        for item in interactions(rows, CODES, end=END, tz=TZ, seed=3, source="csv"):
            if writer is None:
                writer = csv.DictWriter(f, fieldnames=list(item))
                writer.writeheader()
            writer.writerow(item)


CHILD = r"""
import json, os, sys, threading, time
from pathlib import Path
from zoneinfo import ZoneInfo
from survey.database import make_engine, make_session_factory
from channels.csv_import import import_interactions
from survey.clock import SystemClock


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return 0.0


def children():
    found = []
    for task in os.listdir("/proc/self/task"):
        try:
            found += open(f"/proc/self/task/{task}/children").read().split()
        except OSError:
            pass
    return found


peak = {"total": 0.0, "self": 0.0}
done = threading.Event()


def sample():
    # The import and its reader process together, sampled: ru_maxrss would carry the parent's peak
    # across fork and exec, and would not add the two processes up.
    while not done.wait(0.02):
        own = rss_mb("self")
        peak["self"] = max(peak["self"], own)
        peak["total"] = max(peak["total"], own + sum(rss_mb(pid) for pid in children()))


url, path = sys.argv[1], Path(sys.argv[2])
engine = make_engine(url)
before = rss_mb("self")
threading.Thread(target=sample, daemon=True).start()
started = time.perf_counter()
summary = import_interactions(make_session_factory(engine), path, now=SystemClock().now, tz=ZoneInfo("Asia/Shanghai"))
elapsed = time.perf_counter() - started
done.set()
print(json.dumps({"rows": summary.rows, "created": summary.created, "seconds": elapsed,
                  "rss_before_mb": before, "rss_peak_mb": peak["self"], "total_peak_mb": peak["total"]}))
"""


def bench_csv(url: str, path: Path) -> dict:
    """Import in a child process so its peak RSS is the import's own."""
    out = subprocess.run([sys.executable, "-c", CHILD, url, str(path)], check=True, capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--api-items", type=int, default=20_000)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="which to measure (PostgreSQL only when TOUCHPOINT_TEST_DATABASE_URL is set)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wanted = args.databases.split(",")
        targets = [("sqlite", f"sqlite:///{folder / 'bench.db'}")] if "sqlite" in wanted else []
        if os.environ.get("TOUCHPOINT_TEST_DATABASE_URL") and "postgresql" in wanted:
            targets.append(("postgresql", os.environ["TOUCHPOINT_TEST_DATABASE_URL"]))
        csv_path = folder / "interactions.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.csv_rows)
        print(f"wrote {args.csv_rows:,} CSV rows ({csv_path.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")
        for name, url in targets:
            runtime = fresh_runtime(url, folder)
            floor = baseline_insert(runtime, list(interactions(20_000, CODES, end=END, tz=TZ, seed=9, source="b")))
            client_rate, server_rate = bench_api(runtime, args.api_items)
            print(f"[{name}] baseline (pre-built rows, SQLAlchemy Core executemany): {floor:,.0f} rows/s")
            print(f"[{name}] batch API, test client: {client_rate:,.0f} interactions/s "
                  f"({client_rate / floor:.2f}x baseline; goal >= 2,000/s)")
            print(f"[{name}] batch API, real server on loopback: {server_rate:,.0f} interactions/s "
                  f"({server_rate / floor:.2f}x baseline)")
            result = bench_csv(url, csv_path)
            rate = result["rows"] / result["seconds"]
            print(f"[{name}] CSV import: {result['created']:,} of {result['rows']:,} rows stored in "
                  f"{result['seconds']:.1f} s = {rate:,.0f} rows/s ({rate / floor:.2f}x baseline; goal >= 20,000/s)")
            print(f"[{name}] CSV import peak RSS: {result['total_peak_mb']:.0f} MB for the importing process and "
                  f"its reader process together (importer alone {result['rss_peak_mb']:.0f} MB, of which "
                  f"{result['rss_before_mb']:.0f} MB interpreter and imports before the import; goal < 200 MB)")
            runtime.engine.dispose()


if __name__ == "__main__":
    main()
