"""The declarative base every table of every package derives from, with its naming convention and
the enum column type."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

from channels.sql.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


def str_enum(enum_cls: type) -> Enum:
    """Enum column stored as its values in a VARCHAR with a CHECK: portable, readable in SQL."""
    return Enum(
        enum_cls, native_enum=False, create_constraint=True, length=24,
        values_callable=lambda cls: [m.value for m in cls], name=enum_cls.__name__.lower(),
    )
