"""Fixtures stacked like flaskr: settings → engine → connection → db → runtime → app → client."""
from __future__ import annotations

import ipaddress
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from survey.accounts.services import create_token
from channels.services import seed_business_types, upsert_outlets
from survey import database
from survey.web import create_app
from survey.clock import FrozenClock
from survey.runtime import Runtime
from survey.settings import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Friday 2026-11-20 10:00 in Shanghai.
START = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)

OUTLETS = [
    {"code": "S001", "name": "徐汇1号营业厅", "channel": "store", "kind": "own", "region": "华东", "city": "上海"},
    {"code": "S002", "name": "浦东合作厅", "channel": "store", "kind": "partner", "region": "华东", "city": "上海"},
    {"code": "S101", "name": "西湖代理点", "channel": "store", "kind": "agent", "region": "华东", "city": "杭州"},
    {"code": "HL1", "name": "10086热线中心", "channel": "hotline", "kind": "virtual", "region": "华东", "city": "上海"},
    {"code": "WEB1", "name": "网上营业厅", "channel": "web", "kind": "virtual", "region": "华东", "city": "上海"},
]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Fail any connection that is not to this machine (RapidPro's LiveMailroomError idea)."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise AssertionError(f"test tried to connect to {address}: only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(instance_path=tmp_path, timezone="Asia/Shanghai")


def _database_urls() -> list:
    urls = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get("TOUCHPOINT_TEST_DATABASE_URL"):
        urls.append(pytest.param("postgresql", id="postgresql"))
    return urls


@pytest.fixture(scope="session", params=_database_urls())
def engine(request, tmp_path_factory):
    """A migrated database per backend, shared by the session; each test runs in a rolled-back transaction."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = os.environ["TOUCHPOINT_TEST_DATABASE_URL"]
    engine = database.make_engine(url)
    database.reset(engine)
    database.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine):
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection):
    # Commits inside the code under test become savepoints of the outer transaction.
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(session_factory):
    session = session_factory()
    seed_business_types(session)
    session.commit()
    yield session
    session.close()


@pytest.fixture
def outlet_rows() -> list[dict[str, str]]:
    """The test outlets as an import would read them."""
    return [dict(row) for row in OUTLETS]


@pytest.fixture
def outlets(db):
    result = upsert_outlets(db, enumerate(OUTLETS, start=2))
    assert not result.errors
    db.commit()
    return {row["code"]: row for row in OUTLETS}


@pytest.fixture
def runtime(settings, clock, connection, session_factory, db) -> Runtime:
    # The request's read session joins the test's transaction without a savepoint of its own: with
    # one, closing it at teardown would roll back to a savepoint taken before the write session's
    # (the user is loaded first), discarding what the request stored. In production the two are
    # separate connections and this cannot happen.
    reads = sessionmaker(bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False)
    return Runtime(settings=settings, clock=clock, engine=connection.engine, session_factory=session_factory,
                   read_factory=reads)


@pytest.fixture
def app(runtime):
    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(db, clock) -> str:
    value = create_token(db, "tests", now=clock.now())
    db.commit()
    return value


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users(db, clock, outlets, monkeypatch) -> dict:
    """An admin, a manager and a channel lead of S001 and HL1 (every password: password123)."""
    from werkzeug.security import generate_password_hash

    from survey.accounts import services
    from survey.accounts.models import Role
    from survey.accounts.services import create_user

    # A fast hash for tests only: the real default (scrypt) costs ~0.2 s per user and per sign-in.
    monkeypatch.setattr(services, "generate_password_hash",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"))

    made = {
        "admin": create_user(db, "admin", "password123", Role.ADMIN, now=clock.now()),
        "manager": create_user(db, "manager", "password123", Role.MANAGER, now=clock.now()),
        "lead": create_user(db, "lead", "password123", Role.CHANNEL_LEAD, now=clock.now(),
                            outlet_codes=("S001", "HL1")),
    }
    db.commit()
    return made


@pytest.fixture
def sign_in(client):
    """Sign the test client in as a user, as Flask-Login's session cookie would."""
    def sign_in_as(user) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
    return sign_in_as
