"""A report pack as a row: what it covers (kind, period, scope), the data behind its pages (JSON) and
its XLSX, unique per kind, period and scope so a period is built once however many workers run."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from channels.sql.base import Base, str_enum
from survey.packs.periods import PackKind


class ScopeKind(StrEnum):
    OPERATOR = "operator"  # every outlet (managers and admins)
    REGION = "region"  # a region's outlets (managers and admins)
    LEAD = "lead"  # a channel lead's outlets (that lead, managers and admins)


class ReportPack(Base):
    __tablename__ = "report_packs"
    __table_args__ = (UniqueConstraint("kind", "period_start", "scope_kind", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PackKind] = mapped_column(str_enum(PackKind))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # included
    scope_kind: Mapped[ScopeKind] = mapped_column(str_enum(ScopeKind))
    scope_key: Mapped[str] = mapped_column(String(64))  # "" (operator), the region's name, the lead's user id
    scope_label: Mapped[str] = mapped_column(String(64))  # 全部, the region's name, the lead's username
    outlets: Mapped[list[str] | None] = mapped_column(JSON)  # the scope's codes when built (None: all)
    # Loaded when read, not with every row of a list.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of data and xlsx: a rebuild of the same data matches
    built_at: Mapped[datetime]
    built_by: Mapped[str] = mapped_column(String(64))
