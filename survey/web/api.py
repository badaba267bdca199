"""The read API for integrators (token with the read scope): results, short boards and trends as JSON, with the pages' filters and scoping."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
