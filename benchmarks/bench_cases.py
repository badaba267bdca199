"""Closed-loop cases: opening them from stored answers in one pass, and a lead's queue page.

1. 100,000 answers, 15% dissatisfied (satisfaction 4 or 5), stored as the engine stores them; one
   pass of the backfill job (survey.cases.opening.open_for_stored_answers: rules on every answer,
   owners and deadlines in bulk, cases and their first history line inserted by executemany, no ORM
   unit of work per row) opens 15,000 cases. Goal: >= 5,000 cases/s on SQLite. Baseline, in the same
   run: a bare Core executemany of the very same case rows, pre-built (the insert alone).
2. The queue page (/cases/) of a channel lead whose two outlets hold 10,000 open cases, rendered by the
   app through its test client with the lead signed in: goal < 300 ms (median of 15 requests).

Usage: python benchmarks/bench_cases.py [--answers 100000] [--database URL]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select  # noqa: E402

from channels.models import Interaction, Outlet  # noqa: E402
from channels.services import seed_business_types, upsert_outlets  # noqa: E402
from channels.synthetic import BRANDS, TIERS, outlet_rows  # noqa: E402
from survey import database  # noqa: E402
from survey.accounts.models import Role, User  # noqa: E402
from survey.accounts.services import create_user  # noqa: E402
from survey.cases.config import CaseLoop, load_case_policy  # noqa: E402
from survey.cases.opening import CaseOpener, open_for_stored_answers  # noqa: E402
from survey.clock import FrozenClock  # noqa: E402
from survey.models import Answer, Case, CaseEvent, SurveySession  # noqa: E402
from survey.policy import PolicyConfig  # noqa: E402
from survey.runtime import Runtime  # noqa: E402
from survey.settings import Settings  # noqa: E402
from survey.states import SessionState  # noqa: E402

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
DISSATISFIED = 0.15
LEAD_OUTLETS = 2
QUEUE_GOAL_MS, RATE_GOAL = 300, 5000


def seed_answers(runtime: Runtime, count: int, *, lead_cases: int) -> list[str]:
    """count interactions, sessions and satisfaction answers (15% 4 or 5); the first lead_cases of
    the dissatisfied at the lead's two outlets. Returns the lead's outlet codes."""
    rng = random.Random(14)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(outlet_rows(stores_per_city=5)))
        outlets = db.execute(select(Outlet.id, Outlet.code, Outlet.channel)).all()
    places = {row["code"]: row for row in outlet_rows(stores_per_city=5)}
    stores = [o for o in outlets if o.code.startswith("S")]
    lead_outlets, others = stores[:LEAD_OUTLETS], stores[LEAD_OUTLETS:]
    unhappy = set(rng.sample(range(count), int(count * DISSATISFIED)))
    at_lead = set(sorted(unhappy)[:lead_cases])
    interactions, sessions, answers = [], [], []
    for i in range(count):
        outlet = rng.choice(lead_outlets) if i in at_lead else rng.choice(others)
        msisdn, when = f"+86139{i:08d}", NOW - timedelta(hours=rng.uniform(0, 48))
        attributes = {"tier": rng.choice(TIERS), "brand": rng.choice(BRANDS)}
        interactions.append({"id": i + 1, "source": "bench", "external_id": f"b{i}", "channel": outlet.channel,
                             "outlet_id": outlet.id, "business_type_id": None, "msisdn": msisdn,
                             "ended_at": when - timedelta(minutes=20), "staff_id": None, "attributes": attributes,
                             "received_at": when, "evaluated_at": when, "decision": "surveyed"})
        sessions.append({"id": i + 1, "interaction_id": i + 1, "msisdn": msisdn, "survey": "csat-default",
                         "state": SessionState.COMPLETED, "question": None, "reasks": 0, "scheduled_for": when,
                         "sent_at": when, "last_reply_at": when, "expires_at": when, "ended_at": when,
                         "segments_sent": 2, "created_at": when})
        value = rng.choice((4, 5)) if i in unhappy else rng.choice((1, 1, 2))
        place = places[outlet.code]
        answers.append({"session_id": i + 1, "inbound_id": None, "survey": "csat-default", "question": "satisfaction",
                        "value": value, "reasons": [], "text": str(value), "answered_at": when, "response_seconds": 60,
                        "msisdn": msisdn, "channel": str(outlet.channel), "outlet_code": outlet.code,
                        "region": place["region"], "city": place["city"], "business_type": None,
                        "attributes": attributes})
    with runtime.session_factory.begin() as db:
        connection = db.connection()
        for table, rows in ((Interaction.__table__, interactions), (SurveySession.__table__, sessions),
                            (Answer.__table__, answers)):
            for start in range(0, len(rows), 20000):
                connection.execute(insert(table), rows[start:start + 20000])
        create_user(db, "bench-lead", "password123", Role.CHANNEL_LEAD, now=NOW,
                    outlet_codes=tuple(o.code for o in lead_outlets))
    return [o.code for o in lead_outlets]


def open_pass(runtime: Runtime, loop: CaseLoop) -> tuple[int, int, float]:
    with runtime.session_factory.begin() as db:
        started = time.perf_counter()
        read, opened = open_for_stored_answers(db, CaseOpener(loop))
        elapsed = time.perf_counter() - started
    return read, opened, elapsed


def core_baseline(runtime: Runtime) -> tuple[int, float]:
    """The same case rows, read back and pre-built, inserted again by a bare Core executemany."""
    columns = [c for c in Case.__table__.columns if c.name != "id"]
    with runtime.session_factory.begin() as db:
        rows = [dict(row._mapping) for row in db.execute(select(*columns))]
    with runtime.session_factory.begin() as db:
        db.execute(delete(CaseEvent))
        db.execute(delete(Case))
    with runtime.session_factory.begin() as db:
        started = time.perf_counter()
        db.connection().execute(insert(Case.__table__), rows)
        elapsed = time.perf_counter() - started
    with runtime.session_factory.begin() as db:  # put the job's cases back: the events went with them
        db.execute(delete(Case))
    return len(rows), elapsed


def page_timing(runtime: Runtime, username: str, path: str, *, requests: int = 15) -> tuple[list[float], int]:
    """Milliseconds per request of a page, signed in as username (the first request, which compiles
    the templates, is not counted), and the page's size."""
    from survey.web import create_app

    client = create_app(runtime=runtime).test_client()
    with runtime.session_factory() as db:
        user = db.scalar(select(User).where(User.username == username))
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = str(user.id), True
    times, size = [], 0
    for _ in range(requests + 1):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        size = len(response.data)
    return times[1:], size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--lead-cases", type=int, default=10_000)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/cases.db"
        settings = Settings(instance_path=Path(tmp), timezone="Asia/Shanghai", database_url=url)
        runtime = Runtime.build(settings, clock=FrozenClock(NOW))
        database.reset(runtime.engine)
        database.upgrade(runtime.engine)
        started = time.perf_counter()
        lead_outlets = seed_answers(runtime, args.answers, lead_cases=args.lead_cases)
        print(f"seeded {args.answers:,} answers ({DISSATISFIED:.0%} dissatisfied) in {time.perf_counter() - started:.1f} s "
              f"on {runtime.engine.dialect.name}")
        loop = CaseLoop.from_config(load_case_policy(), PolicyConfig(tz=settings.tz))
        passes = []
        read, opened, elapsed = open_pass(runtime, loop)
        passes.append(opened / elapsed)
        baseline_rows, baseline_elapsed = core_baseline(runtime)
        baseline = baseline_rows / baseline_elapsed
        read, opened, elapsed = open_pass(runtime, loop)  # again, after the baseline emptied the table
        passes.append(opened / elapsed)
        with runtime.session_factory() as db:
            events = db.scalar(select(func.count()).select_from(CaseEvent))
            in_scope = db.scalar(select(func.count()).select_from(Case).where(Case.outlet_code.in_(lead_outlets)))
        rate = min(passes)
        ok = "ok" if rate >= RATE_GOAL else "MISSED"
        print(f"open cases, one pass: {read:,} answers read, {opened:,} cases (+{events:,} history lines); "
              f"{' and '.join(f'{r:,.0f}' for r in passes)} cases/s in two passes (goal >= {RATE_GOAL:,}: {ok}); "
              f"bare Core insert of the same rows {baseline:,.0f} rows/s; ratio {rate / baseline:.2f}x (slower pass)")
        times, size = page_timing(runtime, "bench-lead", "/cases/")
        median = statistics.median(times)
        ok = "ok" if median < QUEUE_GOAL_MS else "MISSED"
        print(f"queue page of a lead with {in_scope:,} open cases: median {median:.0f} ms, max {max(times):.0f} ms "
              f"over {len(times)} requests, {size / 1024:.0f} KiB (goal < {QUEUE_GOAL_MS} ms: {ok})")
        with runtime.session_factory.begin() as db:
            create_user(db, "bench-manager", "password123", Role.MANAGER, now=NOW)
        times, size = page_timing(runtime, "bench-manager", "/cases/board?since=2026-11-01", requests=5)
        print(f"closed-loop board over all {opened:,} cases (a manager): median {statistics.median(times):.0f} ms "
              f"over {len(times)} requests, {size / 1024:.0f} KiB (no goal)")
        runtime.engine.dispose()


if __name__ == "__main__":
    main()
