"""The object graph both the app and the CLI run on: settings, clock, engine, session factory."""
from __future__ import annotations

import threading
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from smpp.config import BindMode, ClientConfig
from survey.clock import Clock, SystemClock
from survey.database import make_engine, make_session_factory
from survey.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    # Sessions that only read (pages, exports, reports); on SQLite they take no lock. Defaults to
    # session_factory, which tests bind to their own transaction.
    read_factory: sessionmaker[Session] | None = None
    _write_turn: AbstractContextManager = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # SQLite has one writer at a time and makes the others sleep and poll (1, 2, 5 … 100 ms), so a
        # thread that writes often (the SMPP store thread) can starve one that writes rarely (the
        # recorder). Threads of this process take turns on a lock instead; PostgreSQL needs none.
        self._write_turn = threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        if self.read_factory is None:
            self.read_factory = self.session_factory

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction (committed on leaving, rolled back on an exception)."""
        with self._write_turn, self.session_factory.begin() as db:
            yield db

    @classmethod
    def build(cls, settings: Settings | None = None, *, clock: Clock | None = None,
              engine: Engine | None = None,
              session_factory: sessionmaker[Session] | None = None) -> "Runtime":
        settings = settings or load_settings()
        engine = engine or make_engine(settings.sqlalchemy_url)
        return cls(settings=settings, clock=clock or SystemClock(), engine=engine,
                   session_factory=session_factory or make_session_factory(engine),
                   read_factory=None if session_factory else make_session_factory(engine, reading=True))

    def client_config(self, **overrides) -> ClientConfig:
        """The SMPP client's configuration from the settings."""
        s = self.settings
        values = dict(
            host=s.smpp_host, port=s.smpp_port, system_id=s.smpp_system_id, password=s.smpp_password,
            system_type=s.smpp_system_type, bind_mode=BindMode(s.smpp_bind_mode), source_addr=s.smpp_source_addr,
            window=s.smpp_window, tps=s.smpp_tps or None, use_sar=s.smpp_use_sar,
            enquire_link_s=s.smpp_enquire_link_s, response_timeout_s=s.smpp_response_timeout_s,
        )
        values.update(overrides)
        return ClientConfig(**values)
