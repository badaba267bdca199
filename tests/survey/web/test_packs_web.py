"""Report packs in the web app: every route for every role; a lead lists and downloads only their own
packs, another's answers 404 like a missing one; managers and admins read every scope."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from survey.jobs.packs import build_due_packs
from survey.packs.models import ReportPack, ScopeKind
from survey.packs.periods import PackKind
from tests.survey.reports.seeding import people, seed, standard_plan


@pytest.fixture
def users(db, clock, outlets):
    return people(db, clock)


@pytest.fixture
def built(runtime, db, clock, outlets, users):
    seed(db, clock, standard_plan())
    build_due_packs(runtime, now=clock.now(), built_by="w1", catch_up={PackKind.DEKAD: 1, PackKind.MONTHLY: 1})
    return {(p.kind.value, p.scope_kind.value, p.scope_label): p.id for p in db.scalars(select(ReportPack))}


def routes(built) -> list[str]:
    pack = built["monthly", "operator", "全部"]
    return ["/packs/", "/packs/?kind=dekad", f"/packs/{pack}.xlsx", f"/packs/{pack}.json"]


def test_every_route_sends_anonymous_visitors_to_sign_in(client, built):
    for path in routes(built):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login?next="), path


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_managers_and_admins_read_every_scope(client, users, sign_in, built, role):
    sign_in(users[role])
    for path in routes(built):
        assert client.get(path).status_code == 200, path
    page = client.get("/packs/").get_data(as_text=True)
    assert all(label in page for label in ("全部", "华东", "华北", users["lead"].username))
    lead_pack = built["monthly", "lead", users["lead"].username]
    assert client.get(f"/packs/{lead_pack}.json").status_code == 200
    dekads = client.get("/packs/?kind=dekad").get_data(as_text=True)
    assert "旬报" in dekads and "2026-10-01" not in dekads


def test_a_lead_reads_only_their_own_packs(client, users, sign_in, built):
    lead = users["lead"]
    sign_in(lead)
    page = client.get("/packs/").get_data(as_text=True)
    own = [pid for (kind, scope, label), pid in built.items() if scope == ScopeKind.LEAD.value]
    others = [pid for (kind, scope, label), pid in built.items() if scope != ScopeKind.LEAD.value]
    assert all(f"/packs/{pid}.xlsx" in page for pid in own)
    assert not any(f"/packs/{pid}.xlsx" in page for pid in others) and "华北" not in page
    for pid in others + [999999]:
        for fmt in ("xlsx", "json"):
            assert client.get(f"/packs/{pid}.{fmt}").status_code == 404, (pid, fmt)
    mine = built["monthly", "lead", lead.username]
    body = client.get(f"/packs/{mine}.json").json
    assert body["meta"]["scope_label"] == lead.username and body["meta"]["period"] == "2026-10"
    outlets = next(s for s in body["sections"] if s["name"] == "outlets")["rows"]
    assert {row[0] for row in outlets} <= {"S001", "HL1"}
    response = client.get(f"/packs/{mine}.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[0] == "摘要"


@pytest.mark.parametrize("role", ["admin", "manager", "lead"])
def test_every_role_finds_the_packs_in_the_header(client, users, sign_in, role):
    sign_in(users[role])
    assert 'href="/packs/"' in client.get("/").get_data(as_text=True)


def test_an_unknown_kind_is_named(client, users, sign_in, built):
    sign_in(users["manager"])
    response = client.get("/packs/?kind=weekly")
    assert response.status_code == 400 and "kind" in response.get_data(as_text=True)
