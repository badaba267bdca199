"""`touchpoint demo`: the product on an embedded default — SQLite, the bundled SMSC simulator with
subscribers who reply, synthetic interactions pushed through the HTTP API, the worker, the web app.
"""
from __future__ import annotations

import csv
import itertools
import json
import threading
import urllib.request
from datetime import time, timedelta
from pathlib import Path

import click
from werkzeug.serving import make_server

from channels.csv_import import import_outlets
from channels.services import seed_business_types
from channels.synthetic import interactions, outlet_rows
from smpp.simulator import SMSCSimulator, SimulatorConfig
from survey import database
from survey.accounts.models import Role
from survey.accounts.services import create_token, create_user
from survey.jobs.build import build_worker
from survey.jobs.worker import Intervals
from survey.runtime import Runtime
from survey.settings import load_settings
from survey.web import create_app


DEMO_PASSWORD = "touchpoint-demo"
DEMO_USERS = (("admin", Role.ADMIN, ()), ("manager", Role.MANAGER, ()), ("lead", Role.CHANNEL_LEAD, None))


def prepare(runtime: Runtime, folder: Path) -> str:
    """Schema, business types, outlets (through the real CSV import) and the demo sign-ins; returns
    an API token."""
    database.upgrade(runtime.engine)
    outlets_csv = folder / "outlets.csv"
    rows = outlet_rows()
    with open(outlets_csv, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_outlets(runtime.session_factory, outlets_csv)
    with runtime.session_factory.begin() as db:
        seed_business_types(db)
        for username, role, outlets in DEMO_USERS:
            # The channel lead looks after the first city's outlets.
            codes = tuple(r["code"] for r in rows if r["city"] == rows[0]["city"]) if outlets is None else outlets
            create_user(db, username, DEMO_PASSWORD, role, now=runtime.clock.now(), outlet_codes=codes)
        return create_token(db, "demo", now=runtime.clock.now())


def post_interactions(base_url: str, token: str, items: list[dict], batch: int = 500) -> dict[str, int]:
    """Push interactions through the HTTP API as an integrator would; returns the summed counts."""
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(items), batch):
        request = urllib.request.Request(
            f"{base_url}/api/v1/interactions", data=json.dumps(items[start:start + batch]).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        for key in totals:
            totals[key] += body[key]
    return totals


def _trickle(base_url: str, token: str, runtime: Runtime, codes: list[str], stop: threading.Event,
             per_tick: int, every_s: float) -> None:
    """New interactions keep ending, a few every few seconds, as in a working day."""
    for seed in itertools.count(1000):
        if stop.wait(every_s):
            return
        items = list(interactions(per_tick, codes, end=runtime.clock.now() - timedelta(minutes=6),
                                  tz=runtime.settings.tz, span=timedelta(minutes=1), seed=seed, source="live"))
        post_interactions(base_url, token, items)


@click.command("demo")
@click.option("--interactions", "count", default=2000, show_default=True, help="interactions pushed at start")
@click.option("--port", type=int, default=None, help="web port (default: TOUCHPOINT_PORT)")
@click.option("--reply-delay-s", type=float, default=3.0, show_default=True, help="how fast subscribers answer")
@click.option("--exit-after-s", type=float, default=None, help="stop after this many seconds (for tests)")
def demo_command(count: int, port: int | None, reply_delay_s: float, exit_after_s: float | None) -> None:
    """Run Touchpoint end to end on SQLite in instance/demo with a simulated SMSC and subscribers."""
    settings = load_settings()
    folder = (settings.instance_path / "demo").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (folder / f"touchpoint.db{suffix}").unlink(missing_ok=True)

    simulator = SMSCSimulator(SimulatorConfig(
        system_id=settings.smpp_system_id, password=settings.smpp_password, ack_latency_s=0.01,
        receipt_delay_s=1.0, replies=True, reply_delay_s=reply_delay_s, seed=7)).start()
    # The demo runs whatever the hour, so quiet hours are off (start == end) and surveys go at once.
    settings = settings.replace(instance_path=folder, database_url="", smpp_host="127.0.0.1",
                                smpp_port=simulator.port, quiet_start=time(0), quiet_end=time(0))
    runtime = Runtime.build(settings)
    token = prepare(runtime, folder)

    app = create_app(runtime=runtime)
    server = make_server(settings.host, port if port is not None else settings.port, app, threaded=True)
    base_url = f"http://{settings.host}:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker = build_worker(runtime)
    worker.start(Intervals(evaluate=1, dispatch=0.5, record=0.5, replies=0.5, expire=30))

    codes = [row["code"] for row in outlet_rows()]
    items = list(interactions(count, codes, end=runtime.clock.now() - timedelta(minutes=6), tz=settings.tz))
    totals = post_interactions(base_url, token, items)
    stop = threading.Event()
    threading.Thread(target=_trickle, args=(base_url, token, runtime, codes, stop, 20, 5.0), daemon=True).start()

    click.echo(f"demo database: {folder / 'touchpoint.db'}  (SQLite; quiet hours off for the demo)")
    click.echo(f"SMSC simulator on 127.0.0.1:{simulator.port}; subscribers answer after {reply_delay_s:g} s")
    click.echo(f"pushed {count} interactions through POST /api/v1/interactions: {totals}; 20 more every 5 s")
    click.echo(f"API token for your own requests: {token}")
    click.echo(f"sign in as {', '.join(name for name, _, _ in DEMO_USERS)} (password {DEMO_PASSWORD})")
    click.echo(f"Touchpoint is running at {base_url}/  (Ctrl-C to stop)")
    try:
        threading.Event().wait(exit_after_s)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        worker.stop()
        server.shutdown()
        simulator.stop()
        click.echo(f"stopped; worker counts: {worker.counts}")
