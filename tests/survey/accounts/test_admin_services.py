"""What an admin does to users and tokens: each change stored with an audit entry, each refusal
naming its field, and never the last admin locked out."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from survey.accounts.audit import entries
from survey.accounts.models import ApiToken, AuditEntry, Role, TokenScope, User
from survey.accounts.scope import scope_for
from survey.accounts.services import (AccountError, authenticate_token, create_token, create_user, delete_user,
                                      reset_password, revoke_token, set_disabled, sign_in, update_user)


def log(db) -> list[tuple]:
    return [(e.username, e.action, e.target.split(" ", 2)[-1], e.before, e.after)
            for e in reversed(entries(db))]


def test_an_admin_creates_users_and_tokens_and_the_log_says_so(db, clock, users):
    admin = users["admin"]
    lead = create_user(db, "lead2", "long enough", Role.CHANNEL_LEAD, now=clock.now(),
                       outlet_codes=("S101", "S002"), actor=admin)
    token = create_token(db, "bi", now=clock.now(), scopes=(TokenScope.READ,), user=lead, actor=admin)
    assert scope_for(lead) == ("S002", "S101")
    assert authenticate_token(db, token, now=clock.now(), scope=TokenScope.READ).user is lead
    assert log(db) == [
        ("admin", "user.create", "lead2", None,
         {"username": "lead2", "role": "channel_lead", "outlets": ["S002", "S101"], "disabled": False}),
        ("admin", "token.create", "bi", None, {"name": "bi", "scopes": "read", "user": "lead2"}),
    ]
    assert token not in str(log(db))  # the token itself is never logged


def test_without_an_actor_nothing_is_logged(db, clock, users):
    # The CLI and the fixtures create users without an admin: nothing to attribute.
    assert db.scalar(select(AuditEntry.id)) is None


@pytest.mark.parametrize("username, password, role, codes, field", [
    ("", "password123", Role.MANAGER, (), "username"),
    ("x" * 65, "password123", Role.MANAGER, (), "username"),
    ("manager", "password123", Role.MANAGER, (), "username"),  # exists
    ("new", "short", Role.MANAGER, (), "password"),
    ("new", "p" * 257, Role.MANAGER, (), "password"),
    ("new", "password123", Role.CHANNEL_LEAD, (), "outlets"),
    ("new", "password123", Role.CHANNEL_LEAD, ("S001", "NOPE"), "outlets"),
    ("new\x00", "password123", Role.MANAGER, (), "username"),  # PostgreSQL cannot even compare it
    ("new\u202e", "password123", Role.MANAGER, (), "username"),
    ("new", "password123", Role.CHANNEL_LEAD, ("S001\x00",), "outlets"),
])
def test_a_user_that_cannot_be_created_is_refused_by_field_and_nothing_is_stored(
        db, clock, users, username, password, role, codes, field):
    before = db.scalar(select(User.id).order_by(User.id.desc()))
    with pytest.raises(AccountError) as caught:
        create_user(db, username, password, role, now=clock.now(), outlet_codes=codes, actor=users["admin"])
    assert caught.value.field == field
    assert db.scalar(select(User.id).order_by(User.id.desc())) == before
    assert db.scalar(select(AuditEntry.id)) is None


def test_changing_a_role_and_outlets_is_logged_with_before_and_after(db, clock, users):
    admin, lead = users["admin"], users["lead"]
    assert update_user(db, lead, role=Role.CHANNEL_LEAD, outlet_codes=("S101",), actor=admin, now=clock.now())
    assert scope_for(lead) == ("S101",)
    assert not update_user(db, lead, role=Role.CHANNEL_LEAD, outlet_codes=("S101",), actor=admin, now=clock.now())
    # A manager sees everything: outlets given with the role mean nothing and are not kept.
    assert update_user(db, lead, role=Role.MANAGER, outlet_codes=("S001",), actor=admin, now=clock.now())
    assert (lead.role, lead.outlets) == (Role.MANAGER, [])
    assert [(action, before["outlets"], after["role"], after["outlets"]) for _, action, _, before, after in log(db)] == [
        ("user.update", ["HL1", "S001"], "channel_lead", ["S101"]),
        ("user.update", ["S101"], "manager", []),
    ]


def test_a_lead_keeps_at_least_one_outlet(db, clock, users):
    with pytest.raises(AccountError, match="^outlets:"):
        update_user(db, users["lead"], role=Role.CHANNEL_LEAD, outlet_codes=(), actor=users["admin"],
                    now=clock.now())
    assert scope_for(users["lead"]) == ("HL1", "S001")


def test_a_password_reset_stores_a_new_hash_and_lifts_the_lock(db, clock, users):
    manager = users["manager"]
    for _ in range(6):
        sign_in(db, "manager", "wrong password", now=clock.now())
    assert sign_in(db, "manager", "password123", now=clock.now()) is None  # locked
    reset_password(db, manager, "a new password", actor=users["admin"], now=clock.now())
    assert manager.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert check_password_hash(manager.password_hash, "a new password")
    assert sign_in(db, "manager", "a new password", now=clock.now()) is manager
    assert log(db) == [("admin", "user.password_reset", "manager", None, {"unlocked": True})]
    with pytest.raises(AccountError, match="^password:"):
        reset_password(db, manager, "short", actor=users["admin"], now=clock.now())


def test_a_disabled_user_cannot_sign_in_and_their_tokens_stop(db, clock, users):
    lead = users["lead"]
    token = create_token(db, "lead-bi", now=clock.now(), scopes=(TokenScope.READ,), user=lead)
    assert set_disabled(db, lead, True, actor=users["admin"], now=clock.now())
    assert not set_disabled(db, lead, True, actor=users["admin"], now=clock.now())
    assert not lead.is_authenticated and not lead.is_active
    assert sign_in(db, "lead", "password123", now=clock.now()) is None
    assert authenticate_token(db, token, now=clock.now(), scope=TokenScope.READ) is None
    assert set_disabled(db, lead, False, actor=users["admin"], now=clock.now())
    assert sign_in(db, "lead", "password123", now=clock.now()) is lead
    assert [action for _, action, *_ in log(db)] == ["user.disable", "user.enable"]


def test_deleting_a_user_revokes_their_tokens_and_keeps_the_log_readable(db, clock, users):
    admin, lead = users["admin"], users["lead"]
    token = create_token(db, "lead-bi", now=clock.now(), scopes=(TokenScope.READ,), user=lead)
    second_admin = create_user(db, "admin2", "password123", Role.ADMIN, now=clock.now())
    set_disabled(db, users["manager"], True, actor=second_admin, now=clock.now())
    delete_user(db, second_admin, actor=admin, now=clock.now())
    delete_user(db, lead, actor=admin, now=clock.now())
    db.commit()
    assert db.scalar(select(User).where(User.username.in_(("lead", "admin2")))) is None
    row = db.scalar(select(ApiToken).where(ApiToken.name == "lead-bi"))
    assert row.revoked_at == clock.now() and row.user_id is None
    assert authenticate_token(db, token, now=clock.now(), scope=TokenScope.READ) is None
    db.expire_all()
    by_deleted = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.disable"))
    assert (by_deleted.user_id, by_deleted.username) == (None, "admin2")
    deleted = db.scalar(select(AuditEntry).where(AuditEntry.target.like("% lead")))
    assert deleted.before["tokens_revoked"] == ["lead-bi"]


@pytest.mark.parametrize("change", ["demote", "disable", "delete"])
def test_the_last_active_admin_and_an_admin_themselves_cannot_be_taken_away(db, clock, users, change):
    admin = users["admin"]
    other = create_user(db, "admin2", "password123", Role.ADMIN, now=clock.now())

    def attempt(target, actor):
        if change == "demote":
            update_user(db, target, role=Role.MANAGER, outlet_codes=(), actor=actor, now=clock.now())
        elif change == "disable":
            set_disabled(db, target, True, actor=actor, now=clock.now())
        else:
            delete_user(db, target, actor=actor, now=clock.now())

    with pytest.raises(AccountError, match="your own account"):
        attempt(admin, admin)
    attempt(other, admin)  # another admin remains: allowed
    db.flush()
    if change != "delete":
        with pytest.raises(AccountError, match="last active admin"):
            attempt(admin, other)  # other is no longer an active admin but still signed in
    assert admin.role is Role.ADMIN and admin.disabled_at is None


def test_revoking_a_token_is_final_and_logged_once(db, clock, users):
    token = create_token(db, "crm", now=clock.now())
    row = db.scalar(select(ApiToken).where(ApiToken.name == "crm"))
    assert revoke_token(db, row, actor=users["admin"], now=clock.now())
    assert not revoke_token(db, row, actor=users["admin"], now=clock.now())
    assert authenticate_token(db, token, now=clock.now()) is None
    assert log(db) == [("admin", "token.revoke", "crm", {"revoked": False}, {"revoked": True})]


@pytest.mark.parametrize("name, scopes, field", [("", (TokenScope.READ,), "name"), ("x" * 65, (TokenScope.READ,), "name"),
                                                  ("bad\x00", (TokenScope.READ,), "name"), ("ok", (), "scopes")])
def test_a_token_needs_a_name_and_a_scope(db, clock, users, name, scopes, field):
    with pytest.raises(AccountError) as caught:
        create_token(db, name, now=clock.now(), scopes=scopes, actor=users["admin"])
    assert caught.value.field == field
    assert db.scalar(select(ApiToken.id)) is None
