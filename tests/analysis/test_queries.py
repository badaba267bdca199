"""queries.py against the migrated test database (SQLite, and PostgreSQL when CI provides one)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import survey.models  # noqa: F401 - registers the survey tables on the shared metadata
from analysis.metrics import group_metrics
from analysis.local_days import midnight_utc
from analysis.queries import Criteria, interaction_counts, load_answer_frame, response_list, sent_counts
from analysis.shortboard import shortboard_report
from analysis.trends import period_of
from channels.models import BusinessType, City, Interaction, Outlet, Region
from channels.taxonomy import Channel, OutletKind
from survey.models import Answer, SurveySession
from survey.states import SessionState

T0 = datetime(2026, 1, 10, 2, 0, tzinfo=timezone.utc)


def seed(db: Session) -> None:
    east = Region(name="east")
    hz = City(name="hz", region=east)
    nb = City(name="nb", region=east)
    o1 = Outlet(code="0231", name="West Lake", channel=Channel.STORE, kind=OutletKind.OWN, city=hz)
    o2 = Outlet(code="0232", name="Ningbo", channel=Channel.STORE, kind=OutletKind.PARTNER, city=nb)
    pay = db.scalars(select(BusinessType).where(BusinessType.name == "缴费")).one()  # a seeded default
    db.add_all([east, hz, nb, o1, o2])
    db.flush()
    plan = [(o1, "hz", 1, ["wait_time"], "gold", True), (o1, "hz", 4, [], "gold", True),
            (o1, "hz", 4, [], "silver", True), (o2, "nb", 2, [], None, True), (o2, "nb", 5, ["billing"], None, True),
            (o2, "nb", None, [], None, True), (o1, "hz", None, [], None, False), (o2, "nb", 2, [], None, True)]
    for i, (outlet, city, value, reasons, tier, sent) in enumerate(plan):
        it = Interaction(source="test", external_id=f"e{i}", channel=Channel.STORE, outlet_id=outlet.id,
                         business_type_id=pay.id, msisdn=f"+86138000000{i:02d}", ended_at=T0 + timedelta(days=i),
                         attributes={}, received_at=T0)
        db.add(it)
        db.flush()
        ss = SurveySession(interaction_id=it.id, msisdn=it.msisdn, survey="csat-default",
                           state=SessionState.COMPLETED, scheduled_for=T0, sent_at=T0 if sent else None,
                           created_at=T0)
        db.add(ss)
        db.flush()
        if value is None:
            continue
        common = dict(session_id=ss.id, survey="csat-default", answered_at=T0 + timedelta(days=i, hours=1),
                      response_seconds=60, msisdn=it.msisdn, channel="store", outlet_code=outlet.code,
                      region="east", city=city, business_type="payment", attributes={"tier": tier} if tier else {})
        db.add(Answer(question="satisfaction", value=value, reasons=reasons, text=str(value), **common))
        if value == 4:
            db.add(Answer(question="reason", value=None, reasons=["attitude"], text="态度差 =1+1", **common))
    db.flush()


def test_answer_frame_is_aggregated_in_sql_with_reasons_from_both_answers(db):
    seed(db)
    frame = load_answer_frame(db)
    assert frame.total == 6
    metrics = {m.key: m for m in group_metrics(frame, ["outlet"])}
    assert metrics[("0231",)].responses == 3 and metrics[("0231",)].satisfied == 1
    shares = dict(metrics[("0231",)].reason_shares)
    assert shares["attitude"] == pytest.approx(2 / 3) and shares["wait_time"] == pytest.approx(1 / 3)
    assert sorted(frame.columns["tier"].levels) == ["(none)", "gold", "silver"]
    # The first answer, 11:00 on 10 January in Beijing, is bucketed at that day's local midnight.
    assert str(frame.answered_at.min()) == "2026-01-09T16:00:00"
    # Grouped coarser than outlets, the two identical answers of 0232 (score 2, no reason, no tier)
    # come back as one counted row; by outlet, answer by answer (groups are about as many as answers).
    undated = load_answer_frame(db, by_day=False, dimensions=("region", "city"))
    assert undated.total == 6 and len(undated) == 5 and undated.answered_at is None
    by_outlet = load_answer_frame(db, by_day=False)
    assert by_outlet.total == 6 and len(by_outlet) == 6
    assert {m.key: (m.responses, m.satisfied) for m in group_metrics(by_outlet, ["outlet"])} == \
        {k: (m.responses, m.satisfied) for k, m in metrics.items()}


def test_scope_excludes_other_outlets_in_the_query(db):
    seed(db)
    frame = load_answer_frame(db, scope=["0232"])
    assert list(frame.columns["outlet"].levels) == ["0232"] and frame.total == 3
    assert load_answer_frame(db, scope=[]).total == 0
    assert all(r.outlet == "0232" for r in response_list(db, scope=["0232"]))
    assert set(sent_counts(db, scope=["0232"])) == {("0232",)}


def test_time_window_and_sent_counts(db):
    seed(db)
    assert load_answer_frame(db, since=T0 + timedelta(days=2)).total == 4
    assert load_answer_frame(db, until=T0 + timedelta(days=2)).total == 2
    assert sent_counts(db) == {("0231",): 3, ("0232",): 4}
    counts = interaction_counts(db, by=("outlet",))
    assert sum(counts.count) == 8 and len(counts.keys) == 8  # one interaction a day


def test_response_list_joins_the_reason_reply(db):
    seed(db)
    rows = response_list(db, scope=["0231"])
    assert len(rows) == 3
    four = [r for r in rows if r.value == 4]
    assert all(r.reasons == ("attitude",) and r.text == "4 / 态度差 =1+1" for r in four)
    assert rows[0].answered_at > rows[-1].answered_at


def test_report_runs_on_the_database_frame(db):
    seed(db)
    rep = shortboard_report(load_answer_frame(db), ["outlet"], min_n=1)
    assert {b.group for b in rep.boards} == {"0231", "0232"}


def test_days_and_months_follow_the_local_calendar(db):
    seed(db)
    before, after = datetime(2026, 1, 31, 15, tzinfo=timezone.utc), datetime(2026, 1, 31, 17, tzinfo=timezone.utc)
    # 23:00 and 01:00 Beijing time, either side of the first of February.
    for value, at in ((1, before), (5, after)):
        answer = db.scalars(select(Answer).where(Answer.question == "satisfaction", Answer.value == value)).one()
        answer.answered_at = at
        db.get(Interaction, db.get(SurveySession, answer.session_id).interaction_id).ended_at = at
    db.flush()
    frame = load_answer_frame(db)
    months = dict(zip(frame.value.tolist(), period_of(frame.answered_at, "month", zone=timezone(timedelta(hours=8)))))
    assert (months[1], months[5]) == (np.datetime64("2026-01-01"), np.datetime64("2026-02-01"))
    local_days = (interaction_counts(db).day + np.timedelta64(8, "h")).astype("datetime64[D]")
    assert sorted(local_days)[-2:] == [np.datetime64("2026-01-31"), np.datetime64("2026-02-01")]


def test_days_follow_the_zone_they_are_asked_in_daylight_saving_included(db):
    seed(db)
    berlin = ZoneInfo("Europe/Berlin")
    # 22:30 on 31 March in Berlin (summer time, UTC+2): already 1 April in Beijing. And 23:30 on
    # 31 January (winter time, UTC+1).
    summer, winter = datetime(2026, 3, 31, 20, 30, tzinfo=timezone.utc), datetime(2026, 1, 31, 22, 30, tzinfo=timezone.utc)
    for value, at in ((1, summer), (5, winter)):
        answer = db.scalars(select(Answer).where(Answer.question == "satisfaction", Answer.value == value)).one()
        answer.answered_at = at
        db.get(Interaction, db.get(SurveySession, answer.session_id).interaction_id).ended_at = at
    db.flush()
    since, until = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc)
    for zone, expected in ((berlin, ("2026-03-31", "2026-01-31")), (ZoneInfo("Asia/Shanghai"), ("2026-04-01", "2026-02-01"))):
        frame = load_answer_frame(db, since=since, until=until, tz=zone)
        starts = dict(zip(frame.value.tolist(), frame.answered_at))
        assert (starts[1], starts[5]) == tuple(midnight_utc(day, zone) for day in expected)
        days = interaction_counts(db, since=since, until=until, tz=zone).day
        assert {midnight_utc(day, zone) for day in expected} <= set(days)


def test_sent_and_interaction_counts_by_business_type_use_the_key_answers_carry(db):
    from survey.jobs.decide import interaction_tags

    seed(db)
    interaction = db.scalars(select(Interaction)).first()
    tagged = interaction_tags(db, {interaction.id})[interaction.id]["business_type"]  # what an answer carries
    assert set(sent_counts(db, by=("business_type",))) == {(tagged,)}
    assert set(interaction_counts(db, by=("business_type",)).keys) == {(tagged,)}


def test_tier_and_brand_are_copied_from_the_attributes_by_every_kind_of_insert(db):
    # The pages filter and adjust on these columns (covered by an index), so an answer stored
    # without them would drop out of every tier or brand filter.
    seed(db)
    orm = db.scalars(select(Answer).where(Answer.attributes["tier"].as_string() == "gold")).all()
    assert orm and {a.tier for a in orm} == {"gold"} and {a.brand for a in orm} == {None}
    common = {c: getattr(orm[0], c) for c in ("survey", "answered_at", "response_seconds", "msisdn", "channel",
                                             "outlet_code", "region", "city", "business_type", "text", "reasons")}
    sessions = db.scalars(select(SurveySession.id).where(SurveySession.sent_at.is_(None))).all()
    db.execute(insert(Answer.__table__), [  # executemany, as the engine's steps store answers
        {**common, "session_id": sessions[0], "question": "satisfaction", "value": 2,
         "attributes": {"tier": "vip", "brand": "全球通"}},
        {**common, "session_id": sessions[0], "question": "recommend", "value": 9, "attributes": {"brand": 7}},
    ])
    stored = {q: (tier, brand) for q, tier, brand in db.execute(
        select(Answer.question, Answer.tier, Answer.brand).where(Answer.session_id == sessions[0]))}
    assert stored == {"satisfaction": ("vip", "全球通"), "recommend": (None, "7")}
    vip = load_answer_frame(db, criteria=Criteria(attributes=(("tier", ("vip",)),)), attributes=("brand",))
    assert vip.total == 1 and list(vip.columns["brand"].values()) == ["全球通"]
