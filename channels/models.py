"""Tables of channels/: the outlet hierarchy, business types, subscribers and interactions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channels.sql.base import Base, str_enum
from channels.taxonomy import Channel, OutletKind

class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    cities: Mapped[list["City"]] = relationship(back_populates="region")


class City(Base):
    __tablename__ = "cities"
    __table_args__ = (UniqueConstraint("region_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    name: Mapped[str] = mapped_column(String(64))
    region: Mapped[Region] = relationship(back_populates="cities")
    outlets: Mapped[list["Outlet"]] = relationship(back_populates="city")


class Outlet(Base):
    """A store, or a virtual outlet such as a hotline centre, a web portal or a kiosk fleet."""

    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    kind: Mapped[OutletKind] = mapped_column(str_enum(OutletKind))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    city: Mapped[City] = relationship(back_populates="outlets")


class BusinessType(Base):
    __tablename__ = "business_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Subscriber(Base):
    """One mobile number (E.164), its latest attributes, and whether it may be surveyed."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(20), unique=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opted_out_at: Mapped[datetime | None]
    opt_out_source: Mapped[str | None] = mapped_column(String(64))
    do_not_survey: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Interaction(Base):
    """An ended customer interaction, stored before anything is decided about it."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        # The engine's queue: small, and cheap to keep up during a bulk import.
        Index("ix_interactions_unevaluated", "id", sqlite_where=text("evaluated_at IS NULL"),
              postgresql_where=text("evaluated_at IS NULL")),
        # Covering for the pages' interactions-in-a-window counts (survey/migrations 0009).
        Index("ix_interactions_ended_cover", "ended_at", "channel", "outlet_id", "business_type_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    business_type_id: Mapped[int | None] = mapped_column(ForeignKey("business_types.id"))
    msisdn: Mapped[str] = mapped_column(String(20))
    ended_at: Mapped[datetime]
    staff_id: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]
    # Filled by the survey engine: when it was evaluated and what it decided (and why).
    evaluated_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(32))

    outlet: Mapped[Outlet] = relationship()
    business_type: Mapped[BusinessType | None] = relationship()
