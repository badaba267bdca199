"""The only SQL in analysis/: aggregate answers, sends and interactions in the database.

Every function takes a Session and an optional `scope` (outlet codes a channel lead may see);
the scope is a WHERE clause in the query, never a filter applied afterwards. Counting happens
in GROUP BY, so a million answers come back as a few thousand rows, not a million ORM objects.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.orm import Session, aliased

from analysis.frame import MISSING, REASON_CODES, AnswerFrame, Factor, ResponseRow
from analysis.trends import LOCAL_OFFSET_HOURS
from channels.models import BusinessType, City, Interaction, Outlet, Region
from survey.models import Answer, SurveySession

DIMENSIONS = ("channel", "region", "city", "outlet", "business_type")


def _window(column, since: datetime | None, until: datetime | None) -> list:
    out = []
    if since is not None:
        out.append(column >= since)
    if until is not None:
        out.append(column < until)
    return out


def _local_day(db: Session, column):
    """The local calendar day of a UTC column, in SQL, at the fixed offset analysis.trends uses.

    Bucketing by UTC day would file the first eight local hours of each day under the day before,
    and so put the first morning of a month in the previous month.
    """
    if db.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column) + timedelta(hours=LOCAL_OFFSET_HOURS))
    return func.date(column, f"+{LOCAL_OFFSET_HOURS} hours")


def _day(value) -> np.datetime64:
    """A local day from SQL as the UTC instant of its local midnight (frames hold UTC times)."""
    # SQLite's date() gives 'YYYY-MM-DD' text, PostgreSQL a date.
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return np.datetime64(text[:10], "s") - np.timedelta64(LOCAL_OFFSET_HOURS, "h")


def load_answer_frame(
    db: Session, *, survey: str = "csat-default", question: str = "satisfaction",
    scope: Sequence[str] | None = None, since: datetime | None = None, until: datetime | None = None,
    attributes: Sequence[str] = ("tier",), by_day: bool = True,
) -> AnswerFrame:
    """Answers to one scored question, counted per (dimensions, attributes, value, reasons[, day]).

    Reasons come from the scored answer and from the same session's 'reason' answer. With
    by_day, answered_at is the local day (as the UTC instant of its midnight), enough for weekly and
    monthly trends.
    """
    a = aliased(Answer)
    r = aliased(Answer)
    cols = [a.channel.label("channel"), a.region.label("region"), a.city.label("city"),
            a.outlet_code.label("outlet"), func.coalesce(a.business_type, MISSING).label("business_type")]
    cols += [a.attributes[k].as_string().label(f"attr_{i}") for i, k in enumerate(attributes)]
    cols += [a.value.label("value"), cast(a.reasons, String).label("reasons_a"),
             cast(r.reasons, String).label("reasons_r")]
    if by_day:
        cols.append(_local_day(db, a.answered_at).label("day"))
    conditions = [a.survey == survey, a.question == question, a.value.is_not(None)]
    conditions += _window(a.answered_at, since, until)
    if scope is not None:
        conditions.append(a.outlet_code.in_(list(scope)))
    # Group in an outer query over labelled columns: PostgreSQL does not match an expression with
    # bound parameters (the JSON key) in SELECT against the same expression in GROUP BY.
    inner = (select(*cols).select_from(a)
             .outerjoin(r, and_(r.session_id == a.session_id, r.question == "reason"))
             .where(*conditions).subquery())
    keys = [c for c in inner.c]
    rows = db.execute(select(*keys, func.count().label("n")).group_by(*keys)).all()
    return _frame_from_rows(rows, list(attributes), by_day)


def _frame_from_rows(rows, attributes: list[str], by_day: bool) -> AnswerFrame:
    names = list(DIMENSIONS) + list(attributes)
    tables: dict[str, dict[str, int]] = {k: {} for k in names}
    codes = {k: np.empty(len(rows), np.int32) for k in names}
    value = np.empty(len(rows), np.int16)
    count = np.empty(len(rows), np.int64)
    reasons = np.zeros((len(rows), len(REASON_CODES)), bool)
    days = np.empty(len(rows), "datetime64[s]") if by_day else None
    parsed: dict[str | None, list[int]] = {}
    index = {c: i for i, c in enumerate(REASON_CODES)}
    for i, row in enumerate(rows):
        m = row._mapping
        for j, k in enumerate(names):
            raw = m[k] if j < len(DIMENSIONS) else m[f"attr_{j - len(DIMENSIONS)}"]
            text = MISSING if raw in (None, "") else str(raw)
            codes[k][i] = tables[k].setdefault(text, len(tables[k]))
        value[i] = m["value"]
        count[i] = m["n"]
        for blob in (m["reasons_a"], m["reasons_r"]):
            if blob not in parsed:
                parsed[blob] = [index[c] for c in (json.loads(blob) if blob else []) if c in index]
            reasons[i, parsed[blob]] = True
        if days is not None:
            days[i] = _day(m["day"])
    columns = {}
    for k in names:
        levels = np.empty(len(tables[k]), dtype=object)
        for text, code in tables[k].items():
            levels[code] = text
        columns[k] = Factor(codes[k], levels)
    return AnswerFrame(columns, value, reasons, count, answered_at=days)


_SENT_COLUMNS = {
    "channel": Outlet.channel, "region": Region.name, "city": City.name, "outlet": Outlet.code,
    "business_type": BusinessType.code,
}


def _interaction_query(columns: list, scope: Sequence[str] | None):
    q = (select(*columns).select_from(Interaction)
         .join(Outlet, Outlet.id == Interaction.outlet_id).join(City, City.id == Outlet.city_id)
         .join(Region, Region.id == City.region_id)
         .outerjoin(BusinessType, BusinessType.id == Interaction.business_type_id))
    if scope is not None:
        q = q.where(Outlet.code.in_(list(scope)))
    return q


def sent_counts(db: Session, *, by: Sequence[str] = ("outlet",), survey: str = "csat-default",
                scope: Sequence[str] | None = None, since: datetime | None = None,
                until: datetime | None = None) -> dict[tuple[str, ...], int]:
    """Surveys sent per group of `by` (keys as in metrics.group_metrics), for response rates."""
    cols = [_SENT_COLUMNS[b] for b in by]
    q = (_interaction_query([*cols, func.count(SurveySession.id)], scope)
         .join(SurveySession, SurveySession.interaction_id == Interaction.id)
         .where(SurveySession.survey == survey, SurveySession.sent_at.is_not(None),
                *_window(SurveySession.sent_at, since, until))
         .group_by(*cols))
    return {tuple(MISSING if v is None else str(v) for v in row[:-1]): int(row[-1]) for row in db.execute(q)}


@dataclass(frozen=True, eq=False)
class DailyCounts:
    """Counts per group and local day (as in AnswerFrame): `keys[i]`, `day[i]`, `count[i]`."""

    by: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    day: np.ndarray
    count: np.ndarray


def interaction_counts(db: Session, *, by: Sequence[str] = ("outlet",), scope: Sequence[str] | None = None,
                       since: datetime | None = None, until: datetime | None = None) -> DailyCounts:
    """Interactions per group and day (the denominator of dissatisfied answers per 10,000)."""
    cols = [_SENT_COLUMNS[b] for b in by]
    day = _local_day(db, Interaction.ended_at)
    inner = _interaction_query([*(c.label(f"k{i}") for i, c in enumerate(cols)), day.label("day")], scope)
    inner = inner.where(*_window(Interaction.ended_at, since, until)).subquery()
    keys = [inner.c[f"k{i}"] for i in range(len(cols))]
    rows = db.execute(select(*keys, inner.c.day, func.count()).group_by(*keys, inner.c.day)).all()
    return DailyCounts(
        tuple(by), tuple(tuple(MISSING if v is None else str(v) for v in row[:-2]) for row in rows),
        np.array([_day(row[-2]) for row in rows], dtype="datetime64[s]"),
        np.array([int(row[-1]) for row in rows], np.int64),
    )


def response_list(db: Session, *, survey: str = "csat-default", question: str = "satisfaction",
                  scope: Sequence[str] | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int = 10_000) -> list[ResponseRow]:
    """The latest answers with their verbatim replies (scored answer joined with its reason answer)."""
    a = aliased(Answer)
    r = aliased(Answer)
    q = (select(a, r.reasons, r.text).select_from(a)
         .outerjoin(r, and_(r.session_id == a.session_id, r.question == "reason"))
         .where(a.survey == survey, a.question == question, *_window(a.answered_at, since, until))
         .order_by(a.answered_at.desc(), a.id.desc()).limit(limit))
    if scope is not None:
        q = q.where(a.outlet_code.in_(list(scope)))
    out = []
    for ans, more_reasons, more_text in db.execute(q):
        reasons = tuple(dict.fromkeys([*(ans.reasons or []), *(more_reasons or [])]))
        text = " / ".join(t for t in (ans.text, more_text) if t)
        out.append(ResponseRow(ans.answered_at, ans.channel, ans.outlet_code, ans.business_type,
                               ans.msisdn, ans.value, reasons, text))
    return out
