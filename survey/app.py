"""The Flask app factory: the one place (with the CLI) that builds the object graph."""
from __future__ import annotations

from flask import Flask

import templates
from channels.api import create_api_blueprint
from survey.runtime import Runtime
from survey.settings import Settings
from survey.views import home
from survey.web import close_session, get_runtime, get_write_session


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the web app on a runtime (settings, clock, database)."""
    runtime = runtime or Runtime.build(settings)
    app = Flask("touchpoint", template_folder=templates.__path__[0],
                instance_path=str(runtime.settings.instance_path.resolve()))
    app.config.update(SECRET_KEY=runtime.settings.secret_key)
    app.json.ensure_ascii = False
    app.extensions["touchpoint"] = runtime
    app.teardown_appcontext(close_session)
    app.register_blueprint(create_api_blueprint(
        get_db=get_write_session,
        now=lambda: get_runtime().clock.now(),
        tz=lambda: get_runtime().settings.tz,
        batch_limit=runtime.settings.api_batch_limit,
        region=runtime.settings.default_region,
    ))
    app.register_blueprint(home)
    return app
