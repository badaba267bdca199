"""Security headers: on every response (pages, sign-in, redirects, errors, the APIs), no-store but on static files."""
from __future__ import annotations

import pytest


@pytest.fixture
def secured(client):
    return client  # create_app installs the headers


def _csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


def assert_secure(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no CDN
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]


@pytest.mark.parametrize("path", ["/login", "/healthz", "/", "/no-such-page", "/api/v1/interactions"])
def test_every_response_carries_the_headers_and_no_store(secured, path):
    response = secured.get(path)
    assert_secure(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_signed_in_page_is_never_cached(secured, users, sign_in):
    sign_in(users["manager"])
    response = secured.get("/")
    assert response.status_code == 200
    assert_secure(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_token_apis_answer_with_the_headers(secured, auth):
    response = secured.post("/api/v1/interactions", data="not json", headers=auth, content_type="application/json")
    assert response.status_code == 400
    assert_secure(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(secured, app, tmp_path, monkeypatch):
    (tmp_path / "probe.css").write_text("body {}")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    response = secured.get("/static/probe.css")
    assert response.status_code == 200
    assert_secure(response)
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


def test_a_view_may_set_its_own_policy(app, client, users, sign_in):
    @app.get("/probe-own-policy")
    def own():
        return "ok", 200, {"Referrer-Policy": "no-referrer"}

    sign_in(users["manager"])
    response = client.get("/probe-own-policy")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_https_adds_strict_transport_security(secured):
    assert "Strict-Transport-Security" not in secured.get("/healthz").headers
    assert secured.get("/healthz", base_url="https://localhost").headers["Strict-Transport-Security"]
