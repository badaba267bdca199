"""The web app: the factory (the one place, with the CLI, that builds the object graph) and one
blueprint module per area, each taking the request's database session from survey.web.db."""
from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

import templates
from survey.runtime import Runtime
from survey.settings import Settings
from survey.web import auth, dashboards, db, ingest


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the web app on a runtime (settings, clock, database)."""
    runtime = runtime or Runtime.build(settings)
    app = Flask("touchpoint", template_folder=templates.__path__[0],
                instance_path=str(runtime.settings.instance_path.resolve()))
    app.config.update(SECRET_KEY=runtime.settings.secret_key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax")
    app.json.ensure_ascii = False
    app.extensions["touchpoint"] = runtime
    app.teardown_appcontext(db.close_session)
    auth.login_manager.init_app(app)
    csrf = CSRFProtect(app)
    csrf.exempt(ingest.bp)  # bearer tokens, not cookies: no browser can be tricked into sending one
    app.register_blueprint(auth.bp)
    app.register_blueprint(ingest.bp)
    app.register_blueprint(dashboards.bp)
    return app
