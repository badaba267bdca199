"""A process's copy of answers, survey sessions and interactions as numpy columns (analysis.columns),
kept current from the database.

Each refresh reads only the rows at or after a boundary id per table, by primary key. Rows below it
are "settled" and kept: answers and interactions never change once stored, except an answer read
again after a review label, which the reply_reparses table records (those are re-read); a survey
session changes until it ends (its segments and its send time), so its boundary stays at the
oldest session still open. On PostgreSQL concurrent transactions may commit ids out of order: an id
seen at one refresh settles once every transaction running then has ended (the snapshot's xmin has
passed that refresh's xmax) and a second has gone by, or after `settle_seconds` in any case (one
transaction left open for hours must not make every page read every row again); SQLite writes one
at a time.
Outlets and business types (a few thousand rows) are read again with every refresh.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy import BigInteger, String, cast, func, select, text
from sqlalchemy.orm import Session

from analysis.columns import NULL, REASON_BIT, Columns, Levels, Places, Table, micros
from channels.models import BusinessType, City, Interaction, Outlet, Region
from survey.models import Answer, ReplyReparse, SurveySession

MIN_SETTLE_SECONDS = 1.0  # an id is taken a moment before its transaction has one of its own
PLACES_SECONDS = 60  # survey.reports.cache keeps a page's result as long
STRING_COLUMNS = ("survey", "question", "channel", "region", "city", "outlet", "business_type", "tier", "brand")


def _time(column, dialect: str):
    """A time column as the database can hand it over cheaply: SQLite's stored ISO text (numpy parses
    it), PostgreSQL's epoch in microseconds."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) * 1_000_000), BigInteger)
    return cast(column, String)


def _micros_or_null(values: Sequence) -> np.ndarray:
    """Microseconds from _time's ISO texts or integers; NULL for a NULL."""
    parsed = np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.where(parsed == np.iinfo(np.int64).min, NULL, parsed)  # NaT


def _numbers(values: Sequence, dtype) -> np.ndarray:
    """Integers, NULL for a NULL (through float64: exact below 2**53)."""
    floats = np.array(values, dtype=np.float64)
    return np.where(np.isnan(floats), NULL, floats).astype(dtype)


def _reason_bits(blobs: Sequence) -> np.ndarray:
    """Bit masks of JSON lists of reason codes (unknown codes ignored), each distinct list parsed once."""
    seen: dict = {}
    which = np.fromiter((seen.setdefault(b, len(seen)) for b in blobs), np.int64, len(blobs))
    masks = np.zeros(len(seen), np.uint64)
    for blob, k in seen.items():
        for code in json.loads(blob) if blob else ():
            masks[k] |= REASON_BIT.get(code, np.uint64(0))
    return masks[which] if len(blobs) else np.zeros(0, np.uint64)


def _transactions(db: Session) -> tuple[int | None, int | None]:
    """PostgreSQL: the oldest transaction still running and the first not yet started (xmin, xmax of
    a snapshot taken now). SQLite: (None, None), one writer at a time commits ids in order."""
    if db.get_bind().dialect.name != "postgresql":
        return None, None
    xmin, xmax = db.execute(text("SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                                 "FROM pg_current_snapshot() AS s")).one()
    return xmin, xmax


def _attribute(name: str):
    return Interaction.attributes[name].as_string()


class ColumnStore:
    """The columns of one database, refreshed under a lock; a refresh hands out an immutable copy."""

    def __init__(self, *, settle_seconds: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = False
        self._reset()

    def _reset(self) -> None:
        self._levels = {name: Levels() for name in STRING_COLUMNS}
        empty = self._answers(())
        none = self._interactions(())
        self._settled = {"answers": empty, "sessions": self._sessions((), none), "interactions": none}
        self._next = {"answers": 0, "sessions": 0, "interactions": 0}
        self._seen: list[tuple[float, dict[str, int], int]] = []  # (when, highest id per table, xmax) then
        self._reparsed = 0
        self._known_places: Places | None = None
        self._places_read_at = 0.0

    def columns(self, db: Session) -> Columns | None:
        """A current copy, read through db (whose transaction decides what is visible); None while
        another request makes the first copy (seconds at a million answers): its neighbours ask the
        database meanwhile instead of waiting. Later refreshes read only new rows and are waited for."""
        if not self._lock.acquire(blocking=self._loaded):
            return None
        try:
            copy = self._refresh(db)
            self._loaded = True
            return copy
        finally:
            self._lock.release()

    # -- reading rows -------------------------------------------------------------------------

    def _answers(self, rows: Sequence) -> Table:
        c = list(zip(*rows)) if rows else [()] * 14
        enc = self._levels
        return Table({
            "id": _numbers(c[0], np.int64), "session": _numbers(c[1], np.int64), "at": _micros_or_null(c[2]),
            "survey": enc["survey"].encode(c[3]), "question": enc["question"].encode(c[4]),
            "value": _numbers(c[5], np.int16), "channel": enc["channel"].encode(c[6]),
            "region": enc["region"].encode(c[7]), "city": enc["city"].encode(c[8]),
            "outlet": enc["outlet"].encode(c[9]), "business_type": enc["business_type"].encode(c[10]),
            "tier": enc["tier"].encode(c[11]), "brand": enc["brand"].encode(c[12]), "reasons": _reason_bits(c[13]),
        })

    def _tags(self, c: list, at: int) -> dict[str, np.ndarray]:
        """An interaction's channel, outlet, business type, tier and brand from columns at.."""
        enc = self._levels
        return {"channel": enc["channel"].encode(c[at]), "outlet": _numbers(c[at + 1], np.int32),
                "btype": _numbers(c[at + 2], np.int32), "tier": enc["tier"].encode(c[at + 3]),
                "brand": enc["brand"].encode(c[at + 4])}

    def _sessions(self, rows: Sequence, interactions: Table) -> Table:
        """Sessions tagged as their interactions are (which are read after them: an interaction
        commits before its session, so every session read has its interaction in `interactions`)."""
        c = list(zip(*rows)) if rows else [()] * 6
        of = np.searchsorted(interactions["id"], _numbers(c[5], np.int64))
        return Table({"id": _numbers(c[0], np.int64), "survey": self._levels["survey"].encode(c[1]),
                      "sent": _micros_or_null(c[2]), "segments": _numbers(c[3], np.int16),
                      "open": np.fromiter((v is None for v in c[4]), bool, len(c[4])),
                      **{k: interactions[k][of] for k in ("channel", "outlet", "btype", "tier", "brand")}})

    def _interactions(self, rows: Sequence) -> Table:
        c = list(zip(*rows)) if rows else [()] * 7
        return Table({"id": _numbers(c[0], np.int64), "ended": _micros_or_null(c[1]), **self._tags(c, 2)})

    def _read(self, db: Session, table: str, since_id: int) -> list:
        dialect = db.get_bind().dialect.name
        if table == "answers":
            a = Answer
            q = select(a.id, a.session_id, _time(a.answered_at, dialect), a.survey, a.question, a.value,
                       cast(a.channel, String), a.region, a.city, a.outlet_code, a.business_type, a.tier, a.brand,
                       cast(a.reasons, String)).where(a.id >= since_id).order_by(a.id)
        elif table == "sessions":
            s = SurveySession
            q = (select(s.id, s.survey, _time(s.sent_at, dialect), s.segments_sent, _time(s.ended_at, dialect),
                        s.interaction_id).where(s.id >= since_id).order_by(s.id))
        else:
            i = Interaction
            q = (select(i.id, _time(i.ended_at, dialect), cast(i.channel, String), i.outlet_id, i.business_type_id,
                        cast(_attribute("tier"), String), cast(_attribute("brand"), String))
                 .where(i.id >= since_id).order_by(i.id))
        return self._fetch(db, q)

    @staticmethod
    def _fetch(db: Session, q) -> list:
        """Straight from the driver's cursor: a million rows as plain tuples, no Row objects."""
        connection = db.connection()
        cursor = connection.connection.cursor()
        try:
            cursor.execute(str(q.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})))
            return cursor.fetchall()
        finally:
            cursor.close()

    def _places(self, db: Session, now: float, outlets_used: np.ndarray) -> Places:
        """Outlets and business types, read again PLACES_SECONDS after the last read (pages keep their
        results as long) or at once when a row names an outlet the copy does not know."""
        known = self._known_places
        if known is not None and now - self._places_read_at < PLACES_SECONDS:
            used = outlets_used[outlets_used != NULL]
            if not len(used) or (used.max() < len(known.outlet_code) and (known.outlet_code[used] != NULL).all()):
                return known
        outlets = self._fetch(db, select(Outlet.id, Outlet.code, cast(Outlet.channel, String), City.name, Region.name)
                              .join(City, City.id == Outlet.city_id).join(Region, Region.id == City.region_id))
        kinds = self._fetch(db, select(BusinessType.id, BusinessType.code, BusinessType.name))
        enc = self._levels

        def by_id(rows, at: int, levels: Levels) -> np.ndarray:
            out = np.full(max((r[0] for r in rows), default=-1) + 1, NULL, np.int64)
            if rows:
                out[[r[0] for r in rows]] = levels.encode([r[at] for r in rows])
            return out

        self._known_places = Places(
            by_id(outlets, 1, enc["outlet"]), by_id(outlets, 2, enc["channel"]), by_id(outlets, 3, enc["city"]),
            by_id(outlets, 4, enc["region"]), by_id(kinds, 1, enc["business_type"]), by_id(kinds, 2, enc["business_type"]))
        self._places_read_at = now
        return self._known_places

    # -- keeping current ----------------------------------------------------------------------

    def _refresh(self, db: Session) -> Columns:
        highest = {"answers": db.scalar(select(func.max(Answer.id))) or 0,
                   "sessions": db.scalar(select(func.max(SurveySession.id))) or 0,
                   "interactions": db.scalar(select(func.max(Interaction.id))) or 0}
        if any(highest[t] < self._next[t] - 1 for t in highest):
            self._reset()  # rows this copy settled are gone (a restored or rolled-back database)
        now = self._clock()
        running_from, running_below = _transactions(db)
        self._seen.append((now, highest, running_below))
        settled_below = {t: self._next[t] for t in highest}
        while self._seen and (running_from is None or now - self._seen[0][0] >= self.settle_seconds
                              or (now - self._seen[0][0] >= MIN_SETTLE_SECONDS and running_from >= self._seen[0][2])):
            when, ids, _ = self._seen.pop(0)
            settled_below = {t: max(settled_below[t], ids[t] + 1) for t in highest}
        # Sessions before interactions: every session read then has its interaction (committed first).
        raw = {name: self._read(db, name, self._next[name]) for name in ("answers", "sessions", "interactions")}
        new_interactions = self._interactions(raw["interactions"])
        read = {"answers": self._answers(raw["answers"]), "interactions": new_interactions,
                "sessions": self._sessions(raw["sessions"], self._settled["interactions"].append(new_interactions))}
        tails = {}
        for name in ("interactions", "answers", "sessions"):
            tail = read[name]
            limit = settled_below[name]
            if name == "sessions" and tail["open"].any():
                limit = min(limit, int(tail["id"][tail["open"]].min()))
            cut = int(np.searchsorted(tail["id"], limit))
            if cut:
                self._settled[name] = self._settled[name].append(Table({k: v[:cut] for k, v in tail.columns.items()}))
                self._next[name] = limit
            tails[name] = Table({k: v[cut:] for k, v in tail.columns.items()})
        self._reread_reparsed(db)
        return Columns(*(self._settled[t].append(tails[t]) for t in ("answers", "sessions", "interactions")),
                       self._places(db, now, new_interactions["outlet"]), self._levels)

    def _reread_reparsed(self, db: Session) -> None:
        """Answers below the boundary read again after a review label: take their value and reasons again."""
        rows = db.execute(select(ReplyReparse.id, ReplyReparse.answer_id)
                          .where(ReplyReparse.id > self._reparsed, ReplyReparse.answer_id.is_not(None))).all()
        if not rows:
            return
        self._reparsed = max(r[0] for r in rows)
        settled = self._settled["answers"]
        ids = sorted({r[1] for r in rows if r[1] < self._next["answers"]})
        if not ids:
            return
        fresh = db.execute(select(Answer.id, Answer.value, cast(Answer.reasons, String)).where(Answer.id.in_(ids))).all()
        at = np.searchsorted(settled["id"], [r[0] for r in fresh])
        value, reasons = settled["value"].copy(), settled["reasons"].copy()
        value[at] = _numbers([r[1] for r in fresh], np.int16)
        reasons[at] = _reason_bits([r[2] for r in fresh])
        self._settled["answers"] = settled.replace(value=value, reasons=reasons)
