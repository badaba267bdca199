"""A parsed filter resolved against the database and the viewer's scope: what every query takes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from analysis.queries import Criteria
from channels.models import BusinessType, Outlet
from survey.reports.filters import BadParameter, ReportFilter


class NotVisible(LookupError):
    """Something that does not exist or lies outside the viewer's scope: the two look the same, so a
    guessed code or id tells nothing."""


@dataclass(frozen=True)
class Selection:
    """The answers a page counts: outlet codes (None: all), a UTC window and value criteria.

    `scope` is already narrowed to the filter's outlets; `tz` is the zone the days are local to.
    """

    filter: ReportFilter
    scope: tuple[str, ...] | None
    criteria: Criteria
    since: datetime
    until: datetime
    tz: tzinfo

    @property
    def previous_since(self) -> datetime:
        """Start of the window of equal length just before this one."""
        return self.filter.previous.bounds(self.tz)[0]

    def window(self) -> dict:
        """Keyword arguments of analysis.queries for this selection's window, scope and criteria."""
        return {"scope": self.scope, "since": self.since, "until": self.until, "criteria": self.criteria}

    def within(self, codes: Sequence[str]) -> Selection:
        """The same selection narrowed to these outlets (a region or city being drilled into)."""
        allowed = tuple(codes) if self.scope is None else tuple(c for c in codes if c in set(self.scope))
        return replace(self, scope=allowed)

    def over(self, start: date, end: date) -> Selection:
        """The same selection over other local days (the months a trend alert compares)."""
        f = replace(self.filter, start=start, end=end - timedelta(days=1), period=None, explicit_dates=True)
        since, until = f.bounds(self.tz)
        return replace(self, filter=f, since=since, until=until)


def business_type_spellings(db: Session, values: Sequence[str]) -> tuple[str, ...]:
    """Each business type named by code or name, as both (answers carry the name, older rows the
    code); an unknown one is a BadParameter."""
    if not values:
        return ()
    rows = db.execute(select(BusinessType.code, BusinessType.name)
                      .where(or_(BusinessType.code.in_(list(values)), BusinessType.name.in_(list(values))))).all()
    known = {v for row in rows for v in row}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise BadParameter("business_type", f"unknown business type {unknown[0][:40]!r}")
    return tuple(sorted(known))


def business_type_options(db: Session) -> list[tuple[str, str]]:
    """Every business type as (code, name), for the filter form."""
    return [tuple(row) for row in db.execute(select(BusinessType.code, BusinessType.name).order_by(BusinessType.id))]


def visible_codes(db: Session, scope: Sequence[str] | None, codes: Sequence[str]) -> tuple[str, ...]:
    """The outlets asked for, each of which must exist and be in scope, else NotVisible."""
    q = select(Outlet.code).where(Outlet.code.in_(list(codes)))
    if scope is not None:
        q = q.where(Outlet.code.in_(list(scope)))
    found = set(db.scalars(q))
    if any(code not in found for code in codes):
        raise NotVisible("outlet")
    return tuple(codes)


def resolve(db: Session, f: ReportFilter, *, scope: Sequence[str] | None, tz: tzinfo) -> Selection:
    """The filter against the database: business types checked, outlets checked against scope."""
    criteria = Criteria(f.channels, business_type_spellings(db, f.business_types), f.attributes)
    narrowed = None if scope is None else tuple(scope)
    if f.outlets:
        narrowed = visible_codes(db, scope, f.outlets)
    since, until = f.bounds(tz)
    return Selection(f, narrowed, criteria, since, until, tz)
