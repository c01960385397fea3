"""ORDERLINE_DATABASE_READ_URL against a real streaming replica this module starts itself:
``initdb`` a throw-away primary, ``pg_basebackup -R`` a replica of it, both under ``pg_ctl`` on
free ports (``tests/support/postgres.py``).

What is read where is made visible without timing: the replica's replay is paused
(``pg_wal_replay_pause()``), and a row then changed on the primary behind the app's back can
only be missing from an answer the replica gave. Two runtimes, each with its own app, stand for
two server processes that share only the databases and Redis.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from orderline.api.app import create_app
from orderline.core.config import Settings, async_url, driver_free_url
from orderline.core.db.engine import Database
from orderline.core.db.replica import RedisWriteMarks
from orderline.core.runtime import Runtime
from orderline.schema.migrate import upgrade_to_head
from orderline.wiring import build_runtime
from tests.conftest import IN_CI, Merchant, new_merchant
from tests.support import postgres
from tests.support.postgres import ReplicatedPair

pytestmark = pytest.mark.postgres

REDIS_URL = os.environ.get("ORDERLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DATABASE = "orderline_replica_test"


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPair]:
    started = postgres.start_replicated_pair()
    if started is None:
        reason = "no initdb/pg_ctl/pg_basebackup (PostgreSQL server packages) to start a replica"
        if IN_CI:
            pytest.fail(reason + " (CI=true: tests needing PostgreSQL must not be skipped)")
        pytest.skip(reason)
    try:
        asyncio.run(_create_and_migrate(started))
        yield started
    finally:
        started.stop()


async def _create_and_migrate(pair: ReplicatedPair) -> None:
    admin = await asyncpg.connect(driver_free_url(pair.primary.admin_url))
    try:
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    db = Database(async_url(_primary(pair)))
    try:
        await upgrade_to_head(db)
    finally:
        await db.dispose()


def _primary(pair: ReplicatedPair) -> str:
    return postgres.with_database(pair.primary.admin_url, DATABASE)


def _replica(pair: ReplicatedPair) -> str:
    return postgres.with_database(pair.replica_url, DATABASE)


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:
        reason = f"no Redis server at {REDIS_URL}: {error!r}"
        if IN_CI:
            pytest.fail(reason + " (CI=true: tests needing Redis must not be skipped)")
        pytest.skip(reason)
    finally:
        await client.aclose()
    return REDIS_URL


@asynccontextmanager
async def server(pair: ReplicatedPair, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """One "server process": its own runtime (engines, write marks) and app."""
    runtime: Runtime = build_runtime(Settings(
        database_url=_primary(pair), database_read_url=_replica(pair), **settings))
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            yield client
    finally:
        await runtime.close()


@asynccontextmanager
async def on(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(driver_free_url(url))
    try:
        yield conn
    finally:
        await conn.close()


async def caught_up(pair: ReplicatedPair) -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    async with on(_primary(pair)) as primary, on(_replica(pair)) as replica:
        target = await primary.fetchval("SELECT pg_current_wal_insert_lsn()")
        for _ in range(3000):  # a bound for a broken replica, not a measurement
            if await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the replica did not catch up with the primary")


@asynccontextmanager
async def replay_paused(pair: ReplicatedPair) -> AsyncIterator[None]:
    async with on(_replica(pair)) as replica:
        await replica.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")


async def merchants(pair: ReplicatedPair) -> tuple[Merchant, Merchant]:
    runtime = build_runtime(Settings(database_url=_primary(pair)))
    try:
        return (await new_merchant(runtime, "Shop A"), await new_merchant(runtime, "Shop B"))
    finally:
        await runtime.close()


async def add_product(client: httpx.AsyncClient, merchant: Merchant, name: str) -> None:
    response = await client.post("/v1/products", headers=merchant.headers, json={
        "name": name, "variants": [{"sku": f"SKU-{uuid.uuid4().hex[:8]}", "name": name,
                                    "price": 1000}]})
    assert response.status_code == 201, response.text


async def product_names(client: httpx.AsyncClient, merchant: Merchant) -> set[str]:
    response = await client.get("/v1/products", headers=merchant.headers)
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()["data"]}


async def rename_behind_the_apps_back(pair: ReplicatedPair, merchant: Merchant,
                                      name: str) -> None:
    """A change on the primary that no caller made: no business's write mark moves."""
    async with on(_primary(pair)) as primary:
        await primary.execute("UPDATE products SET name = $1 WHERE business_id = $2", name,
                              merchant.principal.business_id)


def reads(served_by: str, reason: str) -> float:
    return REGISTRY.get_sample_value("orderline_replica_reads_total",
                                     {"served_by": served_by, "reason": reason}) or 0.0


async def test_lists_come_from_the_replica_and_each_business_reads_its_own_writes(
        pair: ReplicatedPair, redis_url: str) -> None:
    a, b = await merchants(pair)
    marks = {"redis_url": redis_url, "replica_max_lag_seconds": 86_400.0}
    async with server(pair, **marks) as first, server(pair, **marks) as second:
        await add_product(first, a, "A first")
        await add_product(first, b, "B as written")
        await caught_up(pair)
        async with replay_paused(pair):
            await add_product(first, a, "A second")  # through the first process
            await rename_behind_the_apps_back(pair, b, "B renamed on the primary")
            behind, from_replica = reads("primary", "behind"), reads("replica", "caught_up")

            # A reads its write at once, through either process (the second learns of it
            # from Redis): the replica has not replayed it, so the primary answers.
            assert await product_names(second, a) == {"A first", "A second"}
            assert await product_names(first, a) == {"A first", "A second"}
            assert reads("primary", "behind") == behind + 2

            # B wrote nothing since: the replica answers, without the primary's change.
            assert await product_names(second, b) == {"B as written"}
            assert reads("replica", "caught_up") == from_replica + 1
        await caught_up(pair)
        assert await product_names(second, b) == {"B renamed on the primary"}
        assert await product_names(second, a) == {"A first", "A second"}


async def test_without_redis_every_replica_read_waits_for_the_primarys_position(
        pair: ReplicatedPair) -> None:
    _, b = await merchants(pair)
    async with server(pair, replica_max_lag_seconds=86_400.0) as client:
        await add_product(client, b, "B as written")
        await caught_up(pair)
        assert await product_names(client, b) == {"B as written"}  # the replica, caught up
        async with replay_paused(pair):
            await rename_behind_the_apps_back(pair, b, "B renamed on the primary")
            behind = reads("primary", "behind")
            # No marks to know whose write it was: the replica must reach the primary's
            # position, which it cannot while paused, so even this change is read.
            assert await product_names(client, b) == {"B renamed on the primary"}
            assert reads("primary", "behind") == behind + 1


async def test_a_replica_lagging_past_the_bound_is_not_read(
        pair: ReplicatedPair, redis_url: str) -> None:
    a, b = await merchants(pair)
    async with server(pair, redis_url=redis_url, replica_max_lag_seconds=0.0) as client:
        await add_product(client, b, "B as written")
        await caught_up(pair)
        async with replay_paused(pair):
            # WAL arrives that the replica does not replay: its replay falls behind.
            await rename_behind_the_apps_back(pair, b, "B renamed on the primary")
            await add_product(client, a, "A's write, streamed but not replayed")
            lagging = reads("primary", "lagging")
            assert await product_names(client, b) == {"B renamed on the primary"}
            assert reads("primary", "lagging") == lagging + 1


async def test_reads_go_to_the_primary_while_the_replica_is_down(
        pair: ReplicatedPair, redis_url: str) -> None:
    a, _ = await merchants(pair)
    async with server(pair, redis_url=redis_url) as client:
        await add_product(client, a, "A first")
        await caught_up(pair)
        pair.stop_replica()
        try:
            unreachable = reads("primary", "unreachable")
            await add_product(client, a, "A second")
            assert await product_names(client, a) == {"A first", "A second"}
            assert await product_names(client, a) == {"A first", "A second"}  # resting
            overview = await client.get("/v1/overview", headers=a.headers)
            assert overview.status_code == 200, overview.text
            assert reads("primary", "unreachable") >= unreachable + 3
        finally:
            pair.start_replica()


async def test_write_marks_in_redis_are_shared_and_only_move_forward(redis_url: str) -> None:
    prefix = f"orderline-test-{uuid.uuid4().hex}"
    one, other = RedisWriteMarks(redis_url, prefix=prefix), RedisWriteMarks(redis_url,
                                                                            prefix=prefix)
    shop = uuid.uuid4()
    try:
        await one.note([shop], (1 << 40) + 5)  # past what a double holds exactly, in Lua
        await other.note([shop], 1 << 40)  # an older write, noted later by another process
        assert await other.latest(shop) == (1 << 40) + 5
        assert await one.latest(uuid.uuid4()) is None
    finally:
        await one.close()
        await other.close()
