"""Downloads: every table of the pages as CSV and XLSX, scoped like the page, phones masked."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__, url_prefix="/exports")
