"""The OpenAPI document of the HTTP API, generated from the code, and a page that renders it offline.

Every route of the token blueprints (ingest, api) comes from the app's URL map: its path, its
methods and its path parameters as the converters declare them. What a route reads and answers
comes from the marshmallow schemas declared beside the view (the read API validates its query
strings with the same schemas) through apispec; a route without a declaration fails the build,
so a new endpoint cannot go undocumented. The page serves Swagger UI from /static (vendored from
its npm package with its licence): no CDN, no inline script.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, current_app, jsonify, render_template
from marshmallow import Schema, fields, validate

from channels.rows import ATTRIBUTE_KEY_LIMIT, ATTRIBUTE_VALUE_LIMIT
from channels.taxonomy import Channel
from survey.web import ingest

bp = Blueprint("apidocs", __name__, url_prefix="/api")

DOCUMENTED_BLUEPRINTS = ("ingest", "api")
TITLE = "Touchpoint API"
VERSION = "1"
_CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}


@dataclass(frozen=True)
class Operation:
    """What one route reads and answers, for the OpenAPI document."""

    summary: str
    description: str = ""
    tag: str = "read"
    query: type[Schema] | None = None
    body: Mapping[str, Any] | None = None  # a requestBody object (schemas as classes or $refs)
    responses: Mapping[int, tuple[str, type[Schema] | Mapping[str, Any] | None]] = field(default_factory=dict)
    path_descriptions: Mapping[str, str] = field(default_factory=dict)


def documented(operation: Operation) -> Callable:
    """Attach an operation's declaration to a view (the document reads it from the view)."""
    def attach(view: Callable) -> Callable:
        view.openapi = operation
        return view
    return attach


class ErrorSchema(Schema):
    errors = fields.List(fields.String(), required=True,
                         metadata={"description": "each problem as 'field: problem'"})


# The ingest API's body, as channels.rows.parse_interaction reads it (the view is not ours to decorate).
class InteractionSchema(Schema):
    source = fields.String(required=True, validate=validate.Length(max=64),
                           metadata={"description": "the system the interaction comes from", "example": "crm"})
    external_id = fields.String(required=True, validate=validate.Length(max=128),
                                metadata={"description": "its id in that system; source + external_id is unique"})
    msisdn = fields.String(required=True, validate=validate.Length(max=32),
                           metadata={"description": "the customer's mobile number, stored E.164",
                                     "example": "13812341234"})
    outlet = fields.String(required=True, validate=validate.Length(max=32), metadata={"description": "outlet code"})
    channel = fields.String(validate=validate.OneOf([c.value for c in Channel]),
                            metadata={"description": "must match the outlet's channel when given"})
    business_type = fields.String(validate=validate.Length(max=64),
                                  metadata={"description": "code or Chinese name, e.g. broadband or 宽带"})
    ended_at = fields.String(required=True, validate=validate.Length(max=64), metadata={
        "description": "ISO 8601, or YYYY/MM/DD HH:MM; without a zone, in the configured time zone; "
                       "not before 2000 nor more than 5 minutes ahead",
        "example": "2026-11-20T10:00:00+08:00"})
    staff_id = fields.String(validate=validate.Length(max=64))
    attributes = fields.Dict(
        keys=fields.String(validate=validate.Length(max=ATTRIBUTE_KEY_LIMIT)),
        metadata={"description": f"flat customer attributes (tier, brand, ...): text up to {ATTRIBUTE_VALUE_LIMIT} "
                                 "characters, numbers, true/false or null",
                  "additionalProperties": {"type": ["string", "number", "boolean", "null"],
                                           "maxLength": ATTRIBUTE_VALUE_LIMIT},
                  "example": {"tier": "金卡", "brand": "全球通"}})


class ItemOutcomeSchema(Schema):
    index = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["accepted", "duplicate", "rejected"]))
    id = fields.Integer(metadata={"description": "the stored interaction's id (accepted)"})
    errors = fields.List(fields.String(), metadata={"description": "why it was rejected, per field"})


class BatchOutcomeSchema(Schema):
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    results = fields.List(fields.Nested(ItemOutcomeSchema), required=True)


_ONE_OR_MANY = {"oneOf": [
    {"$ref": "#/components/schemas/Interaction"},
    {"type": "array", "items": {"$ref": "#/components/schemas/Interaction"}, "minItems": 1, "maxItems": 1000},
]}
DECLARED: dict[str, Operation] = {
    "ingest.post_interactions": Operation(
        summary="Push ended interactions",
        description="One interaction, or a batch of up to 1,000 answered item by item: good items are "
                    "stored even when others are rejected. Needs a token with the ingest scope.",
        tag="ingest",
        body={"required": True, "content": {"application/json": {"schema": _ONE_OR_MANY}}},
        responses={
            200: ("a batch's outcome per item, or a single duplicate", BatchOutcomeSchema),
            201: ("a single interaction accepted", ItemOutcomeSchema),
            400: ("the body is not JSON, or not an object or array", ErrorSchema),
            413: (f"a body over {ingest.BODY_LIMIT} bytes or a batch over the limit", ErrorSchema),
            422: ("a single interaction rejected", ItemOutcomeSchema),
        }),
}


def _path_parameters(rule, operation: Operation) -> list[dict]:
    out = []
    for name in sorted(rule.arguments):
        converter = type(rule._converters[name]).__name__.removesuffix("Converter").lower()
        out.append({"in": "path", "name": name, "required": True,
                    "schema": dict(_CONVERTER_TYPES.get(converter, {"type": "string"})),
                    "description": operation.path_descriptions.get(name, "")})
    return out


def _response(description: str, schema) -> dict:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _operation(rule, blueprint: str, operation: Operation) -> dict:
    responses = dict(operation.responses)
    responses.setdefault(401, ("no Bearer token, or an unknown or revoked one", ErrorSchema))
    if blueprint == "api":
        responses.setdefault(403, ("the token lacks the read scope", ErrorSchema))
    parameters = _path_parameters(rule, operation)
    if operation.query is not None:
        parameters.append({"in": "query", "schema": operation.query})
    out: dict[str, Any] = {
        "summary": operation.summary, "tags": [operation.tag], "security": [{"bearer": []}],
        "responses": {str(code): _response(*responses[code]) for code in sorted(responses)},
    }
    if operation.description:
        out["description"] = operation.description
    if parameters:
        out["parameters"] = parameters
    if operation.body is not None:
        out["requestBody"] = dict(operation.body)
    return out


def build_spec(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every route of the token blueprints of `app`."""
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.1.0",
                   plugins=[FlaskPlugin(), MarshmallowPlugin()],
                   info={"description": "Push ended interactions (ingest scope); read results, short boards "
                                        "and trends (read scope). A token bound to a channel lead reads only "
                                        "that lead's outlets."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Interaction", schema=InteractionSchema)
    spec.tag({"name": "ingest", "description": "interactions in"})
    spec.tag({"name": "read", "description": "results, short boards and trends out"})
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint not in DOCUMENTED_BLUEPRINTS:
            continue
        view = app.view_functions[rule.endpoint]
        operation = getattr(view, "openapi", None) or DECLARED.get(rule.endpoint)
        if operation is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) has no OpenAPI declaration")
        methods = sorted(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
        spec.path(view=view, app=app, operations={m: _operation(rule, blueprint, operation) for m in methods})
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    app = current_app._get_current_object()
    document = app.extensions.get("openapi")
    if document is None:
        document = app.extensions["openapi"] = build_spec(app)
    return jsonify(document)


@bp.get("/docs")
def docs():
    return render_template("api/docs.html")
