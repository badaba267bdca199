"""The `touchpoint` command: a Flask CLI group on the app factory; later issues add commands here."""
from __future__ import annotations

import signal
import sys
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import importlib

import click
from flask.cli import FlaskGroup, ScriptInfo

from survey import log_masking

if TYPE_CHECKING:
    from channels.csv_import import ImportSummary
    from survey.runtime import Runtime

# Each command imports what it runs (the database, the models, the web app, the engine, the demo,
# the simulator): `shortboards --answers FILE` should not spend a second importing SQLAlchemy and
# the models it never uses.


def _create_app():
    from survey.web import create_app
    return create_app()


def get_runtime() -> Runtime:
    """The runtime of the app this command runs in, the app loaded now if the command did not need it."""
    from flask import has_app_context

    from survey.web.db import get_runtime as app_runtime
    if not has_app_context():  # for as long as the command runs
        ctx = click.get_current_context()
        ctx.with_resource(ctx.ensure_object(ScriptInfo).load_app().app_context())
    return app_runtime()


class _AccountsChoice(click.Choice):
    """The values of an enum of survey.accounts.models, imported only when a command parses or
    shows them (the models bring SQLAlchemy)."""

    def __init__(self, enum_name: str) -> None:
        self.enum_name = enum_name
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from survey.accounts import models
        return tuple(member.value for member in getattr(models, self.enum_name))

    @choices.setter
    def choices(self, _ignored) -> None:  # click.Choice.__init__ assigns it; the enum is the source
        pass


class _Commands(FlaskGroup):
    """Adds the commands that live in packages of their own when they are asked for."""

    LAZY = {"demo": "survey.demo:demo_command"}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx, name):
        if name in self.LAZY and name not in self.commands:
            module, attribute = self.LAZY[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, create_app=_create_app, add_default_commands=False, load_dotenv=False)
def main() -> None:
    """Touchpoint: post-interaction SMS satisfaction surveys."""
    log_masking.install()  # no subscriber's number in clear in any log line of any command


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations and seed the default business types."""
    from channels.services import seed_business_types
    from survey import database

    runtime = get_runtime()
    database.upgrade(runtime.engine, revision)
    with runtime.session_factory.begin() as db:
        added = seed_business_types(db)
    click.echo(f"database at {revision} ({runtime.engine.url.render_as_string(hide_password=True)}); "
               f"{added} business types added")


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from alembic import command

    from survey import database
    command.revision(database.alembic_config(get_runtime().engine), message=message, autogenerate=True)


def _progress(path: Path):
    """A progress bar on a terminal, nothing when piped; returns (context, on_bytes)."""
    if not sys.stderr.isatty():
        return _NullBar(), None
    bar = click.progressbar(length=path.stat().st_size, label=f"importing {path.name}", file=sys.stderr)
    return bar, bar.update


class _NullBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _import(run, file: Path) -> ImportSummary:
    """Run an import of file with a progress bar on a terminal; what it stored is kept whatever happens."""
    from channels.csv_reading import ReaderFailed

    bar, on_bytes = _progress(file)
    try:
        with bar:
            return run(on_bytes=on_bytes)
    except ReaderFailed as exc:
        raise click.ClickException(f"{file}: {exc} (the rows stored before it are kept; run again for the rest)")


def _finish(summary: ImportSummary) -> None:
    """Exit non-zero only when no row of the file could be used."""
    if summary.nothing_read:
        raise click.ClickException("no row could be stored; see the report for each row's problem")


@main.command("import-outlets")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="where to list bad rows")
def import_outlets_command(file: Path, report: Path | None) -> None:
    """Create or update outlets from a CSV: code, name, channel, kind, region, city."""
    from channels.csv_import import import_outlets

    runtime = get_runtime()
    summary = _import(lambda **kw: import_outlets(runtime.session_factory, file, report_path=report, **kw), file)
    click.echo(f"{summary.rows} rows: {summary.created} created or updated, {summary.duplicates} "
               f"unchanged, {summary.rejected} rejected ({summary.encoding})"
               + (f"; bad rows listed in {summary.report}" if summary.report else ""))
    _finish(summary)


@main.command("import-interactions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="where to list bad rows")
def import_interactions_command(file: Path, report: Path | None) -> None:
    """Import ended interactions from a CSV (UTF-8, GB18030 or Excel's UTF-16 text); rerunning stores nothing twice."""
    from channels.csv_import import import_interactions

    runtime = get_runtime()
    summary = _import(lambda **kw: import_interactions(
        runtime.session_factory, file, now=runtime.clock.now, tz=runtime.settings.tz,
        region=runtime.settings.default_region, report_path=report, **kw), file)
    click.echo(str(summary))
    _finish(summary)


@main.command("create-token")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=_AccountsChoice("TokenScope"),
              default=["ingest"], show_default=True, help="what it may do (repeat for more)")
def create_token_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create an integrator's API token (printed once, stored as a SHA-256)."""
    from survey.accounts.models import TokenScope
    from survey.accounts.services import create_token

    runtime = get_runtime()
    with runtime.session_factory.begin() as db:
        token = create_token(db, name, now=runtime.clock.now(), scopes=tuple(TokenScope(s) for s in scopes))
    click.echo(token)


@main.command("create-user")
@click.argument("username")
@click.option("--role", type=_AccountsChoice("Role"), required=True)
@click.option("--outlets", default="", help="comma-separated outlet codes (channel leads)")
@click.password_option()
def create_user_command(username: str, role: str, outlets: str, password: str) -> None:
    """Create a user; channel leads are scoped to the outlets given."""
    from survey.accounts.models import Role
    from survey.accounts.services import AccountError, create_user

    runtime = get_runtime()
    codes = tuple(c.strip() for c in outlets.split(",") if c.strip())
    try:
        with runtime.session_factory.begin() as db:
            create_user(db, username, password, Role(role), now=runtime.clock.now(), outlet_codes=codes)
    except AccountError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"user {username} ({role}) created")


@main.command("serve")
@click.option("--host", default=None, help="default: TOUCHPOINT_HOST")
@click.option("--port", type=int, default=None, help="default: TOUCHPOINT_PORT")
def serve(host: str | None, port: int | None) -> None:
    """Serve the web app and the API."""
    from werkzeug.serving import run_simple

    from survey.web import create_app

    runtime = get_runtime()
    run_simple(host or runtime.settings.host, port or runtime.settings.port,
               create_app(runtime=runtime, warm_copy=True), threaded=True)


@main.command("worker")
def worker_command() -> None:
    """Run the survey engine: evaluate, send over SMPP, understand replies, expire.

    SIGTERM (what systemd and docker send) or Ctrl-C stops it gracefully: the acks in flight are
    awaited and recorded, so nothing is sent twice at the next start. Several workers may share one
    database, each with its own TOUCHPOINT_WORKER_ID (default hostname-pid) and SMPP bind.
    """
    from survey.jobs.build import build_worker

    runtime = get_runtime()
    worker = build_worker(runtime)
    stopping = threading.Event()
    # Set here, not inherited: a process started in the background may inherit SIGINT as ignored.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker.start()
    click.echo(f"worker {worker.worker_id} running against SMSC {runtime.settings.smpp_host}:"
               f"{runtime.settings.smpp_port}")
    try:
        stopping.wait()
    finally:
        worker.stop()


@main.command("smsc")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="default: TOUCHPOINT_SMPP_PORT")
@click.option("--ack-latency-ms", type=float, default=0.0, show_default=True)
@click.option("--reply-delay-s", type=float, default=5.0, show_default=True)
@click.option("--no-replies", is_flag=True, help="subscribers never reply")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path), help="JSONL log of submits")
@click.option("--seed", type=int, default=0, show_default=True)
def smsc_command(host: str, port: int | None, ack_latency_ms: float, reply_delay_s: float,
                 no_replies: bool, log_path: Path | None, seed: int) -> None:
    """Run the bundled SMSC simulator (SMPP 3.4 over TCP) with subscribers who reply."""
    from smpp.simulator import run_simulator

    settings = get_runtime().settings
    run_simulator(host, port if port is not None else settings.smpp_port, settings.smpp_system_id,
                  settings.smpp_password, ack_latency_s=ack_latency_ms / 1000, replies=not no_replies,
                  reply_delay_s=reply_delay_s, log_path=log_path, seed=seed,
                  ready=lambda bound: click.echo(f"SMSC simulator listening on {host}:{bound}"))


@main.command("replies-eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def replies_eval_command(file: Path) -> None:
    """Score the reply parser on labelled replies (JSONL); the last line is the accuracy."""
    from survey.replies.scoring import evaluate, format_report

    click.echo(format_report(evaluate(file)))


@main.command("shortboards", with_appcontext=False)  # the app is loaded only to read the database
@click.option("--answers", "answers_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV: answered_at, channel, region, city, outlet, business_type, value, reasons "
                   "(default: the database)")
@click.option("--by", "groupings", multiple=True, default=["outlet"], show_default=True,
              help="columns to group by, comma-separated; repeat for several reports (e.g. --by channel,business_type)")
@click.option("--json", "as_json", is_flag=True,
              help="a JSON list: the short boards of the raw or the adjusted view (status short_board), "
                   "or a watch list when none (status watch)")
@click.option("--min-n", type=int, default=30, show_default=True, help="fewer answers: rolled up, not judged")
@click.option("--survey", default="csat-default", show_default=True)
@click.option("--outlets", default="", help="only these outlet codes (a channel lead's scope)")
def shortboards_command(answers_file: Path | None, groupings: tuple[str, ...], as_json: bool, min_n: int,
                        survey: str, outlets: str) -> None:
    """Rank the short boards: groups whose satisfaction falls significantly short of the rest."""
    # analysis/ brings numpy and scipy: loaded by the commands that use it, not by every command.
    from analysis.answers_csv import AnswersCsvError, read_answers_csv
    from analysis.report import run_shortboards

    by = [[column.strip() for column in grouping.split(",") if column.strip()] for grouping in groupings]
    if answers_file is not None:
        try:
            read = read_answers_csv(answers_file)
        except AnswersCsvError as exc:
            raise click.UsageError(f"{answers_file}: {exc}") from exc
        for error in read.errors[:20]:
            click.echo(f"skipped {error}", err=True)
        if len(read.errors) > 20:
            click.echo(f"skipped {len(read.errors) - 20} more bad rows", err=True)
        frame = read.frame
    else:
        from analysis.queries import load_answer_frame  # SQLAlchemy and the models: the database only

        scope = [c.strip() for c in outlets.split(",") if c.strip()] or None
        with get_runtime().read_factory() as db:
            frame = load_answer_frame(db, survey=survey, scope=scope, by_day=False)
    try:
        click.echo(run_shortboards(frame, by, as_json, min_n=min_n))
    except (KeyError, ValueError) as exc:
        raise click.UsageError(f"--by: {exc}") from exc


@main.command("trends")
@click.option("--answers", "answers_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV: answered_at, channel, region, city, outlet, business_type, value, reasons "
                   "(default: the database)")
@click.option("--by", "grouping", default="", help="columns to group by, comma-separated (default: all answers)")
@click.option("--channel", "channels", multiple=True, help="only these channels (repeat or comma-separate)")
@click.option("--outlets", default="", help="only these outlet codes (a channel lead's scope)")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="the short window's month (default: the last ended month; with --answers, the latest answer's)")
@click.option("--baseline-months", type=click.IntRange(1, 36), default=6, show_default=True)
@click.option("--long-months", type=click.IntRange(1, 12), default=3, show_default=True)
@click.option("--min-n", type=click.IntRange(1), default=30, show_default=True, help="fewer answers: not tested")
@click.option("--alpha", type=click.FloatRange(0.0001, 0.5), default=0.05, show_default=True,
              help="false discovery rate per direction")
@click.option("--survey", default="csat-default", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON: windows, allowance, deteriorated, improved, groups")
def trends_command(answers_file: Path | None, grouping: str, channels: tuple[str, ...], outlets: str,
                   month: str | None, baseline_months: int, long_months: int, min_n: int, alpha: float,
                   survey: str, as_json: bool) -> None:
    """Trend alerts: each group's last month and last months against the months before, allowing for the
    ordinary month-to-month swing; deteriorations and improvements apart; dissatisfied per 10,000."""
    from survey.reports.trend_command import TrendRequest, TrendRequestError, run_trends

    runtime = get_runtime()
    try:
        request = TrendRequest.parse(by=grouping, channels=channels, outlets=outlets, month=month,
                                     baseline_months=baseline_months, long_months=long_months, min_n=min_n,
                                     alpha=alpha, survey=survey, zone=runtime.settings.tz,
                                     now=None if answers_file is not None else runtime.clock.now())
        if answers_file is not None:
            output, errors = run_trends(request, answers=answers_file, as_json=as_json)
        else:
            with runtime.read_factory() as db:
                output, errors = run_trends(request, db=db, as_json=as_json)
    except TrendRequestError as exc:
        raise click.UsageError(str(exc)) from exc
    for error in errors[:20]:
        click.echo(f"skipped {error}", err=True)
    if len(errors) > 20:
        click.echo(f"skipped {len(errors) - 20} more bad rows", err=True)
    click.echo(output)


@main.command("export")
@click.argument("what", type=click.Choice(["outlet-scores", "responses"]))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outlets", default="", help="only these outlet codes (a channel lead's scope)")
@click.option("--survey", default="csat-default", show_default=True)
def export_command(what: str, target: Path, outlets: str, survey: str) -> None:
    """Export per-outlet scores or the response list (phones masked) as .csv or .xlsx."""
    from analysis.exports import outlet_scores_csv, outlet_scores_xlsx, responses_csv, responses_xlsx
    from analysis.metrics import group_metrics
    from analysis.queries import load_answer_frame, response_list, sent_counts

    scope = [c.strip() for c in outlets.split(",") if c.strip()] or None
    runtime = get_runtime()
    with runtime.read_factory() as db:
        if what == "outlet-scores":
            frame = load_answer_frame(db, survey=survey, scope=scope, by_day=False)
            rows = group_metrics(frame, ["outlet"], sent=sent_counts(db, by=("outlet",), survey=survey, scope=scope))
            writers = (outlet_scores_csv, outlet_scores_xlsx)
        else:
            rows = response_list(db, survey=survey, scope=scope)
            zone = runtime.settings.tz
            writers = (partial(responses_csv, zone=zone), partial(responses_xlsx, zone=zone))
    if target.suffix.lower() == ".xlsx":
        writers[1](rows, target)
    else:
        with open(target, "w", encoding="utf-8-sig", newline="") as out:
            writers[0](rows, out)
    click.echo(f"{len(rows)} rows written to {target}")

