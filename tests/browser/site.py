"""A real Touchpoint server on 127.0.0.1 over a file SQLite database seeded with realistic answers:
what the browser tests and the screenshot script (tests/browser/screenshots.py) open.

The clock is frozen at tests.conftest.START, so periods, pages and screenshots come out the same
on every run.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from channels.services import seed_business_types, upsert_outlets
from survey import database
from survey.accounts.models import Role
from survey.accounts.services import create_user
from survey.clock import FrozenClock
from survey.runtime import Runtime
from survey.settings import Settings
from survey.web import create_app
from tests.browser.seed import OUTLETS, seed_answers
from tests.conftest import START

PASSWORD = "password123"
LEAD_OUTLETS = ("SH01", "SH02", "SH03")  # a channel lead of three Shanghai stores
USERS = {"admin": (Role.ADMIN, ()), "manager": (Role.MANAGER, ()), "lead": (Role.CHANNEL_LEAD, LEAD_OUTLETS)}


@dataclass(frozen=True)
class Site:
    url: str
    runtime: Runtime
    app: Flask


def prepare(folder: Path, *, interactions: int = 6000) -> Runtime:
    """A migrated database in `folder` with the outlets, the users and the answers."""
    clock = FrozenClock(START)
    settings = Settings(instance_path=folder, database_url=f"sqlite:///{folder / 'touchpoint.db'}",
                        timezone="Asia/Shanghai", secret_key="browser-tests-only")
    runtime = Runtime.build(settings, clock=clock)
    database.upgrade(runtime.engine)
    with runtime.writing() as db:
        seed_business_types(db)
        result = upsert_outlets(db, enumerate(OUTLETS, start=2))
        assert not result.errors, result.errors
        for name, (role, outlets) in USERS.items():
            create_user(db, name, PASSWORD, role, now=clock.now(), outlet_codes=outlets)
        seed_answers(db, now=clock.now(), interactions=interactions)
    return runtime


@contextmanager
def serving(folder: Path, *, interactions: int = 6000) -> Iterator[Site]:
    """The seeded app on an ephemeral loopback port, served from a thread until the block ends."""
    runtime = prepare(folder, interactions=interactions)
    app = create_app(runtime=runtime)  # as `touchpoint serve` builds it
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", runtime, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        runtime.engine.dispose()
