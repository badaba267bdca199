"""Users, roles, outlet scope and integrators' API tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from channels.characters import text_problem
from channels.models import Outlet
from survey.accounts.audit import AuditAction, record
from survey.accounts.models import ApiToken, Role, TokenScope, User
from survey.accounts.throttle import locked_until

TOKEN_PREFIX = "tp_"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # what the sign-in form accepts
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # how precisely a token's last use is kept
_DUMMY_HASH = generate_password_hash("not a password anyone has")


class AccountError(ValueError):
    """A user or token request that cannot be carried out; the message names the field."""

    @property
    def field(self) -> str:
        """The field the message names ("password: …" → "password")."""
        return str(self).partition(":")[0]


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; a slow KDF would only slow the API.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Session, name: str, *, now: datetime, user: User | None = None,
                 scopes: tuple[TokenScope, ...] = (TokenScope.INGEST,), actor: User | None = None) -> str:
    """Store a new token's hash and return the token itself, which is shown only once.

    actor: the admin creating it on the admin pages; the creation is then audit-logged."""
    if not name.strip():
        raise AccountError("name: required")
    if len(name) > 64:
        raise AccountError("name: at most 64 characters")
    _check_text("name", name)
    if not scopes:
        raise AccountError("scopes: a token needs at least one")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), user_id=user.id if user else None,
                   scopes=",".join(sorted({TokenScope(s).value for s in scopes})), created_at=now)
    db.add(row)
    db.flush()
    if actor is not None:
        record(db, actor=actor, action=AuditAction.TOKEN_CREATED, target=f"token {row.id} {name}", now=now,
               after={"name": name, "scopes": row.scopes, "user": user.username if user else None})
    return token


def authenticate_token(db: Session, token: str, *, now: datetime,
                       scope: TokenScope = TokenScope.INGEST) -> ApiToken | None:
    """The live token matching token and allowed scope, or None; records when it was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if scope.value not in row.scopes.split(","):
        return None
    if row.user_id is not None and not row.user.is_active:
        return None  # a disabled user's tokens stop with the user
    # At most once a minute: an UPDATE per request would queue every concurrent request on this row.
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION:
        row.last_used_at = now
    return row


def create_user(db: Session, username: str, password: str, role: Role, *, now: datetime,
                outlet_codes: tuple[str, ...] = (), actor: User | None = None) -> User:
    """A user; a channel lead must be given the outlets it may see.

    actor: the admin creating it on the admin pages; the creation is then audit-logged."""
    if not username.strip():
        raise AccountError("username: required")
    if len(username) > 64:
        raise AccountError("username: at most 64 characters")
    _check_text("username", username)
    _check_password(password)
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username: {username} exists")
    outlets = _outlets_for(db, role, outlet_codes)
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                created_at=now, outlets=outlets)
    db.add(user)
    db.flush()
    if actor is not None:
        record(db, actor=actor, action=AuditAction.USER_CREATED, target=_target(user), now=now,
               after=user_snapshot(user))
    return user


def _check_text(field: str, text: str) -> None:
    # Names are matched and shown as typed: no control, invisible or bidi characters (PostgreSQL
    # refuses NUL outright, and a look-alike name would pass for another user's).
    problem = text_problem(text)
    if problem:
        raise AccountError(f"{field}: {problem}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password: at most {MAX_PASSWORD_LENGTH} characters")


def _outlets_for(db: Session, role: Role, outlet_codes: tuple[str, ...]) -> list[Outlet]:
    for code in outlet_codes:
        _check_text("outlets", code)
    outlets = list(db.scalars(select(Outlet).where(Outlet.code.in_(outlet_codes)))) if outlet_codes else []
    unknown = set(outlet_codes) - {o.code for o in outlets}
    if unknown:
        raise AccountError(f"outlets: unknown codes {', '.join(sorted(unknown))}")
    if role is Role.CHANNEL_LEAD and not outlets:
        raise AccountError("outlets: a channel lead needs at least one outlet")
    return sorted(outlets, key=lambda o: o.code)


def sign_in(db: Session, username: str, password: str, *, now: datetime) -> User | None:
    """The user when the password is right and the account neither locked nor disabled; counts
    wrong passwords and locks the account for a while after too many (see throttle)."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # as slow as a real check: no hint the name is unknown
        return None
    if user.locked_until is not None and now < user.locked_until:
        return None
    if user.disabled_at is not None:
        check_password_hash(user.password_hash, password)  # the same time as any refusal: no hint
        return None
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        user.locked_until = locked_until(user.failed_logins, now)
        return None
    user.failed_logins, user.locked_until = 0, None
    return user


# -- What an admin does to users and tokens; each change audit-logged in its own transaction ------


def user_snapshot(user: User) -> dict:
    """A user as the audit log records it (never the password hash)."""
    return {"username": user.username, "role": user.role.value,
            "outlets": sorted(o.code for o in user.outlets), "disabled": user.disabled_at is not None}


def _target(user: User) -> str:
    return f"user {user.id} {user.username}"


def _other_active_admins(db: Session, user: User) -> int:
    return db.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.disabled_at.is_(None), User.id != user.id)) or 0


def _keep_an_admin(db: Session, user: User, actor: User, field: str) -> None:
    """Refuse a change that would take user out of the active admins when it is the actor itself
    (an admin who locks themselves out needs a database console to get back) or the last one."""
    if user.role is not Role.ADMIN or user.disabled_at is not None:
        return
    if user.id == actor.id:
        raise AccountError(f"{field}: you cannot do this to your own account")
    if _other_active_admins(db, user) == 0:
        raise AccountError(f"{field}: {user.username} is the last active admin")


def update_user(db: Session, user: User, *, role: Role, outlet_codes: tuple[str, ...], actor: User,
                now: datetime) -> bool:
    """Change a user's role and outlets (a channel lead keeps at least one); False when nothing changed."""
    before = user_snapshot(user)
    if role is not Role.ADMIN:
        _keep_an_admin(db, user, actor, "role")
    # Only a channel lead is scoped to outlets; for the others they would mean nothing.
    outlets = _outlets_for(db, role, outlet_codes) if role is Role.CHANNEL_LEAD else []
    user.role, user.outlets = role, outlets
    after = user_snapshot(user)
    if after == before:
        return False
    db.flush()
    record(db, actor=actor, action=AuditAction.USER_CHANGED, target=_target(user), now=now,
           before=before, after=after)
    return True


def reset_password(db: Session, user: User, password: str, *, actor: User, now: datetime) -> None:
    """Give a user a new password, which also lifts a sign-in lock."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    was_locked = user.locked_until is not None and now < user.locked_until
    user.failed_logins, user.locked_until = 0, None
    record(db, actor=actor, action=AuditAction.PASSWORD_RESET, target=_target(user), now=now,
           after={"unlocked": was_locked})


def set_disabled(db: Session, user: User, disabled: bool, *, actor: User, now: datetime) -> bool:
    """Disable (no sign-in, no page, no token of theirs) or enable a user; False when already so."""
    if disabled == (user.disabled_at is not None):
        return False
    if disabled:
        _keep_an_admin(db, user, actor, "disabled")
    before = user_snapshot(user)
    user.disabled_at = now if disabled else None
    record(db, actor=actor, action=AuditAction.USER_DISABLED if disabled else AuditAction.USER_ENABLED,
           target=_target(user), now=now, before=before, after=user_snapshot(user))
    return True


def delete_user(db: Session, user: User, *, actor: User, now: datetime) -> None:
    """Delete a user; their tokens are revoked first (a token of nobody's would read everything)."""
    _keep_an_admin(db, user, actor, "delete")
    before = user_snapshot(user)
    tokens = list(db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
    for token in tokens:
        token.revoked_at = token.revoked_at or now
        token.user_id = None
    before["tokens_revoked"] = sorted(t.name for t in tokens)
    record(db, actor=actor, action=AuditAction.USER_DELETED, target=_target(user), now=now, before=before)
    db.delete(user)
    db.flush()


def list_users(db: Session) -> list[User]:
    """Every user, by name."""
    return list(db.scalars(select(User).order_by(User.username)))


def list_tokens(db: Session) -> list[ApiToken]:
    """Every token, the newest first (revoked ones too: they show who once had access)."""
    return list(db.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def revoke_token(db: Session, token: ApiToken, *, actor: User, now: datetime) -> bool:
    """Revoke a token for good; False when it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    record(db, actor=actor, action=AuditAction.TOKEN_REVOKED, target=f"token {token.id} {token.name}",
           now=now, before={"revoked": False}, after={"revoked": True})
    return True
