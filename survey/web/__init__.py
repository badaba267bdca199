"""The web app: the factory (the one place, with the CLI, that builds the object graph) and one
blueprint module per area, each taking the request's database session from survey.web.db."""
from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

import templates
from analysis import counts
from analysis.column_store import ColumnStore
from survey import log_masking
from survey.runtime import Runtime
from survey.settings import Settings
from survey.web import admin, api, apidocs, auth, cases, dashboards, db, exports, headers, ingest, packs, review


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None, warm_copy: bool = False) -> Flask:
    """Build the web app on a runtime (settings, clock, database). warm_copy: make the in-memory copy
    the pages count from now rather than at the first page (a server's start; under gunicorn --preload
    the processes forked after it share it)."""
    log_masking.install()  # no subscriber's number in clear in any log line
    runtime = runtime or Runtime.build(settings)
    folder = templates.__path__[0]
    app = Flask("touchpoint", template_folder=folder, static_folder=f"{folder}/static",
                instance_path=str(runtime.settings.instance_path.resolve()))
    app.config.update(SECRET_KEY=runtime.settings.secret_key)
    app.json.ensure_ascii = False
    app.extensions["touchpoint"] = runtime
    if runtime.settings.column_copy:
        # Settling is about when the database committed, so it runs on the machine's clock, not the
        # runtime's (a demo's or a test's frozen business time).
        store = ColumnStore(settle_seconds=runtime.settings.column_settle_seconds)
        counts.attach(runtime.read_factory, store)
        if warm_copy:
            with runtime.read_factory() as session:
                store.columns(session)
    app.teardown_appcontext(db.close_session)
    headers.install(app, cookie_secure=runtime.settings.cookie_secure)
    auth.login_manager.init_app(app)
    csrf = CSRFProtect(app)
    for token_api in (ingest.bp, api.bp):
        csrf.exempt(token_api)  # bearer tokens, not cookies: no browser can be tricked into sending one
    for blueprint in (auth.bp, ingest.bp, api.bp, apidocs.bp, dashboards.bp, exports.bp, admin.bp, review.bp,
                      cases.bp, packs.bp):
        app.register_blueprint(blueprint)
    return app
