"""Acceptance of `touchpoint demo` (#17): a small operator, 3 days backfilled through the demo's own
path (ingest API, policy, SMPP to the simulator, planned replies, answers, cases on the demo clock)."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from channels.models import Interaction
from survey.demo.run import Demo, DemoOptions
from survey.models import Case, SurveySession
from survey.reports.filters import ReportFilter
from survey.reports.selection import resolve
from survey.reports.shortboards import shortboard_page
from survey.states import SessionState

SMALL = DemoOptions(days=3, stores_per_city=3, subscribers=3000, per_day=1000, seed=7)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from survey.settings import load_settings
    folder = tmp_path_factory.mktemp("demo") / "demo"
    run = Demo(load_settings(environ={}), folder, SMALL, port=0)
    run.open(fresh=True)
    run.backfill()
    yield run
    run.stop()


def flagged(db, demo, by):
    today = demo.clock.now().astimezone(demo.settings.tz).date()
    sel = resolve(db, ReportFilter(start=today - timedelta(days=SMALL.days + 1), end=today), scope=None,
                  tz=demo.settings.tz)
    return {row.key for row in shortboard_page(db, sel, by=by).rows if row.flagged}


def test_planted_short_boards_are_flagged(demo):
    with demo.runtime.read_factory() as db:
        outlets = flagged(db, demo, ("outlet",))
        business = flagged(db, demo, ("business_type",))
    assert (demo.planted.slow_outlet,) in outlets
    assert (demo.planted.worse_hotline,) in outlets  # worse since the first of last month: all 3 days
    assert ("套餐变更",) in business or (demo.planted.billing_business,) in business


def test_cases_opened_and_the_neglected_outlet_escalates(demo):
    with demo.runtime.read_factory() as db:
        cases = db.execute(select(Case.outlet_code, Case.state, Case.escalation_level)).all()
    assert len(cases) > 20
    escalated = Counter(code for code, _, level in cases if level > 0)
    assert escalated[demo.planted.neglected_outlet] > 0
    # Elsewhere the staff call back in time: most cases are closed, few escalate.
    closed = sum(state in ("resolved", "unreachable") for code, state, _ in cases if code != demo.planted.neglected_outlet)
    assert closed > len(cases) / 2
    assert escalated.most_common(1)[0][0] == demo.planted.neglected_outlet


def test_counts_reconcile(demo):
    with demo.runtime.read_factory() as db:
        interactions = db.scalar(select(func.count()).select_from(Interaction))
        decisions = Counter(dict(db.execute(select(Interaction.decision, func.count())
                                            .group_by(Interaction.decision)).all()))
        sessions = db.scalar(select(func.count()).select_from(SurveySession))
        states = Counter(dict(db.execute(select(SurveySession.state, func.count())
                                         .group_by(SurveySession.state)).all()))
    assert interactions == demo.backfiller.posted > 0
    assert None not in decisions  # every interaction decided by the end of the backfill
    assert sum(decisions.values()) == interactions
    assert decisions["surveyed"] == sessions
    assert sum(states.values()) == sessions
    assert states[SessionState.COMPLETED] > sessions / 2


def test_a_second_run_reuses_the_data(demo):
    again = Demo(demo.settings, demo.folder, DemoOptions(), port=0)
    try:
        again.open(fresh=False)
        assert again.reused and again.options.days == SMALL.days and again.options.stores_per_city == 3
    finally:
        again.stop()
