"""The pages managers and channel leads read; thin: each parses its parameters, calls a service of
survey.reports with the viewer's scope, and renders a template.

Scope is scope_for(current_user), handed to every query as its WHERE clause; a region, city,
outlet or answer outside it is NotVisible, answered 404 like one that does not exist.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user
from channels.taxonomy import Channel
from survey.accounts.scope import scope_for
from survey.reports import charts
from survey.reports.answers import answer_detail, outlet_page
from survey.reports.cache import Cached, ReportCache
from survey.reports.drilldown import drilldown
from survey.reports.filters import BadParameter, parse_choice, parse_filter, parse_page
from survey.reports.labels import channel_label
from survey.reports.overview import overview, recent_interactions
from survey.reports.pareto import pareto
from survey.reports.selection import NotVisible, Selection, business_type_options, resolve
from survey.reports.shortboards import GROUPINGS as BOARD_GROUPINGS, VIEWS, shortboard_page
from survey.reports.trends import GRAINS, GROUPINGS as TREND_GROUPINGS, trend_page
from survey.web.db import get_runtime, get_session

bp = Blueprint("dashboards", __name__)
CACHE = "touchpoint.report_cache"


@bp.record_once
def _install_cache(state) -> None:
    # Registered once per app by create_app, after it has put the runtime (and so the clock) in place.
    state.app.extensions[CACHE] = ReportCache(state.app.extensions["touchpoint"].clock)


def cached(key: tuple, compute) -> Cached:
    """A report result from the app's cache (computed now if absent or older than a minute)."""
    return current_app.extensions[CACHE].get(key, compute)


def viewer_scope() -> tuple[str, ...] | None:
    """The signed-in user's outlet codes (None: every outlet)."""
    return scope_for(current_user)


def args() -> dict[str, list[str]]:
    """The query string as {name: [values]}, what survey.reports' parsers take."""
    return request.args.to_dict(flat=False)


def request_selection(*, default_period: str = "30d") -> Selection:
    """The request's filters, parsed once and resolved against the database and the viewer's scope."""
    runtime = get_runtime()
    tz = runtime.settings.tz
    f = parse_filter(args(), today=runtime.clock.now().astimezone(tz).date(), default_period=default_period)
    return resolve(get_session(), f, scope=viewer_scope(), tz=tz)


@bp.app_errorhandler(BadParameter)
def bad_parameter(error: BadParameter):
    """400 naming the parameter, as a page or, for a download, as text."""
    if request.blueprint == "exports":
        return f"参数错误 {error}\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("dashboards/bad_request.html", error=error), 400


@bp.app_errorhandler(NotVisible)
def not_visible(_error: NotVisible):
    """404, exactly as for something that does not exist."""
    return render_template("dashboards/not_found.html"), 404


def _render(template: str, sel: Selection, **context):
    return render_template(
        template, filter=sel.filter, filter_args=sel.filter.query_args(), tz=sel.tz,
        channel_options=[(c.value, channel_label(c.value)) for c in Channel],
        business_type_options=business_type_options(get_session()),
        **context)


@bp.get("/")
def index():
    sel = request_selection()
    result = cached(("overview", sel), lambda: overview(get_session(), sel))
    report = result.value
    return _render("dashboards/overview.html", sel, report=report, channels_chart=charts.channels_chart(report),
                   recent=recent_interactions(get_session(), sel), computed_at=result.computed_at)


@bp.get("/shortboards")
def shortboards():
    sel = request_selection()
    by = parse_choice(args(), "by", BOARD_GROUPINGS, "outlet")
    view = parse_choice(args(), "view", VIEWS, "auto")
    result = cached(("shortboards", sel, by, view), lambda: shortboard_page(get_session(), sel, by=by, view=view))
    page = result.value
    filter_args = sel.filter.query_args()
    funnel = charts.funnel_chart(page, link=lambda code: url_for(".outlet", code=code, **filter_args))
    return _render("dashboards/shortboards.html", sel, page=page, by_name=request.args.get("by") or "outlet",
                   groupings=BOARD_GROUPINGS, funnel_chart=funnel if page.rows else None, computed_at=result.computed_at)


@bp.get("/regions")
@bp.get("/regions/<region>")
@bp.get("/regions/<region>/<city>")
def regions(region: str | None = None, city: str | None = None):
    sel = request_selection()
    result = cached(("drilldown", sel, region, city), lambda: drilldown(get_session(), sel, region=region, city=city))
    level = result.value
    filter_args = sel.filter.query_args()
    links = {"region": lambda key: url_for(".regions", region=key, **filter_args),
             "city": lambda key: url_for(".regions", region=region, city=key, **filter_args),
             "outlet": lambda key: url_for(".outlet", code=key, **filter_args)}
    return _render("dashboards/drilldown.html", sel, level=level, computed_at=result.computed_at,
                   groups_chart=charts.groups_chart(level.rows, link=links[level.level]))


@bp.get("/outlets/<code>")
def outlet(code: str):
    sel = request_selection()
    page = outlet_page(get_session(), sel, code, page=parse_page(args()))
    return _render("dashboards/outlet.html", sel, page=page)


@bp.get("/answers/<int:answer_id>")
def answer(answer_id: int):
    sel = request_selection()
    detail = answer_detail(get_session(), answer_id, scope=viewer_scope(), tz=sel.tz)
    return _render("dashboards/answer.html", sel, detail=detail)


@bp.get("/trends")
def trends():
    sel = request_selection(default_period="365d")
    by = parse_choice(args(), "by", TREND_GROUPINGS, "channel")
    grain = parse_choice(args(), "grain", GRAINS, "month")
    result = cached(("trends", sel, by, grain), lambda: trend_page(get_session(), sel, by=by, grain=grain))
    page = result.value
    return _render("dashboards/trends.html", sel, page=page, computed_at=result.computed_at, by_name=request.args.get("by") or "channel",
                   groupings=TREND_GROUPINGS, trend_chart=charts.trend_chart(page) if page.series else None,
                   per_10k_chart=charts.per_10k_chart(page))


@bp.get("/reasons")
def reasons():
    sel = request_selection()
    result = cached(("reasons", sel), lambda: pareto(get_session(), sel))
    return _render("dashboards/reasons.html", sel, pareto=result.value, computed_at=result.computed_at,
                   pareto_chart=charts.pareto_chart(result.value) if result.value.rows else None)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
