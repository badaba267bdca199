"""The audit log: every change an admin makes, written in the same transaction as the change, so
the log holds exactly the changes that were stored; every sign-in, refused sign-in and sign-out
with the address it came from; every download (export) with what was asked for.

Refused sign-ins are also what the per-address throttle counts (survey.accounts.throttle): rows,
so every web process sees the same count."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.accounts.models import AuditEntry, User

PAGE_SIZE = 100


class AuditAction(StrEnum):
    USER_CREATED = "user.create"
    USER_CHANGED = "user.update"
    PASSWORD_RESET = "user.password_reset"
    USER_DISABLED = "user.disable"
    USER_ENABLED = "user.enable"
    USER_DELETED = "user.delete"
    TOKEN_CREATED = "token.create"
    TOKEN_REVOKED = "token.revoke"
    OUTLETS_IMPORTED = "outlets.import"
    POLICY_SET = "policy.set"
    POLICY_CLEARED = "policy.clear"
    DO_NOT_SURVEY_ADDED = "do_not_survey.add"
    DO_NOT_SURVEY_REMOVED = "do_not_survey.remove"
    SIGNED_IN = "sign_in"
    SIGN_IN_REFUSED = "sign_in.refused"
    SIGNED_OUT = "sign_out"
    EXPORTED = "export"


# What each action is called on the audit page.
ACTION_LABELS = {
    AuditAction.USER_CREATED: "新建用户", AuditAction.USER_CHANGED: "修改用户",
    AuditAction.PASSWORD_RESET: "重置密码", AuditAction.USER_DISABLED: "停用用户",
    AuditAction.USER_ENABLED: "启用用户", AuditAction.USER_DELETED: "删除用户",
    AuditAction.TOKEN_CREATED: "创建令牌", AuditAction.TOKEN_REVOKED: "吊销令牌",
    AuditAction.OUTLETS_IMPORTED: "导入网点", AuditAction.POLICY_SET: "修改调查规则",
    AuditAction.POLICY_CLEARED: "恢复默认规则", AuditAction.DO_NOT_SURVEY_ADDED: "加入免打扰",
    AuditAction.DO_NOT_SURVEY_REMOVED: "移出免打扰", AuditAction.SIGNED_IN: "登录",
    AuditAction.SIGN_IN_REFUSED: "登录被拒", AuditAction.SIGNED_OUT: "退出登录",
    AuditAction.EXPORTED: "导出",
}
UNREADABLE_NAME = "(unreadable name)"  # a refused sign-in's typed name that cannot be stored as text


def record(db: Session, *, actor: User | None, action: AuditAction, target: str, now: datetime,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           username: str | None = None) -> AuditEntry:
    """Add an entry to the log in db's transaction (it is stored only if the change is); without
    an actor (a refused sign-in), username is the name that was typed."""
    entry = AuditEntry(at=now, user_id=actor.id if actor else None,
                       username=(actor.username if actor else username or "")[:64],
                       action=action.value, target=target[:128], before=before, after=after)
    db.add(entry)
    return entry


def address_target(address: str | None) -> str:
    """How a sign-in's entry names where it came from (the per-address throttle looks it up)."""
    return f"address {address or 'unknown'}"


def record_sign_in(db: Session, *, typed: str, user: User | None, address: str | None,
                   now: datetime, reason: str = "") -> AuditEntry:
    """A sign-in (user given) or a refused one (reason: wrong password, locked, throttled ...)."""
    action = AuditAction.SIGNED_IN if user is not None else AuditAction.SIGN_IN_REFUSED
    return record(db, actor=user, action=action, target=address_target(address), now=now,
                  username=typed, after={"reason": reason} if reason else None)


def refused_sign_ins(db: Session, address: str | None, since: datetime) -> int:
    """How many sign-ins from this address were refused since then."""
    return db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == AuditAction.SIGN_IN_REFUSED.value,
        AuditEntry.target == address_target(address), AuditEntry.at >= since)) or 0


def entries(db: Session, *, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[AuditEntry]:
    """The newest entries first, a page at a time (before_id: the last id of the previous page)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db.scalars(query))
