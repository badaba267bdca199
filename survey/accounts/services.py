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
from survey.accounts.models import ApiToken, Role, User

TOKEN_PREFIX = "tp_"


class AccountError(ValueError):
    """A user or token request that cannot be carried out; the message names the field."""


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; a slow KDF would only slow the API.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Session, name: str, *, now: datetime, user: User | None = None) -> str:
    """Store a new token's hash and return the token itself, which is shown only once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(name=name, token_hash=hash_token(token), user_id=user.id if user else None,
                    created_at=now))
    db.flush()
    return token


def authenticate_token(db: Session, token: str, *, now: datetime) -> ApiToken | None:
    """The live token matching token, or None; records when it was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
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


def check_password(db: Session, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not check_password_hash(user.password_hash, password):
        return None
    return user
