"""Users, their roles and outlets, and integrators' API tokens."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channels.models import Outlet
from channels.sql.base import Base, str_enum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    CHANNEL_LEAD = "channel_lead"


class TokenScope(StrEnum):
    INGEST = "ingest"  # push interactions
    READ = "read"  # results, short boards and trends as JSON


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    created_at: Mapped[datetime]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]  # sign-in refused until then, after too many wrong passwords
    disabled_at: Mapped[datetime | None]  # set by an admin: no sign-in, no page, no token of theirs
    outlets: Mapped[list[Outlet]] = relationship(secondary="user_outlets")

    # What Flask-Login asks of a user, written out so identity needs no web framework. A disabled
    # user is not authenticated: a session signed in before the admin disabled the account leads
    # back to sign-in at its next request, which sign_in then refuses.
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_authenticated(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str:
        return str(self.id)


class UserOutlet(Base):
    """The outlets a channel lead may see: scope is applied in queries, not by hiding links."""

    __tablename__ = "user_outlets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    """An integrator's bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What the token may do, comma-separated TokenScope values; a token bound to a user reads only
    # what that user may see.
    scopes: Mapped[str] = mapped_column(String(64), default="ingest", server_default="ingest")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()

    @property
    def scope_list(self) -> tuple[TokenScope, ...]:
        return tuple(TokenScope(s) for s in self.scopes.split(",") if s)


class AuditEntry(Base):
    """One change an admin made: who, when, what, and the values before and after (JSON; never a
    password or a token). The user's name is copied so the entry still reads after a deletion."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
