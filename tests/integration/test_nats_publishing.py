"""Publishing events to a real NATS JetStream server (127.0.0.1:4222, or
``ORDERLINE_TEST_NATS_URL``): every relayed event lands in the stream once, under its
business's subject, with its id as ``Nats-Msg-Id``, however often it is published.

Each test uses a stream and subject prefix of its own and deletes the stream at the end, so
runs never see each other's messages. Without a server these tests skip; with ``CI=true``
they fail instead.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import delete, select, update

from orderline.core.config import Settings
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.broker import PUBLISHER, publisher_of
from orderline.events.event_types import EventType
from orderline.events.nats_publisher import NatsPublisher
from orderline.events.outbox import stored_event
from orderline.events.tables import HandlerInbox, OutboxEvent
from orderline.orders import status as order_status
from orderline.wiring import provide_parts
from orderline.worker.handlers import default_relay
from tests.conftest import IN_CI, Merchant
from tests.support.catalog import place, stock_sku
from tests.support.servers import free_port

NATS_URL = os.environ.get("ORDERLINE_TEST_NATS_URL", "nats://127.0.0.1:4222")


@dataclass
class Stream:
    name: str
    prefix: str
    url: str


async def _jetstream_answers(url: str) -> str | None:
    """None when the server answers with JetStream enabled, else why not."""
    try:
        client = await nats.connect(url, connect_timeout=2, allow_reconnect=False,
                                    max_reconnect_attempts=0)
    except Exception as error:
        return f"no NATS server at {url}: {error!r}"
    try:
        await client.jetstream().account_info()
    except Exception as error:
        return f"NATS at {url} has no JetStream: {error!r}"
    finally:
        await client.close()
    return None


@pytest.fixture
async def stream() -> AsyncIterator[Stream]:
    """A stream name and subject prefix for this test only; the stream is deleted after."""
    problem = await _jetstream_answers(NATS_URL)
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + " (CI=true: tests needing NATS must not be skipped)")
        pytest.skip(problem)
    tag = uuid.uuid4().hex[:10]
    yield Stream(name=f"ORDERLINE_TEST_{tag.upper()}", prefix=f"orderline_test_{tag}",
                 url=NATS_URL)
    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(f"ORDERLINE_TEST_{tag.upper()}")
    except NotFoundError:
        pass
    finally:
        await client.close()


@pytest.fixture
async def publishing(runtime: Runtime, stream: Stream) -> AsyncIterator[Runtime]:
    """The test's runtime with NATS configured as an operator would (settings only)."""
    settings = Settings(database_url=runtime.settings.database_url, nats_url=stream.url,
                        nats_stream=stream.name, nats_subject_prefix=stream.prefix)
    rt = provide_parts(Runtime(settings=settings, db=runtime.db))
    rt.put(PUBLISHER, NatsPublisher.from_settings(settings))
    await finish_earlier_events(runtime)
    yield rt
    await publisher_of(rt).close()


async def finish_earlier_events(runtime: Runtime) -> None:
    """Relay what other tests left pending (without NATS), so the test's relay deals with
    its own events only."""
    await default_relay(runtime).relay_until_idle()


async def messages_of(stream: Stream, business_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every message of the business in the stream: subject, Nats-Msg-Id and body."""
    client = await nats.connect(stream.url)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream.name)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream.name, seq)
            if msg.subject and msg.subject.startswith(f"{stream.prefix}.{business_id}."):
                assert msg.data is not None
                found.append({"subject": msg.subject, "msg_id": (msg.headers or {}).get(
                    "Nats-Msg-Id"), "body": json.loads(msg.data)})
        return found
    finally:
        await client.close()


async def events_of(rt: Runtime, merchant: Merchant) -> list[Any]:
    outbox = table_of(OutboxEvent)
    async with rt.db.read() as conn:
        rows = await conn.execute(select(outbox).where(
            outbox.c.business_id == merchant.principal.business_id).order_by(outbox.c.id))
        return list(rows.mappings())


async def test_relayed_events_land_in_the_stream_under_their_business_with_their_id(
        publishing: Runtime, merchant: Merchant, stream: Stream) -> None:
    rt = publishing
    await stock_sku(rt, merchant, "NATS-1", 5)
    order = await place(rt, merchant, ("NATS-1", 1))
    await order_status.confirm_payment(rt, merchant.principal, order["id"])
    await default_relay(rt).relay_until_idle()

    events = await events_of(rt, merchant)
    # The paid order's invoice number, given by the worker, is an order.updated of its own.
    assert [e["type"] for e in events] == [EventType.ORDER_CREATED, EventType.ORDER_PAID,
                                           EventType.ORDER_UPDATED]
    business = merchant.principal.business_id
    published = await messages_of(stream, business)
    assert [(m["subject"], m["msg_id"]) for m in published] == [
        (f"{stream.prefix}.{business}.order.created", str(events[0]["event_id"])),
        (f"{stream.prefix}.{business}.order.paid", str(events[1]["event_id"])),
        (f"{stream.prefix}.{business}.order.updated", str(events[2]["event_id"]))]
    assert published[1]["body"] == stored_event(events[1]).envelope()
    assert published[1]["body"]["data"]["order"]["id"] == str(order["id"])


async def test_an_event_published_again_is_stored_once(
        publishing: Runtime, merchant: Merchant, stream: Stream) -> None:
    rt = publishing
    await stock_sku(rt, merchant, "NATS-2", 5)
    order = await place(rt, merchant, ("NATS-2", 1))
    await default_relay(rt).relay_until_idle()
    [event] = await events_of(rt, merchant)

    # The relay forgets it published (as if it died before committing) and relays again...
    outbox, inbox = table_of(OutboxEvent), table_of(HandlerInbox)

    async def forget(conn: Any) -> None:
        await conn.execute(delete(inbox).where(inbox.c.event_id == event["event_id"],
                                               inbox.c.handler == "nats"))
        await conn.execute(update(outbox).where(outbox.c.id == event["id"])
                           .values(status="pending", relayed_at=None))

    await rt.db.run(forget)
    assert await default_relay(rt).relay_until_idle() >= 1
    # ...and the publisher is called with it once more, directly.
    await publisher_of(rt).publish(stored_event(event))

    published = await messages_of(stream, merchant.principal.business_id)
    assert [m["msg_id"] for m in published] == [str(event["event_id"])]
    assert published[0]["body"]["aggregate"]["id"] == str(order["id"])


async def test_an_existing_stream_is_used_and_a_closed_publisher_connects_again(
        runtime: Runtime, merchant: Merchant, stream: Stream) -> None:
    client = await nats.connect(stream.url)
    try:  # an operator created the stream beforehand
        await client.jetstream().add_stream(name=stream.name, subjects=[f"{stream.prefix}.>"])
    finally:
        await client.close()
    publisher = NatsPublisher(url=stream.url, stream=stream.name, subject_prefix=stream.prefix)
    await stock_sku(runtime, merchant, "NATS-3", 5)
    await place(runtime, merchant, ("NATS-3", 1))
    await place(runtime, merchant, ("NATS-3", 1))
    first, second = (stored_event(e) for e in await events_of(runtime, merchant))

    await publisher.publish(first)
    await publisher.close()
    await publisher.publish(second)
    await publisher.close()

    published = await messages_of(stream, merchant.principal.business_id)
    assert [m["msg_id"] for m in published] == [str(first.event_id), str(second.event_id)]


async def test_a_broker_that_is_down_leaves_the_event_pending_for_a_retry(
        runtime: Runtime, merchant: Merchant) -> None:
    settings = Settings(database_url=runtime.settings.database_url,
                        nats_url=f"nats://127.0.0.1:{free_port()}", nats_timeout=1)
    rt = provide_parts(Runtime(settings=settings, db=runtime.db))
    rt.put(PUBLISHER, NatsPublisher.from_settings(settings))
    await stock_sku(rt, merchant, "NATS-4", 5)
    await finish_earlier_events(runtime)
    order = await place(rt, merchant, ("NATS-4", 1))
    try:
        await default_relay(rt).relay_once()
    finally:
        await publisher_of(rt).close()

    [event] = await events_of(rt, merchant)
    assert event["aggregate_id"] == order["id"]
    assert (event["status"], event["attempts"]) == ("pending", 1)
    assert event["last_error"].startswith("nats:")
