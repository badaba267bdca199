"""The `touchpoint` command against the test database."""
from __future__ import annotations

import csv

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from channels.accounts import authenticate_token
from channels.models import Base, BusinessType, Interaction, Outlet
from channels.taxonomy import DEFAULT_BUSINESS_TYPES
from survey.app import create_app
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


def test_create_token_prints_a_token_that_authenticates(app, db, clock):
    token = invoke(app, "create-token", "crm").output.strip()
    assert authenticate_token(db, token, now=clock.now()) is not None


def test_create_user_rejects_a_channel_lead_without_outlets(app):
    result = app.test_cli_runner().invoke(main, ["create-user", "lead", "--role", "channel_lead",
                                                 "--password", "longenough"])
    assert result.exit_code == 2
    assert "outlets: a channel lead needs at least one outlet" in result.output


def test_home_page_shows_counts_and_masks_numbers(client, auth, outlets):
    client.post("/api/v1/interactions", headers=auth, json={
        "source": "crm", "external_id": "h1", "msisdn": "13812341234", "outlet": "S001",
        "ended_at": "2026-11-20 09:00"})
    page = client.get("/").get_data(as_text=True)
    assert "138****1234" in page and "13812341234" not in page
    assert "徐汇1号营业厅" in page
