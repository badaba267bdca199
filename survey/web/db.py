"""Request-scoped access to the runtime and a database session (flaskr's get_db)."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from survey.runtime import Runtime


def get_runtime() -> Runtime:
    return current_app.extensions["touchpoint"]


def get_session() -> Session:
    """The request's session for reading, opened on first use and closed at teardown; on SQLite
    it takes no lock, so a page never holds up the worker."""
    if "db" not in g:
        g.db = get_runtime().read_factory()
    return g.db


def get_write_session() -> Session:
    """The request's session for a request that writes (the ingest API)."""
    if "write_db" not in g:
        g.write_db = get_runtime().session_factory()
    return g.write_db


def close_session(_exc: BaseException | None = None) -> None:
    for name in ("db", "write_db"):
        db = g.pop(name, None)
        if db is not None:
            db.close()
