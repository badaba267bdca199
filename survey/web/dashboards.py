"""Pages of the web app; thin: each calls a service and renders a template."""
from __future__ import annotations

from flask import Blueprint, render_template

from analysis.overview import overview
from survey.web.db import get_runtime, get_session

bp = Blueprint("dashboards", __name__)


@bp.get("/")
def index():
    runtime = get_runtime()
    return render_template("dashboards/home.html", overview=overview(get_session()), tz=runtime.settings.tz)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
