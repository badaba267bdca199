"""Use cases of channels/: record interactions (API and CSV end here), upsert outlets, seed types."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.sql.bulk import existing_keys, insert_rows
from channels.models import BusinessType, City, Outlet, Region
from channels.rows import FieldError, InteractionRow, OutletRow, Parsed, parse_interaction, parse_outlet
from channels.taxonomy import DEFAULT_BUSINESS_TYPES


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ItemOutcome:
    index: int
    outcome: Outcome
    id: int | None = None
    errors: tuple[FieldError, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "status": self.outcome.value}
        if self.id is not None:
            data["id"] = self.id
        if self.errors:
            data["errors"] = [str(e) for e in self.errors]
        return data


@dataclass(frozen=True)
class IngestResult:
    """Counts, the rejected items, and (when asked for) every item's outcome in order."""

    created: int
    duplicates: int
    rejected: tuple[ItemOutcome, ...]
    outcomes: tuple[ItemOutcome, ...] | None = None


INTERACTION_COLUMNS = ("source", "external_id", "channel", "outlet_id", "business_type_id", "msisdn",
                       "ended_at", "staff_id", "attributes", "received_at")


def record_interactions(db: Session, items: Sequence[Mapping[str, Any]], *, now: datetime, tz: tzinfo,
                        region: str = "CN", default_source: str | None = None,
                        per_item: bool = True) -> IngestResult:
    """Store the valid items once each (same source + external id is a duplicate); report the rest.

    per_item=False skips the look-ups that tell which item was a duplicate and its new id, leaving
    counts only: what a bulk CSV import needs, at a fraction of the cost.
    """
    parsed = [parse_interaction(item, tz=tz, now=now, region=region, default_source=default_source)
              for item in items]
    return store_parsed(db, parsed, now=now, per_item=per_item)


def store_parsed(db: Session, parsed: Sequence[Parsed], *, now: datetime, per_item: bool = True) -> IngestResult:
    """The storing half of record_interactions, for rows parsed elsewhere (a bulk import's parser process)."""
    good = [p for p in parsed if isinstance(p, InteractionRow)]
    outlets = _outlets_by_code(db, {p.outlet for p in good})
    business = _business_types_by_key(db, {p.business_type for p in good if p.business_type})

    outcomes: list[ItemOutcome | None] = [None] * len(parsed)
    rejected: list[ItemOutcome] = []
    first: dict[tuple[str, str], int] = {}  # (source, external_id) -> position of its first occurrence
    rows: list[dict[str, Any]] = []
    for position, item in enumerate(parsed):
        resolved = _resolve(item, outlets, business) if isinstance(item, InteractionRow) else item
        if isinstance(resolved, list):
            outcomes[position] = ItemOutcome(position, Outcome.REJECTED, errors=tuple(resolved))
            rejected.append(outcomes[position])
        elif (item.source, item.external_id) in first:
            outcomes[position] = ItemOutcome(position, Outcome.DUPLICATE)
        else:
            first[(item.source, item.external_id)] = position
            resolved["received_at"] = now
            rows.append(resolved)

    if not per_item:
        created = insert_rows(db, "interactions", INTERACTION_COLUMNS, rows, conflict=("source", "external_id"))
        return IngestResult(created, len(parsed) - len(rejected) - created, tuple(rejected))

    inserted = _insert_new(db, rows)
    for key, position in first.items():
        new_id = inserted.get(key)
        outcome = Outcome.ACCEPTED if new_id is not None else Outcome.DUPLICATE
        outcomes[position] = ItemOutcome(position, outcome, new_id)
    created = len(inserted)
    return IngestResult(created, len(parsed) - len(rejected) - created, tuple(rejected), tuple(outcomes))


def _insert_new(db: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert the rows not stored yet; returns {(source, external_id): id} of those inserted now."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    inserted: dict[tuple[str, str], int] = {}
    for source, group in by_source.items():
        before = existing_keys(db, "interactions", "external_id", "source", source,
                               [r["external_id"] for r in group])
        new = [r for r in group if r["external_id"] not in before]
        # ON CONFLICT: a concurrent writer may have stored the same key since the look-up above.
        insert_rows(db, "interactions", INTERACTION_COLUMNS, new, conflict=("source", "external_id"))
        ids = existing_keys(db, "interactions", "external_id", "source", source, [r["external_id"] for r in new])
        inserted.update(((source, external_id), id_) for external_id, id_ in ids.items())
    return inserted


def _resolve(item: InteractionRow, outlets: Mapping[str, tuple[int, str]],
             business: Mapping[str, int]) -> dict[str, Any] | list[FieldError]:
    errors = []
    outlet = outlets.get(item.outlet)
    if outlet is None:
        errors.append(FieldError("outlet", f"unknown code {item.outlet}"))
    elif item.channel is not None and item.channel != outlet[1]:
        errors.append(FieldError("channel", f"outlet {item.outlet} belongs to {outlet[1]}, not {item.channel}"))
    business_id = None
    if item.business_type:
        business_id = business.get(item.business_type.lower())
        if business_id is None:
            errors.append(FieldError("business_type", f"unknown business type {item.business_type}"))
    if errors:
        return errors
    return {
        "source": item.source, "external_id": item.external_id, "channel": outlet[1],
        "outlet_id": outlet[0], "business_type_id": business_id, "msisdn": item.msisdn,
        "ended_at": item.ended_at, "staff_id": item.staff_id, "attributes": item.attributes,
    }


def _outlets_by_code(db: Session, codes: set[str]) -> dict[str, tuple[int, str]]:
    if not codes:
        return {}
    found = db.execute(select(Outlet.code, Outlet.id, Outlet.channel).where(Outlet.code.in_(codes)))
    return {code: (outlet_id, channel) for code, outlet_id, channel in found}


def _business_types_by_key(db: Session, keys: set[str]) -> dict[str, int]:
    """Business types by code or by name, lower-cased, so '开户' and 'new_account' both resolve."""
    if not keys:
        return {}
    lowered = {k.lower() for k in keys}
    found = db.execute(select(BusinessType.id, BusinessType.code, BusinessType.name)
                       .where(BusinessType.code.in_(lowered) | BusinessType.name.in_(keys)))
    by_key: dict[str, int] = {}
    for type_id, code, name in found:
        by_key[code.lower()] = type_id
        by_key[name.lower()] = type_id
    return by_key


@dataclass(frozen=True)
class OutletResult:
    created: int
    updated: int
    unchanged: int
    errors: tuple[tuple[int, tuple[FieldError, ...]], ...]


def upsert_outlets(db: Session, items: Iterable[tuple[int, Mapping[str, Any]]]) -> OutletResult:
    """Create or update outlets by code, creating regions and cities as they appear."""
    created = updated = unchanged = 0
    errors = []
    cities: dict[tuple[str, str], City] = {}
    for index, raw in items:
        row = parse_outlet(raw)
        if not isinstance(row, OutletRow):
            errors.append((index, tuple(row)))
            continue
        city = cities.get((row.region, row.city)) or _city(db, row.region, row.city)
        cities[(row.region, row.city)] = city
        outlet = db.scalar(select(Outlet).where(Outlet.code == row.code))
        values = {"name": row.name, "channel": row.channel, "kind": row.kind, "city_id": city.id}
        if outlet is None:
            db.add(Outlet(code=row.code, active=True, **values))
            created += 1
        elif any(getattr(outlet, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(outlet, key, value)
            updated += 1
        else:
            unchanged += 1
    db.flush()
    return OutletResult(created, updated, unchanged, tuple(errors))


def _city(db: Session, region_name: str, city_name: str) -> City:
    region = db.scalar(select(Region).where(Region.name == region_name))
    if region is None:
        region = Region(name=region_name)
        db.add(region)
        db.flush()
    city = db.scalar(select(City).where(City.region_id == region.id, City.name == city_name))
    if city is None:
        city = City(region_id=region.id, name=city_name)
        db.add(city)
        db.flush()
    return city


def seed_business_types(db: Session) -> int:
    """Add the default business types that are missing; returns how many were added."""
    existing = set(db.scalars(select(BusinessType.code)))
    missing = [BusinessType(code=c, name=n) for c, n in DEFAULT_BUSINESS_TYPES if c not in existing]
    db.add_all(missing)
    db.flush()
    return len(missing)
