"""Admin pages: users and their outlets, outlet import, surveys, API tokens, opt-outs and do-not-survey."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
