"""Which table each download name stands for, with the page parameters it takes.

Every download takes the pages' filters and the viewer's scope through the Selection, so a file
holds exactly what its page shows. `outlet-scores` is not here: analysis.exports writes it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from survey.reports.answers import answers_table
from survey.reports.cache import ReportCache
from survey.reports.drilldown import drilldown, drilldown_table
from survey.reports.filters import parse_choice, parse_text
from survey.reports.overview import overview, overview_table
from survey.reports.pareto import pareto, pareto_table
from survey.reports.selection import Selection
from survey.reports.shortboards import GROUPINGS as BOARD_GROUPINGS, VIEWS, shortboard_page, shortboard_table
from survey.reports.tables import Table
from survey.reports.trends import GRAINS, GROUPINGS as TREND_GROUPINGS, alerts_table, trend_page, trend_table

Args = Mapping[str, Sequence[str]]
Remember = Callable[[tuple, Callable], object]  # (key, compute) -> result: a cache, or just compute()


def _shortboards(db: Session, sel: Selection, args: Args, remember: Remember) -> Table:
    by = parse_choice(args, "by", BOARD_GROUPINGS, "outlet")
    view = parse_choice(args, "view", VIEWS, "raw")
    page = remember(("shortboards", sel, by, view), lambda: shortboard_page(db, sel, by=by, view=view))
    return shortboard_table(page, sel)


def _drilldown(db: Session, sel: Selection, args: Args, remember: Remember) -> Table:
    region, city = parse_text(args, "region"), parse_text(args, "city")
    city = city if region else None
    level = remember(("drilldown", sel, region, city), lambda: drilldown(db, sel, region=region, city=city))
    return drilldown_table(level, sel)


def _trend(db: Session, sel: Selection, args: Args, remember: Remember):
    by = parse_choice(args, "by", TREND_GROUPINGS, "channel")
    grain = parse_choice(args, "grain", GRAINS, "month")
    return remember(("trends", sel, by, grain), lambda: trend_page(db, sel, by=by, grain=grain))


# The keys are the pages' (survey.web.dashboards), so a download right after its page is computed once.
TABLES: dict[str, Callable[[Session, Selection, Args, Remember], Table]] = {
    "overview": lambda db, sel, args, remember: overview_table(remember(("overview", sel), lambda: overview(db, sel))),
    "shortboards": _shortboards,
    "drilldown": _drilldown,
    "answers": lambda db, sel, args, remember: answers_table(db, sel),  # streamed, never kept
    "trends": lambda db, sel, args, remember: trend_table(_trend(db, sel, args, remember), sel),
    "alerts": lambda db, sel, args, remember: alerts_table(_trend(db, sel, args, remember), sel),
    "reasons": lambda db, sel, args, remember: pareto_table(remember(("reasons", sel), lambda: pareto(db, sel)), sel),
}
# The period a download covers when none is asked for: the same as its page's.
DEFAULT_PERIODS = {"trends": "365d", "alerts": "365d"}


def download_table(db: Session, sel: Selection, name: str, args: Args, *, cache: ReportCache | None = None) -> Table:
    """The table a download name stands for (KeyError for an unknown name), from the cache if given."""
    def remember(key: tuple, compute: Callable):
        return compute() if cache is None else cache.get(key, compute).value
    return TABLES[name](db, sel, args, remember)
