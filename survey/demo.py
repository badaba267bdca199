"""`touchpoint demo`: the product on an embedded default, with synthetic outlets and interactions."""
from __future__ import annotations

import csv
import json
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path

import click
from werkzeug.serving import make_server

from channels.accounts import create_token
from channels.csv_import import import_outlets
from channels.services import seed_business_types
from channels.synthetic import interactions, outlet_rows
from survey import database
from survey.app import create_app
from survey.runtime import Runtime
from survey.settings import load_settings


def prepare(runtime: Runtime, folder: Path) -> str:
    """Schema, business types and outlets (through the real CSV import); returns an API token."""
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


@click.command("demo")
@click.option("--interactions", "count", default=2000, show_default=True)
@click.option("--port", type=int, default=None, help="default: TOUCHPOINT_PORT")
@click.option("--exit-after-setup", is_flag=True, help="set up and exit (for tests)")
def demo_command(count: int, port: int | None, exit_after_setup: bool) -> None:
    """Run Touchpoint on SQLite in instance/demo with synthetic outlets and interactions."""
    settings = load_settings()
    folder = (settings.instance_path / "demo").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "touchpoint.db").unlink(missing_ok=True)
    settings = settings.replace(instance_path=folder, database_url="")
    runtime = Runtime.build(settings)
    token = prepare(runtime, folder)

    app = create_app(runtime=runtime)
    server = make_server(settings.host, port if port is not None else settings.port, app, threaded=True)
    base_url = f"http://{settings.host}:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    codes = [row["code"] for row in outlet_rows()]
    items = list(interactions(count, codes, end=runtime.clock.now() - timedelta(minutes=1), tz=settings.tz))
    totals = post_interactions(base_url, token, items)
    click.echo(f"demo database: {folder / 'touchpoint.db'}")
    click.echo(f"pushed {count} interactions through POST /api/v1/interactions: {totals}")
    click.echo(f"API token for your own requests: {token}")
    if exit_after_setup:
        server.shutdown()
        return
    click.echo(f"Touchpoint is running at {base_url}/  (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
