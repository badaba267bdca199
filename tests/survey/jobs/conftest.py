"""Several workers on one database need committed rows and connections of their own, which the
rolled-back test transaction of tests/conftest.py cannot give: these tests get a database of their
own (a SQLite file per test; on PostgreSQL, when TOUCHPOINT_TEST_DATABASE_URL is set, a database
created next to the test one for the module and emptied before each test)."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from channels.services import seed_business_types, upsert_outlets
from survey import database
from survey.definitions import load_surveys
from survey.jobs.worker import Worker
from survey.policy import PolicyConfig
from survey.runtime import Runtime
from survey.settings import Settings
from tests.conftest import OUTLETS
from tests.survey.fake_smpp import FakeClient

LEASE = timedelta(seconds=60)


def _backends() -> list:
    backends = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get("TOUCHPOINT_TEST_DATABASE_URL"):
        backends.append(pytest.param("postgresql", id="postgresql"))
    return backends


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL database of this module's own, migrated; dropped at the end."""
    base = make_url(os.environ["TOUCHPOINT_TEST_DATABASE_URL"])
    name = f"{base.database}_workers_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    engine = database.make_engine(url.render_as_string(hide_password=False))
    database.upgrade(engine)
    engine.dispose()
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=_backends())
def shared(request, tmp_path, clock):
    """A runtime whose sessions are real, separate connections to a database with the test outlets."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        engine = database.make_engine(url)
        database.upgrade(engine)
    else:
        url = request.getfixturevalue("postgres_url")
        engine = database.make_engine(url)
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    runtime = Runtime.build(Settings(instance_path=tmp_path, database_url=url), clock=clock, engine=engine)
    with runtime.writing() as db:
        seed_business_types(db)
        upsert_outlets(db, enumerate(OUTLETS, start=2))
    yield runtime
    engine.dispose()


def make_worker(runtime: Runtime, worker_id: str, **options) -> Worker:
    """A worker with the stand-in SMPP client (the test plays the SMSC)."""
    return Worker(runtime, client_config=None, surveys=load_surveys(), client_factory=FakeClient,
                  policy=PolicyConfig(tz=runtime.settings.tz, default_delay=timedelta(0)),
                  worker_id=worker_id, lease=LEASE, **options)
