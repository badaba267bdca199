"""The in-memory columns answer every count exactly as SQL does (analysis.queries), on the same rows,
and stay so as rows arrive, sessions end and answers are read again."""
from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from analysis import counts, queries
from analysis.column_store import ColumnStore
from analysis.queries import Criteria
from channels.models import BusinessType, City, Interaction, Outlet, Region
from channels.taxonomy import Channel, OutletKind
from survey.models import Answer, ReplyLabel, ReplyReparse, SurveySession
from survey.reasons import REASON_CODES
from survey.states import SessionState

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
TIERS = ("gold", "silver", None)
BRANDS = ("全球通", "动感地带", None)


def places(db: Session) -> list[Outlet]:
    east, west = Region(name="east"), Region(name="west")
    cities = [City(name="hz", region=east), City(name="nb", region=east), City(name="cd", region=west)]
    outlets = [Outlet(code=f"07{i:02d}", name=f"o{i}", channel=[Channel.STORE, Channel.HOTLINE][i % 2],
                      kind=OutletKind.OWN, city=cities[i % 3]) for i in range(6)]
    db.add_all([east, west, *cities, *outlets])
    db.flush()
    return outlets


def grow(db: Session, outlets: list[Outlet], rng: np.random.Generator, n: int, start: datetime) -> None:
    """n interactions over 60 days from start; most surveyed, some still open, many answered (CSAT or
    NPS), a reason answer for some, business types by name, by code or none, tiers and brands or none."""
    kinds = db.execute(select(BusinessType.id, BusinessType.code, BusinessType.name)).all()
    base = db.scalar(select(Interaction.id).order_by(Interaction.id.desc()).limit(1)) or 0
    for i in range(base, base + n):
        outlet = outlets[rng.integers(len(outlets))]
        kind = kinds[rng.integers(len(kinds))] if rng.random() < 0.9 else None
        attrs = {k: v for k, v in (("tier", TIERS[rng.integers(3)]), ("brand", BRANDS[rng.integers(3)])) if v}
        ended = start + timedelta(seconds=int(rng.integers(60 * 86400)))
        it = Interaction(source="test", external_id=f"c{i}", channel=outlet.channel, outlet_id=outlet.id,
                         business_type_id=kind and kind[0], msisdn=f"+86138{i:08d}", ended_at=ended,
                         attributes=attrs, received_at=ended)
        db.add(it)
        db.flush()
        if rng.random() < 0.15:
            continue
        nps = rng.random() < 0.3
        survey = "nps-default" if nps else "csat-default"
        sent = None if rng.random() < 0.1 else ended + timedelta(minutes=5)
        open_ = rng.random() < 0.1
        ss = SurveySession(interaction_id=it.id, msisdn=it.msisdn, survey=survey,
                           state=SessionState.WAITING if open_ else SessionState.COMPLETED, scheduled_for=ended,
                           sent_at=sent, ended_at=None if open_ else ended + timedelta(hours=1),
                           segments_sent=int(rng.integers(1, 4)), created_at=ended)
        db.add(ss)
        db.flush()
        if sent is None or rng.random() < 0.3:
            continue
        business = None if kind is None else kind[1 + int(rng.integers(2))]
        common = dict(session_id=ss.id, survey=survey, answered_at=sent + timedelta(minutes=int(rng.integers(1, 3000))),
                      response_seconds=60, msisdn=it.msisdn, channel=str(outlet.channel), outlet_code=outlet.code,
                      region=outlet.city.region.name, city=outlet.city.name, business_type=business, attributes=attrs)
        value = int(rng.integers(0, 11)) if nps else (None if rng.random() < 0.05 else int(rng.integers(1, 6)))
        own = list(rng.choice(REASON_CODES, int(rng.integers(0, 2)), replace=False))
        db.add(Answer(question="recommend" if nps else "satisfaction", value=value, reasons=own, text="x", **common))
        if rng.random() < 0.4:
            db.add(Answer(question="reason", value=None, text="y", **common,
                          reasons=list(rng.choice(REASON_CODES, int(rng.integers(1, 3)), replace=False))))
    db.flush()


def frame_rows(frame) -> Counter:
    names = sorted(frame.columns)
    out: Counter = Counter()
    for i in range(len(frame)):
        key = (tuple(str(frame.columns[k].levels[frame.columns[k].codes[i]]) for k in names), int(frame.value[i]),
               tuple(np.flatnonzero(frame.reasons[i])),
               None if frame.answered_at is None else str(frame.answered_at[i]))
        out[key] += int(frame.count[i])
    return out


def daily(d) -> Counter:
    return Counter({(k, str(day)): int(n) for k, day, n in zip(d.keys, d.day, d.count)})


EDGES = [[T0, T0 + timedelta(days=20), T0 + timedelta(days=45)], [T0 - timedelta(days=3), T0 + timedelta(days=90)]]
CRITERIA = [None, Criteria(), Criteria(channels=("hotline",)), Criteria(business_types=("缴费", "payment")),
            Criteria(attributes=(("tier", ("gold",)),)), Criteria(channels=("store",), attributes=(("brand", ("全球通", "动感地带")),))]
SCOPES = [None, ("0700", "0703", "0705"), ()]


BYS = [(), ("channel",), ("outlet",), ("region", "business_type"), ("city",)]
FRAMES = [(queries.DIMENSIONS, ("tier",), True), (("outlet",), ("tier", "brand"), True), (("channel",), (), False)]


def assert_same(db: Session, copy_db: Session, *, tz=ZoneInfo("Asia/Shanghai")) -> None:
    """Every count of the pages, by SQL on db and from the columns through copy_db, over windows,
    criteria and scopes (each with one of the groupings and frame shapes in turn)."""
    for k, (edges, criteria, scope) in enumerate(itertools.product(EDGES, CRITERIA, SCOPES)):
        by = BYS[k % len(BYS)]
        kw = dict(edges=edges, by=by, scope=scope, criteria=criteria)
        assert counts.value_counts(copy_db, **kw) == queries.value_counts(db, **kw), kw
        nps = dict(kw, survey="nps-default", question="recommend")
        assert counts.value_counts(copy_db, **nps) == queries.value_counts(db, **nps), nps
        assert counts.session_counts(copy_db, **kw) == queries.session_counts(db, **kw), kw
        assert counts.interaction_totals(copy_db, **kw) == queries.interaction_totals(db, **kw), kw
        window = dict(by=by, scope=scope, criteria=criteria, since=edges[0], until=edges[-1])
        assert counts.sent_counts(copy_db, **window) == queries.sent_counts(db, **window), window
        assert daily(counts.interaction_counts(copy_db, tz=tz, **window)) == \
            daily(queries.interaction_counts(db, tz=tz, **window)), window
        latest = dict(scope=scope, criteria=criteria, since=edges[0], until=edges[-1], limit=7)
        assert [r.id for r in counts.latest_interactions(copy_db, **latest)] == \
            [r.id for r in queries.latest_interactions(db, **latest)], latest
        dims, attributes, reasons = FRAMES[k % len(FRAMES)]
        kw = dict(scope=scope, criteria=criteria, since=edges[0], until=edges[-1], dimensions=dims,
                  attributes=attributes, reasons=reasons, tz=tz, by_day=k % 2 == 0)
        assert frame_rows(counts.load_answer_frame(copy_db, **kw)) == frame_rows(queries.load_answer_frame(db, **kw)), kw


@pytest.fixture
def store_session(session_factory):
    """Sessions that count from a column store, beside the test's plain ones."""
    store = ColumnStore()
    factory = sessionmaker(**session_factory.kw)
    counts.attach(factory, store)
    return store, factory


def test_every_count_from_the_columns_equals_sql(db, store_session):
    store, factory = store_session
    outlets = places(db)
    grow(db, outlets, np.random.default_rng(3), 220, T0)
    # An outlet moved to the other channel after its interactions: outlet-keyed counts use the outlet's.
    outlets[1].channel = Channel.STORE
    db.flush()
    assert_same(db, factory())
    # A zone with daylight saving: local days cut at the zone's midnights, before and after the change.
    assert_same(db, factory(), tz=ZoneInfo("America/New_York"))


def test_columns_stay_equal_as_rows_arrive_sessions_end_and_answers_are_read_again(db, store_session):
    store, factory = store_session
    outlets = places(db)
    rng = np.random.default_rng(8)
    grow(db, outlets, rng, 120, T0)
    assert_same(db, factory())
    # A new outlet, and rows of it, after the copy last read the outlets.
    new = Outlet(code="0799", name="new", channel=Channel.HOTLINE, kind=OutletKind.OWN, city=outlets[0].city)
    db.add(new)
    db.flush()
    grow(db, [*outlets, new], rng, 60, T0 + timedelta(days=10))
    # Open sessions end: their segments and end are written after the copy saw them.
    db.execute(update(SurveySession).where(SurveySession.ended_at.is_(None))
               .values(ended_at=T0 + timedelta(days=70), segments_sent=SurveySession.segments_sent + 2,
                       state=SessionState.COMPLETED))
    # A review label reads past answers again (value and reasons), recorded as reparses.
    label = ReplyLabel(survey="csat-default", question="satisfaction", norm_text="x", text_hash="h", example="x",
                       kind="answer", value=5, reasons=["billing"], labelled_by="t", labelled_at=T0)
    db.add(label)
    db.flush()
    changed = db.scalars(select(Answer.id).where(Answer.question == "satisfaction").order_by(Answer.id).limit(9)).all()
    db.execute(update(Answer).where(Answer.id.in_(changed)).values(value=5, reasons=["billing"]))
    db.add_all([ReplyReparse(label_id=label.id, answer_id=a, old_kind="answer", new_kind="answer", new_value=5,
                             reparsed_by="t", reparsed_at=T0) for a in changed])
    db.flush()
    assert_same(db, factory())


def test_a_row_committed_late_under_an_id_already_passed_is_counted(db, session_factory):
    # PostgreSQL hands out ids at insert and commits in any order: a row may appear below an id the
    # copy has already read past. An id settles when the transactions running when it was first seen
    # have ended (here the test's own never does) or settle_seconds later. SQLite writes one at a time.
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite commits one writer at a time: ids arrive in order")
    now = [0.0]
    store = ColumnStore(settle_seconds=60, clock=lambda: now[0])
    factory = sessionmaker(**session_factory.kw)
    counts.attach(factory, store)
    outlets = places(db)
    grow(db, outlets, np.random.default_rng(5), 40, T0)
    first = db.scalars(select(Interaction).order_by(Interaction.id.desc()).limit(1)).one()
    columns = ("source", "channel", "outlet_id", "business_type_id", "msisdn", "ended_at", "attributes", "received_at")

    def interaction(id_: int) -> None:
        db.execute(insert(Interaction).values(id=id_, external_id=f"late{id_}",
                                              **{c: getattr(first, c) for c in columns}))

    interaction(first.id + 10)
    edges = [T0 - timedelta(days=1), T0 + timedelta(days=90)]
    assert counts.interaction_totals(factory(), edges=edges) == queries.interaction_totals(db, edges=edges)
    interaction(first.id + 5)  # took its id before the one above, committed after the copy read
    for now[0] in (30.0, 100.0, 200.0):
        assert counts.interaction_totals(factory(), edges=edges) == queries.interaction_totals(db, edges=edges)


def test_a_filter_on_an_attribute_the_columns_do_not_hold_is_asked_of_the_database(db, store_session):
    store, factory = store_session
    outlets = places(db)
    grow(db, outlets, np.random.default_rng(2), 30, T0)
    db.execute(update(Interaction).values(attributes={"segment": "sme"}))
    kw = dict(edges=EDGES[1], criteria=Criteria(attributes=(("segment", ("sme",)),)))
    assert counts.interaction_totals(factory(), **kw) == queries.interaction_totals(db, **kw) != {}
