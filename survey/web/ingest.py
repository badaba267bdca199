"""The ingest API, POST /api/v1/interactions: one interaction or a batch, answered per item."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from channels.services import Outcome, record_interactions
from survey.accounts.services import authenticate_token
from survey.web.db import get_runtime, get_write_session

# The largest body read: a full batch of 1,000 items at 8 KiB each, far above what real items take
# (about 300 bytes), so the limit only ever stops a client gone wrong before it fills the memory.
BODY_LIMIT = 8 << 20


class _NotJson(ValueError):
    """A body that Python's json module would read but JSON does not allow."""


def _no_constants(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _read_json(data: bytes) -> tuple[Any, str | None]:
    """(the body's value, None), or (None, why it is not valid JSON)."""
    try:
        return json.loads(data, parse_constant=_no_constants), None
    except RecursionError:
        return None, "nested deeper than Python can read"
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except _NotJson as exc:
        return None, str(exc)
    except ValueError:  # e.g. an integer of more digits than Python converts
        return None, "a value Python cannot read"


bp = Blueprint("ingest", __name__, url_prefix="/api/v1")


def error(status: int, field: str, problem: str):
    return jsonify({"errors": [f"{field}: {problem}"]}), status


@bp.before_request
def require_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return error(401, "Authorization", "missing Bearer token")
    db = get_write_session()
    if authenticate_token(db, token.strip(), now=get_runtime().clock.now()) is None:
        return error(401, "Authorization", "unknown or revoked token")
    db.commit()
    return None


@bp.post("/interactions")
def post_interactions():
    settings = get_runtime().settings
    if not request.is_json:
        return error(400, "body", "not valid JSON (Content-Type: application/json)")
    # Werkzeug applies this to a chunked body (no Content-Length) too, but stops at the limit
    # without a word: one byte more tells a body over the limit from one at it.
    request.max_content_length = BODY_LIMIT + 1
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        data = None
    if data is None or len(data) > BODY_LIMIT:
        size = f"{request.content_length} bytes " if request.content_length else ""
        return error(413, "body", f"{size}exceeds the limit of {BODY_LIMIT} bytes")
    body, problem = _read_json(data)
    if problem is not None:
        return error(400, "body", f"not valid JSON ({problem})")
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list):
        return error(400, "body", "expected an interaction object or an array of them")
    if not items:
        return error(400, "body", "empty batch")
    if len(items) > settings.api_batch_limit:
        return error(413, "body", f"batch of {len(items)} items exceeds the limit of {settings.api_batch_limit}")
    db = get_write_session()
    result = record_interactions(db, items, now=get_runtime().clock.now(), tz=settings.tz,
                                 region=settings.default_region)
    db.commit()
    if single:
        outcome = result.outcomes[0]
        status = {Outcome.ACCEPTED: 201, Outcome.DUPLICATE: 200, Outcome.REJECTED: 422}[outcome.outcome]
        return jsonify(outcome.as_dict()), status
    return jsonify({
        "accepted": result.created, "duplicates": result.duplicates, "rejected": len(result.rejected),
        "results": [o.as_dict() for o in result.outcomes],
    }), 200
