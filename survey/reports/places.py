"""Regions, cities and outlets a viewer may see: the levels of the drill-down."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.models import City, Outlet, Region
from survey.reports.selection import NotVisible


@dataclass(frozen=True)
class Place:
    """An outlet with the city and region it belongs to."""

    code: str
    name: str
    channel: str
    kind: str
    region: str
    city: str


def places(db: Session, scope: Sequence[str] | None, *, region: str | None = None,
           city: str | None = None, code: str | None = None) -> list[Place]:
    """The outlets in scope (and in the region, city or with the code given), by region, city, code."""
    q = (select(Outlet.code, Outlet.name, Outlet.channel, Outlet.kind, Region.name, City.name)
         .join(City, City.id == Outlet.city_id).join(Region, Region.id == City.region_id)
         .order_by(Region.name, City.name, Outlet.code))
    if scope is not None:
        q = q.where(Outlet.code.in_(list(scope)))
    if region is not None:
        q = q.where(Region.name == region)
    if city is not None:
        q = q.where(City.name == city)
    if code is not None:
        q = q.where(Outlet.code == code)
    return [Place(c, n, str(ch), str(k), r, ci) for c, n, ch, k, r, ci in db.execute(q)]


def place(db: Session, scope: Sequence[str] | None, code: str) -> Place:
    """One outlet in scope; NotVisible when it does not exist or is not the viewer's."""
    found = places(db, scope, code=code)
    if not found:
        raise NotVisible("outlet")
    return found[0]


def places_in(db: Session, scope: Sequence[str] | None, region: str | None, city: str | None) -> list[Place]:
    """The outlets in scope in a region (and city); NotVisible when there are none, so a region the
    viewer has no outlet in looks like one that does not exist."""
    found = places(db, scope, region=region, city=city)
    if (region is not None or city is not None) and not found:
        raise NotVisible("region" if city is None else "city")
    return found


def outlet_label(code: str, names: dict[str, str]) -> str:
    """"S001 徐汇1号营业厅": an outlet's code with its name."""
    return f"{code} {names.get(code, '')}".strip()


def outlet_names(db: Session, scope: Sequence[str] | None) -> dict[str, str]:
    """The names of the outlets in scope, by code."""
    q = select(Outlet.code, Outlet.name)
    if scope is not None:
        q = q.where(Outlet.code.in_(list(scope)))
    return dict(db.execute(q).all())
