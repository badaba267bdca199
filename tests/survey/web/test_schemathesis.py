"""Bad input everywhere (issue #16): schemathesis reads the public /api/openapi.json and sends every
operation requests generated from it, valid and not, with a token of both scopes over seeded
answers: no answer is a server error, and every answer's status, content type and body match
the document. Examples are limited so `make test` stays quick."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from survey.accounts.models import TokenScope
from survey.accounts.services import create_token
from tests.browser.seed import seed_answers

EXAMPLES = 12  # per operation and mode: quick enough for `make test`
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def api_schema(app, client, db, clock, outlets):
    seed_answers(db, now=clock.now(), interactions=200)
    db.commit()
    response = client.get("/api/openapi.json")  # no sign-in, no token: integrators' tools read it first
    assert response.status_code == 200
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture
def both_scopes(db, clock) -> dict[str, str]:
    token = create_token(db, "fuzz", now=clock.now(), scopes=(TokenScope.INGEST, TokenScope.READ))
    db.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented_and_never_500(api_schema, both_scopes, mode):
    # Driven by hand rather than by schemathesis' pytest plugin, so the database fixtures apply.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6
    statuses: list[int] = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def answers_as_documented(case):
            statuses.append(case.call_and_validate(headers=both_scopes, checks=CHECKS).status_code)

        answers_as_documented()
    assert len(statuses) >= 5 * len(operations) and max(statuses) < 500
    if mode is GenerationMode.POSITIVE:
        assert statuses.count(200) >= len(operations) - 1  # the reads answer, not only refuse
