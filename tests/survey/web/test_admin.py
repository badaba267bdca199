"""Admin pages × roles: signed out → sign-in, managers and leads → 403 (and nothing changes), admins
→ the page; every form post without its CSRF token → 400 (and nothing changes)."""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from channels.models import Outlet, Subscriber
from survey.accounts.models import ApiToken, AuditEntry, User
from survey.models import PolicyOverride
from tests.survey.web.forms import csrf_token

GET_PATHS = ["/admin/", "/admin/users", "/admin/users/{admin}", "/admin/outlets/import", "/admin/tokens",
             "/admin/optouts", "/admin/surveys", "/admin/surveys/csat-default", "/admin/audit"]
# Each POST with a body that an admin's request would act on.
POSTS = [
    ("/admin/users", {"username": "newbie", "password": "password123", "role": "manager"}),
    ("/admin/users/{lead}", {"role": "manager"}),
    ("/admin/users/{lead}/password", {"password": "another password"}),
    ("/admin/users/{lead}/disable", {}),
    ("/admin/users/{lead}/enable", {}),
    ("/admin/users/{lead}/delete", {"confirm": "y"}),
    ("/admin/outlets/import", {}),
    ("/admin/tokens", {"name": "crm", "scopes": "ingest"}),
    ("/admin/tokens/{token}/revoke", {}),
    ("/admin/optouts/lookup", {"msisdn": "13812341234"}),
    ("/admin/optouts/do-not-survey", {"msisdn": "13812341234"}),
    ("/admin/optouts/do-not-survey/{subscriber}/remove", {}),
    ("/admin/surveys/rules", {"sampling_by_channel:hotline": "0"}),
    ("/admin/surveys/targets", {"outlet": "S001", "target": "5"}),
]


@pytest.fixture
def ids(db, clock, users, token):
    """The ids the paths name: the admin, the lead, a token and a listed subscriber."""
    subscriber = Subscriber(msisdn="+8613900001111", attributes={}, created_at=clock.now(), do_not_survey=True)
    db.add(subscriber)
    db.commit()
    return {"admin": users["admin"].id, "lead": users["lead"].id, "subscriber": subscriber.id,
            "token": db.scalar(select(ApiToken.id))}


def state(db) -> tuple:
    """Everything an admin post could change."""
    db.expire_all()
    users = tuple(db.execute(select(User.username, User.role, User.password_hash, User.disabled_at)
                             .order_by(User.id)).all())
    tokens = tuple(db.execute(select(ApiToken.name, ApiToken.revoked_at).order_by(ApiToken.id)).all())
    listed = tuple(db.scalars(select(Subscriber.msisdn).where(Subscriber.do_not_survey.is_(True))))
    return (users, tokens, listed, db.scalar(select(func.count()).select_from(PolicyOverride)),
            db.scalar(select(func.count()).select_from(AuditEntry)), db.scalar(select(func.count()).select_from(Outlet)))


# One test per role walking every route (each failure names its route): the users fixture hashes
# three passwords, too slow to pay once per route and role.


def test_signed_out_every_admin_page_and_post_leads_to_sign_in_and_changes_nothing(client, db, ids):
    before = state(db)
    pages = {path: client.get(path.format(**ids)) for path in GET_PATHS}
    assert {p: (r.status_code, r.location.split("?")[0]) for p, r in pages.items()} == {
        p: (302, "/login") for p in GET_PATHS}
    token = csrf_token(client)  # a signed-out visitor can get one from the sign-in page
    posts = {path: client.post(path.format(**ids), data={**data, "csrf_token": token}) for path, data in POSTS}
    assert {p: (r.status_code, r.location.split("?")[0]) for p, r in posts.items()} == {
        p: (302, "/login") for p, _ in POSTS}
    assert state(db) == before


@pytest.mark.parametrize("role", ["manager", "lead"])
def test_managers_and_leads_get_403_on_every_admin_page_and_post_and_nothing_changes(client, db, users, sign_in,
                                                                                     ids, role):
    sign_in(users[role])
    before = state(db)
    assert {p: client.get(p.format(**ids)).status_code for p in GET_PATHS} == {p: 403 for p in GET_PATHS}
    token = csrf_token(client)
    statuses = {p: client.post(p.format(**ids), data={**data, "csrf_token": token}).status_code for p, data in POSTS}
    assert statuses == {p: 403 for p, _ in POSTS}
    assert state(db) == before


def test_admins_get_every_admin_page_in_chinese(client, users, sign_in, ids):
    sign_in(users["admin"])
    for path in GET_PATHS:
        response = client.get(path.format(**ids))
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert '<html lang="zh-CN">' in page and "操作日志" in page, path  # the admin navigation


def test_an_admin_post_without_its_csrf_token_is_refused_and_changes_nothing(client, db, users, sign_in, ids):
    sign_in(users["admin"])
    before = state(db)
    without = {p: client.post(p.format(**ids), data=data).status_code for p, data in POSTS}
    forged = {p: client.post(p.format(**ids), data={**data, "csrf_token": "forged"}).status_code for p, data in POSTS}
    assert without == forged == {p: 400 for p, _ in POSTS}
    assert state(db) == before


def test_an_unknown_id_under_admin_is_403_to_a_manager_and_404_to_an_admin(client, users, sign_in):
    sign_in(users["manager"])
    assert client.get("/admin/users/999999").status_code == 403
    sign_in(users["admin"])
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/surveys/no-such-survey").status_code == 404
