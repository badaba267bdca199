"""The OpenAPI document: generated from the app's routes and the schemas the views validate with,
valid OpenAPI 3.1, every ingest and read API route with its parameters, and answers that match it."""
from __future__ import annotations

import re

import pytest
from flask import Blueprint, Flask
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from survey.accounts.models import TokenScope
from survey.accounts.services import create_token
from survey.web import apidocs
from tests.browser.seed import seed_answers

DOCUMENTED = ("ingest", "api")


@pytest.fixture
def docs_app(app):
    return app  # create_app registers the document's blueprint


@pytest.fixture
def document(docs_app, client, users, sign_in) -> dict:
    sign_in(users["manager"])
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def documented_rules(app: Flask):
    return [r for r in app.url_map.iter_rules() if r.endpoint.rpartition(".")[0] in DOCUMENTED]


def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}


def test_every_route_of_the_apis_is_listed_with_its_methods_and_path_parameters(docs_app, document):
    rules = documented_rules(docs_app)
    assert {r.endpoint for r in rules} >= {"ingest.post_interactions", "api.results", "api.shortboards",
                                           "api.trends", "api.outlets", "api.outlet"}
    listed = set()
    for rule in rules:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path][method.lower()]
            listed.add((path, method.lower()))
            path_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert path_params == set(rule.arguments), path
            assert operation["security"] == [{"bearer": []}]
            assert "401" in operation["responses"] and "200" in operation["responses"] or "201" in operation["responses"]
    every = {(p, m) for p, ops in document["paths"].items() for m in ops}
    assert every == listed  # and nothing else: the sign-in pages are not part of the API


def test_query_parameters_are_the_ones_the_views_accept(docs_app, document, client, db, clock, outlets):
    token = create_token(db, "bi", now=clock.now(), scopes=(TokenScope.READ,))
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for rule in documented_rules(docs_app):
        if "GET" not in rule.methods:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        url = rule.rule.replace("<code>", "S001")
        params = [p for p in document["paths"][path]["get"].get("parameters", []) if p["in"] == "query"]
        for param in params:
            # A documented parameter is never unknown to the view (an invalid value may still be refused).
            response = client.get(f"{url}?{param['name']}=%00", headers=headers)
            assert not any("Unknown field" in e for e in response.json.get("errors", [])), (url, param["name"])
        response = client.get(f"{url}?not_documented=1", headers=headers)
        assert response.status_code == 400 and response.json["errors"] == ["not_documented: Unknown field."]
    results = {p["name"] for p in document["paths"]["/api/v1/results"]["get"]["parameters"]}
    assert results == {"period", "since", "until", "channel", "business_type", "tier", "brand", "outlet", "by"}


def _validator(document: dict, status: str, operation: dict) -> OAS31Validator:
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return OAS31Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize("url", [
    "/api/v1/results?by=outlet", "/api/v1/results?by=channel,business_type&tier=金卡",
    "/api/v1/shortboards?by=outlet&min_n=10&all=true", "/api/v1/shortboards?by=channel,business_type&min_n=5",
    "/api/v1/trends?by=channel", "/api/v1/outlets", "/api/v1/outlets/HL1", "/api/v1/results?outlet=NOPE",
    "/api/v1/results?chanel=store",
])
def test_answers_match_the_document(document, client, db, clock, outlets, url):
    seed_answers(db, now=clock.now(), interactions=400)
    token = create_token(db, "bi", now=clock.now(), scopes=(TokenScope.READ,))
    db.commit()
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    path = "/api/v1/outlets/{code}" if url.startswith("/api/v1/outlets/") else url.split("?")[0]
    operation = document["paths"][path]["get"]
    _validator(document, str(response.status_code), operation).validate(response.json)


def test_ingest_answers_match_the_document(document, client, auth, outlets):
    operation = document["paths"]["/api/v1/interactions"]["post"]
    item = {"source": "crm", "external_id": "e1", "msisdn": "13812341234", "outlet": "S001",
            "ended_at": "2026-11-20T09:00:00+08:00", "attributes": {"tier": "金卡"}}
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    OAS31Validator({**body_schema, "components": document["components"]}).validate(item)
    for body, status in [(item, 201), (item, 200), ({**item, "msisdn": "x"}, 422), ([item], 200), ("[", 400)]:
        response = client.post("/api/v1/interactions", json=body, headers=auth) if body != "[" else \
            client.post("/api/v1/interactions", data=body, content_type="application/json", headers=auth)
        assert response.status_code == status
        if status == 200 and isinstance(body, dict):
            continue  # a single duplicate answers its item outcome with 200, a batch its batch
        _validator(document, str(status), operation).validate(response.json)


def test_a_route_without_a_declaration_fails_the_build():
    app = Flask(__name__)
    undocumented = Blueprint("api", __name__, url_prefix="/api/v1")
    undocumented.add_url_rule("/secret", "secret", lambda: "{}")
    app.register_blueprint(undocumented)
    with pytest.raises(LookupError, match="api.secret"):
        apidocs.build_spec(app)


def test_the_docs_page_renders_the_document_from_this_site(docs_app, client, users, sign_in):
    assert client.get("/api/docs").status_code == 302  # a page like any other: signed-in users only
    sign_in(users["manager"])
    page = client.get("/api/docs").get_data(as_text=True)
    assert 'data-spec-url="/api/openapi.json"' in page
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert scripts == ["/static/apidocs/swagger-ui-bundle.js", "/static/apidocs/init.js"]
    assert "<script>" not in page  # no inline script: the policy would refuse it
    for asset in scripts + ["/static/apidocs/swagger-ui.css", "/static/apidocs/LICENSE"]:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 100, asset
        response.close()
