"""Admin pages for users and API tokens: each action's effect in the database and its audit entry;
bad input → 422 with the error beside the field it names, and nothing stored changed."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from survey.accounts.models import ApiToken, AuditEntry, Role, TokenScope, User
from survey.accounts.services import authenticate_token, sign_in as check_sign_in
from tests.survey.web.forms import post


def fetch(db, username) -> User | None:
    db.expire_all()
    return db.scalar(select(User).where(User.username == username))


def audit_actions(db) -> list[tuple[str, str, str]]:
    return [(e.username, e.action, e.target) for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_an_admin_creates_a_channel_lead_with_a_hashed_password_and_outlets(admin_client, db):
    response = post(admin_client, "/admin/users", username="hz-lead", password="s3cret-enough", role="channel_lead",
                    outlets="S101, S002\nS001")
    assert response.status_code == 302 and response.location == "/admin/users"
    user = fetch(db, "hz-lead")
    assert user.role is Role.CHANNEL_LEAD and sorted(o.code for o in user.outlets) == ["S001", "S002", "S101"]
    assert "s3cret-enough" not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert check_sign_in(db, "hz-lead", "s3cret-enough", now=user.created_at) is not None
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert "已创建用户 hz-lead" in page and "S001、S002、S101" in page
    assert audit_actions(db) == [("admin", "user.create", f"user {user.id} hz-lead")]


@pytest.mark.parametrize("data, message", [
    ({"username": "x", "password": "short", "role": "manager"}, "初始密码：密码至少 8 个字符"),
    ({"username": "", "password": "password123", "role": "manager"}, "用户名：请填写用户名"),
    ({"username": "x", "password": "password123", "role": "channel_lead", "outlets": ""},
     "网点编码（渠道负责人必填；逗号、空格或换行分隔）：渠道负责人至少需要一个网点"),
    ({"username": "x", "password": "password123", "role": "channel_lead", "outlets": "S001 NOPE"},
     "unknown codes NOPE"),
    ({"username": "manager", "password": "password123", "role": "admin"}, "用户名：manager exists"),
    ({"username": "x", "password": "password123", "role": "superuser"}, "角色："),
])
def test_a_user_form_with_a_mistake_names_the_field_and_stores_nothing(admin_client, db, data, message):
    users_before = db.execute(select(User.username, User.role, User.password_hash).order_by(User.id)).all()
    response = post(admin_client, "/admin/users", **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.expire_all()
    assert db.execute(select(User.username, User.role, User.password_hash).order_by(User.id)).all() == users_before
    assert audit_actions(db) == []


def test_an_admin_changes_a_leads_outlets_then_makes_them_a_manager(admin_client, db, users):
    lead = users["lead"]
    assert post(admin_client, f"/admin/users/{lead.id}", role="channel_lead", outlets="S101").status_code == 302
    assert [o.code for o in fetch(db, "lead").outlets] == ["S101"]
    assert post(admin_client, f"/admin/users/{lead.id}", role="manager", outlets="").status_code == 302
    assert fetch(db, "lead").role is Role.MANAGER
    entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.before["outlets"], e.after["role"], e.after["outlets"]) for e in entries] == [
        (["HL1", "S001"], "channel_lead", ["S101"]), (["S101"], "manager", [])]


def test_a_lead_left_without_outlets_is_refused_and_keeps_theirs(admin_client, db, users):
    response = post(admin_client, f"/admin/users/{users['lead'].id}", role="channel_lead", outlets="  ")
    assert response.status_code == 422 and "渠道负责人至少需要一个网点" in response.get_data(as_text=True)
    assert sorted(o.code for o in fetch(db, "lead").outlets) == ["HL1", "S001"]


def test_an_admin_cannot_demote_disable_or_delete_themselves(admin_client, db, users):
    admin = users["admin"]
    for path, data in [(f"/admin/users/{admin.id}", {"role": "manager"}), (f"/admin/users/{admin.id}/disable", {}),
                       (f"/admin/users/{admin.id}/delete", {"confirm": "y"})]:
        response = post(admin_client, path, **data)
        assert response.status_code == 422 and "you cannot do this to your own account" in response.get_data(as_text=True)
    assert fetch(db, "admin").role is Role.ADMIN and fetch(db, "admin").disabled_at is None
    assert audit_actions(db) == []


def test_a_password_reset_lets_the_user_in_with_the_new_one_only(admin_client, db, users, clock):
    manager = users["manager"]
    old_hash = manager.password_hash
    response = post(admin_client, f"/admin/users/{manager.id}/password", password="brand new pass")
    assert response.status_code == 302
    db.expire_all()
    assert check_sign_in(db, "manager", "brand new pass", now=clock.now()) is not None
    assert check_sign_in(db, "manager", "password123", now=clock.now()) is None
    refused = post(admin_client, f"/admin/users/{manager.id}/password", password="short")
    assert refused.status_code == 422 and "新密码：密码至少 8 个字符" in refused.get_data(as_text=True)
    assert fetch(db, "manager").password_hash not in (old_hash, None)
    assert [a for _, a, _ in audit_actions(db)] == ["user.password_reset"]


def test_a_disabled_user_is_sent_back_to_sign_in_at_their_next_request(app, admin_client, db, users):
    lead_client = app.test_client()
    with lead_client.session_transaction() as session:
        session["_user_id"] = str(users["lead"].id)
    assert lead_client.get("/").status_code == 200
    assert post(admin_client, f"/admin/users/{users['lead'].id}/disable").status_code == 302
    assert lead_client.get("/").status_code == 302
    assert post(admin_client, f"/admin/users/{users['lead'].id}/enable").status_code == 302
    assert lead_client.get("/").status_code == 200
    assert [a for _, a, _ in audit_actions(db)] == ["user.disable", "user.enable"]


def test_deleting_a_user_needs_the_box_ticked(admin_client, db, users):
    lead_id = users["lead"].id
    refused = post(admin_client, f"/admin/users/{lead_id}/delete")
    assert refused.status_code == 422 and "请勾选确认" in refused.get_data(as_text=True)
    assert fetch(db, "lead") is not None
    response = post(admin_client, f"/admin/users/{lead_id}/delete", confirm="y")
    assert (response.status_code, response.location) == (302, "/admin/users")
    assert fetch(db, "lead") is None
    assert [a for _, a, _ in audit_actions(db)] == ["user.delete"]


def test_a_token_is_shown_once_stored_hashed_listed_and_revoked(admin_client, db, users, clock):
    response = post(admin_client, "/admin/tokens", name="bi-tool", scopes=["read"], user=str(users["lead"].id))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = re.search(r'<code class="secret">(tp_[^<]+)</code>', response.get_data(as_text=True)).group(1)
    row = db.scalar(select(ApiToken).where(ApiToken.name == "bi-tool"))
    assert token not in row.token_hash and (row.scopes, row.user_id) == ("read", users["lead"].id)
    assert authenticate_token(db, token, now=clock.now(), scope=TokenScope.READ) is not None
    db.commit()
    listing = admin_client.get("/admin/tokens").get_data(as_text=True)
    assert "bi-tool" in listing and token not in listing and "lead" in listing
    assert post(admin_client, f"/admin/tokens/{row.id}/revoke").status_code == 302
    db.expire_all()
    assert row.revoked_at == clock.now()
    assert authenticate_token(db, token, now=clock.now(), scope=TokenScope.READ) is None
    assert "已吊销" in admin_client.get("/admin/tokens").get_data(as_text=True)
    assert [a for _, a, _ in audit_actions(db)] == ["token.create", "token.revoke"]


@pytest.mark.parametrize("data, message", [({"name": "crm"}, "权限：至少选择一项权限"),
                                           ({"name": "", "scopes": "ingest"}, "名称：请填写名称"),
                                           ({"name": "crm", "scopes": "admin"}, "权限：")])
def test_a_token_form_with_a_mistake_names_the_field_and_creates_nothing(admin_client, db, data, message):
    response = post(admin_client, "/admin/tokens", **data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert "tp_" not in response.get_data(as_text=True)
    assert db.scalar(select(ApiToken.id)) is None
