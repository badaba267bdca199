"""The review queue (managers and admins): replies the parser could not place, grouped by similar
text, each labelled in one click; a label teaches the parser and can re-parse past answers."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")
