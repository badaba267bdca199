"""Which table each download name stands for, with the page parameters it takes.

Every download takes the pages' filters and the viewer's scope through the Selection, so a file
holds exactly what its page shows. `outlet-scores` is not here: analysis.exports writes it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from survey.reports.answers import answers_table
from survey.reports.drilldown import drilldown, drilldown_table
from survey.reports.filters import parse_choice, parse_text
from survey.reports.overview import overview, overview_table
from survey.reports.pareto import pareto, pareto_table
from survey.reports.selection import Selection
from survey.reports.shortboards import GROUPINGS as BOARD_GROUPINGS, VIEWS, shortboard_page, shortboard_table
from survey.reports.tables import Table
from survey.reports.trends import GRAINS, GROUPINGS as TREND_GROUPINGS, alerts_table, trend_page, trend_table

Args = Mapping[str, Sequence[str]]


def _shortboards(db: Session, sel: Selection, args: Args) -> Table:
    page = shortboard_page(db, sel, by=parse_choice(args, "by", BOARD_GROUPINGS, "outlet"),
                           view=parse_choice(args, "view", VIEWS, "raw"))
    return shortboard_table(page, sel)


def _drilldown(db: Session, sel: Selection, args: Args) -> Table:
    region, city = parse_text(args, "region"), parse_text(args, "city")
    return drilldown_table(drilldown(db, sel, region=region, city=city if region else None), sel)


def _trend(db: Session, sel: Selection, args: Args):
    return trend_page(db, sel, by=parse_choice(args, "by", TREND_GROUPINGS, "channel"),
                      grain=parse_choice(args, "grain", GRAINS, "month"))


TABLES: dict[str, Callable[[Session, Selection, Args], Table]] = {
    "overview": lambda db, sel, args: overview_table(overview(db, sel)),
    "shortboards": _shortboards,
    "drilldown": _drilldown,
    "answers": lambda db, sel, args: answers_table(db, sel),
    "trends": lambda db, sel, args: trend_table(_trend(db, sel, args), sel),
    "alerts": lambda db, sel, args: alerts_table(_trend(db, sel, args), sel),
    "reasons": lambda db, sel, args: pareto_table(pareto(db, sel), sel),
}
# The period a download covers when none is asked for: the same as its page's.
DEFAULT_PERIODS = {"trends": "365d", "alerts": "365d"}


def download_table(db: Session, sel: Selection, name: str, args: Args) -> Table:
    """The table a download name stands for (KeyError for an unknown name)."""
    return TABLES[name](db, sel, args)
