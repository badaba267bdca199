"""Load (issue #16): the ingest API and the dashboards against the real server on loopback.

1. Ingest: gunicorn (``--processes`` workers, threads each) serves the app on PostgreSQL; 50 client
   threads (``--clients``), each with its own keep-alive connection, POST one interaction per
   request to /api/v1/interactions for ``--seconds``. Prints requests/s, p50/p99 latency, errors
   (anything but 201, and transport failures; goal 0) and rows stored against rows accepted.
2. Dashboards while the worker runs: the SMSC simulator (its own process, subscribers replying)
   and `touchpoint worker` run while one feeder posts interactions at ``--feed`` per second. The
   worker's ack latency (acked_at - submitted_at of its messages, from the database) is measured
   first with no one on the dashboards (idle), then while 20 signed-in users (``--users``) walk
   the pages, each for ``--dashboard-seconds``: p50/p95 page time, page errors, and the ack
   latency under load as a ratio to idle (same run).

The database is one of the bench's own (created when missing, emptied at the start): by default
postgresql+psycopg://postgres@127.0.0.1:5432/bench_load, or --database / TOUCHPOINT_BENCH_DATABASE_URL.
Only loopback addresses are used. A smoke run: --seconds 5 --dashboard-seconds 5.
Run: .venv/bin/python benchmarks/bench_load.py [--seconds 60] [--processes 4]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from channels.services import seed_business_types, upsert_outlets  # noqa: E402
from channels.synthetic import msisdn, outlet_rows  # noqa: E402
from survey import database  # noqa: E402
from survey.accounts.models import Role, TokenScope  # noqa: E402
from survey.accounts.services import create_token, create_user  # noqa: E402
from survey.clock import SystemClock  # noqa: E402
from survey.runtime import Runtime  # noqa: E402
from survey.settings import Settings  # noqa: E402

HOST = "127.0.0.1"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_load"
CODES = [row["code"] for row in outlet_rows()]
PAGES = ["/", "/shortboards", "/regions", "/trends", "/reasons", f"/outlets/{CODES[0]}"]
PASSWORD = "bench-load-password-1"
SIMULATOR = """
from smpp.simulator import run_simulator
run_simulator("127.0.0.1", 0, "touchpoint", "secret", ack_latency_s=0.005, replies=True,
              reply_delay_s=1.0, ready=lambda port: print(port, flush=True))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ensure_database(url: str) -> None:
    """Create the bench's database when it does not exist (never the tests' database)."""
    parsed = make_url(url)
    if parsed.database in (None, "test", "postgres"):
        raise SystemExit(f"--database: use a database of the bench's own, not {parsed.database!r}")
    admin = f"host={parsed.host or HOST} port={parsed.port or 5432} user={parsed.username or 'postgres'} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def prepare(url: str, folder: Path) -> tuple[Runtime, str]:
    """Empty schema, business types, outlets, a manager for the pages; returns an API token."""
    engine = database.make_engine(url)
    with engine.begin() as conn:  # the bench's own database: start from nothing, whatever was there
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    database.upgrade(engine)
    runtime = Runtime.build(Settings(instance_path=folder, database_url=url), clock=SystemClock(),
                            engine=engine)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows()))
        now = runtime.clock.now()
        create_user(db, "loadmanager", PASSWORD, Role.MANAGER, now=now)
        token = create_token(db, "bench-load", now=now, scopes=(TokenScope.INGEST, TokenScope.READ))
    return runtime, token


def server_env(url: str, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_DATABASE_URL=url, TOUCHPOINT_INSTANCE_PATH=str(folder),
               TOUCHPOINT_SECRET_KEY="bench-load-secret", TOUCHPOINT_COOKIE_SECURE="0",
               TOUCHPOINT_QUIET_START="00:00", TOUCHPOINT_QUIET_END="00:00",
               TOUCHPOINT_SEND_DELAY_MINUTES="0", PYTHONPATH=str(ROOT))
    return env


def wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until /healthz answers 200 a few times in a row (every process booted)."""
    deadline, answered = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and answered < 10:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request("GET", "/healthz")
            answered = answered + 1 if conn.getresponse().status == 200 else 0
            conn.close()
        except OSError:
            time.sleep(0.2)  # polling a child process's port while it starts, not a test
    if answered < 10:
        raise SystemExit(f"{HOST}:{port} does not answer /healthz after {timeout} s")


def start_server(env: dict[str, str], processes: int, threads: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(processes), "--threads",
         str(threads), "--worker-class", "gthread", "--bind", f"{HOST}:{port}", "--log-level",
         "warning", "--backlog", "512", "--keep-alive", "75",  # as behind a load balancer
         # Imported once before forking: each process importing scipy & co. on a 2-core machine
         # would otherwise take ~12 s and answer the first requests that late.
         "--preload", "survey.web:create_app(warm_copy=True)"], cwd=ROOT, env=env)
    wait_until_serving(port, proc)
    return proc, port


def interaction(tag: str, number: int, rng: random.Random) -> dict:
    ended = datetime.now(timezone.utc) - timedelta(minutes=rng.randrange(1, 60))
    return {"source": "load", "external_id": f"{tag}-{number}",
            "msisdn": msisdn(rng),
            "outlet": rng.choice(CODES), "business_type": "宽带",
            "ended_at": ended.isoformat(timespec="seconds"), "attributes": {"tier": "VIP"}}


class Poster:
    """One client: a keep-alive connection posting single interactions."""

    def __init__(self, port: int, token: str, tag: str, seed: int) -> None:
        self.port, self.tag = port, tag
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.rng = random.Random(seed)
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.latencies: list[float] = []
        self.accepted = self.errors = self.sent = 0

    def post_one(self) -> None:
        body = json.dumps(interaction(self.tag, self.sent, self.rng), ensure_ascii=False).encode()
        self.sent += 1
        started = time.perf_counter()
        try:
            self.conn.request("POST", "/api/v1/interactions", body, self.headers)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.errors += 1
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            return
        self.latencies.append(time.perf_counter() - started)
        if response.status == 201:
            self.accepted += 1
        else:
            self.errors += 1


def ingest_phase(port: int, token: str, clients: int, seconds: float) -> list[Poster]:
    posters = [Poster(port, token, f"c{i}", i) for i in range(clients)]
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def loop(poster: Poster) -> None:
        start.wait()
        while time.monotonic() < deadline[0]:
            poster.post_one()
        poster.conn.close()

    threads = [threading.Thread(target=loop, args=(p,)) for p in posters]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return posters


class User:
    """A signed-in manager walking the dashboards on a keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookie = ""
        self.times: list[float] = []
        self.errors = 0
        self.failures: Counter[str] = Counter()  # what the errors were: status and path

    def _request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        page = response.read().decode("utf-8", "replace")
        if cookie := response.getheader("Set-Cookie"):
            self.cookie = cookie.split(";", 1)[0]
        return response.status, page

    def sign_in(self) -> None:
        _, page = self._request("GET", "/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if token is None:
            raise SystemExit("no CSRF token on /login")
        status, _ = self._request("POST", "/login", urlencode(
            {"csrf_token": token.group(1), "username": "loadmanager", "password": PASSWORD}))
        if status != 302:
            raise SystemExit(f"sign-in answered {status}")

    def open(self, path: str) -> None:
        started = time.perf_counter()
        try:
            status, _ = self._request("GET", path)
        except (OSError, http.client.HTTPException):
            self.errors += 1
            self.failures[f"transport error {path}"] += 1
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            return
        self.times.append(time.perf_counter() - started)
        if status != 200:
            self.errors += 1
            self.failures[f"{status} {path}"] += 1


def dashboard_phase(port: int, users: int, seconds: float) -> list[User]:
    people = [User(port) for _ in range(users)]
    for person in people:
        person.sign_in()
    deadline = time.monotonic() + seconds

    def walk(person: User, offset: int) -> None:
        step = offset
        while time.monotonic() < deadline:
            person.open(PAGES[step % len(PAGES)])
            step += 1

    threads = [threading.Thread(target=walk, args=(p, i)) for i, p in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return people


def feed(port: int, token: str, rate: float, stop: threading.Event) -> Poster:
    """Post interactions at about `rate` per second until stopped, so the worker always has work."""
    poster = Poster(port, token, "feed", 99)
    next_at = time.monotonic()
    while not stop.is_set():
        poster.post_one()
        next_at += 1 / rate
        stop.wait(max(0.0, next_at - time.monotonic()))
    return poster


def wait_for_first_ack(runtime: Runtime, port: int, token: str, worker: subprocess.Popen,
                       timeout: float = 120) -> None:
    """Post one interaction and wait until the worker (which imports for a while) acks its survey."""
    Poster(port, token, "probe", 7).post_one()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.returncode}")
        with runtime.session_factory() as db:
            if db.execute(text("SELECT count(*) FROM outbound_messages WHERE acked_at IS NOT NULL")).scalar():
                return
        time.sleep(0.5)  # polling a child process's progress in the database, not a test
    raise SystemExit(f"the worker acked nothing within {timeout} s")


def ack_latencies(runtime: Runtime, start: datetime, end: datetime) -> list[float]:
    """acked_at - submitted_at of the messages acked in [start, end), in seconds."""
    with runtime.session_factory() as db:
        rows = db.execute(text(
            "SELECT submitted_at, acked_at FROM outbound_messages WHERE acked_at >= :start "
            "AND acked_at < :end AND submitted_at IS NOT NULL"),
            {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None)}).all()
    return [(acked - submitted).total_seconds() for submitted, acked in rows]


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="ingest phase length")
    parser.add_argument("--dashboard-seconds", type=float, default=None,
                        help="each of the idle and dashboard windows (default: --seconds / 2)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process")
    parser.add_argument("--feed", type=float, default=10, help="interactions/s while the worker runs")
    parser.add_argument("--database", default=os.environ.get("TOUCHPOINT_BENCH_DATABASE_URL",
                                                             DEFAULT_DATABASE))
    args = parser.parse_args()
    window = args.dashboard_seconds or args.seconds / 2
    ensure_database(args.database)
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    runtime, token = prepare(args.database, folder)
    env = server_env(args.database, folder)
    server, port = start_server(env, args.processes, args.threads)
    failed = False
    try:
        print(f"gunicorn: {args.processes} processes x {args.threads} threads on {HOST}:{port}, "
              f"PostgreSQL {make_url(args.database).database}")
        posters = ingest_phase(port, token, args.clients, args.seconds)
        latencies = [t for p in posters for t in p.latencies]
        requests = sum(p.sent for p in posters)
        accepted = sum(p.accepted for p in posters)
        errors = sum(p.errors for p in posters)
        with runtime.session_factory() as db:
            stored = db.execute(text("SELECT count(*) FROM interactions WHERE source = 'load'")).scalar()
        print(f"ingest, {args.clients} clients, {args.seconds:.0f} s: {requests / args.seconds:.0f} requests/s, "
              f"p50 {ms(percentile(latencies, 0.5))}, p99 {ms(percentile(latencies, 0.99))}, "
              f"errors {errors}, rows accepted {accepted}, rows stored {stored}"
              f"{'' if stored == accepted else ' -- MISMATCH'}")
        failed |= errors > 0 or stored != accepted
        # The worker would first have to evaluate the whole ingest burst: start it on a clean slate.
        with runtime.session_factory.begin() as db:
            db.execute(text("TRUNCATE interactions, subscribers CASCADE"))
        failed |= worker_phase(args, env, runtime, port, token, window)
    finally:
        stop_process(server)
    return 1 if failed else 0


def worker_phase(args, env, runtime: Runtime, port: int, token: str, window: float) -> bool:
    """Idle window, then the dashboard window, with the worker and the feeder running."""
    smsc = subprocess.Popen([sys.executable, "-c", SIMULATOR], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    assert smsc.stdout is not None
    worker_env = dict(env, TOUCHPOINT_SMPP_PORT=smsc.stdout.readline().strip())
    worker = subprocess.Popen([str(Path(sys.executable).parent / "touchpoint"), "worker"],
                              cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL)
    stop_feed = threading.Event()
    feeder = threading.Thread(target=feed, args=(port, token, args.feed, stop_feed))
    try:
        wait_for_first_ack(runtime, port, token, worker)
        feeder.start()
        stop_feed.wait(5)  # warm-up: a steady flow of surveys
        idle_start = datetime.now(timezone.utc)
        stop_feed.wait(window)
        busy_start = datetime.now(timezone.utc)
        people = dashboard_phase(port, args.users, window)
        busy_end = datetime.now(timezone.utc)
    finally:
        stop_feed.set()
        if feeder.is_alive():
            feeder.join()
        stop_process(worker)
        stop_process(smsc)
    idle = ack_latencies(runtime, idle_start, busy_start)
    busy = ack_latencies(runtime, busy_start, busy_end)
    pages = [t for p in people for t in p.times]
    page_errors = sum(p.errors for p in people)
    failures = sum((p.failures for p in people), Counter())
    print(f"dashboards, {args.users} users, {window:.0f} s while the worker runs: {len(pages)} pages, "
          f"{len(pages) / window:.1f} pages/s, p50 {ms(percentile(pages, 0.5))}, "
          f"p95 {ms(percentile(pages, 0.95))}, errors {page_errors}"
          + (f" ({dict(failures.most_common(5))})" if failures else ""))
    if not idle or not busy:
        print(f"worker ack latency: too few messages acked (idle {len(idle)}, under load {len(busy)})")
        return True
    ratio = statistics.median(busy) / statistics.median(idle)
    print(f"worker ack latency (acked_at - submitted_at): idle p50 {ms(statistics.median(idle))} "
          f"p95 {ms(percentile(idle, 0.95))} ({len(idle)} messages); under dashboard load p50 "
          f"{ms(statistics.median(busy))} p95 {ms(percentile(busy, 0.95))} ({len(busy)} messages); "
          f"p50 ratio {ratio:.2f} x idle")
    return page_errors > 0


if __name__ == "__main__":
    sys.exit(main())
