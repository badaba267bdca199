"""The audit log: every change an admin makes, written in the same transaction as the change, so
the log holds exactly the changes that were stored."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
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


# What each action is called on the audit page.
ACTION_LABELS = {
    AuditAction.USER_CREATED: "新建用户", AuditAction.USER_CHANGED: "修改用户",
    AuditAction.PASSWORD_RESET: "重置密码", AuditAction.USER_DISABLED: "停用用户",
    AuditAction.USER_ENABLED: "启用用户", AuditAction.USER_DELETED: "删除用户",
    AuditAction.TOKEN_CREATED: "创建令牌", AuditAction.TOKEN_REVOKED: "吊销令牌",
    AuditAction.OUTLETS_IMPORTED: "导入网点", AuditAction.POLICY_SET: "修改调查规则",
    AuditAction.POLICY_CLEARED: "恢复默认规则", AuditAction.DO_NOT_SURVEY_ADDED: "加入免打扰",
    AuditAction.DO_NOT_SURVEY_REMOVED: "移出免打扰",
}


def record(db: Session, *, actor: User, action: AuditAction, target: str, now: datetime,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEntry:
    """Add an entry to the log in db's transaction (it is stored only if the change is)."""
    entry = AuditEntry(at=now, user_id=actor.id, username=actor.username, action=action.value,
                       target=target[:128], before=before, after=after)
    db.add(entry)
    return entry


def entries(db: Session, *, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[AuditEntry]:
    """The newest entries first, a page at a time (before_id: the last id of the previous page)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db.scalars(query))
