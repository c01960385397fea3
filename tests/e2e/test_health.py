"""Liveness and readiness as a load balancer or an orchestrator sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy.engine import Connection

from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.runtime import Runtime
from orderline.schema.migrate import alembic_config, head_revision
from orderline.wiring import provide_parts
from tests.e2e.conftest import api_client
from tests.support.servers import free_port


def runtime_on(url: str) -> Runtime:
    return provide_parts(Runtime(settings=Settings(database_url=url), db=Database(async_url(url))))


@pytest.fixture
async def unreachable() -> AsyncIterator[httpx.AsyncClient]:
    """The API over a PostgreSQL URL where nothing listens."""
    runtime = runtime_on(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    try:
        async with api_client(runtime) as client:
            yield client
    finally:
        await runtime.db.dispose()


async def behind(tmp_path: Path, revision: str | None) -> Runtime:
    """A SQLite database migrated only up to ``revision`` (None: not at all)."""
    runtime = runtime_on(f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}")
    if revision is not None:
        def upgrade(sync_conn: Connection) -> None:
            command.upgrade(alembic_config(sync_conn), revision)

        async with runtime.db.engine.begin() as conn:
            await conn.run_sync(upgrade)
    return runtime


async def test_a_migrated_database_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migration": head_revision(),
                               "expected_migration": head_revision()}


async def test_a_database_that_does_not_answer_is_not_ready_and_says_why(
        unreachable: httpx.AsyncClient) -> None:
    response = await unreachable.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]  # the driver's reason, for the operator


async def test_the_process_stays_alive_while_its_database_is_away(
        unreachable: httpx.AsyncClient) -> None:
    response = await unreachable.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("revision", [None, "0001"])
async def test_a_database_behind_the_newest_migration_is_not_ready(
        tmp_path: Path, revision: str | None) -> None:
    assert revision != head_revision()
    runtime = await behind(tmp_path, revision)
    try:
        async with api_client(runtime) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.db.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "migrations_pending", "migration": revision,
                               "expected_migration": head_revision()}
