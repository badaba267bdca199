"""Who owns a case and who an overdue one goes to: routing rows (case_routes) and channel leads.

Owner of a new case: a route for its outlet, else the outlet's channel lead, else a route for its
city, region or channel (a team account), else nobody (managers see it and it escalates as usual).
Escalation: level 1 goes to the routes for the case's city, level 2 to those for its region; where
none is set, to every active manager.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.characters import text_problem
from channels.models import Outlet
from survey.accounts.models import Role, User, UserOutlet
from survey.cases.states import RouteDuty, RouteMatch
from survey.models import CaseRoute

LEVEL_DUTIES = {1: RouteDuty.CITY, 2: RouteDuty.REGION}
LEVEL_MATCH = {RouteDuty.CITY: RouteMatch.CITY, RouteDuty.REGION: RouteMatch.REGION}


@dataclass
class Routes:
    """All routing rows and the active managers, loaded once per batch (a small table)."""

    by_key: dict[tuple[RouteDuty, RouteMatch, str], list[int]] = field(default_factory=dict)
    managers: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, db: Session) -> "Routes":
        routes = cls()
        for duty, match, key, user_id in db.execute(
                select(CaseRoute.duty, CaseRoute.match_kind, CaseRoute.match_key, CaseRoute.user_id)
                .join(User, User.id == CaseRoute.user_id).where(User.disabled_at.is_(None))
                .order_by(CaseRoute.id)):
            routes.by_key.setdefault((duty, match, key), []).append(user_id)
        routes.managers = list(db.scalars(select(User.id).where(User.role == Role.MANAGER,
                                                                User.disabled_at.is_(None)).order_by(User.id)))
        return routes

    def first(self, duty: RouteDuty, match: RouteMatch, key: str) -> int | None:
        users = self.by_key.get((duty, match, key))
        return users[0] if users else None

    def escalation(self, level: int, *, city: str, region: str) -> list[int]:
        """Who an overdue case goes to at level 1 (its city) or 2 (its region); managers by default."""
        duty = LEVEL_DUTIES.get(level, RouteDuty.REGION)
        key = city if duty is RouteDuty.CITY else region
        return list(self.by_key.get((duty, LEVEL_MATCH[duty], key), ())) or list(self.managers)


def channel_leads(db: Session, outlet_codes: Iterable[str]) -> dict[str, int]:
    """{outlet code: its channel lead} (the longest-standing active one when there are several)."""
    codes = sorted(set(outlet_codes))
    leads: dict[str, int] = {}
    for start in range(0, len(codes), 5000):
        leads.update(db.execute(
            select(Outlet.code, func.min(User.id))
            .join(UserOutlet, UserOutlet.outlet_id == Outlet.id).join(User, User.id == UserOutlet.user_id)
            .where(Outlet.code.in_(codes[start:start + 5000]), User.role == Role.CHANNEL_LEAD,
                   User.disabled_at.is_(None))
            .group_by(Outlet.code)).all())
    return leads


def owners(db: Session, places: Iterable[tuple[str, str, str, str]], routes: Routes | None = None) -> dict[str, int | None]:
    """{outlet code: owner of its new cases} for (outlet, channel, city, region) places."""
    places = {p[0]: p for p in places}
    routes = routes or Routes.load(db)
    leads = channel_leads(db, places)
    found: dict[str, int | None] = {}
    for code, (_, channel, city, region) in places.items():
        found[code] = next((user for user in (
            routes.first(RouteDuty.OWNER, RouteMatch.OUTLET, code), leads.get(code),
            routes.first(RouteDuty.OWNER, RouteMatch.CITY, city),
            routes.first(RouteDuty.OWNER, RouteMatch.REGION, region),
            routes.first(RouteDuty.OWNER, RouteMatch.CHANNEL, channel)) if user is not None), None)
    return found


class RouteError(ValueError):
    """A routing row that cannot be stored; str() is "field: problem"."""


# What each duty may be matched on: owners by outlet, city, region or channel; escalation levels by place.
ALLOWED_MATCHES = {RouteDuty.OWNER: tuple(RouteMatch), RouteDuty.CITY: (RouteMatch.CITY,),
                   RouteDuty.REGION: (RouteMatch.REGION,)}


def check_route(duty: RouteDuty, match: RouteMatch, key: str, user: User | None) -> None:
    """Refuse a routing row that could never apply; raises RouteError naming the field."""
    if match not in ALLOWED_MATCHES[duty]:
        raise RouteError("match_kind: 该职责不能按此范围配置")
    if not key or len(key) > 64 or text_problem(key):
        raise RouteError("match_key: 请填写 64 个字符以内的编码或名称")
    if user is None or user.disabled_at is not None:
        raise RouteError("username: 没有这个启用中的用户")


def set_route(db: Session, duty: RouteDuty, match: RouteMatch, key: str, user: User) -> CaseRoute:
    """Add a routing row (kept if it exists)."""
    check_route(duty, match, key, user)
    route = db.scalar(select(CaseRoute).where(CaseRoute.duty == duty, CaseRoute.match_kind == match,
                                              CaseRoute.match_key == key, CaseRoute.user_id == user.id))
    if route is None:
        route = CaseRoute(duty=duty, match_kind=match, match_key=key, user_id=user.id)
        db.add(route)
        db.flush()
    return route
