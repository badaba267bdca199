"""Request-scoped access to the runtime and a database session (flaskr's get_db)."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from survey.runtime import Runtime


def get_runtime() -> Runtime:
    return current_app.extensions["touchpoint"]


def get_session() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = get_runtime().session_factory()
    return g.db


def close_session(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()
