"""Fuzzing the read API's query strings and paths: whatever is asked, no 500 and nothing outside
the token's scope; a refusal names the parameter."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from survey.accounts.models import TokenScope
from survey.accounts.services import create_token
from tests.browser.seed import seed_answers

ROUTES = ["/api/v1/results", "/api/v1/shortboards", "/api/v1/trends", "/api/v1/outlets", "/api/v1/outlets/S001"]
NAMES = ["period", "since", "until", "channel", "business_type", "tier", "brand", "outlet", "by", "min_n", "alpha",
         "all", "interval", "page", "x"]
HOSTILE = st.sampled_from(["\x00", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff", "\U0001f600", "满", ",", "%",
                           "&", "=", "#", "'", "\"", "\\", "S002", "S001", "HL1", "store", "宽带", "outlet",
                           "2026-11", "2026-13", "30d", "0", "-1", "1e9", "nan", "true", "2026-02-30"])
VALUE = st.lists(st.text(max_size=6) | HOSTILE, max_size=4).map("".join)


@pytest.fixture
def lead_token(db, clock, users) -> dict[str, str]:
    """A read token bound to the channel lead of S001 and HL1, over seeded answers."""
    seed_answers(db, now=clock.now(), interactions=300)
    value = create_token(db, "lead's sheet", now=clock.now(), user=users["lead"], scopes=(TokenScope.READ,))
    db.commit()
    return {"Authorization": f"Bearer {value}"}


@given(route=st.sampled_from(ROUTES), query=st.lists(st.tuples(st.sampled_from(NAMES), VALUE), max_size=5),
       code=st.none() | VALUE)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_query_answers_without_a_500_and_within_scope(client, lead_token, route, query, code):
    if code is not None and route.endswith("S001"):
        route = f"/api/v1/outlets/{quote(code, safe='')}" if code else route
    url = route + ("?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query) if query else "")
    response = client.get(url, headers=lead_token)
    assert response.status_code in (200, 400, 404), (url, response.status_code, response.get_data(as_text=True))
    body = response.json
    if response.status_code != 200:
        assert body["errors"] and all(": " in e for e in body["errors"])
        return
    for part in (body, body.get("results") or {}):
        part.pop("filters", None)  # the echo of what was asked may name anything
    text = json.dumps(body, ensure_ascii=False)
    assert "S002" not in text and "WEB1" not in text and "S101" not in text  # the lead has S001 and HL1


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_answers_the_lead(client, lead_token, route):
    response = client.get(route, headers=lead_token)
    assert response.status_code == 200, response.json
