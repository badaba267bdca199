"""Bulk INSERT … ON CONFLICT for ingest, in SQL that SQLite and PostgreSQL both accept.

The ORM's per-row parameter processing costs more than the insert itself on a million-row import,
so rows go to the driver's executemany directly, with values converted once per column into the form
SQLAlchemy's own types store (the tables and every reader of them stay the ORM's).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from enum import Enum
from operator import itemgetter
from typing import Any, Callable, Sequence

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.orm import Session

UTC = timezone.utc
# SQLite stores naive UTC text in SQLAlchemy's DATETIME form: "2026-11-20 01:00:00.000000".


_json = json.JSONEncoder().encode  # what json.dumps does, minus its per-call set-up


def _sqlite_datetime(value: datetime) -> str:
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    return utc.isoformat(" ", "microseconds")[:26]  # without "+00:00": SQLAlchemy's naive UTC form


def _memo(convert: Callable[[Any], Any], key: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """convert, remembering results: a batch repeats the same few values (import time, attributes)."""
    cache: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        try:
            k = key(value)
            hash(k)
        except TypeError:  # nested lists or dicts: not worth a key
            return convert(value)
        if k not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[k] = convert(value)
        return cache[k]

    return cached


def _column_converter(sample: Any, dialect: str) -> Callable[[Any], Any] | None:
    """How to turn one column's values into driver values, judged from a non-null sample."""
    if isinstance(sample, datetime):
        return _sqlite_datetime if dialect == "sqlite" else (lambda v: v.astimezone(UTC))
    if isinstance(sample, dict):
        return _memo(_json, key=lambda v: tuple(v.items()))
    if isinstance(sample, list):
        return _json
    if isinstance(sample, Enum):
        return lambda v: v.value
    return None


def insert_rows(db: Session, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], *,
                conflict: Sequence[str], update: Sequence[str] = ()) -> int:
    """INSERT rows; on a conflict update the update columns, or skip. Returns rows written."""
    if not rows:
        return 0
    connection = db.connection()
    dialect = connection.dialect
    if dialect.name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"bulk ingest supports SQLite and PostgreSQL, not {dialect.name}")
    conversions = []
    for position, column in enumerate(columns):
        sample = next((r[column] for r in rows if r[column] is not None), None)
        convert = _column_converter(sample, dialect.name)
        if convert is not None:
            conversions.append((position, convert))
    getter = itemgetter(*columns)
    params = []
    for row in rows:
        values = list(getter(row))
        for position, convert in conversions:
            if values[position] is not None:
                values[position] = convert(values[position])
        params.append(tuple(values))
    if dialect.name == "postgresql" and not update and len(params) >= COPY_THRESHOLD:
        return _copy_insert(connection, table, columns, params, conflict)
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    action = (f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in update)}" if update
              else "DO NOTHING")
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))}) "
           f"ON CONFLICT ({', '.join(conflict)}) {action}")
    # Both drivers sum rowcount over executemany; a skipped conflict counts 0.
    return connection.exec_driver_sql(sql, params).rowcount


COPY_THRESHOLD = 200  # rows; below it the temporary table costs more than it saves


def _copy_insert(connection, table: str, columns: Sequence[str], params: list[tuple], conflict: Sequence[str]) -> int:
    """PostgreSQL: COPY into a temporary twin of the table, then INSERT … SELECT … ON CONFLICT DO NOTHING.

    executemany costs a round of statement processing per row; COPY streams the batch.
    """
    stage = f"_stage_{table}"
    names = ", ".join(columns)
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
                       f"AS SELECT {names} FROM {table} WITH NO DATA")
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in params:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
                       f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING")
        written = cursor.rowcount
        cursor.execute(f"TRUNCATE {stage}")
        return written
    finally:
        cursor.close()


def existing_keys(db: Session, table: str, key: str, scope_column: str, scope: str,
                  values: Sequence[str]) -> dict[str, int]:
    """{key: id} for the rows of one scope whose key is among values."""
    if db.get_bind().dialect.name == "postgresql":
        # Joined to the unnested array, the unique index is used whatever the planner's statistics
        # say; a long IN list on a freshly filled table is planned as a scan that grows with it.
        stmt = text(f"SELECT t.{key}, t.id FROM unnest(CAST(:values AS text[])) AS v(k) "
                    f"JOIN {table} t ON t.{scope_column} = :scope AND t.{key} = v.k")
    else:
        stmt = text(f"SELECT {key}, id FROM {table} WHERE {scope_column} = :scope AND {key} IN :values"
                    ).bindparams(bindparam("values", expanding=True))
    found: dict[str, int] = {}
    for start in range(0, len(values), 5000):
        found.update(db.execute(stmt, {"scope": scope, "values": list(values[start:start + 5000])}).all())
    return found


def update_rows(db: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: str = "id") -> None:
    """UPDATE table SET … WHERE key = … for many rows: one Core executemany per set of columns.

    The ORM's bulk UPDATE by primary key keeps per-row bookkeeping that costs more than the
    statement itself on the hot paths (acks, claims and decisions by the thousand).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    connection = db.connection()
    for columns, group in groups.items():
        names = [c for c in columns if c != key]
        # Bind names differ from the column names: SQLAlchemy reserves those for its own SET params.
        statement = (update(table).where(table.c[key] == bindparam("key_"))
                     .values({c: bindparam(f"{c}_") for c in names}))
        connection.execute(statement, [{"key_": row[key], **{f"{c}_": row[c] for c in names}} for row in group])
