"""Users, roles, outlet scope and integrators' API tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from channels.models import Outlet
from survey.accounts.models import ApiToken, Role, TokenScope, User
from survey.accounts.throttle import locked_until

TOKEN_PREFIX = "tp_"
_DUMMY_HASH = generate_password_hash("not a password anyone has")


class AccountError(ValueError):
    """A user or token request that cannot be carried out; the message names the field."""


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; a slow KDF would only slow the API.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Session, name: str, *, now: datetime, user: User | None = None,
                 scopes: tuple[TokenScope, ...] = (TokenScope.INGEST,)) -> str:
    """Store a new token's hash and return the token itself, which is shown only once."""
    if not scopes:
        raise AccountError("scopes: a token needs at least one")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(name=name, token_hash=hash_token(token), user_id=user.id if user else None,
                    scopes=",".join(sorted({TokenScope(s).value for s in scopes})), created_at=now))
    db.flush()
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
    row.last_used_at = now
    return row


def create_user(db: Session, username: str, password: str, role: Role, *, now: datetime,
                outlet_codes: tuple[str, ...] = ()) -> User:
    """A user; a channel lead must be given the outlets it may see."""
    if not username.strip():
        raise AccountError("username: required")
    if len(password) < 8:
        raise AccountError("password: at least 8 characters")
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username: {username} exists")
    outlets = list(db.scalars(select(Outlet).where(Outlet.code.in_(outlet_codes)))) if outlet_codes else []
    unknown = set(outlet_codes) - {o.code for o in outlets}
    if unknown:
        raise AccountError(f"outlets: unknown codes {', '.join(sorted(unknown))}")
    if role is Role.CHANNEL_LEAD and not outlets:
        raise AccountError("outlets: a channel lead needs at least one outlet")
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                created_at=now, outlets=outlets)
    db.add(user)
    db.flush()
    return user


def sign_in(db: Session, username: str, password: str, *, now: datetime) -> User | None:
    """The user when the password is right and the account is not locked; counts wrong passwords
    and locks the account for a while after too many (see throttle)."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # as slow as a real check: no hint the name is unknown
        return None
    if user.locked_until is not None and now < user.locked_until:
        return None
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        user.locked_until = locked_until(user.failed_logins, now)
        return None
    user.failed_logins, user.locked_until = 0, None
    return user
