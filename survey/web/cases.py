"""Closed-loop cases: a lead's queue, the case page (contact, hand over, resolve) and the manager's
closed-loop board; every query scoped by scope_for."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")
