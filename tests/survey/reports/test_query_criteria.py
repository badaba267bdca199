"""analysis.queries' additions: channel, business type and attribute criteria in the SQL; counts per
window; answers streamed newest first. On SQLite, and on PostgreSQL when CI provides one."""
from __future__ import annotations

from datetime import timedelta

from analysis.queries import (
    Criteria, answer_records, interaction_totals, load_answer_frame, sent_counts, session_counts, value_counts,
)
from tests.survey.reports.seeding import CHANNEL_OF, local, seed, standard_plan

NOV = [local(2026, 11, 1), local(2026, 11, 21)]
OCT_NOV = [local(2026, 10, 1), local(2026, 11, 1), local(2026, 11, 21)]


def csat(seeded, **where):
    return [p for p in seeded.answered(**where) if p.survey == "csat-default"]


def test_criteria_filter_answers_in_the_query(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    nov = [p for p in csat(seeded) if p.ended_at >= NOV[0]]
    cases = [
        (Criteria(channels=("hotline",)), [p for p in nov if CHANNEL_OF[p.outlet] == "hotline"]),
        # Answers carry the business type's name; a code alone would find nothing, so both are passed.
        (Criteria(business_types=("broadband", "宽带")), [p for p in nov if p.business == "宽带"]),
        (Criteria(attributes=(("tier", ("金卡",)),)), [p for p in nov if p.tier == "金卡"]),
        (Criteria(attributes=(("tier", ("金卡",)), ("brand", ("动感地带",)))),
         [p for p in nov if p.tier == "金卡" and p.brand == "动感地带"]),
        (Criteria(channels=("store",), business_types=("缴费",)),
         [p for p in nov if CHANNEL_OF[p.outlet] == "store" and p.business == "缴费"]),
    ]
    for criteria, expected in cases:
        frame = load_answer_frame(db, since=NOV[0], until=NOV[1], criteria=criteria)
        assert frame.total == len(expected) > 0, criteria
        counts = value_counts(db, edges=NOV, criteria=criteria)
        assert sum(counts[(0,)].values()) == len(expected)
        assert len(list(answer_records(db, since=NOV[0], until=NOV[1], criteria=criteria))) == len(expected)


def test_a_frame_of_only_the_columns_a_page_needs(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    frame = load_answer_frame(db, dimensions=("outlet",), attributes=(), reasons=False, by_day=False)
    assert set(frame.columns) == {"outlet"} and frame.total == len(csat(seeded))
    # One row per (outlet, score): nothing else splits the counts.
    assert len(frame) == len({(p.outlet, p.value) for p in csat(seeded)})
    assert not frame.reasons.any()


def test_counts_per_window_in_one_query(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    counts = value_counts(db, edges=OCT_NOV, by=("outlet",))
    for window, (start, end) in enumerate(zip(OCT_NOV, OCT_NOV[1:])):
        for outlet in CHANNEL_OF:
            expected = [p.value for p in csat(seeded, outlet=outlet) if start <= p.ended_at < end]
            got = counts.get((window, outlet), {})
            assert sum(got.values()) == len(expected)
            assert got.get(1, 0) == expected.count(1)
    sessions = session_counts(db, edges=OCT_NOV, by=("channel",))
    nov_hotline = [p for p in seeded.plan if p.sent and p.outlet == "HL1" and p.ended_at >= NOV[0]]
    got = sessions[(1, "hotline")]
    assert got.sent == len(nov_hotline)
    assert got.answered == sum(p.value is not None for p in nov_hotline)
    assert got.segments == sum(p.segments for p in nov_hotline)
    totals = interaction_totals(db, edges=OCT_NOV)
    assert totals[(1,)] == sum(p.ended_at >= NOV[0] for p in seeded.plan)
    assert totals[(0,)] == sum(p.ended_at < NOV[0] for p in seeded.plan)
    assert interaction_totals(db, edges=NOV, criteria=Criteria(attributes=(("brand", ("动感地带",)),))) == {
        (0,): sum(p.ended_at >= NOV[0] and p.brand == "动感地带" for p in seeded.plan)}


def test_scope_is_a_where_clause_of_the_new_queries_too(db, clock, outlets):
    seed(db, clock, standard_plan())
    scope = ("S001", "HL1")
    assert {k[1] for k in value_counts(db, edges=NOV, by=("outlet",), scope=scope)} == set(scope)
    assert {k[1] for k in session_counts(db, edges=NOV, by=("outlet",), scope=scope)} == set(scope)
    assert {k[1] for k in interaction_totals(db, edges=NOV, by=("outlet",), scope=scope)} == set(scope)
    assert {r.outlet for r in answer_records(db, scope=scope)} == set(scope)
    assert set(sent_counts(db, scope=scope, criteria=Criteria(channels=("hotline",)))) == {("HL1",)}
    assert list(answer_records(db, scope=())) == []


def test_answer_records_stream_newest_first_with_the_reason_reply(db, clock, outlets):
    seeded = seed(db, clock, standard_plan())
    records = list(answer_records(db, scope=("S002",), batch=7))
    assert len(records) == len(csat(seeded, outlet="S002"))
    assert all(a.answered_at >= b.answered_at for a, b in zip(records, records[1:]))
    fives = [r for r in records if r.value == 5]
    assert fives and all(r.text == "5 排队太久 / 营业员态度差" and r.reasons == ("attitude", "wait_time") for r in fives)
    page = list(answer_records(db, scope=("S002",), limit=5, offset=5))
    assert [r.id for r in page] == [r.id for r in records[5:10]]
    assert records[0].msisdn.startswith("+86")  # stored E.164: masking is the caller's job
    assert records[-1].answered_at - records[0].answered_at < timedelta(0)
