"""Sign-in: nothing but sign-in, health and the token APIs answers without a user; forms carry CSRF."""
from __future__ import annotations


import pytest
from tests.survey.web.forms import csrf_token


@pytest.mark.parametrize("path", ["/", "/does-not-exist-but-still-hidden"])
def test_without_a_user_every_page_leads_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_health_and_the_sign_in_page_answer_without_a_user(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_a_manager_signs_in_lands_where_they_were_going_and_signs_out(client, users):
    response = client.post("/login?next=/", data={"username": "manager", "password": "password123",
                                                  "csrf_token": csrf_token(client)})
    assert (response.status_code, response.location) == (302, "/")
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_half_was_wrong(client, users):
    for username, password in [("manager", "wrong-password"), ("nobody", "password123")]:
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_wrong_passwords_lock_the_account_for_a_while_even_against_the_right_one(client, users, clock):
    def attempt(password):
        return client.post("/login", data={"username": "manager", "password": password,
                                           "csrf_token": csrf_token(client)}).status_code

    assert [attempt("wrong-password") for _ in range(5)] == [401] * 5
    assert attempt("password123") == 401  # locked: the right password waits too
    clock.advance(minutes=1)
    assert attempt("password123") == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert attempt("wrong-password") == 401  # a success starts the count again


def test_a_form_post_without_its_csrf_token_is_refused(client, users):
    response = client.post("/login", data={"username": "manager", "password": "password123"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_the_site(client, users, target):
    response = client.post(f"/login?next={target}", data={"username": "manager", "password": "password123",
                                                          "csrf_token": csrf_token(client)})
    assert response.location == "/"


def test_the_ingest_api_needs_its_token_not_a_cookie_or_csrf(client, auth, outlets):
    item = {"source": "crm", "external_id": "a1", "msisdn": "13812341234", "outlet": "S001",
            "ended_at": "2026-11-20 09:00"}
    assert client.post("/api/v1/interactions", json=item).status_code == 401
    assert client.post("/api/v1/interactions", json=item, headers=auth).status_code == 201


@pytest.mark.parametrize("role, shown, hidden", [
    ("admin", ["/admin/", "/review/", "/cases/board"], []),
    ("manager", ["/review/", "/cases/board"], ["/admin/"]),
    ("lead", ["/cases/"], ["/admin/", "/review/", "/cases/board"])])
def test_the_header_links_to_what_the_role_may_open(client, users, sign_in, role, shown, hidden):
    sign_in(users[role])
    page = client.get("/").get_data(as_text=True)
    assert all(f'href="{path}' in page for path in shown)
    assert not any(f'href="{path}' in page for path in hidden)
