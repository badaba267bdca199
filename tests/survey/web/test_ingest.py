"""POST /api/v1/interactions: per-item answers, duplicates stored once, errors naming the field."""
from __future__ import annotations

from sqlalchemy import func, select

from channels.models import Interaction


def item(external_id: str, **overrides) -> dict:
    base = {"source": "crm", "external_id": external_id, "msisdn": "13812341234", "outlet": "S001",
            "business_type": "缴费", "ended_at": "2026-11-20 09:30:00", "staff_id": "E1001",
            "attributes": {"tier": "金卡"}}
    return {**base, **overrides}


def count(db) -> int:
    return db.scalar(select(func.count()).select_from(Interaction))


def test_mixed_batch_answers_per_item_and_stores_exactly_the_good_ones(client, auth, db, outlets):
    first = client.post("/api/v1/interactions", json=[item("a-1")], headers=auth)
    assert first.json["accepted"] == 1

    batch = [
        item("a-2", msisdn="+86 139 0000 1111"),
        item("a-3", msisdn="010-12345678"),
        item("a-1"),  # stored by the first request
        item("a-4", ended_at="2026-11-21 09:00:00"),
        item("a-5", outlet="NOPE"),
        item("a-6", channel="hotline", outlet="HL1", business_type="投诉"),
        item("a-6", channel="hotline", outlet="HL1"),  # repeated inside the batch
        "not an object",
    ]
    response = client.post("/api/v1/interactions", json=batch, headers=auth)

    assert response.status_code == 200
    body = response.json
    assert [r["status"] for r in body["results"]] == [
        "accepted", "rejected", "duplicate", "rejected", "rejected", "accepted", "duplicate", "rejected"]
    errors = {r["index"]: r["errors"] for r in body["results"] if r["status"] == "rejected"}
    assert errors[1] == ["msisdn: not a mainland mobile number: '010-12345678'"]
    assert errors[3] == ["ended_at: in the future"]
    assert errors[4] == ["outlet: unknown code NOPE"]
    assert errors[7] == ["item: expected an object, got str"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 2, 4)
    stored = dict(db.execute(select(Interaction.external_id, Interaction.msisdn)).all())
    assert stored == {"a-1": "+8613812341234", "a-2": "+8613900001111", "a-6": "+8613812341234"}


def test_phone_forms_normalise_to_one_e164_number(client, auth, db, outlets):
    forms = ["13812341234", "+86 138 1234 1234", "8613812341234", "138-1234-1234"]
    batch = [item(f"p-{i}", msisdn=form) for i, form in enumerate(forms)]
    assert client.post("/api/v1/interactions", json=batch, headers=auth).json["accepted"] == 4
    assert set(db.scalars(select(Interaction.msisdn))) == {"+8613812341234"}


def test_times_without_zone_are_read_in_the_configured_timezone(client, auth, db, outlets):
    client.post("/api/v1/interactions", json=item("t-1", ended_at="2026-11-20 09:30"), headers=auth)
    client.post("/api/v1/interactions", json=item("t-2", ended_at="2026-11-20T01:30:00Z"), headers=auth)
    times = {e: t for e, t in db.execute(select(Interaction.external_id, Interaction.ended_at))}
    assert times["t-1"] == times["t-2"]
    assert times["t-1"].isoformat() == "2026-11-20T01:30:00+00:00"


def test_single_object_answers_with_its_own_status(client, auth, outlets):
    created = client.post("/api/v1/interactions", json=item("s-1"), headers=auth)
    again = client.post("/api/v1/interactions", json=item("s-1"), headers=auth)
    bad = client.post("/api/v1/interactions", json=item("s-2", channel="web"), headers=auth)
    assert (created.status_code, created.json["status"]) == (201, "accepted")
    assert (again.status_code, again.json["status"]) == (200, "duplicate")
    assert bad.status_code == 422
    assert bad.json["errors"] == ["channel: outlet S001 belongs to store, not web"]


def test_missing_fields_are_each_named(client, auth, outlets):
    response = client.post("/api/v1/interactions", json={"source": "crm"}, headers=auth)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "external_id: required", "outlet: required", "msisdn: required", "ended_at: required"}


def test_requires_a_valid_bearer_token(client, outlets, db):
    assert client.post("/api/v1/interactions", json=item("x")).status_code == 401
    wrong = client.post("/api/v1/interactions", json=item("x"), headers={"Authorization": "Bearer tp_nope"})
    assert wrong.status_code == 401
    assert wrong.json["errors"] == ["Authorization: unknown or revoked token"]
    assert count(db) == 0


def test_bad_bodies_get_clear_errors_and_store_nothing(client, auth, db, outlets):
    garbage = client.post("/api/v1/interactions", data="{nope", headers={**auth, "Content-Type": "application/json"})
    assert garbage.status_code == 400 and garbage.json["errors"][0].startswith("body: not valid JSON")
    too_many = client.post("/api/v1/interactions", json=[item(str(i)) for i in range(1001)], headers=auth)
    assert too_many.status_code == 413
    assert too_many.json["errors"] == ["body: batch of 1001 items exceeds the limit of 1000"]
    assert client.post("/api/v1/interactions", json=5, headers=auth).status_code == 400
    assert count(db) == 0


def test_a_full_batch_of_1000_is_accepted(client, auth, db, outlets):
    batch = [item(f"big-{i}", msisdn=f"1390000{i:04d}") for i in range(1000)]
    assert client.post("/api/v1/interactions", json=batch, headers=auth).json["accepted"] == 1000
    assert count(db) == 1000
