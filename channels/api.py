"""POST /api/v1/interactions: one interaction or a batch, answered per item."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Callable

from flask import Blueprint, jsonify, request
from sqlalchemy.orm import Session

from channels.accounts import authenticate_token
from channels.services import Outcome, record_interactions


def create_api_blueprint(*, get_db: Callable[[], Session], now: Callable[[], datetime],
                         tz: Callable[[], tzinfo], batch_limit: int = 1000,
                         region: str = "CN") -> Blueprint:
    """The ingest API, wired to the app's session, clock and timezone by the app factory."""
    api = Blueprint("api", __name__, url_prefix="/api/v1")

    def error(status: int, field: str, problem: str):
        return jsonify({"errors": [f"{field}: {problem}"]}), status

    @api.before_request
    def require_token():
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return error(401, "Authorization", "missing Bearer token")
        db = get_db()
        if authenticate_token(db, token.strip(), now=now()) is None:
            return error(401, "Authorization", "unknown or revoked token")
        db.commit()
        return None

    @api.post("/interactions")
    def post_interactions():
        body = request.get_json(silent=True)
        if body is None:
            return error(400, "body", "not valid JSON (Content-Type: application/json)")
        single = isinstance(body, dict)
        items = [body] if single else body
        if not isinstance(items, list):
            return error(400, "body", "expected an interaction object or an array of them")
        if not items:
            return error(400, "body", "empty batch")
        if len(items) > batch_limit:
            return error(413, "body", f"batch of {len(items)} items exceeds the limit of {batch_limit}")
        db = get_db()
        result = record_interactions(db, items, now=now(), tz=tz(), region=region)
        db.commit()
        if single:
            outcome = result.outcomes[0]
            status = {Outcome.ACCEPTED: 201, Outcome.DUPLICATE: 200, Outcome.REJECTED: 422}[outcome.outcome]
            return jsonify(outcome.as_dict()), status
        return jsonify({
            "accepted": result.created, "duplicates": result.duplicates, "rejected": len(result.rejected),
            "results": [o.as_dict() for o in result.outcomes],
        }), 200

    return api
