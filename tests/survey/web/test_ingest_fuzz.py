"""Fuzzing POST /api/v1/interactions: whatever JSON comes, no 500, named errors, nothing lost or changed."""
from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from channels.models import Interaction
from channels.rows import INTERACTION_FIELDS

URL = "/api/v1/interactions"
FIELDS = sorted(INTERACTION_FIELDS - {"attributes"})
NAMED = INTERACTION_FIELDS | {"item", "body"}
_ids = itertools.count()  # fresh external ids across examples, so good items are never duplicates

# Characters that broke ingest or could: surrogates, NUL and other controls, bidi and invisible ones.
HOSTILE = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\x7f", "\x85", "\n", "\t", "\u202e",
                           "\u2066", "\u200b", "\ufeff", "\u2028", "\U0001f600", "满", "ت", "\u3000"])
TEXT = st.text(st.characters(exclude_categories=()) | HOSTILE, max_size=40)
SCALAR = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**20, max_value=10**60)
          | st.floats() | TEXT | st.sampled_from(["", " ", "2026-11-20 09:00", "0001-01-01", "13812341234",
                                                    "S001", "hotline", "缴费", "20261129"]))
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)
SAFE_TEXT = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=20)
GOOD_ATTRIBUTES = st.dictionaries(st.sampled_from(["tier", "brand", "note", "等级"]),
                                  SAFE_TEXT | st.integers(-1000, 1000) | st.booleans() | st.none(), max_size=3)


@st.composite
def good_items(draw) -> dict:
    """An interaction that must be accepted; its external id is filled in by the test."""
    outlet, channel = draw(st.sampled_from([("S001", None), ("S002", "store"), ("HL1", "热线"), ("WEB1", "web")]))
    item = {"source": draw(st.sampled_from(["crm", "web", "来源"])),
            "msisdn": draw(st.sampled_from(["13812341234", "+86 139 0000 1111", "8615012345678", 13800001111])),
            "outlet": outlet, "ended_at": draw(st.sampled_from(["2026-11-20 09:30", "2026-11-19T23:00:00Z",
                                                                 "2026/11/20 09:59:59"])),
            "attributes": draw(GOOD_ATTRIBUTES)}
    if channel:
        item["channel"] = channel
    if draw(st.booleans()):
        item["business_type"] = draw(st.sampled_from(["缴费", "broadband", "投诉"]))
    if draw(st.booleans()):
        item["staff_id"] = draw(st.sampled_from(["E1001", 1002, "工号7"]))
    return item


@st.composite
def spoiled(draw, value: object, *, text_only: bool = False) -> object:
    """value with a hostile character slipped in, as text of another length, or as any JSON at all."""
    how = draw(st.sampled_from(["slip", "slip", "text", "long"] + ([] if text_only else ["json"])))
    if how == "slip":
        text = "" if value is None else str(value)
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(HOSTILE) + text[at:]
    if how == "text":
        return draw(TEXT)
    if how == "long":
        return draw(st.sampled_from(["x", "满", "1"])) * draw(st.sampled_from([33, 65, 129, 1001, 200_000]))
    return draw(JSON)


@st.composite
def entries(draw) -> tuple[str, object]:
    """(kind, item): a good item, a good item with one field spoiled, one stored before, or any JSON value."""
    kind = draw(st.sampled_from(["good", "spoiled", "spoiled", "spoiled", "any", "again"]))
    if kind == "any":
        return kind, draw(JSON)
    item = draw(good_items())
    if kind == "spoiled":
        field = draw(st.sampled_from(FIELDS + ["attributes", "attribute key", "attribute value", "extra"]))
        attributes = item["attributes"] = dict(item["attributes"]) or {"tier": "金卡"}
        key = next(iter(attributes))
        if field == "attribute key":
            attributes[draw(spoiled(key, text_only=True))] = attributes.pop(key)
        elif field == "attribute value":
            attributes[key] = draw(spoiled(attributes[key]))
        else:
            item[field] = draw(spoiled(item.get(field)))
    return kind, item


def snapshot(db) -> dict[tuple[str, str], tuple]:
    db.expire_all()
    rows = db.execute(select(Interaction.source, Interaction.external_id, Interaction.id, Interaction.msisdn,
                             Interaction.outlet_id, Interaction.channel, Interaction.business_type_id,
                             Interaction.ended_at, Interaction.staff_id, Interaction.attributes,
                             Interaction.received_at))
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def assert_named(errors: list[str]) -> None:
    assert errors
    for error in errors:
        field, sep, problem = error.partition(": ")
        assert sep and problem, error
        assert field in NAMED or field.startswith("attributes."), error


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(batch=st.lists(entries(), min_size=1, max_size=12), single=st.booleans(),
       raw=st.sampled_from([False] * 9 + [True]).flatmap(lambda any_body: JSON if any_body else st.none()))
def test_any_json_is_answered_without_a_server_error(client, auth, db, outlets, batch, single, raw):
    stored = snapshot(db)
    items = []
    for kind, item in batch:
        if isinstance(item, dict):
            item = dict(item)
            if kind == "again" and stored:
                item["source"], item["external_id"] = next(iter(stored))
            elif kind != "spoiled" or "external_id" not in item:
                item["external_id"] = f"fuzz-{next(_ids)}"
        items.append((kind, item))
    if raw is not None:
        body, items = raw, []  # any JSON at all: only the invariants hold
    elif single:
        body = items[0][1]
        items = items[:1] if isinstance(body, dict) else []
    else:
        body = [item for _, item in items]

    response = client.post(URL, data=json.dumps(body), headers={**auth, "Content-Type": "application/json"})

    assert response.status_code < 500
    answer = response.get_json()
    after = snapshot(db)
    assert {key: after[key] for key in stored} == stored  # nothing lost, nothing changed
    if response.status_code >= 400:
        assert_named(answer["errors"])
        if response.status_code != 422:
            assert after == stored
        return
    results = [answer] if isinstance(body, dict) else answer["results"]
    sent = [body] if isinstance(body, dict) else body
    accepted = set()
    for result, item in zip(results, sent, strict=True):
        if result["status"] == "rejected":
            assert_named(result["errors"])
        elif result["status"] == "accepted":
            accepted.add((str(item["source"]).strip(), str(item["external_id"]).strip()))  # stored stripped
    assert set(after) - set(stored) == accepted
    for (kind, item), result in zip(items, results, strict=bool(items)):
        if kind == "good":
            assert result["status"] == "accepted", (item, result)
        elif kind == "again" and stored:
            assert result["status"] == "duplicate", (item, result)
