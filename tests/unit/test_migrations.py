"""The migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sabaq.hub.store.database import make_engine, upgrade
from sabaq.hub.store.models import Base


def test_models_match_migrations(db_url):
    upgrade(db_url)  # idempotent: a second run changes nothing
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
