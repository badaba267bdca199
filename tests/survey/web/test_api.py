"""The read API: bearer tokens with the read scope, the pages' filters, and a bound token's scope
enforced in the query (guessed outlet codes in the path or the query string answer 404)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from survey.accounts.models import TokenScope
from survey.accounts.services import create_token
from channels.models import Interaction
from survey.models import Answer, SurveySession
from tests.browser.seed import seed_answers


@pytest.fixture
def seeded(db, clock, outlets):
    found = seed_answers(db, now=clock.now(), interactions=700)
    db.commit()
    return found


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def reader(db, clock) -> dict[str, str]:
    """An integrator's token that reads everything."""
    value = create_token(db, "bi", now=clock.now(), scopes=(TokenScope.READ,))
    db.commit()
    return bearer(value)


@pytest.fixture
def lead_reader(db, clock, users) -> dict[str, str]:
    """A token bound to the channel lead of S001 and HL1."""
    value = create_token(db, "lead's sheet", now=clock.now(), user=users["lead"], scopes=(TokenScope.READ,))
    db.commit()
    return bearer(value)


def csat_answers(db, *outlets: str, since: datetime | None = None, until: datetime | None = None) -> int:
    q = select(func.count()).select_from(Answer).where(Answer.survey == "csat-default",
                                                       Answer.question == "satisfaction")
    if outlets:
        q = q.where(Answer.outlet_code.in_(outlets))
    if since is not None:
        q = q.where(Answer.answered_at >= since)
    if until is not None:
        q = q.where(Answer.answered_at < until)
    return db.scalar(q)


ROUTES = ["/api/v1/results", "/api/v1/shortboards", "/api/v1/trends", "/api/v1/outlets", "/api/v1/outlets/S001"]


@pytest.mark.parametrize("path", ROUTES)
def test_without_a_read_token_nothing_is_read(client, auth, path, outlets):
    assert client.get(path).status_code == 401
    assert client.get(path, headers=bearer("tp_guessed")).status_code == 401
    assert client.get(path, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    response = client.get(path, headers=auth)  # a token that may only push interactions
    assert response.status_code == 403 and response.json["errors"][0].startswith("Authorization")


def test_a_revoked_token_reads_nothing(client, db, clock, reader, outlets):
    from survey.accounts.models import ApiToken
    db.scalars(select(ApiToken)).one().revoked_at = clock.now()
    db.commit()
    assert client.get("/api/v1/outlets", headers=reader).status_code == 401


def test_results_overall_and_per_outlet_with_intervals_and_counts(client, db, seeded, reader):
    response = client.get("/api/v1/results?by=outlet&period=365d", headers=reader)
    assert response.status_code == 200
    body = response.json
    total = body["total"]["csat"]
    assert total["responses"] == csat_answers(db)
    assert total["csat_low"] <= total["csat"] <= total["csat_high"]
    sent = db.scalar(select(func.count()).select_from(SurveySession).where(SurveySession.survey == "csat-default"))
    assert total["sent"] == sent and total["response_rate"] == pytest.approx(total["responses"] / sent)
    assert body["total"]["interactions"] == seeded.interactions
    groups = {g["key"]["outlet"]: g for g in body["groups"]}
    assert set(groups) == {"S001", "S002", "S101", "HL1", "WEB1"}
    assert sum(g["csat"]["responses"] for g in groups.values()) == total["responses"]
    # The hotline ran the NPS survey too: its score comes with its interval.
    nps = groups["HL1"]["nps"]
    assert nps["responses"] > 0 and nps["nps_low"] <= nps["nps"] <= nps["nps_high"]
    assert groups["S001"]["nps"] is None
    assert all(r["label"] for g in groups.values() for r in g["csat"]["reasons"])


def test_a_token_bound_to_a_channel_lead_reads_only_their_outlets(client, db, seeded, lead_reader):
    body = client.get("/api/v1/results?by=outlet&period=365d", headers=lead_reader).json
    assert {g["key"]["outlet"] for g in body["groups"]} == {"S001", "HL1"}
    assert body["total"]["csat"]["responses"] == csat_answers(db, "S001", "HL1")
    by_city = client.get("/api/v1/results?by=city&period=365d", headers=lead_reader).json
    assert sum(g["csat"]["responses"] for g in by_city["groups"]) == csat_answers(db, "S001", "HL1")
    outlets = client.get("/api/v1/outlets", headers=lead_reader).json["outlets"]
    assert [o["code"] for o in outlets] == ["HL1", "S001"]
    boards = client.get("/api/v1/shortboards?by=outlet&min_n=5&all=true&period=365d", headers=lead_reader).json
    assert {b["key"][0] for b in boards["groups"]} <= {"S001", "HL1"}
    series = client.get("/api/v1/trends?by=outlet", headers=lead_reader).json["series"]
    assert {s["key"]["outlet"] for s in series} <= {"S001", "HL1"}


@pytest.mark.parametrize("path", [
    "/api/v1/results?outlet=S002", "/api/v1/results?outlet=S001&outlet=S002", "/api/v1/results?outlet=S001,S101",
    "/api/v1/shortboards?outlet=S002", "/api/v1/trends?outlet=WEB1", "/api/v1/outlets/S002",
    "/api/v1/outlets/NOPE", "/api/v1/results?outlet=NOPE", "/api/v1/outlets/S0%0001", "/api/v1/outlets/" + "S" * 40,
])
def test_a_lead_guessing_an_outlet_gets_404_like_for_one_that_does_not_exist(client, seeded, lead_reader, path):
    response = client.get(path, headers=lead_reader)
    assert response.status_code == 404
    assert response.json["errors"] == ["outlet: no such outlet"]


def test_an_outlet_in_scope_reads_by_business_type(client, db, seeded, lead_reader, reader):
    body = client.get("/api/v1/outlets/S001?period=365d", headers=lead_reader).json
    assert body["outlet"]["name"] == "徐汇1号营业厅"
    results = body["results"]
    assert results["total"]["csat"]["responses"] == csat_answers(db, "S001")
    assert {tuple(g["key"]) for g in results["groups"]} == {("business_type",)}
    assert client.get("/api/v1/outlets/S002", headers=reader).status_code == 200
    assert client.get("/api/v1/outlets/NOPE", headers=reader).status_code == 404
    narrowed = client.get("/api/v1/results?outlet=S001&period=365d", headers=lead_reader).json
    assert narrowed["total"]["csat"]["responses"] == csat_answers(db, "S001")


def test_filters_narrow_the_answers_like_the_pages(client, db, seeded, reader):
    def total(query: str) -> int:
        if "period=" not in query and "since=" not in query:
            query += "&period=365d"
        response = client.get(f"/api/v1/results?{query}", headers=reader)
        assert response.status_code == 200, response.json
        csat = response.json["total"]["csat"]
        return 0 if csat is None else csat["responses"]

    assert total("channel=store") == csat_answers(db, "S001", "S002", "S101")
    assert total("channel=store,web") == total("channel=store&channel=web") == csat_answers(db, "S001", "S002",
                                                                                          "S101", "WEB1")
    assert total("business_type=宽带") == total("business_type=broadband") > 0
    tiers = [total(f"tier={t}") for t in ("普通", "银卡", "金卡", "钻石")]
    assert sum(tiers) == total("") and min(tiers) > 0
    assert total("brand=全球通") + total("brand=动感地带") + total("brand=神州行") == total("")
    # Local days: 1 to 10 November in Shanghai are 31 October 16:00 to 10 November 16:00 UTC.
    since, until = datetime(2026, 10, 31, 16, tzinfo=timezone.utc), datetime(2026, 11, 10, 16, tzinfo=timezone.utc)
    assert total("since=2026-11-01&until=2026-11-10") == csat_answers(db, since=since, until=until) > 0
    assert total("period=2026-10") == csat_answers(db, since=datetime(2026, 9, 30, 16, tzinfo=timezone.utc),
                                                   until=datetime(2026, 10, 31, 16, tzinfo=timezone.utc))
    # Periods end today (20 November, local): the last 30 days begin on 22 October.
    assert total("period=30d") == csat_answers(db, since=datetime(2026, 10, 21, 16, tzinfo=timezone.utc))
    assert client.get("/api/v1/results", headers=reader).json["total"]["csat"]["responses"] == total("period=30d")
    assert total("period=30d") < total("period=90d") < total("period=365d") == csat_answers(db)
    assert total("since=2026-11-01") == csat_answers(db, since=since)


def test_a_customer_attribute_filters_the_denominators_too_but_grouping_by_one_has_none(client, db, seeded, reader):
    body = client.get("/api/v1/results?tier=金卡&by=channel&period=365d", headers=reader).json
    assert body["filters"]["tier"] == ["金卡"]
    csat = body["total"]["csat"]
    gold = select(func.count()).select_from(SurveySession).join(Interaction).where(
        SurveySession.survey == "csat-default", Interaction.attributes["tier"].as_string() == "金卡")
    assert 0 < csat["responses"] < csat["sent"] == db.scalar(gold)
    grouped = client.get("/api/v1/results?by=tier&period=365d", headers=reader).json
    assert {g["key"]["tier"] for g in grouped["groups"]} == {"普通", "银卡", "金卡", "钻石"}
    assert all(g["csat"]["sent"] is None and g["interactions"] is None for g in grouped["groups"])


@pytest.mark.parametrize("query, field", [
    ("chanel=store", "chanel"), ("channel=shop", "channel"), ("by=phone", "by"), ("period=2026-13", "period"),
    ("since=yesterday", "since"), ("since=2026-11-02&until=2026-11-01", "since"), ("since=2020-01-01", "since"),
    ("period=all", "period"), ("business_type=没有这种业务", "business_type"), ("min_n=0", "min_n"),
    ("by=channel,city,outlet", "by"), ("all=perhaps", "all"), ("alpha=2", "alpha"), ("period=7d&period=30d", "period"),
    ("business_type=%00", "business_type"), ("outlet=S0%0001", "outlet"), ("tier=%E2%80%AEgold", "tier"),
    ("brand=a%07b", "brand"),
])
def test_a_bad_query_is_refused_naming_the_parameter(client, seeded, reader, query, field):
    response = client.get(f"/api/v1/shortboards?{query}", headers=reader)
    assert response.status_code == 400
    assert any(e.startswith(f"{field}") for e in response.json["errors"]), response.json


def test_shortboards_find_the_weak_outlet(client, seeded, reader):
    body = client.get("/api/v1/shortboards?by=outlet&min_n=20&period=365d", headers=reader).json
    assert [b["group"] for b in body["shortboards"]] == ["S002"]
    board = body["shortboards"][0]
    assert board["flagged"] and board["gap"] > 0 and board["q"] < 0.05 and board["impact"] > 0
    assert board["rate_low"] <= board["rate"] <= board["rate_high"]
    assert "groups" not in body
    # One coherent table in the headline view, as the page and the command show it.
    view = board["headline"]
    assert body["headline"] in ("raw", "adjusted") and view["view"] == body["headline"]
    assert view["gap"] == pytest.approx(view["expected"] - view["observed"], abs=1e-9) and view["flagged"]
    assert view["shrunken_low"] <= view["shrunken"] <= view["shrunken_high"]
    assert [b["group"] for b in body["headline_shortboards"]][:1] == ["S002"] and body["watch_list"] == []


def test_shortboards_without_a_short_board_give_a_watch_list(client, seeded, reader):
    body = client.get("/api/v1/shortboards?by=outlet&min_n=20&period=365d&outlet=S001,S101", headers=reader).json
    assert body["shortboards"] == [] and body["headline_shortboards"] == []
    watch = body["watch_list"]
    assert watch and {b["group"] for b in watch} <= {"S001", "S101"}
    assert all(b["headline"]["shrunken"] < b["headline"]["expected"] for b in watch)


def test_trends_per_month_with_alerts(client, db, seeded, reader):
    body = client.get("/api/v1/trends?by=channel&interval=month", headers=reader).json
    series = {s["key"]["channel"]: s for s in body["series"]}
    assert set(series) == {"store", "hotline", "web"}
    periods = [p["period"] for p in series["store"]["points"]]
    assert periods == sorted(periods) and periods[-1] == "2026-11-01"
    assert sum(p["n"] for s in series.values() for p in s["points"]) == csat_answers(db)
    assert {a["key"]["channel"] for a in body["alerts"]} == {"store", "hotline", "web"}
    # Each group twice, its last month (short) and its last 3 months (long), against the 6 before.
    assert sorted((a["key"]["channel"], a["window"]) for a in body["alerts"]) == sorted(
        (c, w) for c in ("store", "hotline", "web") for w in ("short", "long"))
    for a in body["alerts"]:
        assert not (a["alert"] and a["improved"])
        assert a["direction"] == ("deterioration" if a["alert"] else "improvement" if a["improved"] else None)
        assert a["alert"] <= ((a["change"] or 0) < 0) and a["improved"] <= ((a["change"] or 0) > 0)
    windows = body["windows"]
    assert windows["short"] == ["2026-10-01", "2026-10-01"] and windows["long"] == ["2026-08-01", "2026-10-01"]
    assert windows["baseline"] == ["2026-02-01", "2026-07-01"] and windows["allowance"] >= 0
    assert windows["short_baseline"] == ["2026-04-01", "2026-09-01"]
    weekly = client.get("/api/v1/trends?interval=week", headers=reader).json
    assert len(weekly["series"]) == 1 and weekly["series"][0]["label"] == "all"
    assert len(weekly["series"][0]["points"]) > 30


def test_no_answers_is_an_empty_result_not_an_error(client, outlets, reader):
    for path in ("/api/v1/results?by=outlet", "/api/v1/shortboards", "/api/v1/trends?by=channel"):
        response = client.get(path, headers=reader)
        assert response.status_code == 200, (path, response.json)
    body = client.get("/api/v1/results", headers=reader).json
    assert body["total"]["csat"] is None and body["groups"] == []


def test_reading_records_the_tokens_last_use(client, db, clock, reader, outlets):
    from survey.accounts.models import ApiToken
    client.get("/api/v1/outlets", headers=reader)
    db.expire_all()
    assert db.scalars(select(ApiToken)).one().last_used_at is not None


def test_a_disabled_users_token_and_a_changed_scope_take_effect_at_once(client, db, clock, users, seeded,
                                                                        lead_reader):
    from survey.accounts.services import set_disabled, update_user
    from survey.accounts.models import Role
    update_user(db, users["lead"], role=Role.CHANNEL_LEAD, outlet_codes=("S101",), actor=users["admin"],
                now=clock.now())
    db.commit()
    outlets = client.get("/api/v1/outlets", headers=lead_reader).json["outlets"]
    assert [o["code"] for o in outlets] == ["S101"]
    assert client.get("/api/v1/outlets/S001", headers=lead_reader).status_code == 404
    set_disabled(db, users["lead"], True, actor=users["admin"], now=clock.now())
    db.commit()
    assert client.get("/api/v1/outlets", headers=lead_reader).status_code == 401


def test_a_grouping_named_twice_counts_once(client, seeded, reader):
    body = client.get("/api/v1/results?by=channel&by=channel&period=365d", headers=reader).json
    assert body["by"] == ["channel"] and len(body["groups"]) == 3


def test_a_path_under_the_api_that_matches_no_route_answers_json_not_the_sign_in_page(client):
    for path in ("/api/v1/outlets//", "/api/v1/nothing-here"):
        response = client.get(path)
        assert response.status_code == 404 and response.json == {"errors": ["path: no such resource"]}
    assert client.get("/nothing-here").status_code == 302  # pages still lead to sign-in
