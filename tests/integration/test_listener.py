"""The PostgreSQL NOTIFY listener: events committed on any connection wake this process's hub.

The listener gets its own ``EventHub``: the test's runtime signals the runtime's hub after its
own commits, so whatever reaches the listener's hub came through PostgreSQL. SQLite has no
LISTEN (its one process is signalled by ``Database`` after each COMMIT), so these tests run on
PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from orderline.core.config import Settings, driver_free_url
from orderline.core.db.engine import Database
from orderline.core.event_hub import EventHub
from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.event_types import AggregateType, EventType
from orderline.events.listener import OutboxListener, hub_listener
from orderline.events.outbox import emit
from orderline.wiring import provide_parts
from orderline.worker import loop as worker
from tests.conftest import Merchant, new_merchant

pytestmark = pytest.mark.postgres

WAIT = 30.0  # seconds: generous on a loaded machine; a notification arrives in milliseconds


@pytest.fixture
def pg_runtime(runtime: Runtime) -> Runtime:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has no LISTEN/NOTIFY: its single process is signalled in-process")
    return runtime


@dataclass
class Listening:
    listener: OutboxListener
    hub: EventHub
    stop: asyncio.Event
    task: asyncio.Task[None]


@pytest.fixture
async def listening(pg_runtime: Runtime) -> AsyncIterator[Listening]:
    hub = EventHub()
    listener = hub_listener(pg_runtime.db.url, hub)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    await asyncio.wait_for(listener.listening.wait(), WAIT)
    try:
        yield Listening(listener, hub, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


async def commit_event(runtime: Runtime, merchant: Merchant) -> uuid.UUID:
    """One committed event of ``merchant``'s business, as any service would write it;
    returns its aggregate's id."""
    aggregate_id = uuid.uuid4()
    await runtime.db.run(lambda conn: emit(
        conn, business_id=merchant.principal.business_id, type=EventType.ORDER_UPDATED,
        aggregate_type=AggregateType.ORDER, aggregate_id=aggregate_id, payload={},
        now=runtime.clock.now(), new_aggregate=True))
    return aggregate_id


async def relayed_within(runtime: Runtime, aggregate_id: uuid.UUID, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        async with runtime.db.read() as conn:
            rows = await outbox_store.events_of_aggregate(conn, aggregate_id)
        if rows and rows[0]["status"] != outbox_store.PENDING:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_an_event_committed_elsewhere_wakes_that_business_and_not_another(
        pg_runtime: Runtime, listening: Listening) -> None:
    shop, rival = await new_merchant(pg_runtime), await new_merchant(pg_runtime, "Rival shop")
    shop_waiter = listening.hub.subscribe(shop.principal.business_id)
    rival_waiter = listening.hub.subscribe(rival.principal.business_id)

    await commit_event(pg_runtime, shop)

    await asyncio.wait_for(shop_waiter.wait(), WAIT)
    assert not rival_waiter.is_set()


async def test_nothing_is_announced_before_the_writing_transaction_commits(
        pg_runtime: Runtime, listening: Listening) -> None:
    shop = await new_merchant(pg_runtime)
    waiter = listening.hub.subscribe(shop.principal.business_id)
    written = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with pg_runtime.db.write() as conn:
            await emit(conn, business_id=shop.principal.business_id,
                       type=EventType.ORDER_UPDATED, aggregate_type=AggregateType.ORDER,
                       aggregate_id=uuid.uuid4(), payload={}, now=pg_runtime.clock.now(),
                       new_aggregate=True)
            written.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await asyncio.wait_for(written.wait(), WAIT)
    await asyncio.sleep(0.3)  # time enough for a notification, if one were sent early
    assert not waiter.is_set()

    release.set()
    await writer
    await asyncio.wait_for(waiter.wait(), WAIT)


async def test_after_losing_its_connection_it_reconnects_and_wakes_everyone(
        pg_runtime: Runtime, listening: Listening) -> None:
    shop = await new_merchant(pg_runtime)
    listener = listening.listener
    first_pid = listener.backend_pid
    assert first_pid is not None and listener.connections == 1
    waiter = listening.hub.subscribe(shop.principal.business_id)

    admin = await asyncpg.connect(driver_free_url(pg_runtime.db.url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first_pid)
    finally:
        await admin.close()

    # Notifications sent while it was away are lost, so it wakes every subscriber once.
    await asyncio.wait_for(waiter.wait(), WAIT)
    await asyncio.wait_for(listener.listening.wait(), WAIT)
    assert listener.connections == 2 and listener.backend_pid not in (None, first_pid)

    # ... and it hears new events again.
    waiter.clear()
    await commit_event(pg_runtime, shop)
    await asyncio.wait_for(waiter.wait(), WAIT)


async def test_it_keeps_retrying_while_the_database_is_unreachable_and_stops_when_told(
) -> None:
    listener = OutboxListener("postgresql://nobody@127.0.0.1:1/none", on_businesses=print,
                              on_listening=print, first_backoff=0.01, max_backoff=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    await asyncio.sleep(0.3)
    assert not task.done() and not listener.listening.is_set()

    stop.set()
    await asyncio.wait_for(task, WAIT)
    assert listener.connections == 0


async def test_it_stops_promptly_and_closes_its_connection(pg_runtime: Runtime) -> None:
    listener = hub_listener(pg_runtime.db.url, EventHub())
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    await asyncio.wait_for(listener.listening.wait(), WAIT)
    pid = listener.backend_pid

    stop.set()
    await asyncio.wait_for(task, WAIT)

    admin = await asyncpg.connect(driver_free_url(pg_runtime.db.url))
    try:
        still_there = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
    finally:
        await admin.close()
    assert still_there == 0


async def test_the_worker_relay_wakes_at_once_on_events_another_process_commits(
        pg_runtime: Runtime) -> None:
    shop = await new_merchant(pg_runtime)
    # The worker polls only once a minute, and has its own engine and hub: the test's
    # commits reach it through NOTIFY alone.
    worker_runtime = provide_parts(Runtime(
        settings=Settings(database_url=pg_runtime.settings.database_url,
                          relay_interval_seconds=60),
        db=Database(pg_runtime.db.url, pool_size=2)))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(worker_runtime, stop=stop))
    try:
        probe = await commit_event(pg_runtime, shop)
        assert await relayed_within(pg_runtime, probe, 30)  # its first rounds are done...
        await asyncio.sleep(0.5)  # ... and it sleeps until woken

        event = await commit_event(pg_runtime, shop)

        assert await relayed_within(pg_runtime, event, WAIT)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await worker_runtime.db.dispose()
