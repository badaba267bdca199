"""The pages at scale: 1,000,000 answers over about 5,000 outlets, through the Flask test client.

Times the overview, the outlet short-board page (30 days and a whole year), a trend page, and one
channel lead's XLSX export (per-outlet scores, and every answer of theirs), each as the median of
several loads, next to the same SQL run bare in the same run (analysis.queries called directly,
no statistics, no template): the ratio is what the page adds to its queries. Goal: each page under
300 ms at the median. Also the peak Python memory of a streamed CSV download of a year of answers.
SQLite always; PostgreSQL too when TOUCHPOINT_TEST_DATABASE_URL names one: it is reset, so name a
database of the benchmark's own, not the one tests are running on.
Then the worker on the same database, against the simulator, twice: idle, and while another process
loads the pages cold one after another (a manager who never stops clicking). Its ack latency (an ack
read by the I/O thread → the database commit recording it, as in bench_ack_gap) should stay within
10% of idle: a page's read never blocks the worker's writes.
Pages keep their results a minute (survey.reports.cache): "cold" clears that cache before every
load, "warm" is a reload within the minute.
Usage: python benchmarks/bench_web.py [--answers 1000000] [--runs 7] [--only sqlite|postgresql]
                                      [--sqlite-file PATH (kept, and reused when it has the answers)]
                                      [--acks 2000 (interactions per worker run; 0: no worker runs)]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_ack_gap import measure as ack_latencies  # noqa: E402
from bench_engine import start_simulator  # noqa: E402

from sqlalchemy import select, text  # noqa: E402

from analysis.counts import STORE  # noqa: E402
from analysis.queries import (  # noqa: E402
    answer_records, interaction_counts, interaction_totals, latest_interactions, load_answer_frame, sent_counts,
    session_counts, value_counts,
)
from channels.models import Outlet  # noqa: E402
from channels.services import seed_business_types, upsert_outlets  # noqa: E402
from channels.sql.bulk import insert_rows  # noqa: E402
from channels.synthetic import BRANDS, TIERS, outlet_rows  # noqa: E402
from channels.taxonomy import DEFAULT_BUSINESS_TYPES  # noqa: E402
from survey import database  # noqa: E402
from survey.accounts.models import Role, User  # noqa: E402
from survey.clock import FrozenClock  # noqa: E402
from survey.reasons import REASON_CODES  # noqa: E402
from survey.reports.filters import parse_filter  # noqa: E402
from survey.reports.selection import resolve  # noqa: E402
from survey.runtime import Runtime  # noqa: E402
from survey.settings import Settings  # noqa: E402
from survey.web import create_app  # noqa: E402
from survey.web.dashboards import CACHE  # noqa: E402

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai, as the tests' clock
BATCH = 50_000


def fresh_runtime(url: str, folder: Path, *, reset: bool = True) -> Runtime:
    engine = database.make_engine(url)
    if reset:
        database.reset(engine)
        database.upgrade(engine)
    settings = Settings(instance_path=folder, database_url=url, timezone="Asia/Shanghai")
    return Runtime.build(settings, clock=FrozenClock(NOW), engine=engine)


def load(runtime: Runtime, answers: int, seed: int = 5) -> dict:
    """Outlets, interactions, surveys sent and answers (with reason answers for the dissatisfied),
    spread over the year to NOW; a few outlets well below the rest. Bulk inserts, ids assigned here."""
    rows = outlet_rows(stores_per_city=384)  # 13 cities x 384 stores + 16 virtual outlets
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(rows))
    with runtime.read_factory() as db:
        outlets = {code: (outlet_id, str(channel)) for outlet_id, code, channel
                   in db.execute(select(Outlet.id, Outlet.code, Outlet.channel))}
    by_code = {r["code"]: r for r in rows}
    codes = sorted(outlets)
    rng = np.random.default_rng(seed)
    sessions = int(answers * 1.1)
    total = int(sessions * 1.1)
    outlet_of = rng.integers(0, len(codes), total)
    rate = np.clip(rng.normal(0.9, 0.03, len(codes)), 0.5, 0.99)
    rate[rng.choice(len(codes), len(codes) // 50, replace=False)] -= 0.15  # the short boards
    # In time order, as ingest numbers them: a row's id follows its time, so a window is a run of ids.
    ended = NOW - timedelta(days=365) + np.sort(rng.random(total) * 365 * 86400).astype("timedelta64[s]").astype(object)
    business = [name for _, name in DEFAULT_BUSINESS_TYPES]
    with runtime.read_factory() as db:
        business_ids = dict(db.execute(text("SELECT name, id FROM business_types")).all())
    biz = rng.integers(0, len(business), total)
    tier = rng.integers(0, len(TIERS), total)
    brand = rng.integers(0, len(BRANDS), total)
    satisfied = rng.random(total) < rate[outlet_of]
    value = np.where(satisfied, rng.integers(1, 3, total), rng.integers(3, 6, total))
    reason = rng.integers(0, len(REASON_CODES) - 1, total)
    role = rng.permutation(total)  # below `sessions`: surveyed; below `answers`: answered (all year long)
    started = time.perf_counter()
    counts = {"interactions": 0, "sessions": 0, "answers": 0}
    for start in range(0, total, BATCH):
        stop = min(start + BATCH, total)
        its, sess, ans = [], [], []
        for i in range(start, stop):
            code = codes[outlet_of[i]]
            (outlet_id, channel), place = outlets[code], by_code[code]
            end = ended[i]
            attrs = {"tier": TIERS[tier[i]], "brand": BRANDS[brand[i]]}
            phone = f"+86138{i:08d}"
            its.append({"id": i + 1, "source": "bench", "external_id": f"b{i}", "channel": channel,
                        "outlet_id": outlet_id, "business_type_id": business_ids[business[biz[i]]], "msisdn": phone,
                        "ended_at": end, "staff_id": None, "attributes": attrs, "received_at": end,
                        "evaluated_at": end, "decision": "surveyed" if role[i] < sessions else "sampled_out"})
            if role[i] >= sessions:
                continue
            sent = end + timedelta(minutes=5)
            answered = role[i] < answers
            sess.append({"id": i + 1, "interaction_id": i + 1, "msisdn": phone, "survey": "csat-default",
                         "state": "completed" if answered else "expired", "question": None, "reasks": 0,
                         "scheduled_for": sent, "sent_at": sent, "last_reply_at": None, "expires_at": None,
                         "ended_at": sent, "segments_sent": 2, "created_at": end})
            if not answered:
                continue
            at = sent + timedelta(minutes=7)
            common = {"session_id": i + 1, "inbound_id": None, "survey": "csat-default", "answered_at": at,
                      "response_seconds": 420, "msisdn": phone, "channel": channel, "outlet_code": code,
                      "region": place["region"], "city": place["city"], "business_type": business[biz[i]],
                      "attributes": attrs, "tier": attrs["tier"], "brand": attrs["brand"]}
            v = int(value[i])
            ans.append({"id": 2 * i + 1, "question": "satisfaction", "value": v, "reasons": [], "text": str(v),
                        **common})
            if v >= 3:
                ans.append({"id": 2 * i + 2, "question": "reason", "value": None,
                            "reasons": [REASON_CODES[reason[i]]], "text": "排队太久", **common})
        with runtime.session_factory.begin() as db:
            counts["interactions"] += insert_rows(db, "interactions", list(its[0]), its, conflict=("id",))
            if sess:
                counts["sessions"] += insert_rows(db, "survey_sessions", list(sess[0]), sess, conflict=("id",))
            if ans:
                counts["answers"] += insert_rows(db, "answers", list(ans[0]), ans, conflict=("id",))
    with runtime.engine.connect() as conn:
        # PostgreSQL: VACUUM sets the visibility map an index-only scan needs, as autovacuum would
        # have by the time a manager looks at a year of answers.
        vacuum = "VACUUM ANALYZE" if runtime.engine.dialect.name == "postgresql" else "ANALYZE"
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(vacuum)
    counts["load_s"] = round(time.perf_counter() - started, 1)
    counts["outlets"] = len(codes)
    return counts


def advance_sequences(runtime: Runtime) -> None:
    """PostgreSQL: the ids the load chose itself are taken, so the engine's inserts start after them."""
    if runtime.engine.dialect.name != "postgresql":
        return
    with runtime.engine.begin() as conn:
        for table in ("interactions", "survey_sessions", "answers"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT coalesce(max(id), 1) FROM {table}))"))


def lead_outlets(runtime: Runtime) -> list[str]:
    """One city's stores: what a channel lead looks after."""
    with runtime.read_factory() as db:
        return list(db.scalars(text("SELECT o.code FROM outlets o JOIN cities c ON c.id = o.city_id "
                                    "WHERE c.name = '杭州' AND o.channel = 'store'")))


def timed(fn, runs: int) -> tuple[float, object]:
    """Median seconds of `runs` calls after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def loaded(url: str, folder: Path, answers: int) -> tuple[Runtime, dict | None]:
    """A runtime on a database holding the benchmark's answers: reused when a kept file has them."""
    runtime = fresh_runtime(url, folder, reset=False)
    try:
        with runtime.read_factory() as db:
            # The load's own answers (no inbound message): a run with --acks adds the worker's.
            have = db.scalar(text("SELECT count(*) FROM answers WHERE question = 'satisfaction' AND inbound_id IS NULL"))
    except Exception:  # noqa: BLE001 - no schema yet
        have = None
    if have == answers:
        return runtime, None
    runtime.engine.dispose()
    runtime = fresh_runtime(url, folder)
    return runtime, load(runtime, answers)


def signed_in(runtime: Runtime, ids: dict[str, int]):
    """The app and a test client signed in as each of `ids` (who → user id)."""
    app = create_app(runtime=runtime)
    clients = {}
    for who, user_id in ids.items():
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(user_id)
        clients[who] = client
    return app, clients


def load_pages(url: str, folder: str, user_id: int, paths: list[str], stop, loads) -> None:
    """In a process of its own: the pages, cold, one after another until `stop` is set."""
    runtime = fresh_runtime(url, Path(folder), reset=False)
    app, clients = signed_in(runtime, {"manager": user_id})
    cache = app.extensions[CACHE]
    while not stop.is_set():
        for path in paths:
            cache.clear()
            assert clients["manager"].get(path).status_code == 200, path
            loads.value += 1
    runtime.engine.dispose()


def worker_beside_pages(url: str, folder: Path, user_id: int, count: int) -> None:
    """The worker's ack latency on this database, idle and while pages load in another process."""
    paths = ["/", "/shortboards?by=outlet", "/trends?by=channel"]
    proc, port = start_simulator()
    ctx = multiprocessing.get_context("spawn")
    try:
        _, idle = ack_latencies(port, count, folder / "idle", database_url=url, seed=31)
        stop, loads = ctx.Event(), ctx.Value("i", 0)
        pages = ctx.Process(target=load_pages, args=(url, str(folder), user_id, paths, stop, loads))
        pages.start()
        while loads.value == 0 and pages.is_alive():  # the page process is up and loading
            time.sleep(0.1)
        started = loads.value
        _, busy = ack_latencies(port, count, folder / "busy", database_url=url, seed=32)
        stop.set()
        pages.join()
    finally:
        proc.terminate()
        proc.wait()

    def figures(values: list[float]) -> tuple[float, float]:
        ordered = sorted(values)
        return statistics.median(ordered), ordered[int(len(ordered) * 0.95)]

    (idle_median, idle_p95), (busy_median, busy_p95) = figures(idle), figures(busy)
    print(f"worker ack latency (ack read → recorded), {len(idle):,} and {len(busy):,} acks: idle median "
          f"{idle_median * 1000:.1f} ms p95 {idle_p95 * 1000:.1f} ms; during {loads.value - started} cold page loads "
          f"median {busy_median * 1000:.1f} ms p95 {busy_p95 * 1000:.1f} ms; ratio {busy_median / idle_median:.2f}x "
          f"median, {busy_p95 / idle_p95:.2f}x p95 (goal: within 1.10x)")


def bench(name: str, url: str, answers: int, runs: int, acks: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runtime, counts = loaded(url, Path(folder), answers)
        if counts:
            print(f"\n{name}: {counts['answers']:,} answer rows ({answers:,} scored), {counts['sessions']:,} surveys, "
                  f"{counts['interactions']:,} interactions, {counts['outlets']:,} outlets; loaded in {counts['load_s']} s")
        else:
            print(f"\n{name}: {answers:,} scored answers already in the database")
        codes = lead_outlets(runtime)
        with runtime.session_factory.begin() as db:
            # A kept database has them from its first run.
            db.execute(text("DELETE FROM users WHERE username IN ('manager', 'lead')"))
            manager = User(username="manager", password_hash="!", role=Role.MANAGER, created_at=NOW)
            lead = User(username="lead", password_hash="!", role=Role.CHANNEL_LEAD, created_at=NOW,
                        outlets=list(db.scalars(select(Outlet).where(Outlet.code.in_(codes)))))
            db.add_all([manager, lead])
            db.flush()
            ids = {"manager": manager.id, "lead": lead.id}
        app, clients = signed_in(runtime, ids)
        cache = app.extensions[CACHE]

        def page(who: str, path: str):
            def get():
                response = clients[who].get(path)
                assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
                return len(response.get_data())
            return get

        tz = runtime.settings.tz

        def selection(db, scope, **args):
            f = parse_filter({k: [v] for k, v in args.items()}, today=NOW.astimezone(tz).date())
            return resolve(db, f, scope=scope, tz=tz)

        def bare_overview():
            with runtime.read_factory() as db:
                sel = selection(db, None)
                edges = [sel.previous_since, sel.since, sel.until]
                kw = {"scope": None, "criteria": sel.criteria, "edges": edges, "by": ("channel",)}
                value_counts(db, **kw)
                value_counts(db, survey="nps-default", question="recommend", **kw)
                session_counts(db, **kw)
                interaction_totals(db, **kw)
                latest_interactions(db, **sel.window())

        def bare_shortboards(period: str):
            def run():
                with runtime.read_factory() as db:
                    sel = selection(db, None, period=period)
                    load_answer_frame(db, attributes=("tier",), by_day=False,
                                      dimensions=("outlet", "city", "business_type"), **sel.window())
                    db.execute(select(Outlet.code, Outlet.name)).all()
            return run

        def bare_trends():
            with runtime.read_factory() as db:
                sel = selection(db, None, period="365d")
                wide = sel.over(min(sel.filter.start, datetime(2026, 2, 1).date()), sel.filter.end + timedelta(days=1))
                load_answer_frame(db, attributes=(), dimensions=("channel",), reasons=False, **wide.window())
                interaction_counts(db, by=(), **sel.window())

        def bare_scores():
            with runtime.read_factory() as db:
                sel = selection(db, tuple(codes))
                load_answer_frame(db, attributes=(), by_day=False, dimensions=("outlet",), **sel.window())
                sent_counts(db, by=("outlet",), **sel.window())

        def bare_answers():
            with runtime.read_factory() as db:
                sel = selection(db, tuple(codes))
                return sum(1 for _ in answer_records(db, **sel.window()))

        cases = [
            ("overview /", page("manager", "/"), bare_overview),
            ("short boards by outlet, 30 days", page("manager", "/shortboards?by=outlet"), bare_shortboards("30d")),
            ("short boards by outlet, 365 days", page("manager", "/shortboards?by=outlet&period=365d"),
             bare_shortboards("365d")),
            ("trends by channel, 365 days", page("manager", "/trends?by=channel"), bare_trends),
            (f"lead's outlet scores XLSX ({len(codes)} outlets)", page("lead", "/exports/outlet-scores.xlsx"), bare_scores),
            ("lead's answers XLSX, 30 days", page("lead", "/exports/answers.xlsx"), bare_answers),
        ]
        # The web app's first count loads its copy of the rows (analysis.column_store); pages after it
        # read the rows added since. A restart pays this once per process.
        started = time.perf_counter()
        page("manager", "/")()
        took = time.perf_counter() - started
        with runtime.read_factory() as db:
            copy = db.info[STORE].columns(db)
        print(f"first page after start (makes the column copy): {took:.1f} s; the copy takes {copy.nbytes / 1e6:.0f} MB")
        print(f"{'page':<42}{'cold':>9}{'bare SQL':>10}{'ratio':>8}{'warm':>9}{'bytes':>11}")
        for label, run_page, run_bare in cases:
            bare, _ = timed(run_bare, runs)

            def cold():
                cache.clear()
                return run_page()

            took, size = timed(cold, runs)
            warm, _ = timed(run_page, runs)
            mark = "" if took < 0.3 else "  (cold over 300 ms)"
            print(f"{label:<42}{took * 1000:>7.0f}ms{bare * 1000:>8.0f}ms{took / bare:>7.2f}x{warm * 1000:>7.0f}ms"
                  f"{size:>11,}{mark}")

        # Memory of a streamed download: 90 days of every answer as CSV, counted as the chunks arrive.
        tracemalloc.start()
        started = time.perf_counter()
        response = clients["manager"].get("/exports/answers.csv?period=90d", buffered=False)
        size = sum(len(chunk) for chunk in response.response)
        response.close()
        took = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"answers CSV, 90 days, all outlets: {size / 1e6:,.0f} MB in {took:.1f} s under tracemalloc, "
              f"peak Python memory {peak / 1e6:.1f} MB (streamed)")
        runtime.engine.dispose()
        if acks:
            advance_sequences(runtime)
            worker_beside_pages(url, Path(folder), ids["manager"], acks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--sqlite-file", type=Path)
    parser.add_argument("--acks", type=int, default=2000)
    args = parser.parse_args()
    targets = []
    if args.only in (None, "sqlite"):
        path = args.sqlite_file or Path(tempfile.mkdtemp()) / "bench.db"
        targets.append(("SQLite", f"sqlite:///{path.resolve()}"))
    if args.only in (None, "postgresql") and os.environ.get("TOUCHPOINT_TEST_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["TOUCHPOINT_TEST_DATABASE_URL"]))
    for name, url in targets:
        bench(name, url, args.answers, args.runs, args.acks)


if __name__ == "__main__":
    main()
