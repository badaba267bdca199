"""Which packs are due (periods ended in the configured zone, per scope, without a row yet), building
one (its row is the claim: unique per kind, period and scope, so a second worker's insert fails and
nothing is built twice), and which packs a user may read."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.models import City, Outlet, Region
from survey.accounts.models import Role, User
from survey.accounts.scope import scope_for
from survey.packs.building import Scope, build_content
from survey.packs.models import ReportPack, ScopeKind
from survey.packs.periods import PackKind, Period, ended_periods

# How many ended periods of each kind a worker looks back over: one that was down a while catches up.
CATCH_UP: Mapping[PackKind, int] = {PackKind.DAILY: 3, PackKind.DEKAD: 2, PackKind.MONTHLY: 2}


def scopes(db: Session) -> list[Scope]:
    """The whole operator, each region (its outlets), each active channel lead with outlets (theirs)."""
    out = [Scope(ScopeKind.OPERATOR.value, "", "全部", None)]
    by_region: dict[str, list[str]] = {}
    for region, code in db.execute(select(Region.name, Outlet.code).join(City, City.region_id == Region.id)
                                   .join(Outlet, Outlet.city_id == City.id).order_by(Region.name, Outlet.code)):
        by_region.setdefault(region, []).append(code)
    out += [Scope(ScopeKind.REGION.value, region, region, tuple(codes)) for region, codes in by_region.items()]
    leads = db.scalars(select(User).where(User.role == Role.CHANNEL_LEAD, User.disabled_at.is_(None))
                       .order_by(User.id))
    for lead in leads:
        outlets = scope_for(lead)
        if outlets:  # a lead with no outlets has nothing to read
            out.append(Scope(ScopeKind.LEAD.value, str(lead.id), lead.username, outlets))
    return out


def _key(kind: PackKind, start: date, scope_kind: str, scope_key: str) -> tuple:
    return kind.value, start, scope_kind, scope_key


def due(db: Session, today: date, *, catch_up: Mapping[PackKind, int] = CATCH_UP) -> list[tuple[Period, Scope]]:
    """The (period, scope) pairs whose period ended before the local day `today` and that have no pack."""
    periods = [p for kind, count in catch_up.items() for p in ended_periods(kind, today, count=count)]
    if not periods:
        return []
    first = min(p.start for p in periods)
    have = {_key(PackKind(k), s, str(sk), key) for k, s, sk, key in db.execute(
        select(ReportPack.kind, ReportPack.period_start, ReportPack.scope_kind, ReportPack.scope_key)
        .where(ReportPack.period_start >= first))}
    every = scopes(db)
    return [(p, s) for p in periods for s in every if _key(p.kind, p.start, s.kind, s.key) not in have]


def store_pack(db: Session, period: Period, scope: Scope, *, tz: tzinfo, now: datetime,
               built_by: str) -> ReportPack | None:
    """Claim the pack's row, then build its content into it; None when it exists already.

    The row goes in before the content is built: another worker's insert of the same key then
    waits on the unique constraint until this transaction ends and fails (PostgreSQL), or cannot
    begin its write until then (SQLite), so a pack is built once, not only stored once. A worker
    killed while building rolls back its claim and the pack stays due."""
    exists = db.scalar(select(ReportPack.id).where(
        ReportPack.kind == period.kind, ReportPack.period_start == period.start,
        ReportPack.scope_kind == ScopeKind(scope.kind), ReportPack.scope_key == scope.key))
    if exists is not None:
        return None
    pack = ReportPack(kind=period.kind, period_start=period.start, period_end=period.end,
                      scope_kind=ScopeKind(scope.kind), scope_key=scope.key, scope_label=scope.label,
                      outlets=None if scope.outlets is None else list(scope.outlets), data={}, xlsx=b"",
                      sha256="", built_at=now, built_by=built_by)
    db.add(pack)
    db.flush()  # the claim: IntegrityError here when another worker holds or has stored this pack
    content = build_content(db, period, scope, tz=tz)
    pack.data, pack.xlsx, pack.sha256 = content.data, content.xlsx, content.sha256
    db.flush()
    return pack


def _visible(user: User):
    """The condition on packs a user may read: a lead only their own, managers and admins all."""
    if user.role is Role.CHANNEL_LEAD:
        return (ReportPack.scope_kind == ScopeKind.LEAD) & (ReportPack.scope_key == str(user.id))
    return ReportPack.id.is_not(None)


def visible_packs(db: Session, user: User, *, kind: PackKind | None = None, limit: int = 200) -> list[ReportPack]:
    """The packs the user may read, newest period first (without their content columns loaded)."""
    q = select(ReportPack).where(_visible(user))
    if kind is not None:
        q = q.where(ReportPack.kind == kind)
    q = q.order_by(ReportPack.period_start.desc(), ReportPack.kind, ReportPack.scope_kind, ReportPack.scope_key)
    return list(db.scalars(q.limit(limit)))


def pack_for(db: Session, pack_id: int, user: User) -> ReportPack | None:
    """One pack if the user may read it; None whether it is missing or someone else's (the same 404)."""
    return db.scalar(select(ReportPack).where(ReportPack.id == pack_id, _visible(user)))
