"""Report packs built by the worker's job: ended periods only (in the configured zone), once per kind,
period and scope however often or by however many workers it runs, the same content on a rebuild,
a lead's pack holding only their outlets, phones masked."""
from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone

import openpyxl
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from survey.jobs.packs import build_due_packs
from survey.packs.building import build_content
from survey.packs.models import ReportPack, ScopeKind
from survey.packs.periods import PackKind, Period
from survey.packs.service import scopes
from tests.survey.reports.seeding import people, seed, standard_plan

ONE_EACH = {PackKind.DAILY: 1, PackKind.DEKAD: 1, PackKind.MONTHLY: 1}


@pytest.fixture
def users(db, clock, outlets):
    return people(db, clock)


@pytest.fixture
def seeded(db, clock, outlets, users):
    return seed(db, clock, standard_plan())


def packs(db) -> dict[tuple, ReportPack]:
    return {(p.kind.value, p.period_start.isoformat(), p.scope_kind.value, p.scope_label): p
            for p in db.scalars(select(ReportPack))}


def test_each_ended_period_is_built_once_per_scope(runtime, db, clock, seeded, users):
    # 10:00 on 20 November in Shanghai: 19 November, the first dekad and October have ended.
    counts = build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up=ONE_EACH)
    names = [s.label for s in scopes(db)]
    assert names == ["全部", "华东", "华北", users["lead"].username]
    assert counts == {"built": 3 * len(names)}
    built = packs(db)
    assert {(k, start) for k, start, _, _ in built} == {("daily", "2026-11-19"), ("dekad", "2026-11-01"),
                                                        ("monthly", "2026-10-01")}
    # Again, and from a second worker: nothing is due, nothing is built twice.
    assert build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up=ONE_EACH) == {}
    assert build_due_packs(runtime, now=clock.now() + timedelta(minutes=5), built_by="w2", catch_up=ONE_EACH) == {}
    assert db.scalar(select(func.count()).select_from(ReportPack)) == 3 * len(names)


def test_a_period_is_built_only_once_it_has_ended_in_the_configured_zone(runtime, db, clock, seeded):
    build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up=ONE_EACH)
    # 15:59 UTC on 20 November is 23:59 in Shanghai: the 20th and the second dekad are still running.
    before = datetime(2026, 11, 20, 15, 59, tzinfo=timezone.utc)
    assert build_due_packs(runtime, now=before, built_by="w1", catch_up=ONE_EACH) == {}
    after = datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)  # midnight in Shanghai
    counts = build_due_packs(runtime, now=after, built_by="w1", catch_up=ONE_EACH)
    assert counts == {"built": 2 * 4}
    new = {(k, start) for k, start, _, _ in packs(db)}
    assert {("daily", "2026-11-20"), ("dekad", "2026-11-11")} <= new and ("monthly", "2026-11-01") not in new


def test_the_unique_row_is_the_claim(runtime, db, clock, seeded):
    build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up={PackKind.MONTHLY: 1})
    first = db.scalars(select(ReportPack).where(ReportPack.scope_kind == ScopeKind.OPERATOR)).one()
    twin = ReportPack(kind=first.kind, period_start=first.period_start, period_end=first.period_end,
                      scope_kind=first.scope_kind, scope_key=first.scope_key, scope_label="copy", outlets=None,
                      data={}, xlsx=b"", sha256="", built_at=clock.now(), built_by="w2")
    with pytest.raises(IntegrityError):
        with runtime.writing() as other:
            other.add(twin)
            other.flush()


def test_a_rebuild_gives_the_same_pack(runtime, db, clock, seeded):
    build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up=ONE_EACH)
    before = {key: (p.sha256, p.xlsx, p.data) for key, p in packs(db).items()}
    db.execute(delete(ReportPack))
    db.commit()
    later = clock.now() + timedelta(hours=3)  # built at another time, by another worker
    build_due_packs(runtime, now=later, built_by="w2", catch_up=ONE_EACH)
    after = {key: (p.sha256, p.xlsx, p.data) for key, p in packs(db).items()}
    assert after == before
    october = Period(PackKind.MONTHLY, date(2026, 10, 1), date(2026, 10, 31))
    operator = scopes(db)[0]
    content = build_content(db, october, operator, tz=runtime.settings.tz)
    assert content.sha256 == before["monthly", "2026-10-01", "operator", "全部"][0]


def _section(pack: ReportPack, name: str) -> dict:
    return next(s for s in pack.data["sections"] if s["name"] == name)


def test_the_contents_keep_to_the_scope_and_mask_phones(runtime, db, clock, seeded, users):
    build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up=ONE_EACH)
    built = packs(db)
    lead = built["dekad", "2026-11-01", "lead", "lead"]
    assert {row[0] for row in _section(lead, "outlets")["rows"]} <= {"S001", "HL1"}
    assert lead.outlets == ["HL1", "S001"]
    whole = built["dekad", "2026-11-01", "operator", "全部"]
    responses = dict(_section(whole, "summary")["rows"])["回复数"]
    in_dekad = [p for p in seeded.answered(survey="csat-default")
                if date(2026, 11, 1) <= p.ended_at.astimezone(runtime.settings.tz).date() <= date(2026, 11, 10)]
    assert responses == len(in_dekad) > 0
    daily = built["daily", "2026-11-19", "operator", "全部"]
    text = json.dumps(daily.data, ensure_ascii=False)
    assert "+86" not in text and "138" not in text.replace("138****", "")
    assert all(row[5] >= 4 for row in _section(daily, "dissatisfied")["rows"])
    monthly = built["monthly", "2026-10-01", "operator", "全部"]
    assert [s["name"] for s in monthly.data["sections"]] == ["summary", "outlets", "shortboards", "trends"]
    book = openpyxl.load_workbook(io.BytesIO(monthly.xlsx))
    assert book.sheetnames == [s["title"] for s in monthly.data["sections"]]
    sheet = book[_section(monthly, "outlets")["title"]]
    assert [c.value for c in sheet[1]][:3] == ["月报", "2026-10", "全部"]
    assert sheet.max_row == 2 + len(_section(monthly, "outlets")["rows"])


def test_a_pack_another_worker_claimed_meanwhile_is_counted_taken_and_the_rest_go_on(runtime, db, clock, seeded,
                                                                                     monkeypatch):
    import survey.jobs.packs as job

    real = job.store_pack
    calls = []

    def racing(db, period, scope, **kw):
        calls.append(scope.label)
        if len(calls) == 1:  # the first insert loses the race on the unique key
            raise IntegrityError("INSERT INTO report_packs", {}, Exception("duplicate key"))
        return real(db, period, scope, **kw)

    monkeypatch.setattr(job, "store_pack", racing)
    counts = build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up={PackKind.MONTHLY: 1})
    assert counts == {"taken": 1, "built": len(calls) - 1}
    assert db.scalar(select(func.count()).select_from(ReportPack)) == len(calls) - 1
