"""The read API for integrators (token with the read scope): results, short boards and trends as
JSON, with the pages' filters and scoping.

The query schemas (survey.web.api_schemas) validate each request and are what the OpenAPI document
lists; the response schemas shape each answer and are what it promises. A token bound to a user
reads what that user may see (survey.accounts.scope.scope_for); an unbound one reads everything.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import NotFound
from marshmallow import Schema, ValidationError, fields
from sqlalchemy.orm import Session

from channels.characters import text_problem
from survey import readapi
from survey.accounts.models import TokenScope, User
from survey.accounts.scope import scope_for
from survey.accounts.services import authenticate_token
from survey.reports.filters import BadParameter, parse_filter
from survey.reports.selection import NotVisible, Selection, resolve
from survey.web.api_schemas import (
    AlertSchema, BoardSchema, NoQuery, OutletListSchema, OutletQuery, OutletResultsSchema, ResultsQuery, ResultsSchema,
    ShortBoardsQuery, ShortBoardsSchema, TrendsQuery, TrendsSchema,
)
from survey.web.apidocs import ErrorSchema, Operation, documented
from survey.web.db import get_runtime, get_session, get_write_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")
FILTERS = ("period", "since", "until", "channel", "business_type", "tier", "brand", "outlet")


def error(status: int, *problems: str):
    return jsonify({"errors": list(problems)}), status


@dataclass(frozen=True)
class Caller:
    """Who is reading: the outlet codes it may see (None: every outlet)."""

    scope: tuple[str, ...] | None


@bp.before_request
def require_read_token():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "Authorization: missing Bearer token")
    # The token's last use is a write: on a session of its own, committed before any reading.
    db, now = get_write_session(), get_runtime().clock.now()
    row = authenticate_token(db, token.strip(), now=now, scope=TokenScope.READ)
    if row is None:
        status = 403 if authenticate_token(db, token.strip(), now=now, scope=TokenScope.INGEST) else 401
        db.rollback()
        return error(status, "Authorization: this token may not read results" if status == 403
                     else "Authorization: unknown or revoked token")
    user_id = row.user_id
    db.commit()
    if user_id is None:
        g.caller = Caller(None)
    else:
        user = get_session().get(User, user_id)
        g.caller = Caller(scope_for(user) if user is not None else ())
    return None


def _messages(messages, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [m for name, inner in messages.items() for m in _messages(inner, f"{prefix}{name}" if not prefix
                                                                             else f"{prefix}[{name}]")]
    return [f"{prefix}: {m}" for m in messages]


def _query(schema: type[Schema]) -> dict:
    """The query string read by `schema` (ValidationError names each bad parameter)."""
    instance = schema()
    raw = {}
    for name in request.args:
        values = request.args.getlist(name)
        if isinstance(instance.fields.get(name), fields.List):
            raw[name] = values
        elif len(values) > 1:
            raise ValidationError({name: ["given more than once"]})
        else:
            raw[name] = values[0]
    return instance.load(raw)


def _selection(db: Session, query: dict, *, default_period: str = "30d") -> Selection:
    """The query's filters parsed and resolved exactly as the pages' (survey.reports), in the caller's scope."""
    args = {name: [str(v) for v in (query[name] if isinstance(query[name], tuple) else (query[name],))]
            for name in FILTERS if query.get(name) not in (None, ())}
    tz = get_runtime().settings.tz
    f = parse_filter(args, today=get_runtime().clock.now().astimezone(tz).date(), default_period=default_period)
    return resolve(db, f, scope=g.caller.scope, tz=tz)


def _echo(sel: Selection) -> dict:
    """What the selection holds, as WindowSchema dumps it."""
    f = sel.filter
    return {"since": sel.since, "until": sel.until, "channel": f.channels, "business_type": f.business_types,
            "tier": f.tiers, "brand": f.brands, "outlet": f.outlets}


@bp.app_errorhandler(404)
def no_route(exc: NotFound):
    # An API client reads JSON, also for a path that matches no route (a sign-in page would be HTML).
    if request.path.startswith(bp.url_prefix + "/"):
        return error(404, "path: no such resource")
    return exc


@bp.errorhandler(ValidationError)
def bad_query(exc: ValidationError):
    return error(400, *_messages(exc.messages))


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter):
    return error(400, str(exc))


@bp.errorhandler(NotVisible)
def not_visible(_exc: NotVisible):
    # The same answer for an outlet outside the scope and for one that does not exist.
    return error(404, "outlet: no such outlet")


def _group(result: readapi.GroupResult) -> dict:
    return {"key": dict(result.key), "label": result.label, "csat": result.csat, "nps": result.nps,
            "interactions": result.interactions, "dissatisfied_per_10k": result.dissatisfied_per_10k}


def _results(results: readapi.Results, sel: Selection) -> dict:
    """The results as ResultsSchema dumps them."""
    return {"by": results.by, "filters": _echo(sel), "total": _group(results.total),
            "groups": [_group(g) for g in results.groups]}


def _keyed(by, item) -> dict:
    return {"key": dict(zip(by, item.key)), "label": item.group}


_NOT_FOUND = (404, ("an outlet outside the token's scope, or none such", ErrorSchema))
_BAD_QUERY = (400, ("a query parameter that is unknown or invalid, each named", ErrorSchema))


@bp.get("/results")
@documented(Operation(
    summary="CSAT, NPS and counts, overall and per group",
    description="Satisfaction (top-2-box share with its 95% Wilson interval, mean score, dissatisfied share, "
                "reasons), NPS with its interval where the NPS survey ran, responses, surveys sent, response "
                "rate, interactions and dissatisfied answers per 10,000 interactions.",
    query=ResultsQuery, responses=dict([(200, ("results", ResultsSchema)), _BAD_QUERY, _NOT_FOUND])))
def results():
    query = _query(ResultsQuery)
    db = get_session()
    sel = _selection(db, query)
    return jsonify(ResultsSchema().dump(_results(readapi.results(db, sel, by=query["by"]), sel)))


@bp.get("/shortboards")
@documented(Operation(
    summary="Short boards: groups significantly less satisfied than the rest of their scope",
    description="Each group is tested against the rest (one-vs-rest exact test allowing for natural spread "
                "between groups, Holm or Benjamini-Hochberg adjusted), ranked by satisfied customers lost; "
                "the raw view and the case-mix adjusted one (business type x tier).",
    query=ShortBoardsQuery, responses=dict([(200, ("the report", ShortBoardsSchema)), _BAD_QUERY, _NOT_FOUND])))
def shortboards():
    query = _query(ShortBoardsQuery)
    db = get_session()
    sel = _selection(db, query)
    report = readapi.shortboards(db, sel, by=query["by"], min_n=query["min_n"], alpha=query["alpha"])
    out = {"by": report.by, "within": report.within, "adjustment": report.adjustment, "alpha": report.alpha,
           "min_n": report.min_n, "tau2": report.dispersion.tau2, "filters": _echo(sel),
           "headline": report.headline, "not_enough_answers": report.not_enough}
    lists = {"shortboards": report.flagged, "shortboards_adjusted": report.flagged_adjusted,
             "headline_shortboards": report.flagged_any, "watch_list": report.watch_list}
    if query["all"]:
        lists["groups"] = report.boards
    for name, boards in lists.items():
        out[name] = [_board(b, report.headline) for b in boards]
    return jsonify(ShortBoardsSchema().dump(out))


def _board(board, headline: str) -> dict:
    """A board with what depends on its report: the headline view's columns."""
    return {**BoardSchema().dump(board), "headline": board.view(headline),
            "flagged_adjusted": board.adjusted is not None and board.adjusted.flagged}


@bp.get("/trends")
@documented(Operation(
    summary="Satisfaction per week or month, and trend alerts allowing for ordinary monthly swings",
    description="Each group's last month (short window) and last 3 months (long window), each against the 6 "
                "months just before it, allowing for the month-to-month swing estimated from the data (allowance.tau); "
                "deterioration and improvement are tested apart, Benjamini-Hochberg across groups.",
    query=TrendsQuery, responses=dict([(200, ("series and alerts", TrendsSchema)), _BAD_QUERY, _NOT_FOUND])))
def trends():
    query = _query(TrendsQuery)
    db = get_session()
    sel = _selection(db, query, default_period="365d")
    found = readapi.trends(db, sel, by=query["by"], interval=query["interval"], min_n=query["min_n"],
                           alpha=query["alpha"])
    series = [{**_keyed(found.by, s), "points": [{"period": p, "n": n, "rate": r, "low": lo, "high": hi}
                                                 for p, n, r, lo, hi in zip(s.periods, s.n, s.rate, s.low, s.high)]}
              for s in found.series]
    report = found.alerts
    alerts = [] if report is None else [
        {**_keyed(found.by, a),
         **{name: getattr(a, name) for name in AlertSchema().fields if name not in ("key", "label")}}
        for a in report.alerts]
    windows = None if report is None else {
        "baseline": report.baseline, "long": report.long, "short": report.short,
        "short_baseline": report.short_baseline,
        "allowance": report.allowance.tau, "allowance_groups": report.allowance.groups}
    return jsonify(TrendsSchema().dump({"by": found.by, "interval": found.interval, "filters": _echo(sel),
                                        "series": series, "alerts": alerts, "windows": windows}))


@bp.get("/outlets")
@documented(Operation(summary="The outlets the token may read", query=NoQuery,
                      responses=dict([(200, ("outlets", OutletListSchema)), _BAD_QUERY])))
def outlets():
    _query(NoQuery)
    return jsonify(OutletListSchema().dump({"outlets": readapi.outlets(get_session(), scope=g.caller.scope)}))


@bp.get("/outlets/<code>")
@documented(Operation(
    summary="One outlet and its results by business type",
    query=OutletQuery, path_descriptions={"code": "outlet code"},
    responses=dict([(200, ("the outlet and its results", OutletResultsSchema)), _BAD_QUERY, _NOT_FOUND])))
def outlet(code: str):
    query = _query(OutletQuery)
    if query["outlet"]:
        raise ValidationError({"outlet": ["the outlet is in the path"]})
    if text_problem(code) is not None or len(code) > 32:
        raise NotVisible("outlet")
    db = get_session()
    info = readapi.outlets(db, scope=g.caller.scope, codes=(code,))[0]
    sel = _selection(db, {**query, "outlet": (code,)})
    found = readapi.results(db, sel, by=("business_type",))
    return jsonify(OutletResultsSchema().dump({"outlet": info, "results": _results(found, sel)}))

