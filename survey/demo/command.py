"""`touchpoint demo`: the options, the progress bar, the banner and a clean stop on Ctrl-C."""
from __future__ import annotations

import logging
import signal
import threading
import time

import click

from survey.demo.operator import DEMO_PASSWORD
from survey.demo.run import Demo, DemoOptions
from survey.settings import load_settings

D = DemoOptions()


@click.command("demo")
@click.option("--fresh", is_flag=True, help="start afresh: delete the demo database and backfill again")
@click.option("--days", type=click.IntRange(1, 400), default=D.days, show_default=True,
              help="days of history to backfill")
@click.option("--per-day", type=click.IntRange(1), default=D.per_day, show_default=True,
              help="interactions per day over all outlets (the backfill's cost grows with it)")
@click.option("--stores-per-city", type=click.IntRange(3), default=D.stores_per_city, show_default=True,
              help="stores per city (12 cities; plus kiosks, account managers, hotline and web/app per region)")
@click.option("--subscribers", type=click.IntRange(100), default=D.subscribers, show_default=True,
              help="distinct customers (one survey per number per 30 days)")
@click.option("--speed", type=click.FloatRange(1), default=D.speed, show_default=True,
              help="live: how much faster than life subscribers answer and staff act (60: a minute is a second)")
@click.option("--every", "live_every_s", type=click.FloatRange(0.5), default=D.live_every_s, show_default=True,
              help="live: seconds between batches of new interactions")
@click.option("--per-tick", "live_per_tick", type=click.IntRange(1), default=D.live_per_tick, show_default=True,
              help="live: interactions per batch")
@click.option("--seed", type=int, default=D.seed, show_default=True, help="the simulated operator's seed")
@click.option("--port", type=int, default=None, help="web port (default: TOUCHPOINT_PORT, 5000)")
@click.option("--exit-after-s", type=float, default=None, help="stop after this many live seconds (for tests and timing)")
def demo_command(fresh: bool, days: int, per_day: int, stores_per_city: int, subscribers: int, speed: float,
                 live_every_s: float, live_per_tick: int, seed: int, port: int | None, exit_after_s: float | None) -> None:
    """Run Touchpoint as a living operator on SQLite in INSTANCE/demo: 3 regions, 12 cities, a few hundred
    outlets over all five channels, thousands of subscribers; DAYS of history backfilled through the real
    pipeline (ingest API, policy, SMPP to the bundled simulator, the subscribers' replies, answers,
    cases) on a fast-forwarded clock, then live. A second run reuses the data; --fresh starts afresh."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per API request on the console
    settings = load_settings()
    options = DemoOptions(days=days, stores_per_city=stores_per_city, subscribers=subscribers, per_day=per_day,
                          seed=seed, speed=speed, live_every_s=live_every_s, live_per_tick=live_per_tick)
    demo = Demo(settings, (settings.instance_path / "demo").resolve(), options,
                port=port if port is not None else settings.port)
    started = time.monotonic()
    # `kill` stops it as cleanly as Ctrl-C; SIGINT set here too, not inherited: a process started in
    # the background may inherit it as ignored (as the worker command does).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    try:
        demo.open(fresh=fresh)
        if demo.reused:
            click.echo(f"reusing the demo database {demo.database} (touchpoint demo --fresh starts afresh)")
        else:
            o = demo.options
            click.echo(f"simulated operator: {len(demo.operator.outlets)} outlets, {o.subscribers} subscribers; "
                       f"backfilling {o.days} days at about {o.per_day} interactions a day")
            with click.progressbar(length=len(demo.backfill_steps), label="backfill (simulated time)",
                                   item_show_func=lambda _: f"{demo.clock.now():%Y-%m-%d %H:%M}Z") as bar:
                demo.backfill(lambda n: bar.update(n, True))
        demo.go_live()
        banner(demo, time.monotonic() - started)
        threading.Event().wait(exit_after_s)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        demo.stop()
        click.echo("stopped: web app, worker, SMSC simulator and the demo's threads")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def banner(demo: Demo, seconds: float) -> None:
    """Where to look, who to sign in as, where the data is and how to stop."""
    outlets = demo.operator.by_code()
    url = demo.stack.base_url + "/"
    lines = [
        "",
        "=" * 78,
        f"  Touchpoint is running at {url}   (ready in {seconds:.0f} s)",
        "",
        f"  Sign in (password {DEMO_PASSWORD}):",
        *(f"    {u.username:<9} {u.description}" for u in demo.operator.users),
        "",
        "  Planted short boards to find (短板 report, trends, closed-loop board):",
        *(f"    - {line}" for line in demo.planted.describe(outlets)),
        "",
        f"  Data: {demo.database} (SQLite){' — reused' if demo.reused else ''}; touchpoint demo --fresh starts afresh",
        f"  Live: {demo.options.live_per_tick} interactions every {demo.options.live_every_s:g} s through "
        f"POST /api/v1/interactions; quiet hours off while live",
        f"  API token (ingest, read): {demo.token}",
        "  Stop: Ctrl-C (stops the web app, the worker, the SMSC simulator and every demo thread)",
        "=" * 78,
    ]
    click.echo("\n".join(lines))
