"""Engine and session factory, and schema upgrades by Alembic; no engine exists at import time."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import channels.models  # noqa: F401  (registers the tables)
import survey.accounts.models  # noqa: F401
import survey.models  # noqa: F401

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for url; SQLite gets WAL, foreign keys and a busy timeout so worker and web share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


READING = {"touchpoint_reading": True}  # execution options of sessions that only read


def _sqlite_begin(conn) -> None:
    # A writer takes the write lock up front (IMMEDIATE), so a read-then-write transaction waits for
    # the busy timeout instead of failing when another thread or process wrote first. A reader
    # takes no lock at all (WAL gives it a snapshot), so a dashboard or an export never holds up
    # the worker's store thread and its answers to the SMSC.
    reading = conn.get_execution_options().get("touchpoint_reading", False)
    conn.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy emits BEGIN itself instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_session_factory(engine: Engine, *, reading: bool = False) -> sessionmaker[Session]:
    """Sessions for writing, or (reading=True) for reading only: on SQLite those take no lock."""
    return sessionmaker(engine.execution_options(**READING) if reading else engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to revision and seed the reference rows."""
    command.upgrade(alembic_config(engine), revision)


def reset(engine: Engine) -> None:
    """Drop every table and the migration record: a clean slate for tests and benchmarks."""
    from sqlalchemy import text

    from channels.sql.base import Base

    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
