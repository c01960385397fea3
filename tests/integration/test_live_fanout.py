"""Shared reads of the outbox for live streams: a process's business streams follow one reader
per business (``events/business_tail.py``), and an order stream wakes for its own order only.

The streams here are the generators the SSE routes send (``live.merchant_events``,
``live.order_events``), consumed by tasks of the test; the SELECTs reaching the outbox are
counted on the engine, so "one read per wake-up" is what the database saw.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event

from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.errors import Forbidden
from orderline.core.event_hub import EventHub, Written
from orderline.core.runtime import Runtime
from orderline.events import business_tail, live, outbox_store
from orderline.events.business_tail import TAILS, LiveEvent
from orderline.events.event_types import AggregateType, EventType
from orderline.events.listener import hub_listener
from orderline.events.outbox import emit
from orderline.events.tables import OutboxEvent
from orderline.tenancy.rules import Scope
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant

WAIT = 20.0  # seconds: generous on a loaded machine; events arrive in milliseconds
OUTBOX = OutboxEvent.__tablename__


@pytest.fixture
def quiet_runtime(shared_db: Database, database_url: str) -> Runtime:
    """A runtime whose streams do not poll (60 s): every read counted is a wake-up's."""
    return provide_parts(Runtime(settings=Settings(database_url=database_url,
                                                   live_poll_seconds=60), db=shared_db))


class Reads:
    """SELECTs of the outbox sent on an engine, while counting."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = statement.lstrip().upper()
        if text.startswith("SELECT") and f"FROM {OUTBOX.upper()}" in text:
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def counting_reads(db: Database) -> Iterator[Reads]:
    reads = Reads()
    event.listen(db.engine.sync_engine, "before_cursor_execute", reads)
    try:
        yield reads
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", reads)


class Consumer:
    """A stream read by a task into ``received`` (or held unread while ``paused``)."""

    def __init__(self, events: Any) -> None:
        self.received: list[LiveEvent] = []
        self.resume = asyncio.Event()
        self.resume.set()
        self._events = events
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for item in self._events:
            await self.resume.wait()
            self.received.append(item)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self._events.aclose()


@asynccontextmanager
async def consumers(*streams: Any) -> AsyncIterator[list[Consumer]]:
    running = [Consumer(stream) for stream in streams]
    try:
        yield running
    finally:
        for consumer in running:
            await consumer.close()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.01)


async def commit(runtime: Runtime, merchant: Merchant, type: EventType = EventType.ORDER_UPDATED,
                 aggregate_id: uuid.UUID | None = None) -> uuid.UUID:
    """One committed event (its own transaction); returns its event id."""
    new = aggregate_id is None
    aggregate = aggregate_id or uuid.uuid4()
    aggregate_type = (AggregateType.PAYMENT_PROOF if type.value.startswith("payment_proof.")
                      else AggregateType.ORDER)
    return await runtime.db.run(lambda conn: emit(
        conn, business_id=merchant.principal.business_id, type=type,
        aggregate_type=aggregate_type, aggregate_id=aggregate, payload={"n": 1},
        now=runtime.clock.now(), new_aggregate=new))


def following(runtime: Runtime, merchant: Merchant, count: int) -> Callable[[], bool]:
    """True once the business's tail has ``count`` followers and has read once."""
    def ready() -> bool:
        tail = runtime.get(TAILS).get(merchant.principal.business_id)
        return tail is not None and len(tail.followers) == count and tail.reads >= 1
    return ready


def tail_of(runtime: Runtime, merchant: Merchant) -> business_tail.BusinessTail:
    tail = runtime.get(TAILS).get(merchant.principal.business_id)
    assert tail is not None
    return tail


async def business_stream(runtime: Runtime, merchant: Merchant, types: list[str] | None = None,
                          last_event_id: str | None = None, scopes: set[Scope] | None = None
                          ) -> Any:
    principal = merchant.principal
    if scopes is not None:
        principal = dataclasses.replace(principal, scopes=frozenset(scopes))
    stream = await live.open_merchant_stream(runtime, principal, types=types or [],
                                             last_event_id=last_event_id)
    return live.merchant_events(runtime, stream)


def event_ids(consumer: Consumer) -> list[str]:
    """The event ids (of the envelopes) a stream received, in order."""
    return [str(json.loads(item.data)["id"]) for item in consumer.received]


def _all_have(running: list[Consumer], count: int) -> bool:
    return all(len(consumer.received) >= count for consumer in running)


def positions(consumer: Consumer) -> list[tuple[int, int]]:
    return [live.decode_position(item.id) for item in consumer.received]


async def test_many_streams_get_each_event_once_in_order_from_one_read_per_wake_up(
        quiet_runtime: Runtime) -> None:
    runtime = quiet_runtime
    shop = await new_merchant(runtime)
    streams = [await business_stream(runtime, shop) for _ in range(20)]
    with counting_reads(runtime.db) as reads:
        async with consumers(*streams) as running:
            await until(following(runtime, shop, 20), "20 followers, one first read")
            await asyncio.sleep(0.1)  # the first read done, nothing else to read
            sent: list[str] = []
            tail = tail_of(runtime, shop)
            for n in range(1, 4):
                before, tail_before = reads.count, (tail.reads, tail.empty_reads)
                sent.append(str(await commit(runtime, shop)))
                await until(partial(_all_have, running, n), f"event {n} on every stream")
                await asyncio.sleep(0.1)  # time for a needless second read, if one came
                # Every read was the shared one, and one read found the event. (PostgreSQL:
                # a transaction running elsewhere on the server may hide the new row for a
                # moment; the tail then re-reads, and those re-reads find nothing.)
                tail_reads = tail.reads - tail_before[0]
                assert reads.count - before == tail_reads, reads.statements[before:]
                assert tail_reads - (tail.empty_reads - tail_before[1]) == 1
                if runtime.db.is_sqlite:  # one writer at a time: nothing is ever hidden
                    assert tail_reads == 1
            for consumer in running:
                assert event_ids(consumer) == sent
                assert positions(consumer) == sorted(positions(consumer))


async def test_different_type_filters_and_scopes_share_one_read(quiet_runtime: Runtime) -> None:
    runtime = quiet_runtime
    shop = await new_merchant(runtime)
    with pytest.raises(Forbidden):  # the proof events need the verify scope
        await business_stream(runtime, shop, ["payment_proof.approved"], scopes={Scope.READ})
    verifier = await business_stream(runtime, shop, ["payment_proof.approved", "order.paid"],
                                     scopes={Scope.READ, Scope.VERIFY})
    reader = await business_stream(runtime, shop, scopes={Scope.READ})  # the default types
    created_only = await business_stream(runtime, shop, ["order.created"])
    with counting_reads(runtime.db) as reads:
        async with consumers(verifier, reader, created_only) as (v, r, c):
            await until(following(runtime, shop, 3), "3 followers, one first read")
            await asyncio.sleep(0.1)
            tail = tail_of(runtime, shop)
            before, tail_before = reads.count, (tail.reads, tail.empty_reads)
            order = uuid.uuid4()
            created = await commit(runtime, shop, EventType.ORDER_CREATED, None)
            proof = await commit(runtime, shop, EventType.PAYMENT_PROOF_APPROVED)
            await commit(runtime, shop, EventType.ORDER_CREATED, order)  # a 2nd aggregate's
            paid = await commit(runtime, shop, EventType.ORDER_PAID, order)
            await until(lambda: len(v.received) == 2 and len(r.received) == 3
                        and len(c.received) == 2, "every stream's events")
            await asyncio.sleep(0.1)
            # Every read was the shared one whatever the filters, at most one found each commit.
            assert reads.count - before == tail.reads - tail_before[0]
            assert (tail.reads - tail_before[0]) - (tail.empty_reads - tail_before[1]) <= 4
            assert [i.type for i in v.received] == ["payment_proof.approved", "order.paid"]
            assert event_ids(v)[0] == str(proof) and event_ids(v)[1] == str(paid)
            assert [i.type for i in r.received] == ["order.created", "order.created",
                                                    "order.paid"]
            assert "payment_proof.approved" not in {i.type for i in r.received}
            assert [i.type for i in c.received] == ["order.created", "order.created"]
            assert event_ids(c)[0] == str(created)


async def test_a_slow_stream_catches_up_from_the_database(
        quiet_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = quiet_runtime
    monkeypatch.setattr(business_tail, "MAX_BUFFERED", 3)
    shop = await new_merchant(runtime)
    fast, slow = (await business_stream(runtime, shop), await business_stream(runtime, shop))
    async with consumers(fast, slow) as (quick, lagging):
        lagging.resume.clear()  # its client reads nothing for now
        await until(following(runtime, shop, 2), "2 followers, one first read")
        sent = [str(await commit(runtime, shop)) for _ in range(8)]
        await until(lambda: len(quick.received) == 8, "all events on the fast stream")
        assert any(not f.in_step for f in tail_of(runtime, shop).followers)  # it fell behind

        lagging.resume.set()
        await until(lambda: len(lagging.received) >= 8, "the slow stream catching up")
        sent.append(str(await commit(runtime, shop)))  # and it follows live again
        await until(lambda: len(lagging.received) == 9 and len(quick.received) == 9,
                    "the next event on both")
        assert event_ids(quick) == sent
        assert event_ids(lagging) == sent
        assert all(f.in_step for f in tail_of(runtime, shop).followers)


async def test_a_stream_resumed_behind_the_shared_reader_gets_exactly_what_it_missed(
        quiet_runtime: Runtime) -> None:
    runtime = quiet_runtime
    shop = await new_merchant(runtime)
    async with consumers(await business_stream(runtime, shop)) as (watching,):
        await until(following(runtime, shop, 1), "the tail's first read")
        sent = [str(await commit(runtime, shop)) for _ in range(5)]
        await until(lambda: len(watching.received) == 5, "5 events")
        resume_after = watching.received[1].id  # the client saw two, then reconnected
        resumed = await business_stream(runtime, shop, last_event_id=resume_after)
        async with consumers(resumed) as (late,):
            await until(lambda: len(late.received) == 3, "the 3 missed events")
            sent.append(str(await commit(runtime, shop)))
            await until(lambda: len(late.received) == 4 and len(watching.received) == 6,
                        "the next event on both")
            assert event_ids(late) == sent[2:]
            assert event_ids(watching) == sent


async def test_an_order_stream_wakes_and_reads_for_its_own_order_only(
        quiet_runtime: Runtime) -> None:
    runtime = quiet_runtime
    shop = await new_merchant(runtime)
    mine, other = uuid.uuid4(), uuid.uuid4()
    await commit(runtime, shop, EventType.ORDER_CREATED, None)  # an order of nobody here
    await runtime.db.run(lambda conn: emit(
        conn, business_id=shop.principal.business_id, type=EventType.ORDER_CREATED,
        aggregate_type=AggregateType.ORDER, aggregate_id=mine, payload={},
        now=runtime.clock.now(), new_aggregate=True))
    await runtime.db.run(lambda conn: emit(
        conn, business_id=shop.principal.business_id, type=EventType.ORDER_CREATED,
        aggregate_type=AggregateType.ORDER, aggregate_id=other, payload={},
        now=runtime.clock.now(), new_aggregate=True))
    stream = live.order_events(runtime, live.OrderStream(
        business_id=shop.principal.business_id, order_id=mine, after_sequence=1))
    with counting_reads(runtime.db) as reads:
        async with consumers(stream) as (buyer,):
            await until(lambda: runtime.hub.subscribers == 1 and reads.count >= 1,
                        "the order stream's first read")
            await asyncio.sleep(0.1)
            before = reads.count
            for _ in range(3):
                await commit(runtime, shop, EventType.ORDER_UPDATED, other)
            await asyncio.sleep(0.2)  # time enough to be woken, if it were
            assert reads.count == before and buyer.received == []

            paid = await commit(runtime, shop, EventType.ORDER_PAID, mine)
            await until(lambda: len(buyer.received) == 1, "its own order's event")
            assert event_ids(buyer) == [str(paid)] and buyer.received[0].id == "2"


def test_the_hub_wakes_an_order_waiter_for_its_own_order_or_an_unnamed_signal() -> None:
    hub = EventHub()
    business, mine, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    waiter = hub.subscribe_aggregate(business, mine)
    business_waiter = hub.subscribe(business)
    watch = hub.watch(business)

    hub.announce([Written(business, other, 7)])
    assert not waiter.is_set() and business_waiter.is_set()
    assert watch.take() == ({7}, False)

    hub.announce([Written(business, mine, 8)])
    assert waiter.is_set()
    waiter.clear()

    hub.signal({business})  # no aggregate named: every order of the business may have news
    assert waiter.is_set() and watch.take() == ({8}, True)
    waiter.clear()

    hub.announce([Written(uuid.uuid4(), mine, 9)])  # another business's aggregate
    assert not waiter.is_set()

    hub.signal_all()
    assert waiter.is_set()
    assert hub.subscribers == 3
    hub.unsubscribe_aggregate(business, mine, waiter)
    hub.unsubscribe(business, business_waiter)
    hub.unwatch(business, watch)
    assert hub.subscribers == 0


async def test_a_notification_from_another_process_names_its_order_and_row(
        quiet_runtime: Runtime) -> None:
    runtime = quiet_runtime
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has no LISTEN/NOTIFY: its single process is signalled in-process")
    hub = EventHub()  # the listener's own hub: only what came through PostgreSQL reaches it
    listener = hub_listener(runtime.db.url, hub)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        await asyncio.wait_for(listener.listening.wait(), WAIT)
        shop = await new_merchant(runtime)
        business = shop.principal.business_id
        mine, other = uuid.uuid4(), uuid.uuid4()
        my_order = hub.subscribe_aggregate(business, mine)
        other_order = hub.subscribe_aggregate(business, other)
        watch = hub.watch(business)

        await runtime.db.run(lambda conn: emit(
            conn, business_id=business, type=EventType.ORDER_CREATED,
            aggregate_type=AggregateType.ORDER, aggregate_id=mine, payload={},
            now=runtime.clock.now(), new_aggregate=True))
        await asyncio.wait_for(my_order.wait(), WAIT)
        assert not other_order.is_set()
        async with runtime.db.read() as conn:
            (row,) = await outbox_store.events_of_aggregate(conn, mine)
        assert watch.take() == ({int(row["id"])}, False)
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


async def test_without_any_signal_the_shared_reader_still_polls(
        shared_db: Database, database_url: str) -> None:
    runtime = provide_parts(Runtime(settings=Settings(database_url=database_url,
                                                      live_poll_seconds=0.2), db=shared_db))
    shop = await new_merchant(runtime)
    streams = [await business_stream(runtime, shop) for _ in range(3)]
    async with consumers(*streams) as running:
        await until(following(runtime, shop, 3), "3 followers, one first read")
        runtime.db.on_events_committed = None  # a lost signal: nobody is told of the commit
        try:
            sent = str(await commit(runtime, shop))
        finally:
            runtime.db.on_events_committed = runtime.hub.announce
        await until(partial(_all_have, running, 1), "the event, found by the poll")
        assert all(event_ids(consumer) == [sent] for consumer in running)
