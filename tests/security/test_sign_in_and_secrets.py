"""Security checklist (issue #16): secrets hashed, sign-in throttled per account and per address,
cookies hardened, sign-ins, sign-outs and exports in the audit log."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash

from survey.accounts.audit import AuditAction
from survey.accounts.models import ApiToken, AuditEntry, Role, User
from survey.accounts.services import TOKEN_USE_RESOLUTION, authenticate_token, create_token, create_user
from survey.accounts.throttle import ADDRESS_FREE_ATTEMPTS, ADDRESS_WINDOW
from survey.web import create_app
from tests.survey.web.forms import csrf_token

ATTACKER = {"REMOTE_ADDR": "127.0.0.66"}
OFFICE = {"REMOTE_ADDR": "127.0.0.10"}


def _sign_in(client, username, password, environ=None):
    environ = environ or OFFICE
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_overrides=environ)


def _entries(db, action: AuditAction) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action.value).order_by(AuditEntry.id)))


def test_a_password_is_stored_as_a_slow_salted_hash(db, clock, outlets):
    user = create_user(db, "hashed", "correct horse battery", Role.MANAGER, now=clock.now())
    db.commit()
    stored = db.scalar(select(User.password_hash).where(User.id == user.id))
    assert "correct horse" not in stored and stored.split(":")[0] in ("scrypt", "pbkdf2")
    assert check_password_hash(stored, "correct horse battery")
    other = create_user(db, "hashed2", "correct horse battery", Role.MANAGER, now=clock.now())
    assert other.password_hash != stored  # salted: the same password, another hash


def test_a_token_is_stored_as_its_sha256_and_its_use_recorded_once_a_minute(db, clock):
    token = create_token(db, "crm", now=clock.now())
    db.commit()
    row = db.scalar(select(ApiToken))
    assert token not in row.token_hash and len(row.token_hash) == 64
    assert authenticate_token(db, token, now=clock.now()) is row
    first_use = row.last_used_at
    clock.advance(seconds=30)
    authenticate_token(db, token, now=clock.now())
    # Not rewritten on every request: 50 clients with one token would queue on this row.
    assert row.last_used_at == first_use and not db.dirty
    clock.advance(seconds=TOKEN_USE_RESOLUTION.total_seconds())
    authenticate_token(db, token, now=clock.now())
    assert row.last_used_at == clock.now()


def test_one_address_guessing_across_accounts_is_refused_before_any_password_check(client, users, clock):
    # Four wrong passwords on each account stays under every account's own limit (5).
    names = ["admin", "manager", "lead", "nobody", "someone"]
    for attempt in range(ADDRESS_FREE_ATTEMPTS):
        assert _sign_in(client, names[attempt % 5], f"guess-{attempt}", ATTACKER).status_code == 401
    refused = _sign_in(client, "manager", "password123", ATTACKER)  # even the right password
    assert refused.status_code == 429 and "用户名或密码错误" in refused.get_data(as_text=True)
    assert client.get("/").status_code == 302
    # Other addresses are not affected, and the address is let in again once the window passes.
    assert _sign_in(client, "lead", "password123", OFFICE).status_code == 302
    clock.advance(seconds=ADDRESS_WINDOW.total_seconds() + 1)
    assert _sign_in(client, "manager", "password123", ATTACKER).status_code == 302


def test_an_account_is_locked_whatever_address_the_guesses_come_from(client, users):
    for attempt in range(5):
        environ = {"REMOTE_ADDR": f"127.0.1.{attempt}"}
        assert _sign_in(client, "manager", f"wrong-{attempt}", environ).status_code == 401
    assert _sign_in(client, "manager", "password123", {"REMOTE_ADDR": "127.0.2.1"}).status_code == 401


def test_a_name_with_a_nul_is_refused_and_logged_not_a_server_error(client, users, db):
    assert _sign_in(client, "man\x00ager", "password123").status_code == 401
    (entry,) = _entries(db, AuditAction.SIGN_IN_REFUSED)
    assert entry.username == "(unreadable name)" and entry.after == {"reason": "unreadable name"}


def test_sign_ins_refusals_and_sign_outs_are_audited_with_the_address(client, users, db):
    assert _sign_in(client, "manager", "nope-nope", ATTACKER).status_code == 401
    assert _sign_in(client, "manager", "password123", OFFICE).status_code == 302
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")},
                       environ_overrides=OFFICE).status_code == 302
    (refused,) = _entries(db, AuditAction.SIGN_IN_REFUSED)
    (signed_in,) = _entries(db, AuditAction.SIGNED_IN)
    (signed_out,) = _entries(db, AuditAction.SIGNED_OUT)
    assert (refused.username, refused.user_id, refused.target) == ("manager", None, "address 127.0.0.66")
    assert (signed_in.user_id, signed_in.target) == (users["manager"].id, "address 127.0.0.10")
    assert (signed_out.user_id, signed_out.target) == (users["manager"].id, "address 127.0.0.10")


def test_every_download_is_audited_with_who_and_what(client, users, sign_in, db):
    sign_in(users["lead"])
    response = client.get("/exports/outlet-scores.csv?period=30d")
    assert response.status_code == 200
    (entry,) = _entries(db, AuditAction.EXPORTED)
    assert (entry.user_id, entry.target, entry.after) == (users["lead"].id, "outlet-scores.csv",
                                                          {"args": "period=30d"})


def test_the_session_cookie_is_secure_httponly_and_samesite(client, users):
    response = _sign_in(client, "manager", "password123")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_can_be_turned_off_for_a_plain_http_demo(runtime, users):
    runtime.settings = runtime.settings.replace(cookie_secure=False)
    client = create_app(runtime=runtime).test_client()
    cookie = _sign_in(client, "manager", "password123").headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
