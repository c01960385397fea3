"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from orderline.core.db.engine import Database
from orderline.schema import UNDECLARED_INDEXES, declared, metadata
from orderline.schema.migrate import current_revision, head_revision


async def test_database_is_at_head_and_matches_the_declared_tables(shared_db: Database) -> None:
    assert await current_revision(shared_db) == head_revision()

    def differences(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"include_object": declared})
        return list(compare_metadata(context, metadata))

    async with shared_db.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_the_indexes_no_model_declares_are_there_on_postgresql(
        shared_db: Database) -> None:
    if shared_db.is_sqlite:
        pytest.skip("PostgreSQL-only indexes")
    async with shared_db.engine.connect() as conn:
        found = set((await conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(:names)"),
            {"names": list(UNDECLARED_INDEXES)})).scalars())
    assert found == set(UNDECLARED_INDEXES)
