"""Answers, surveys sent and interactions held column by column in memory, and the counts the pages
ask of analysis.queries, computed from them with numpy.

A page over a year reads a million rows: SQLite or PostgreSQL walk them one by one (seconds), numpy
counts them in milliseconds. analysis.column_store keeps these arrays a current copy of the
database; every count here answers exactly what its namesake in analysis.queries answers on the
same rows (tests/analysis/test_columns.py runs both), so a page can take either.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

import numpy as np
import pyarrow as pa

from analysis.frame import MISSING, REASON_CODES, AnswerFrame, Factor
from analysis.local_days import midnight_utc, offset_spans

NULL = -1  # a NULL number, time or code
# Customer attributes held as columns (answers copy them at insert, interactions from their JSON);
# a filter on any other attribute is a question for the database.
ATTRIBUTES = ("tier", "brand")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)
REASON_BIT = {code: np.uint64(1) << np.uint64(i) for i, code in enumerate(REASON_CODES)}


class Unsupported(LookupError):
    """A question these columns cannot answer (an attribute they do not hold): ask the database."""


def micros(at: datetime) -> int:
    """A time as integer microseconds since the epoch (the arrays' time unit)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return (at - _EPOCH) // _MICRO




class Levels:
    """The distinct values of a string column, each with a code that never changes; it only grows
    (under the store's lock), so a reader holding older codes can always decode them."""

    def __init__(self) -> None:
        self.values: list = []
        self._codes: dict = {}

    def encode(self, raw: Sequence[str | None]) -> np.ndarray:
        """Codes of raw strings (None included), adding unseen values; hashed by pyarrow, so a million
        rows cost one pass in C and a dict lookup per distinct value."""
        if not len(raw):
            return np.zeros(0, np.int32)
        encoded = pa.array(raw, type=pa.string()).dictionary_encode()
        distinct = [*encoded.dictionary.to_pylist(), None]
        codes, values = self._codes, self.values
        for v in distinct:
            if v not in codes:
                codes[v] = len(values)
                values.append(v)
        table = np.array([codes[v] for v in distinct], np.int32)
        return table[encoded.indices.fill_null(len(distinct) - 1).to_numpy()]

    def code(self, value) -> int:
        """The code of one value, NULL when the column never held it."""
        return self._codes.get(value, NULL)

    def matching(self, accepted: Iterable) -> np.ndarray:
        """Codes of the values in accepted (SQL's IN: a NULL matches nothing)."""
        wanted = {v for v in accepted if v is not None}
        values = self.values[:]  # a copy taken at once: a refresh in another thread may append meanwhile
        return np.array([c for c, v in enumerate(values) if v in wanted], np.int32)


@dataclass(frozen=True, eq=False)
class Table:
    """Equal-length numpy columns, rows in id order."""

    columns: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["id"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def append(self, more: Table) -> Table:
        if not len(more):
            return self
        if not len(self):
            return more
        return Table({k: np.concatenate([v, more.columns[k]]) for k, v in self.columns.items()})

    def replace(self, **columns: np.ndarray) -> Table:
        return Table({**self.columns, **columns})


@dataclass(frozen=True, eq=False)
class Places:
    """Outlets and business types as they are now, by id: codes into `levels` of the store."""

    outlet_code: np.ndarray  # by outlet id; NULL where no outlet has the id
    outlet_channel: np.ndarray
    outlet_city: np.ndarray
    outlet_region: np.ndarray
    btype_code: np.ndarray  # by business type id
    btype_name: np.ndarray


@dataclass(frozen=True, eq=False)
class Columns:
    """One consistent copy: answers, survey sessions (with their interaction's tags), interactions.

    answers: id, session, at, survey, question, value, channel, region, city, outlet, business_type,
    tier, brand, reasons (a bit per REASON_CODES). sessions: id, survey, sent, segments and their
    interaction's channel, outlet (id), btype (id), tier, brand. interactions: id, ended, channel,
    outlet, btype, tier, brand. Strings are codes into levels[column]; times are microseconds.
    """

    answers: Table
    sessions: Table
    interactions: Table
    places: Places
    levels: Mapping[str, Levels]

    @property
    def nbytes(self) -> int:
        """Memory the rows' arrays take."""
        return sum(v.nbytes for t in (self.answers, self.sessions, self.interactions) for v in t.columns.values())


def _in(codes: np.ndarray, accepted: np.ndarray) -> np.ndarray:
    return np.isin(codes, accepted)


def _window(times: np.ndarray, since: datetime | None, until: datetime | None) -> np.ndarray:
    mask = times != NULL
    if since is not None:
        mask &= times >= micros(since)
    if until is not None:
        mask &= times < micros(until)
    return mask


def _text(value) -> str:
    return MISSING if value is None else str(value)


@dataclass(frozen=True)
class _Part:
    """One column of a group key: per-row codes, how many codes there are, and a code's key value."""

    codes: np.ndarray
    size: int
    decode: Callable[[int], object]


def _distinct(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (0 <= key < size) in order and each row's index into them: by counting when
    the key space is small next to the rows (one pass), else by sorting."""
    if size <= 4 * len(keys) + 1_000_000:
        used = np.flatnonzero(np.bincount(keys, minlength=size))
        index = np.zeros(size, np.int64)
        index[used] = np.arange(len(used))
        return used, index[keys]
    return np.unique(keys, return_inverse=True)


def _combined(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """One mixed-radix int64 key per row from per-column codes, and the size of the key space."""
    key = np.zeros(len(codes[0]), np.int64)
    space = 1
    for c, size in zip(codes, sizes):
        key = key * max(size, 1) + c
        space *= max(size, 1)
    return key, space


def _tally(parts: Sequence[_Part], weights: Sequence[np.ndarray] = ()) -> dict[tuple, tuple]:
    """{key: (rows, *sum of each weight)} over the rows, grouped by the parts' codes."""
    if not len(parts[0].codes):
        return {}
    combined, space = _combined([p.codes for p in parts], [p.size for p in parts])
    used, inverse = _distinct(combined, space)
    sums = [np.bincount(inverse, minlength=len(used))]
    sums += [np.bincount(inverse, weights=w, minlength=len(used)) for w in weights]
    digits = []
    rest = used
    for p in reversed(parts):
        digits.append((rest % max(p.size, 1)).tolist())
        rest = rest // max(p.size, 1)
    digits.reverse()
    keys = zip(*([p.decode(d) for d in column] for p, column in zip(parts, digits)))
    totals = zip(*(s.astype(np.int64).tolist() for s in sums))
    return dict(zip(keys, totals))


def _level_part(cols: Columns, column: str, codes: np.ndarray, decode=_text) -> _Part:
    values = cols.levels[column].values
    return _Part(codes, len(values), lambda c: decode(values[c]))


def _bucket(times: np.ndarray, edges: Sequence[datetime]) -> _Part:
    inner = np.array([micros(e) for e in edges[1:-1]], np.int64)
    return _Part(np.searchsorted(inner, times, side="right"), len(edges) - 1, int)


# -- answers ------------------------------------------------------------------------------------


def _answer_mask(cols: Columns, survey: str, question: str, since, until, scope, criteria) -> np.ndarray:
    a, lv = cols.answers, cols.levels
    mask = (a["survey"] == lv["survey"].code(survey)) & (a["question"] == lv["question"].code(question))
    mask &= (a["value"] != NULL) & _window(a["at"], since, until)
    if criteria is not None:
        if criteria.channels:
            mask &= _in(a["channel"], lv["channel"].matching(criteria.channels))
        if criteria.business_types:
            mask &= _in(a["business_type"], lv["business_type"].matching(criteria.business_types))
        for name, values in criteria.attributes:
            if name not in ATTRIBUTES:
                raise Unsupported(name)
            mask &= _in(a[name], lv[name].matching(values))
    if scope is not None:
        mask &= _in(a["outlet"], lv["outlet"].matching(scope))
    return mask


_ANSWER_DIMENSIONS = {"channel": "channel", "region": "region", "city": "city", "outlet": "outlet",
                      "business_type": "business_type"}


def value_counts(cols: Columns, *, edges: Sequence[datetime], survey: str = "csat-default",
                 question: str = "satisfaction", by: Sequence[str] = (), scope: Sequence[str] | None = None,
                 criteria=None) -> dict[tuple, dict[int, int]]:
    """analysis.queries.value_counts from the columns."""
    a = cols.answers
    mask = _answer_mask(cols, survey, question, edges[0], edges[-1], scope, criteria)
    value = a["value"][mask].astype(np.int64)
    low = int(value.min()) if len(value) else 0
    parts = [_bucket(a["at"][mask], edges)]
    parts += [_level_part(cols, _ANSWER_DIMENSIONS[b], a[_ANSWER_DIMENSIONS[b]][mask]) for b in by]
    parts.append(_Part(value - low, int(value.max()) - low + 1 if len(value) else 1, lambda c: c + low))
    out: dict[tuple, dict[int, int]] = {}
    for key, (n,) in _tally(parts).items():
        out.setdefault(key[:-1], {})[key[-1]] = n
    return out


def reasons_with_reason_answer(cols: Columns, rows: np.ndarray) -> np.ndarray:
    """The reasons of answers `rows` together with those of their session's 'reason' answer."""
    a = cols.answers
    reason_rows = np.flatnonzero(a["question"] == cols.levels["question"].code("reason"))
    own = a["reasons"][rows]
    if not len(reason_rows):
        return own
    sessions = a["session"][reason_rows]
    order = np.argsort(sessions, kind="stable")
    sessions, masks = sessions[order], a["reasons"][reason_rows][order]
    starts = np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1]])
    distinct, merged = sessions[starts], np.bitwise_or.reduceat(masks, starts)
    at = np.searchsorted(distinct, a["session"][rows])
    found = at < len(distinct)
    found[found] = distinct[at[found]] == a["session"][rows][found]
    out = own.copy()
    out[found] |= merged[at[found]]
    return out


def _frame_factor(cols: Columns, column: str, codes: np.ndarray) -> Factor:
    """A Factor as analysis.queries builds it from the same values."""
    return Factor.from_raw_levels(codes, cols.levels[column].values[:])


def local_days(times: np.ndarray, tz: tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """The local days in zone tz of times (microseconds, UTC): the distinct days as the UTC instants
    they start at (datetime64[s], in order) and each time's index into them."""
    if not len(times):
        return np.empty(0, "datetime64[s]"), np.zeros(0, np.int64)
    low, high = int(times.min()), int(times.max())
    spans = offset_spans(tz, _from_micros(low), _from_micros(high + 1))
    starts = np.array([micros(s) for s, _ in spans[1:]], np.int64)
    offsets = np.array([o for _, o in spans], np.int64) * 1_000_000
    day = (times + offsets[np.searchsorted(starts, times, side="right")]) // 86_400_000_000
    first = int(day.min())
    distinct, which = _distinct(day - first, int(day.max()) - first + 1)
    midnights = np.array([midnight_utc(np.datetime64(int(d) + first, "D").item(), tz) for d in distinct],
                         "datetime64[s]")
    return midnights, which


def _from_micros(value: int) -> datetime:
    return _EPOCH + _MICRO * value


def answer_frame(cols: Columns, *, survey: str = "csat-default", question: str = "satisfaction",
                 scope: Sequence[str] | None = None, since: datetime | None = None, until: datetime | None = None,
                 attributes: Sequence[str] = ("tier",), by_day: bool = True, criteria=None,
                 dimensions: Sequence[str] = ("channel", "region", "city", "outlet", "business_type"),
                 reasons: bool = True, tz: tzinfo | None = None) -> AnswerFrame:
    """analysis.queries.load_answer_frame from the columns. As there, answers are counted per distinct
    row unless the frame has outlets (then nearly every answer is a row of its own)."""
    unknown = [k for k in attributes if k not in ATTRIBUTES]
    if unknown:
        raise Unsupported(unknown[0])
    a = cols.answers
    rows = np.flatnonzero(_answer_mask(cols, survey, question, since, until, scope, criteria))
    columns = {d: _frame_factor(cols, _ANSWER_DIMENSIONS[d], a[_ANSWER_DIMENSIONS[d]][rows])
               for d in ("channel", "region", "city", "outlet", "business_type") if d in dimensions}
    columns.update({k: _frame_factor(cols, k, a[k][rows]) for k in attributes})
    value = a["value"][rows].astype(np.int16)
    bits = reasons_with_reason_answer(cols, rows) if reasons else np.zeros(len(rows), np.uint64)
    day_kinds, day = local_days(a["at"][rows], tz) if by_day else (None, None)
    days = None if day is None else day_kinds[day]
    count = np.ones(len(rows), np.int64)
    if "outlet" not in columns and len(rows):
        low = int(value.min())
        kinds, kind = _distinct_values(bits.view(np.int64))
        codes = [f.codes for f in columns.values()] + [value - low, kind]
        sizes = [len(f.levels) for f in columns.values()] + [int(value.max()) - low + 1, len(kinds)]
        if day is not None:
            codes.append(day)
            sizes.append(len(day_kinds))
        combined, space = _combined(codes, sizes)
        used, inverse = _distinct(combined, space)
        first = np.empty(len(used), np.int64)
        first[inverse[::-1]] = np.arange(len(inverse))[::-1]  # the first row of each: the last write wins
        count = np.bincount(inverse, minlength=len(used)).astype(np.int64)
        columns = {k: Factor(f.codes[first], f.levels) for k, f in columns.items()}
        value, bits = value[first], bits[first]
        days = None if days is None else days[first]
    matrix = (bits[:, None] >> np.arange(len(REASON_CODES), dtype=np.uint64)) & np.uint64(1) == 1
    return AnswerFrame(columns, value, matrix, count, answered_at=days)


def _distinct_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = int(values.min())
    return _distinct(values - low, int(values.max()) - low + 1)


# -- sessions and interactions ------------------------------------------------------------------


def _tag_mask(cols: Columns, t: Table, scope, criteria) -> np.ndarray:
    """Scope and criteria on a table tagged as interactions are (channel, outlet, btype, tier, brand)."""
    p, lv = cols.places, cols.levels
    mask = np.ones(len(t), bool)
    if scope is not None:
        ids = np.flatnonzero(_in(p.outlet_code, lv["outlet"].matching(scope)))
        mask &= _in(t["outlet"], ids)
    if criteria is not None:
        if criteria.channels:
            mask &= _in(t["channel"], lv["channel"].matching(criteria.channels))
        if criteria.business_types:
            accepted = set(criteria.business_types)
            code_ok = _in(p.btype_code, lv["business_type"].matching(accepted))
            name_ok = _in(p.btype_name, lv["business_type"].matching(accepted))
            mask &= _in(t["btype"], np.flatnonzero(code_ok | name_ok))
        for name, values in criteria.attributes:
            if name not in ATTRIBUTES:
                raise Unsupported(name)
            mask &= _in(t[name], lv[name].matching(values))
    return mask


def _tag_part(cols: Columns, t: Table, rows: np.ndarray, by: str, *, outlet_channel: bool = False) -> _Part:
    """A group column of interaction-tagged rows: the interaction's channel (or its outlet's), the
    outlet's code, city or region as they are now, the business type's name."""
    p = cols.places
    if by == "channel" and not outlet_channel:
        return _level_part(cols, "channel", t["channel"][rows])
    if by == "business_type":
        ids = t["btype"][rows]
        names = np.where(ids == NULL, NULL, p.btype_name[np.maximum(ids, 0)])
        values = cols.levels["business_type"].values
        return _Part(names + 1, len(values) + 1, lambda c: MISSING if c == 0 else _text(values[c - 1]))
    table = {"channel": p.outlet_channel, "city": p.outlet_city, "region": p.outlet_region,
             "outlet": p.outlet_code}[by]
    column = {"channel": "channel", "city": "city", "region": "region", "outlet": "outlet"}[by]
    return _level_part(cols, column, table[t["outlet"][rows]])


def _joined(cols: Columns, t: Table, mask: np.ndarray, by: Sequence[str]) -> np.ndarray:
    """SQL's inner joins to outlets, cities and regions drop rows whose outlet is gone."""
    if any(b in ("outlet", "city", "region", "channel") for b in by):
        outlet = t["outlet"]
        known = (outlet < len(cols.places.outlet_code)) & (outlet >= 0)
        known[known] = cols.places.outlet_code[outlet[known]] != NULL
        mask = mask & known
    return mask


def session_counts(cols: Columns, *, edges: Sequence[datetime], by: Sequence[str] = (),
                   scope: Sequence[str] | None = None, criteria=None,
                   scored: Sequence[tuple[str, str]] = (("csat-default", "satisfaction"), ("nps-default", "recommend")),
                   ) -> dict[tuple, tuple[int, int, int]]:
    """analysis.queries.session_counts from the columns, as {key: (sent, answered, segments)}."""
    s, a, lv = cols.sessions, cols.answers, cols.levels
    mask = _window(s["sent"], edges[0], edges[-1]) & _tag_mask(cols, s, scope, criteria)
    mask = _joined(cols, s, mask, [b for b in by if b != "channel"])
    rows = np.flatnonzero(mask)
    is_scored = np.zeros(len(a), bool)
    for survey, question in scored:
        is_scored |= (a["survey"] == lv["survey"].code(survey)) & (a["question"] == lv["question"].code(question))
    is_scored &= (a["value"] != NULL) & (a["at"] >= micros(edges[0]))
    answered = np.isin(s["id"][rows], a["session"][is_scored]).astype(np.float64)
    parts = [_bucket(s["sent"][rows], edges), *(_tag_part(cols, s, rows, b) for b in by)]
    return {k: (n, x, seg) for k, (n, x, seg) in
            _tally(parts, [answered, s["segments"][rows].astype(np.float64)]).items()}


def interaction_totals(cols: Columns, *, edges: Sequence[datetime], by: Sequence[str] = (),
                       scope: Sequence[str] | None = None, criteria=None) -> dict[tuple, int]:
    """analysis.queries.interaction_totals from the columns."""
    i = cols.interactions
    mask = _window(i["ended"], edges[0], edges[-1]) & _tag_mask(cols, i, scope, criteria)
    rows = np.flatnonzero(_joined(cols, i, mask, [b for b in by if b != "channel"]))
    parts = [_bucket(i["ended"][rows], edges), *(_tag_part(cols, i, rows, b) for b in by)]
    return {k: n for k, (n,) in _tally(parts).items()}


def interaction_days(cols: Columns, *, by: Sequence[str] = ("outlet",), scope: Sequence[str] | None = None,
                     since: datetime | None = None, until: datetime | None = None, criteria=None,
                     tz: tzinfo) -> tuple[tuple[tuple[str, ...], ...], np.ndarray, np.ndarray]:
    """analysis.queries.interaction_counts from the columns: (keys, local day, count) per row."""
    i = cols.interactions
    mask = _window(i["ended"], since, until) & _tag_mask(cols, i, scope, criteria)
    rows = np.flatnonzero(_joined(cols, i, mask, ["outlet"]))
    distinct, which = local_days(i["ended"][rows], tz)
    parts = [*(_tag_part(cols, i, rows, b, outlet_channel=True) for b in by),
             _Part(which, len(distinct), lambda c: distinct[c])]
    counted = _tally(parts) if len(rows) else {}
    keys = tuple(k[:-1] for k in counted)
    return (keys, np.array([k[-1] for k in counted], "datetime64[s]"),
            np.array([n for n, in counted.values()], np.int64))


def sent_counts(cols: Columns, *, by: Sequence[str] = ("outlet",), survey: str = "csat-default",
                scope: Sequence[str] | None = None, since: datetime | None = None,
                until: datetime | None = None, criteria=None) -> dict[tuple[str, ...], int]:
    """analysis.queries.sent_counts from the columns."""
    s = cols.sessions
    mask = (s["survey"] == cols.levels["survey"].code(survey)) & _window(s["sent"], since, until)
    mask &= _tag_mask(cols, s, scope, criteria)
    rows = np.flatnonzero(_joined(cols, s, mask, ["outlet"]))
    if not by:
        return {(): len(rows)}  # SQL's count without GROUP BY: one row, 0 included
    return {k: n for k, (n,) in _tally([_tag_part(cols, s, rows, b, outlet_channel=True) for b in by]).items()}


def latest_interactions(cols: Columns, *, scope: Sequence[str] | None = None, since: datetime | None = None,
                        until: datetime | None = None, criteria=None, limit: int = 20) -> np.ndarray:
    """The ids analysis.queries.latest_interactions lists (the highest that match), highest first."""
    i = cols.interactions
    mask = _joined(cols, i, _window(i["ended"], since, until) & _tag_mask(cols, i, scope, criteria), ["outlet"])
    return i["id"][np.flatnonzero(mask)[-limit:][::-1]] if limit > 0 else np.zeros(0, np.int64)
