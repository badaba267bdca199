"""Alembic environment: runs against the engine handed in by survey.database.upgrade."""
from alembic import context

from channels.sql.base import Base
import survey.accounts.models  # noqa: F401
import survey.models  # noqa: F401
import survey.packs.models  # noqa: F401

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # the alembic command line: a URL in alembic.ini or -x url=...
    from sqlalchemy import create_engine
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
