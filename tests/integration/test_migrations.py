"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from orderline.core.db.engine import Database
from orderline.schema import metadata
from orderline.schema.migrate import current_revision, head_revision


async def test_database_is_at_head_and_matches_the_declared_tables(shared_db: Database) -> None:
    assert await current_revision(shared_db) == head_revision()

    def differences(sync_conn: Any) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(sync_conn), metadata))

    async with shared_db.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []
