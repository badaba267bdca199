"""The `touchpoint` command against the test database."""
from __future__ import annotations

import csv
import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from survey.accounts.services import authenticate_token
from channels.models import BusinessType, Interaction, Outlet
from channels.sql.base import Base
from channels.taxonomy import DEFAULT_BUSINESS_TYPES
from survey.web import create_app
from survey.cli import main
from survey.runtime import Runtime


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_migrations_match_the_models(connection):
    context = MigrationContext.configure(connection)
    assert compare_metadata(context, Base.metadata) == []


def test_db_upgrade_builds_a_fresh_database_and_is_idempotent(settings, clock):
    runtime = Runtime.build(settings.replace(database_url=""), clock=clock)
    app = create_app(runtime=runtime)
    first = invoke(app, "db", "upgrade")
    assert f"{len(DEFAULT_BUSINESS_TYPES)} business types added" in first.output
    assert "0 business types added" in invoke(app, "db", "upgrade").output
    with runtime.session_factory() as db:
        assert db.scalar(select(BusinessType.id).where(BusinessType.name == "宽带")) is not None
        assert db.scalar(select(func.count()).select_from(Interaction)) == 0
    runtime.engine.dispose()


def test_import_commands_store_rows_and_print_a_summary(app, db, tmp_path):
    outlets = tmp_path / "outlets.csv"
    outlets.write_text("code,name,channel,kind,region,city\nS1,一号店,store,own,华东,上海\n", encoding="utf-8")
    interactions = tmp_path / "interactions.csv"
    with open(interactions, "w", encoding="gb18030", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["流水号", "手机号码", "网点编码", "业务类型", "结束时间"])
        writer.writerow(["r1", "13812341234", "S1", "宽带", "2026-11-20 08:00"])
        writer.writerow(["r2", "bad", "S1", "宽带", "2026-11-20 08:00"])

    assert "1 created or updated" in invoke(app, "import-outlets", str(outlets)).output
    out = invoke(app, "import-interactions", str(interactions)).output
    assert "2 rows: 1 stored, 0 already stored, 1 rejected (gb18030)" in out
    assert "interactions.errors.csv" in out
    assert db.scalar(select(func.count()).select_from(Interaction)) == 1
    assert db.scalar(select(Outlet.name)) == "一号店"


def test_an_import_exits_non_zero_only_when_no_row_could_be_stored(app, db, outlets, tmp_path):
    header = "external_id,msisdn,outlet,ended_at\n"
    mixed, hopeless = tmp_path / "mixed.csv", tmp_path / "hopeless.csv"
    mixed.write_text(header + "m1,13812341234,S001,2026-11-20 08:00\nm2,bad,S001,2026-11-20 08:00\n", encoding="utf-8")
    hopeless.write_text(header + "h1,bad,S001,2026-11-20 08:00\nh2,13812341234,NOPE,2026-11-20 08:00\n",
                        encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["import-interactions", str(mixed)]).exit_code == 0
    result = runner.invoke(main, ["import-interactions", str(hopeless)])
    assert result.exit_code == 1 and "no row could be stored" in result.output
    assert db.scalar(select(func.count()).select_from(Interaction)) == 1


def test_create_token_prints_a_token_that_authenticates(app, db, clock):
    token = invoke(app, "create-token", "crm").output.strip()
    assert authenticate_token(db, token, now=clock.now()) is not None


def test_create_user_rejects_a_channel_lead_without_outlets(app):
    result = app.test_cli_runner().invoke(main, ["create-user", "lead", "--role", "channel_lead",
                                                 "--password", "longenough"])
    assert result.exit_code == 2
    assert "outlets: a channel lead needs at least one outlet" in result.output


def test_home_page_shows_counts_and_masks_numbers(client, auth, users, sign_in):
    client.post("/api/v1/interactions", headers=auth, json={
        "source": "crm", "external_id": "h1", "msisdn": "13812341234", "outlet": "S001",
        "ended_at": "2026-11-20 09:00"})
    sign_in(users["manager"])
    page = client.get("/").get_data(as_text=True)
    assert "138****1234" in page and "13812341234" not in page
    assert "徐汇1号营业厅" in page


def test_shortboards_from_a_csv_ranks_the_planted_outlet_first_as_json(app, tmp_path):
    import json
    import random

    rng = random.Random(3)
    path = tmp_path / "answers.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["answered_at", "channel", "region", "city", "outlet", "business_type", "value", "reasons"])
        for outlet in range(40):
            weights = [20, 20, 20, 20, 20] if outlet == 7 else [60, 25, 8, 4, 3]
            for _ in range(120):
                value = rng.choices([1, 2, 3, 4, 5], weights)[0]
                reasons = ("wait_time" if outlet == 7 else "attitude;billing") if value >= 3 else ""
                writer.writerow(["2026-11-01T10:00:00", "store", "华东", "上海", f"O{outlet:02d}", "缴费", value, reasons])
        writer.writerow(["2026-11-01T10:00:00", "store", "华东", "上海", "O01", "缴费", "9", ""])
    result = app.test_cli_runner().invoke(main, ["shortboards", "--answers", str(path), "--by", "outlet", "--json"])
    boards = json.loads(result.stdout)
    assert boards[0]["group"] == "O07"
    assert {"group", "n", "rate", "scope_rate", "gap", "p", "q", "impact", "shrunken_rate", "top_reasons"} <= set(boards[0])
    assert boards[0]["top_reasons"][:1] == ["wait_time"]
    assert "value" in result.stderr  # the bad row is reported, not fatal


def test_exports_mask_phones_and_keep_to_the_scope(app, db, outlets, tmp_path, clock):
    from channels.services import record_interactions
    from survey.models import Answer, SurveySession
    from survey.states import SessionState

    for code, phone in (("S001", "+8613812341234"), ("S002", "+8613900001111")):
        result = record_interactions(db, [{"source": "t", "external_id": code, "msisdn": phone, "outlet": code,
                                           "ended_at": "2026-11-20 09:00"}], now=clock.now(), tz=app.extensions["touchpoint"].settings.tz)
        session = SurveySession(interaction_id=result.outcomes[0].id, msisdn=phone, survey="csat-default",
                                state=SessionState.COMPLETED, scheduled_for=clock.now(), sent_at=clock.now(),
                                created_at=clock.now())
        db.add(session)
        db.flush()
        db.add(Answer(session_id=session.id, survey="csat-default", question="satisfaction", value=4,
                      reasons=["wait_time"], text="4 排队太久", answered_at=clock.now(), response_seconds=60,
                      msisdn=phone, channel="store", outlet_code=code, region="华东", city="上海",
                      business_type="缴费", attributes={}))
    db.commit()
    target = tmp_path / "responses.csv"
    assert "1 rows written" in invoke(app, "export", "responses", str(target), "--outlets", "S001").output
    text = target.read_text(encoding="utf-8-sig")
    assert "138****1234" in text and "13812341234" not in text and "S002" not in text
    assert "4 排队太久" in text


def test_shortboards_from_the_database_reads_the_stored_answers_in_a_scope(app, db, clock, outlets):
    # The command loads the app only for this path (it runs without one for a CSV).
    from datetime import timedelta

    from tests.survey.reports.seeding import Planned, seed

    ago = [clock.now() - timedelta(days=1 + i % 20, hours=i % 7) for i in range(240)]
    seed(db, clock, [Planned(outlet, at, value=value) for i, at in enumerate(ago) for outlet, value in
                     (("S001", 1 if i % 10 else 4), ("S002", 4 if i % 2 else 1), ("S101", 2 if i % 8 else 5))])
    db.commit()
    boards = json.loads(invoke(app, "shortboards", "--json").output)
    assert [(b["group"], b["n"], b["status"]) for b in boards] == [("S002", 240, "short_board")]
    scoped = json.loads(invoke(app, "shortboards", "--json", "--outlets", "S001,S101").output)
    assert scoped and {b["group"] for b in scoped} <= {"S001", "S101"} and {b["status"] for b in scoped} == {"watch"}


def test_commands_of_their_own_packages_are_listed_and_run(app):
    result = invoke(app, "--help")
    assert "demo" in result.output and "shortboards" in result.output
    assert "--fresh" in invoke(app, "demo", "--help").output
