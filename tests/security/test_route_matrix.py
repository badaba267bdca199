"""The route × role matrix over every route the app has (issue #16), so a new route cannot slip out
unguarded: signed out, a page leads to sign-in, a token API answers 401 and only the open
endpoints answer; signed in, no role meets a server error, admin pages are the admins' and the
review queue is not a channel lead's; no template runs a script inline (the CSP forbids it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import templates
from survey.web.auth import OPEN, TOKEN_BLUEPRINTS

# A value for each path argument, so that every route can be called (unknown ones still answer).
SAMPLES = {"code": "S001", "region": "华东", "city": "上海", "fmt": "csv", "name": "outlets"}
ADMIN_ONLY = {"admin", "cases.routes"}  # blueprints or endpoints
NOT_FOR_LEADS = {"review"}


def _url(rule) -> str:
    values = {name: SAMPLES.get(name, "1") for name in rule.arguments}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _routes(app, method: str):
    rules = [r for r in app.url_map.iter_rules() if method in r.methods and r.endpoint != "static"]
    assert len(rules) > 10
    return [(rule.endpoint, rule.endpoint.rpartition(".")[0], _url(rule)) for rule in rules]


def test_signed_out_only_the_open_endpoints_answer(app, client):
    for endpoint, blueprint, url in _routes(app, "GET"):
        response = client.get(url)
        if endpoint in OPEN:
            assert response.status_code == 200, url
        elif blueprint in TOKEN_BLUEPRINTS:
            assert response.status_code == 401 and response.is_json, url
        else:
            assert response.status_code == 302 and response.location.startswith("/login"), url


def test_signed_out_no_form_is_accepted(app, client):
    for endpoint, blueprint, url in _routes(app, "POST"):
        status = client.post(url, data={"x": "1"}).status_code
        assert status in (302, 400, 401), (url, status)


@pytest.mark.parametrize("role", ["lead", "manager", "admin"])
def test_each_role_meets_no_server_error_and_only_its_pages(app, client, users, sign_in, outlets, role):
    sign_in(users[role])
    for endpoint, blueprint, url in _routes(app, "GET"):
        if endpoint == "auth.login" or blueprint in TOKEN_BLUEPRINTS:
            continue
        status = client.get(url).status_code
        assert status < 500, (url, status)
        names = {blueprint, endpoint}
        forbidden = (names & ADMIN_ONLY and role != "admin") or (names & NOT_FOR_LEADS and role == "lead")
        assert (status == 403) == bool(forbidden), (role, url, status)


def test_no_template_runs_a_script_inline():
    folder = Path(templates.__path__[0])
    pages = [p for p in folder.rglob("*.html") if "static" not in p.parts]
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        inline = re.findall(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html)
        handlers = re.findall(r"\son[a-z]+\s*=", html)
        assert (inline, handlers, "javascript:" in html) == ([], [], False), page
