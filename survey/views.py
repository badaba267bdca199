"""Pages of the web app; thin: each calls a service and renders a template."""
from __future__ import annotations

from flask import Blueprint, render_template

from survey.overview import overview
from survey.web import get_runtime, get_session

home = Blueprint("home", __name__)


@home.get("/")
def index():
    runtime = get_runtime()
    return render_template("home.html", overview=overview(get_session()), tz=runtime.settings.tz)


@home.get("/healthz")
def healthz():
    return {"status": "ok"}
