"""What the pages count: from the in-memory columns when the session's factory carries a column
store (the web app gives its read sessions one), else by SQL (analysis.queries); the same answers
either way.

A session refreshes the copy once and keeps it (Session.info), so the counts of one page all come
from one consistent copy.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from analysis import columns as col
from analysis import queries
from analysis.column_store import ColumnStore
from analysis.frame import AnswerFrame
from analysis.queries import DEFAULT_ZONE, Criteria, DailyCounts, InteractionRecord, SessionCounts

STORE = "touchpoint.column_store"
_COPY = "touchpoint.columns"


def attach(factory: sessionmaker, store: ColumnStore) -> None:
    """Sessions made by factory from now on count from store."""
    factory.configure(info={**factory.kw.get("info", {}), STORE: store})


def _columns(db: Session) -> col.Columns | None:
    store = db.info.get(STORE)
    if store is None:
        return None
    if db.info.get(_COPY) is None:
        db.info[_COPY] = store.columns(db)
    return db.info[_COPY]


def _either(db: Session, from_columns, from_sql, **args):
    copy = _columns(db)
    if copy is not None:
        try:
            return from_columns(copy, **args)
        except col.Unsupported:
            pass
    return from_sql(db, **args)


def value_counts(db: Session, *, edges: Sequence[datetime], survey: str = "csat-default",
                 question: str = "satisfaction", by: Sequence[str] = (), scope: Sequence[str] | None = None,
                 criteria: Criteria | None = None) -> dict[tuple, dict[int, int]]:
    """analysis.queries.value_counts."""
    return _either(db, col.value_counts, queries.value_counts, edges=edges, survey=survey, question=question,
                   by=by, scope=scope, criteria=criteria)


def session_counts(db: Session, *, edges: Sequence[datetime], by: Sequence[str] = (),
                   scope: Sequence[str] | None = None, criteria: Criteria | None = None,
                   scored: Sequence[tuple[str, str]] = (("csat-default", "satisfaction"), ("nps-default", "recommend")),
                   ) -> dict[tuple, SessionCounts]:
    """analysis.queries.session_counts."""
    def from_columns(copy, **args):
        return {k: SessionCounts(*v) for k, v in col.session_counts(copy, **args).items()}
    return _either(db, from_columns, queries.session_counts, edges=edges, by=by, scope=scope, criteria=criteria,
                   scored=scored)


def interaction_totals(db: Session, *, edges: Sequence[datetime], by: Sequence[str] = (),
                       scope: Sequence[str] | None = None, criteria: Criteria | None = None) -> dict[tuple, int]:
    """analysis.queries.interaction_totals."""
    return _either(db, col.interaction_totals, queries.interaction_totals, edges=edges, by=by, scope=scope,
                   criteria=criteria)


def interaction_counts(db: Session, *, by: Sequence[str] = ("outlet",), scope: Sequence[str] | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       criteria: Criteria | None = None, tz: tzinfo = DEFAULT_ZONE) -> DailyCounts:
    """analysis.queries.interaction_counts."""
    def from_columns(copy, **args):
        return DailyCounts(tuple(by), *col.interaction_days(copy, **args))
    return _either(db, from_columns, queries.interaction_counts, by=by, scope=scope, since=since, until=until,
                   criteria=criteria, tz=tz)


def sent_counts(db: Session, *, by: Sequence[str] = ("outlet",), survey: str = "csat-default",
                scope: Sequence[str] | None = None, since: datetime | None = None,
                until: datetime | None = None, criteria: Criteria | None = None) -> dict[tuple[str, ...], int]:
    """analysis.queries.sent_counts."""
    return _either(db, col.sent_counts, queries.sent_counts, by=by, survey=survey, scope=scope, since=since,
                   until=until, criteria=criteria)


def load_answer_frame(db: Session, *, survey: str = "csat-default", question: str = "satisfaction",
                      scope: Sequence[str] | None = None, since: datetime | None = None,
                      until: datetime | None = None, attributes: Sequence[str] = ("tier",), by_day: bool = True,
                      criteria: Criteria | None = None, dimensions: Sequence[str] = queries.DIMENSIONS,
                      reasons: bool = True, tz: tzinfo = DEFAULT_ZONE) -> AnswerFrame:
    """analysis.queries.load_answer_frame (a row per answer from the columns, grouped rows by SQL)."""
    return _either(db, col.answer_frame, queries.load_answer_frame, survey=survey, question=question, scope=scope,
                   since=since, until=until, attributes=attributes, by_day=by_day, criteria=criteria,
                   dimensions=dimensions, reasons=reasons, tz=tz)


def latest_interactions(db: Session, *, scope: Sequence[str] | None = None, since: datetime | None = None,
                        until: datetime | None = None, criteria: Criteria | None = None,
                        limit: int = 20) -> list[InteractionRecord]:
    """analysis.queries.latest_interactions (found in the columns, then read by id: a window over a
    million interactions is otherwise a sort of all of them)."""
    def from_columns(copy, **args):
        return queries.latest_interactions(db, ids=col.latest_interactions(copy, **args), **args)
    return _either(db, from_columns, queries.latest_interactions, scope=scope, since=since, until=until,
                   criteria=criteria, limit=limit)
