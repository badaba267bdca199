"""The only SQL in analysis/: aggregate answers, sends and interactions in the database.

Every function takes a Session and an optional `scope` (outlet codes a channel lead may see);
the scope is a WHERE clause in the query, never a filter applied afterwards. Counting happens
in GROUP BY, so a million answers come back as a few thousand rows, not a million ORM objects.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo
from typing import Any

import numpy as np
from sqlalchemy import String, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from analysis.frame import MISSING, REASON_CODES, AnswerFrame, Factor, ResponseRow
from analysis.local_days import EARLIEST, midnight_utc, offset_spans
from channels.models import BusinessType, City, Interaction, Outlet, Region
from survey.models import Answer, SurveySession

DIMENSIONS = ("channel", "region", "city", "outlet", "business_type")
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # TOUCHPOINT_TIMEZONE's default; callers pass the configured one


@dataclass(frozen=True)
class Criteria:
    """Which answers and interactions to count besides scope and time; an empty field means all.

    Answers carry the business type as the engine tagged them (its name; older rows and CSVs may
    hold the code), so `business_types` should list both spellings; interactions match either.
    `attributes` pairs a customer attribute with its accepted values, e.g. (("tier", ("gold",)),).
    """

    channels: tuple[str, ...] = ()
    business_types: tuple[str, ...] = ()
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()


# Customer attributes answers also hold as columns of their own, copied from `attributes` at insert
# (survey.models.Answer) so the covering index holds them.
COLUMN_ATTRIBUTES = ("tier", "brand")


def _answer_attribute(a, name: str):
    """An attribute of an answer's customer: its own column where there is one (read from the
    covering index), the JSON otherwise."""
    return getattr(a, name) if name in COLUMN_ATTRIBUTES else a.attributes[name].as_string()


def _answer_criteria(a, criteria: Criteria | None) -> list:
    if criteria is None:
        return []
    out = []
    if criteria.channels:
        out.append(a.channel.in_(list(criteria.channels)))
    if criteria.business_types:
        out.append(a.business_type.in_(list(criteria.business_types)))
    for name, values in criteria.attributes:
        out.append(_answer_attribute(a, name).in_(list(values)))
    return out


def _interaction_criteria(criteria: Criteria | None) -> list:
    """Conditions on Interaction and its (outer-joined) BusinessType."""
    if criteria is None:
        return []
    out = []
    if criteria.channels:
        out.append(Interaction.channel.in_(list(criteria.channels)))
    if criteria.business_types:
        names = list(criteria.business_types)
        out.append(or_(BusinessType.code.in_(names), BusinessType.name.in_(names)))
    for name, values in criteria.attributes:
        out.append(Interaction.attributes[name].as_string().in_(list(values)))
    return out


def _window(column, since: datetime | None, until: datetime | None) -> list:
    out = []
    if since is not None:
        out.append(column >= since)
    if until is not None:
        out.append(column < until)
    return out


def _local_day(db: Session, column, tz: tzinfo, since: datetime | None, until: datetime | None):
    """The local calendar day of a UTC column in zone tz, in SQL: the column plus the zone's offset,
    which is constant between daylight-saving transitions (one CASE branch per span of the window).

    Bucketing by UTC day would file the first local hours of each day under the day before, and so
    put the first morning of a month in the previous month.
    """
    spans = offset_spans(tz, since or EARLIEST, until or datetime.now(timezone.utc) + timedelta(days=2))
    if db.get_bind().dialect.name == "postgresql":
        def shifted(offset):
            return func.date(func.timezone("UTC", column) + timedelta(seconds=offset))
    else:
        def shifted(offset):
            return func.date(column, f"{offset:+d} seconds")
    if len(spans) == 1:
        return shifted(spans[0][1])
    return case(*((column < start, shifted(offset)) for (_, offset), (start, _) in zip(spans, spans[1:])),
                else_=shifted(spans[-1][1]))


def _days(values: Sequence, tz: tzinfo) -> np.ndarray:
    """Local days from SQL (SQLite's date() gives 'YYYY-MM-DD' text, PostgreSQL a date) as the UTC
    instants of their local midnights, each distinct day converted once."""
    seen: dict = {}
    which = np.fromiter((seen.setdefault(d, len(seen)) for d in values), np.int64, len(values))
    distinct = np.array([midnight_utc(d, tz) for d in seen], dtype="datetime64[s]")
    return distinct[which] if len(values) else np.empty(0, "datetime64[s]")


def load_answer_frame(
    db: Session, *, survey: str = "csat-default", question: str = "satisfaction",
    scope: Sequence[str] | None = None, since: datetime | None = None, until: datetime | None = None,
    attributes: Sequence[str] = ("tier",), by_day: bool = True, criteria: Criteria | None = None,
    dimensions: Sequence[str] = DIMENSIONS, reasons: bool = True, tz: tzinfo = DEFAULT_ZONE,
) -> AnswerFrame:
    """Answers to one scored question, counted per (dimensions, attributes, value, reasons[, day]).

    Reasons come from the scored answer and from the same session's 'reason' answer. With
    by_day, answered_at is the local day in zone tz (as the UTC instant of its midnight), enough for
    weekly and monthly trends. `dimensions` (a subset of DIMENSIONS) and reasons=False leave out what a page
    does not need, so the GROUP BY returns fewer rows; `criteria` filters in the WHERE clause.
    """
    a = aliased(Answer)
    r = aliased(Answer)
    available = {"channel": a.channel, "region": a.region, "city": a.city, "outlet": a.outlet_code,
                 "business_type": func.coalesce(a.business_type, MISSING)}
    dimensions = [d for d in DIMENSIONS if d in dimensions]
    cols = [available[d].label(d) for d in dimensions]
    cols += [_answer_attribute(a, k).label(f"attr_{i}") for i, k in enumerate(attributes)]
    cols.append(a.value.label("value"))
    if reasons:
        cols += [cast(a.reasons, String).label("reasons_a"), cast(r.reasons, String).label("reasons_r")]
    if by_day:
        cols.append(_local_day(db, a.answered_at, tz, since, until).label("day"))
    conditions = [a.survey == survey, a.question == question, a.value.is_not(None)]
    conditions += _window(a.answered_at, since, until)
    conditions += _answer_criteria(a, criteria)
    if scope is not None:
        conditions.append(a.outlet_code.in_(list(scope)))
    inner = select(*cols).select_from(a)
    if reasons:
        inner = inner.outerjoin(r, and_(r.session_id == a.session_id, r.question == "reason"))
    inner = inner.where(*conditions)
    if "outlet" in dimensions and ("business_type" in dimensions or attributes or reasons or by_day):
        # An outlet has a handful of answers in a window, split again by business type, customer or
        # reasons: groups are about as many as answers, and the database's sort for GROUP BY would
        # cost more than it saves. Answers come as they are (count 1), in index order.
        rows = db.execute(inner.add_columns(literal(1).label("n"))).all()
    else:
        # Group in an outer query over labelled columns: PostgreSQL does not match an expression
        # with bound parameters (the JSON key) in SELECT against the same expression in GROUP BY.
        keys = list(inner.subquery().c)
        rows = db.execute(select(*keys, func.count().label("n")).group_by(*keys)).all()
    return _frame_from_rows(rows, list(attributes), tz if by_day else None, dimensions=dimensions, reasons=reasons)


def _factor(raw: Sequence) -> Factor:
    """A column of SQL values as a Factor: None and "" are MISSING, levels in order of first sight."""
    seen: dict = {}
    first = np.fromiter((seen.setdefault(v, len(seen)) for v in raw), np.int32, len(raw))
    return Factor.from_raw_levels(first, list(seen))


def _reason_rows(blobs: Sequence, index: dict[str, int]) -> np.ndarray:
    """rows x REASON_CODES booleans from JSON lists of codes, each distinct list parsed once."""
    seen: dict = {}
    which = np.fromiter((seen.setdefault(b, len(seen)) for b in blobs), np.int64, len(blobs))
    table = np.zeros((len(seen), len(REASON_CODES)), bool)
    for blob, k in seen.items():
        table[k, [index[c] for c in (json.loads(blob) if blob else []) if c in index]] = True
    return table[which]


def _frame_from_rows(rows, attributes: list[str], day_zone: tzinfo | None, *,
                     dimensions: Sequence[str] = DIMENSIONS, reasons: bool = True) -> AnswerFrame:
    # Column by column: a million rows cost a few passes over lists, not a dict lookup per cell.
    names = list(dimensions) + list(attributes)
    width = len(names) + 1 + (2 if reasons else 0) + (1 if day_zone else 0) + 1
    cols = list(zip(*rows)) if rows else [()] * width
    columns = {k: _factor(cols[j]) for j, k in enumerate(names)}
    at = len(names)
    value = np.fromiter(cols[at], np.int16, len(rows))
    count = np.fromiter(cols[-1], np.int64, len(rows))
    matrix = np.zeros((len(rows), len(REASON_CODES)), bool)
    if reasons:
        index = {c: i for i, c in enumerate(REASON_CODES)}
        matrix = _reason_rows(cols[at + 1], index) | _reason_rows(cols[at + 2], index)
    days = _days(cols[-2], day_zone) if day_zone else None
    return AnswerFrame(columns, value, matrix, count, answered_at=days)


_SENT_COLUMNS = {
    "channel": Outlet.channel, "region": Region.name, "city": City.name, "outlet": Outlet.code,
    "business_type": BusinessType.name,  # as answers carry it (the engine tags them with the name)
}


def _interaction_query(columns: list, scope: Sequence[str] | None, criteria: Criteria | None = None):
    q = (select(*columns).select_from(Interaction)
         .join(Outlet, Outlet.id == Interaction.outlet_id).join(City, City.id == Outlet.city_id)
         .join(Region, Region.id == City.region_id)
         .outerjoin(BusinessType, BusinessType.id == Interaction.business_type_id))
    if scope is not None:
        q = q.where(Outlet.code.in_(list(scope)))
    conditions = _interaction_criteria(criteria)
    return q.where(*conditions) if conditions else q


def sent_counts(db: Session, *, by: Sequence[str] = ("outlet",), survey: str = "csat-default",
                scope: Sequence[str] | None = None, since: datetime | None = None,
                until: datetime | None = None, criteria: Criteria | None = None) -> dict[tuple[str, ...], int]:
    """Surveys sent per group of `by` (keys as in metrics.group_metrics), for response rates."""
    cols = [_SENT_COLUMNS[b] for b in by]
    q = (_interaction_query([*cols, func.count(SurveySession.id)], scope, criteria)
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
                       since: datetime | None = None, until: datetime | None = None,
                       criteria: Criteria | None = None, tz: tzinfo = DEFAULT_ZONE) -> DailyCounts:
    """Interactions per group and local day in zone tz (the denominator of dissatisfied answers per
    10,000)."""
    cols = [_SENT_COLUMNS[b] for b in by]
    day = _local_day(db, Interaction.ended_at, tz, since, until)
    inner = _interaction_query([*(c.label(f"k{i}") for i, c in enumerate(cols)), day.label("day")], scope,
                               criteria)
    inner = inner.where(*_window(Interaction.ended_at, since, until)).subquery()
    keys = [inner.c[f"k{i}"] for i in range(len(cols))]
    rows = db.execute(select(*keys, inner.c.day, func.count()).group_by(*keys, inner.c.day)).all()
    return DailyCounts(
        tuple(by), tuple(tuple(MISSING if v is None else str(v) for v in row[:-2]) for row in rows),
        _days([row[-2] for row in rows], tz),
        np.array([int(row[-1]) for row in rows], np.int64),
    )


def response_list(db: Session, *, survey: str = "csat-default", question: str = "satisfaction",
                  scope: Sequence[str] | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int = 10_000,
                  criteria: Criteria | None = None) -> list[ResponseRow]:
    """The latest answers with their verbatim replies (scored answer joined with its reason answer)."""
    a = aliased(Answer)
    r = aliased(Answer)
    q = (select(a, r.reasons, r.text).select_from(a)
         .outerjoin(r, and_(r.session_id == a.session_id, r.question == "reason"))
         .where(a.survey == survey, a.question == question, *_window(a.answered_at, since, until),
                *_answer_criteria(a, criteria))
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


def _interactions_only(columns: list, by: Sequence[str], scope: Sequence[str] | None,
                       criteria: Criteria | None):
    """SELECT columns FROM interactions, joining outlets, cities, regions or business types only when
    `by` groups on them; scope and criteria are conditions on the interaction's own columns.

    Without those joins SQLite has one way to run a window over interactions (scan them) instead
    of a plan that visits every outlet and then its interactions by index, a random read per row,
    which its planner picks once statistics exist and which is several times slower.
    """
    q = select(*columns).select_from(Interaction)
    if any(b in ("outlet", "city", "region") for b in by):
        q = q.join(Outlet, Outlet.id == Interaction.outlet_id)
    if any(b in ("city", "region") for b in by):
        q = q.join(City, City.id == Outlet.city_id)
    if "region" in by:
        q = q.join(Region, Region.id == City.region_id)
    if "business_type" in by:
        q = q.outerjoin(BusinessType, BusinessType.id == Interaction.business_type_id)
    if scope is not None:
        q = q.where(Interaction.outlet_id.in_(select(Outlet.id).where(Outlet.code.in_(list(scope))).scalar_subquery()))
    if criteria is not None:
        if criteria.channels:
            q = q.where(Interaction.channel.in_(list(criteria.channels)))
        if criteria.business_types:
            names = list(criteria.business_types)
            q = q.where(Interaction.business_type_id.in_(
                select(BusinessType.id).where(or_(BusinessType.code.in_(names), BusinessType.name.in_(names)))
                .scalar_subquery()))
        for name, values in criteria.attributes:
            q = q.where(Interaction.attributes[name].as_string().in_(list(values)))
    return q


# Group columns of the interaction queries that join only what they need (the channel is the
# interaction's own, which ingest checks against its outlet's).
_OWN_COLUMNS = {
    "channel": Interaction.channel, "region": Region.name, "city": City.name, "outlet": Outlet.code,
    "business_type": BusinessType.name,  # as answers carry it (the engine tags them with the name)
}


def _bucket(column, edges: Sequence[datetime]):
    """Which of the windows [edges[i], edges[i+1]) a time falls in (rows outside are filtered out)."""
    if len(edges) == 2:
        return literal(0)
    return case(*((column < edge, i) for i, edge in enumerate(edges[1:-1])), else_=len(edges) - 2)


def value_counts(db: Session, *, edges: Sequence[datetime], survey: str = "csat-default",
                 question: str = "satisfaction", by: Sequence[str] = (), scope: Sequence[str] | None = None,
                 criteria: Criteria | None = None) -> dict[tuple, dict[int, int]]:
    """Answers per score, per window of `edges` and group of `by`: {(window, *key): {value: n}}.

    One range scan of the answers index covers all windows, e.g. a period and the one before it.
    """
    columns = {"channel": Answer.channel, "region": Answer.region, "city": Answer.city,
               "outlet": Answer.outlet_code, "business_type": func.coalesce(Answer.business_type, MISSING)}
    bucket = _bucket(Answer.answered_at, edges).label("w")
    keys = [bucket, *(columns[b].label(b) for b in by), Answer.value.label("value")]
    inner = (select(*keys)
             .where(Answer.survey == survey, Answer.question == question, Answer.value.is_not(None),
                    Answer.answered_at >= edges[0], Answer.answered_at < edges[-1],
                    *_answer_criteria(Answer, criteria),
                    *([Answer.outlet_code.in_(list(scope))] if scope is not None else [])).subquery())
    cols = list(inner.c)
    out: dict[tuple, dict[int, int]] = {}
    for row in db.execute(select(*cols, func.count()).group_by(*cols)):
        key = (int(row[0]), *(MISSING if v is None else str(v) for v in row[1:-2]))
        out.setdefault(key, {})[int(row[-2])] = int(row[-1])
    return out


@dataclass(frozen=True)
class SessionCounts:
    """Surveys sent in a window, how many were answered, and the SMS segments they cost."""

    sent: int
    answered: int
    segments: int


def session_counts(db: Session, *, edges: Sequence[datetime], by: Sequence[str] = (),
                   scope: Sequence[str] | None = None, criteria: Criteria | None = None,
                   scored: Sequence[tuple[str, str]] = (("csat-default", "satisfaction"), ("nps-default", "recommend")),
                   ) -> dict[tuple, SessionCounts]:
    """Per window of `edges` (by when the survey was sent) and group of `by`: {(window, *key): counts}.

    A survey counts as answered when its scored question (one of `scored`: survey, question) has
    an answer; segments are what the session's messages cost (billing is per segment).
    """
    cols = [_OWN_COLUMNS[b].label(f"k{i}") for i, b in enumerate(by)]
    # The scored answers of the window, joined (not probed per session): an answer comes after its
    # survey was sent, so the answers index bounds them by time, and PostgreSQL hashes the join.
    scored_answers = (select(Answer.session_id.label("session_id")).where(
        or_(*(and_(Answer.survey == s, Answer.question == q) for s, q in scored)), Answer.value.is_not(None),
        Answer.answered_at >= edges[0]).subquery())
    inner = (_interactions_only([_bucket(SurveySession.sent_at, edges).label("w"), *cols,
                                 case((scored_answers.c.session_id.is_not(None), 1), else_=0).label("answered"),
                                 SurveySession.segments_sent.label("segments")], by, scope, criteria)
             .join(SurveySession, SurveySession.interaction_id == Interaction.id)
             .outerjoin(scored_answers, scored_answers.c.session_id == SurveySession.id)
             .where(SurveySession.sent_at >= edges[0], SurveySession.sent_at < edges[-1]).subquery())
    keys = [inner.c.w, *(inner.c[f"k{i}"] for i in range(len(by)))]
    q = select(*keys, func.count(), func.sum(inner.c.answered), func.sum(inner.c.segments)).group_by(*keys)
    return {(int(row[0]), *(MISSING if v is None else str(v) for v in row[1:-3])):
            SessionCounts(int(row[-3]), int(row[-2] or 0), int(row[-1] or 0)) for row in db.execute(q)}


def interaction_totals(db: Session, *, edges: Sequence[datetime], by: Sequence[str] = (),
                       scope: Sequence[str] | None = None, criteria: Criteria | None = None) -> dict[tuple, int]:
    """Interactions ended per window of `edges` and group of `by`: {(window, *key): n}."""
    cols = [_OWN_COLUMNS[b].label(f"k{i}") for i, b in enumerate(by)]
    inner = (_interactions_only([_bucket(Interaction.ended_at, edges).label("w"), *cols], by, scope, criteria)
             .where(Interaction.ended_at >= edges[0], Interaction.ended_at < edges[-1]).subquery())
    keys = list(inner.c)
    return {(int(row[0]), *(MISSING if v is None else str(v) for v in row[1:-1])): int(row[-1])
            for row in db.execute(select(*keys, func.count()).group_by(*keys))}


@dataclass(frozen=True)
class AnswerRecord:
    """One scored answer with its reason answer's reasons and text joined; the phone is E.164
    (mask it before anyone sees it)."""

    id: int
    session_id: int
    answered_at: datetime
    channel: str
    region: str
    city: str
    outlet: str
    business_type: str | None
    msisdn: str
    value: int | None
    reasons: tuple[str, ...]
    text: str  # the customer's replies, verbatim
    attributes: Mapping[str, Any]


def answer_records(db: Session, *, survey: str = "csat-default", question: str = "satisfaction",
                   scope: Sequence[str] | None = None, since: datetime | None = None,
                   until: datetime | None = None, criteria: Criteria | None = None,
                   limit: int | None = None, offset: int = 0, batch: int = 1_000) -> Iterator[AnswerRecord]:
    """The answers, newest first, streamed `batch` rows at a time (memory stays flat for an export)."""
    a = aliased(Answer)
    r = aliased(Answer)
    q = (select(a.id, a.session_id, a.answered_at, a.channel, a.region, a.city, a.outlet_code, a.business_type,
                a.msisdn, a.value, a.reasons, a.text, a.attributes, r.reasons, r.text).select_from(a)
         .outerjoin(r, and_(r.session_id == a.session_id, r.question == "reason"))
         .where(a.survey == survey, a.question == question, *_window(a.answered_at, since, until),
                *_answer_criteria(a, criteria))
         .order_by(a.answered_at.desc(), a.id.desc()).offset(offset))
    if scope is not None:
        q = q.where(a.outlet_code.in_(list(scope)))
    if limit is not None:
        q = q.limit(limit)
    for row in db.execute(q.execution_options(yield_per=batch)):
        (id_, session_id, at, channel, region, city, outlet, business, msisdn, value, reasons, text, attrs,
         more_reasons, more_text) = row
        yield AnswerRecord(id_, session_id, at, str(channel), region, city, outlet, business, msisdn, value,
                           tuple(dict.fromkeys([*(reasons or []), *(more_reasons or [])])),
                           " / ".join(t for t in (text, more_text) if t), dict(attrs or {}))


@dataclass(frozen=True)
class InteractionRecord:
    """An interaction as the overview lists it; the phone is E.164 (mask it before showing)."""

    id: int
    ended_at: datetime
    channel: str
    outlet: str
    outlet_name: str
    business_type: str | None
    msisdn: str
    decision: str | None  # what the engine decided (surveyed or why not); None until evaluated


def latest_interactions(db: Session, *, scope: Sequence[str] | None = None, since: datetime | None = None,
                        until: datetime | None = None, criteria: Criteria | None = None,
                        limit: int = 20, ids: Sequence[int] | None = None) -> list[InteractionRecord]:
    """The interactions received last (by id), or those of `ids` (found already, e.g. in analysis.columns)."""
    q = (_interaction_query([Interaction.id, Interaction.ended_at, Interaction.channel, Outlet.code, Outlet.name,
                             BusinessType.name, Interaction.msisdn, Interaction.decision], scope, criteria)
         .where(*_window(Interaction.ended_at, since, until)).order_by(Interaction.id.desc()).limit(limit))
    if ids is not None:
        q = q.where(Interaction.id.in_([int(i) for i in ids]))
    return [InteractionRecord(i, ended, str(channel), code, name, business, msisdn, decision)
            for i, ended, channel, code, name, business, msisdn, decision in db.execute(q)]
