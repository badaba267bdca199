"""Hostile input to POST /api/v1/interactions: never a 500, every rejection names its field."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from survey.web.ingest import BODY_LIMIT
from channels.models import Interaction

URL = "/api/v1/interactions"


def item(external_id: str, **overrides) -> dict:
    base = {"source": "crm", "external_id": external_id, "msisdn": "13812341234", "outlet": "S001",
            "business_type": "缴费", "ended_at": "2026-11-20 09:30:00", "staff_id": "E1001",
            "attributes": {"tier": "金卡"}}
    return {**base, **overrides}


def post_raw(client, auth, body: str | bytes):
    """Post a body as given: the test client's json= cannot carry lone surrogates."""
    return client.post(URL, data=body, headers={**auth, "Content-Type": "application/json"})


def stored_ids(db) -> set[str]:
    return set(db.scalars(select(Interaction.external_id)))


TEXT_FIELDS = ["source", "external_id", "msisdn", "outlet", "business_type", "staff_id", "channel", "ended_at"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_a_lone_surrogate_is_rejected_by_field_and_the_good_items_are_stored(client, auth, db, outlets, field):
    bad = {**item("bad"), field: "E\ud800"}
    response = post_raw(client, auth, json.dumps([item("good-1"), bad, item("good-2")]))
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["errors"] == [f"{field}: contains a lone surrogate (U+D800)"]
    assert stored_ids(db) == {"good-1", "good-2"}


@pytest.mark.parametrize("attributes, error", [
    ({"note": "\udfff"}, "attributes.note: contains a lone surrogate (U+DFFF)"),
    ({"\ud800": "x"}, "attributes: key '\\ud800' contains a lone surrogate (U+D800)"),
])
def test_a_lone_surrogate_in_attributes_is_rejected(client, auth, db, outlets, attributes, error):
    response = post_raw(client, auth, json.dumps([item("good"), item("bad", attributes=attributes)]))
    assert response.json["results"][1]["errors"] == [error]
    assert stored_ids(db) == {"good"}


@pytest.mark.parametrize("field", ["source", "external_id", "outlet", "business_type", "staff_id"])
@pytest.mark.parametrize("char, problem", [
    ("\x00", "a control character (U+0000)"),
    ("\x1b", "a control character (U+001B)"),
    ("\n", "a control character (U+000A)"),
    ("\u202e", "a bidirectional control (U+202E)"),
    ("\u2067", "a bidirectional control (U+2067)"),
    ("\u200b", "an invisible format character (U+200B)"),
])
def test_ids_reject_control_bidi_and_invisible_characters(client, auth, db, outlets, field, char, problem):
    response = post_raw(client, auth, json.dumps({**item("x"), field: f"E1{char}001"}))
    assert response.status_code == 422
    assert response.json["errors"] == [f"{field}: contains {problem}"]
    assert stored_ids(db) == set()


def test_free_text_attributes_keep_newlines_and_rtl_text_but_not_nul_or_overrides(client, auth, db, outlets):
    kept = {"note": "排队太久\n第二行\tتجربة", "visits": 3, "vip": True, "branch": None}
    response = post_raw(client, auth, json.dumps([
        item("ok", attributes=kept),
        item("nul", attributes={"note": "a\x00b"}),
        item("rlo", attributes={"note": "abc\u202edcba"}),
        item("key", attributes={"ti\u202eer": "x"}),
    ]))
    results = response.json["results"]
    assert results[0]["status"] == "accepted"
    assert results[1]["errors"] == ["attributes.note: contains a control character (U+0000)"]
    assert results[2]["errors"] == ["attributes.note: contains a bidirectional control (U+202E)"]
    assert results[3]["errors"] == ["attributes: key 'ti\\u202eer' contains a bidirectional control (U+202E)"]
    assert db.scalars(select(Interaction.attributes)).one() == kept


@pytest.mark.parametrize("value, error", [
    ({"a": {"b": 1}}, "attributes.a: expected text, a number, true/false or null, got dict"),
    ({"a": [1, 2]}, "attributes.a: expected text, a number, true/false or null, got list"),
    ({"a": "1e400"}, "attributes.a: not a finite number"),  # json reads 1e400 as infinity
])
def test_attributes_are_flat_values(client, auth, db, outlets, value, error):
    response = post_raw(client, auth, json.dumps(item("x", attributes=value)).replace('"1e400"', "1e400"))
    assert (response.status_code, response.json["errors"]) == (422, [error])


@pytest.mark.parametrize("ended_at, error", [
    ("0001-01-01", "ended_at: before 2000-01-01, not plausible: '0001-01-01'"),
    ("1900-01-01 00:00", "ended_at: before 2000-01-01, not plausible: '1900-01-01 00:00'"),
    ("1999-12-31T23:59:59Z", "ended_at: before 2000-01-01, not plausible: '1999-12-31T23:59:59Z'"),
    ("9999-12-31T23:59:59-12:00", "ended_at: in the future"),
    ("9999-12-31", "ended_at: in the future"),
    (20261129, "ended_at: expected text, got int"),
    (True, "ended_at: expected text, got bool"),
])
def test_implausible_dates_are_rejected_not_crashed(client, auth, db, outlets, ended_at, error):
    response = post_raw(client, auth, json.dumps([item("good"), item("bad", ended_at=ended_at)]))
    assert response.status_code == 200
    assert response.json["results"][1]["errors"] == [error]
    assert stored_ids(db) == {"good"}


def test_the_first_plausible_date_is_kept_exactly(client, auth, db, outlets):
    response = post_raw(client, auth, json.dumps(item("y2k", ended_at="2000-01-01T00:00:00Z")))
    assert response.status_code == 201
    assert db.scalars(select(Interaction.ended_at)).one().isoformat() == "2000-01-01T00:00:00+00:00"


@pytest.mark.parametrize("msisdn", ["138 1234 1234 ext 5", "-13812341234", -13812341234, "13812341234#5"])
def test_phone_numbers_with_signs_or_extensions_are_rejected(client, auth, db, outlets, msisdn):
    response = post_raw(client, auth, json.dumps(item("x", msisdn=msisdn)))
    assert response.status_code == 422
    assert response.json["errors"] == [f"msisdn: not a phone number: {str(msisdn)!r}"]


@pytest.mark.parametrize("depth", [50_000, 200_000])
def test_json_nested_thousands_deep_is_a_bad_body(client, auth, db, outlets, depth):
    response = post_raw(client, auth, "[" * depth + "]" * depth)
    assert response.status_code == 400
    assert response.json["errors"] == ["body: not valid JSON (nested deeper than Python can read)"]


def test_nested_attributes_that_parse_are_rejected_by_field(client, auth, db, outlets):
    deep = '{"a":' * 500 + "1" + "}" * 500
    body = json.dumps([item("good"), item("bad", attributes={})]).replace('"attributes": {}', f'"attributes": {deep}')
    response = post_raw(client, auth, body)
    assert response.json["results"][1]["errors"] == [
        "attributes.a: expected text, a number, true/false or null, got dict"]
    assert stored_ids(db) == {"good"}


def test_nan_and_infinity_are_not_json(client, auth, db, outlets):
    response = post_raw(client, auth, '{"attributes": {"a": NaN}}')
    assert response.status_code == 400
    assert response.json["errors"] == ["body: not valid JSON (NaN is not a JSON value)"]


def padded(n: int) -> str:
    """One good item, padded with JSON whitespace to exactly n bytes."""
    body = json.dumps(item("padded"))
    return body + " " * (n - len(body))


def test_a_body_over_the_limit_is_refused_with_413_naming_the_body(client, auth, db, outlets):
    response = post_raw(client, auth, padded(BODY_LIMIT + 1))
    assert response.status_code == 413
    assert response.json["errors"] == [f"body: {BODY_LIMIT + 1} bytes exceeds the limit of {BODY_LIMIT} bytes"]
    assert stored_ids(db) == set()


def test_a_body_of_exactly_the_limit_is_read(client, auth, db, outlets):
    response = post_raw(client, auth, padded(BODY_LIMIT))
    assert response.status_code == 201
    assert stored_ids(db) == {"padded"}


def test_a_streamed_body_over_the_limit_is_refused_too(client, auth, db, outlets):
    """Without a Content-Length (chunked), the limit is applied as the body is read."""
    body = io.BytesIO(padded(BODY_LIMIT + 1).encode())
    response = client.post(URL, input_stream=body, environ_overrides={"wsgi.input_terminated": True},
                           headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert response.status_code == 413
    assert response.json["errors"] == [f"body: exceeds the limit of {BODY_LIMIT} bytes"]
    assert stored_ids(db) == set()


def test_long_attributes_are_rejected_by_key(client, auth, db, outlets):
    response = post_raw(client, auth, json.dumps([item("a", attributes={"note": "字" * 1001}),
                                                  item("b", attributes={"k" * 65: "x"})]))
    results = response.json["results"]
    assert results[0]["errors"] == ["attributes.note: longer than 1000 characters"]
    assert results[1]["errors"] == [f"attributes: key {'k' * 65!r} longer than 64 characters"]


def test_a_body_that_is_not_utf8_is_a_bad_body(client, auth, db, outlets):
    response = post_raw(client, auth, b'{"external_id": "\xff"}')
    assert response.status_code == 400
    assert response.json["errors"][0].startswith("body: not valid JSON")
