"""The object graph both the app and the CLI run on: settings, clock, engine, session factory."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from survey.clock import Clock, SystemClock
from survey.database import make_engine, make_session_factory
from survey.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]

    @classmethod
    def build(cls, settings: Settings | None = None, *, clock: Clock | None = None,
              engine: Engine | None = None,
              session_factory: sessionmaker[Session] | None = None) -> "Runtime":
        settings = settings or load_settings()
        engine = engine or make_engine(settings.sqlalchemy_url)
        return cls(settings=settings, clock=clock or SystemClock(), engine=engine,
                   session_factory=session_factory or make_session_factory(engine))
