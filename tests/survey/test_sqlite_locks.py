"""SQLite: pages and exports read without a lock, so the worker's writes never wait for them."""
from __future__ import annotations

import threading

from sqlalchemy import func, select, text

from survey import database
from survey.web import create_app
from survey.runtime import Runtime
from survey.settings import Settings
from survey.web.db import get_session


def file_runtime(tmp_path) -> Runtime:
    settings = Settings(instance_path=tmp_path, database_url=f"sqlite:///{tmp_path / 'locks.db'}")
    # A short busy timeout: a writer held up by a reader fails fast instead of after 30 s.
    engine = database.make_engine(settings.sqlalchemy_url, connect_args={"timeout": 0.2})
    database.upgrade(engine)
    return Runtime.build(settings, engine=engine)


def test_a_page_reading_in_a_transaction_does_not_hold_up_a_writer(tmp_path):
    runtime = file_runtime(tmp_path)
    app = create_app(runtime=runtime)
    with app.app_context():
        page = get_session()
        before = page.scalar(text("SELECT count(*) FROM business_types"))  # its transaction is open
        with runtime.writing() as db:
            db.execute(text("INSERT INTO business_types (code, name) VALUES ('x1', '测试')"))
        assert page.scalar(text("SELECT count(*) FROM business_types")) == before  # its own snapshot
    runtime.engine.dispose()


def test_writers_on_two_threads_wait_for_each_other_instead_of_failing(tmp_path):
    runtime = file_runtime(tmp_path)
    second = Runtime.build(runtime.settings, engine=database.make_engine(runtime.settings.sqlalchemy_url))
    errors: list[BaseException] = []

    def write(rt: Runtime, prefix: str) -> None:
        try:
            for i in range(50):
                with rt.writing() as db:  # read, then write, in one transaction
                    n = db.scalar(text("SELECT count(*) FROM business_types"))
                    db.execute(text("INSERT INTO business_types (code, name) VALUES (:c, :n)"),
                               {"c": f"{prefix}{i}", "n": str(n)})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(rt, p)) for rt, p in ((runtime, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.read_factory() as db:
        assert db.scalar(select(func.count()).select_from(text("business_types"))) >= 100
    runtime.engine.dispose()
    second.engine.dispose()
