"""Live updates over Server-Sent Events, through real server processes and real sockets.

``httpx.ASGITransport`` would buffer a whole (endless) response, so every stream here is read
from an ``orderline serve`` process, and parsed line by line as a browser's EventSource would.
The servers poll the outbox only once a minute (``ORDERLINE_LIVE_POLL_SECONDS``), so an event
that arrives within the tests' few seconds was delivered by a signal: the in-process hub for a
server's own commits, PostgreSQL NOTIFY for another server's. Refusals are plain JSON errors
sent before any stream starts, so those go through the in-process ``client``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.api.app import create_app
from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import error_of
from tests.support.catalog import stock_sku
from tests.support.servers import running_server, serving_in_thread

pytestmark = pytest.mark.slow

WAIT = 10.0  # seconds to wait for an event that should come at once
LIVE_ENV = {"ORDERLINE_LIVE_POLL_SECONDS": "60", "ORDERLINE_LIVE_HEARTBEAT_SECONDS": "0.5"}
NOT_POSTGRES = "SQLite is the single-process embedded database: two server processes (and " \
               "NOTIFY between them) need PostgreSQL"


@pytest.fixture(scope="module")
def server(database_url: str, shared_db: Database) -> Iterator[str]:
    """A running API on this backend (``shared_db`` makes sure it is migrated first)."""
    with running_server(database_url, extra_env=LIVE_ENV) as base:
        yield base


@pytest.fixture(scope="module")
def other_server(database_url: str, shared_db: Database) -> Iterator[str]:
    """A second API process on the same PostgreSQL database."""
    if database_url.startswith("sqlite"):
        pytest.skip(NOT_POSTGRES)
    with running_server(database_url, extra_env=LIVE_ENV) as base:
        yield base


class StreamEnded(Exception):
    pass


@dataclass(frozen=True)
class Message:
    id: str | None
    type: str
    data: dict[str, Any]


class EventStream:
    """Reads SSE messages off a streaming response (comments and ``retry:`` skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout: float = WAIT) -> Message:
        fields: dict[str, str] = {}
        data: list[str] = []
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if not line:
                    if data:
                        return Message(fields.get("id"), fields.get("event", "message"),
                                       json.loads("\n".join(data)))
                    fields = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        raise StreamEnded("the server ended the stream")

    async def take(self, count: int) -> list[Message]:
        return [await self.next() for _ in range(count)]


@asynccontextmanager
async def listen(base: str, path: str, *, headers: dict[str, str] | None = None,
                 params: dict[str, str] | None = None) -> AsyncIterator[EventStream]:
    """An open stream: the server has fixed where it starts once this block is entered."""
    async with (httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(WAIT, read=30)) as http,
                http.stream("GET", path, headers=headers, params=params) as response):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)


class Shop:
    """A merchant acting through one server's HTTP API."""

    def __init__(self, base: str, merchant: Merchant) -> None:
        self.base = base
        self.merchant = merchant
        self.headers = merchant.headers

    def through(self, base: str) -> Shop:
        return Shop(base, self.merchant)

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base, headers=self.headers,
                                     timeout=WAIT) as http:
            response = await http.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    async def place(self, sku: str, quantity: int = 1) -> dict[str, Any]:
        return await self._call("POST", "/v1/orders", json={
            "customer": {"name": "Ada Buyer", "phone": "+1 555 0100"}, "channel": "web",
            "payment_method": "card", "lines": [{"sku": sku, "quantity": quantity}]})

    async def pay(self, order: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", f"/v1/orders/{order['id']}/payment",
                                json={"reference": "pay-1", "amount": order["total"]})

    async def ship(self, order: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", f"/v1/orders/{order['id']}/shipping",
                                json={"carrier": "DHL", "tracking_number": "JD0001"})

    async def deliver(self, order: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", f"/v1/orders/{order['id']}/status",
                                json={"status": "delivered"})

    async def cancel(self, order: dict[str, Any]) -> dict[str, Any]:
        return await self._call("DELETE", f"/v1/orders/{order['id']}")


async def open_shop(runtime: Runtime, base: str, sku: str, on_hand: int = 50, *,
                    threshold: int | None = None, name: str = "Live shop") -> Shop:
    merchant = await new_merchant(runtime, name=name)
    await stock_sku(runtime, merchant, sku, on_hand, threshold=threshold)
    return Shop(base, merchant)


def order_path(order: dict[str, Any]) -> str:
    return f"/v1/orders/{order['id']}/events"


def buyer(order: dict[str, Any]) -> dict[str, str]:
    return {"access_token": order["access_token"]}


# The issue's test: two server processes, one database.

async def test_a_buyer_watching_one_server_sees_the_payment_made_through_another(
        runtime: Runtime, server: str, other_server: str) -> None:
    shop_on_b = await open_shop(runtime, other_server, "LIVE-XP")
    order = await shop_on_b.place("LIVE-XP")

    async with listen(server, order_path(order), params=buyer(order)) as stream:
        started = time.monotonic()
        await shop_on_b.pay(order)
        paid = await stream.next()
        latency = time.monotonic() - started

    assert (paid.type, paid.id) == ("order.paid", "2")  # order.created was 1
    assert paid.data["type"] == "order.paid"
    assert paid.data["aggregate"] == {"type": "order", "id": order["id"], "sequence": 2}
    assert paid.data["business_id"] == str(shop_on_b.merchant.principal.business_id)
    assert paid.data["data"]["order"]["status"] == "paid"
    assert paid.data["data"]["previous_status"] == "pending_payment"
    assert latency < 5, "delivered by NOTIFY, long before the servers' one-minute poll"


async def test_a_merchant_stream_on_one_server_sees_orders_placed_through_another(
        runtime: Runtime, server: str, other_server: str) -> None:
    shop_on_b = await open_shop(runtime, other_server, "LIVE-XM")

    async with listen(server, "/v1/stream", headers=shop_on_b.headers) as stream:
        order = await shop_on_b.place("LIVE-XM")
        created = await stream.next()

    assert created.type == "order.created"
    assert created.data["aggregate"]["id"] == order["id"]


async def test_an_event_whose_transaction_commits_late_is_not_skipped(
        runtime: Runtime, server: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite commits one writer at a time: no transaction commits late")
    shop = await open_shop(runtime, server, "LIVE-LATE")
    business_id = shop.merchant.principal.business_id

    async def write_event(conn: AsyncConnection) -> uuid.UUID:
        aggregate_id = uuid.uuid4()
        await emit(conn, business_id=business_id, type=EventType.ORDER_UPDATED,
                   aggregate_type=AggregateType.ORDER, aggregate_id=aggregate_id,
                   payload={}, now=runtime.clock.now(), new_aggregate=True)
        return aggregate_id

    async with listen(server, "/v1/stream", headers=shop.headers,
                      params={"types": "order.updated"}) as stream:
        async with runtime.db.write() as older:
            early = await write_event(older)
            late = await runtime.db.run(write_event)  # begins later, commits first
            await asyncio.sleep(0.3)  # the stream is woken meanwhile, and must not move on
        first, second = await stream.take(2)

    assert [first.data["aggregate"]["id"], second.data["aggregate"]["id"]] == [str(early),
                                                                               str(late)]


# One server: events it commits itself (on SQLite, the embedded, single-process mode).

async def test_a_stream_receives_what_the_same_server_commits(runtime: Runtime,
                                                              server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-ONE")
    order = await shop.place("LIVE-ONE")

    async with listen(server, order_path(order), headers=shop.headers) as stream:
        await shop.pay(order)
        await shop.ship(order)
        paid, shipped = await stream.take(2)

    assert [(m.type, m.id) for m in (paid, shipped)] == [("order.paid", "2"),
                                                         ("order.shipped", "3")]
    assert shipped.data["data"]["order"]["status"] == "shipped"


async def test_an_order_stream_can_replay_the_whole_history_first(runtime: Runtime,
                                                                   server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-HIST")
    order = await shop.place("LIVE-HIST")
    await shop.pay(order)

    async with listen(server, order_path(order),
                      params={**buyer(order), "from": "start"}) as stream:
        replayed = await stream.take(2)
        await shop.ship(order)
        live = await stream.next()

    assert [(m.type, m.id) for m in [*replayed, live]] == [
        ("order.created", "1"), ("order.paid", "2"), ("order.shipped", "3")]


# Reconnecting with Last-Event-ID: exactly what was missed, then live again.

async def test_an_order_stream_resumed_with_last_event_id_gets_exactly_the_missed_events(
        runtime: Runtime, server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-RESUME")
    order = await shop.place("LIVE-RESUME")
    async with listen(server, order_path(order), params=buyer(order)) as stream:
        await shop.pay(order)
        last_seen = await stream.next()
    assert last_seen.id == "2"

    await shop.ship(order)  # while the buyer is away

    async with listen(server, order_path(order), params=buyer(order),
                      headers={"Last-Event-ID": last_seen.id}) as stream:
        missed = await stream.next()
        await shop.deliver(order)
        live = await stream.next()

    assert [(m.type, m.id) for m in (missed, live)] == [("order.shipped", "3"),
                                                        ("order.delivered", "4")]


async def test_last_event_id_may_come_as_a_query_parameter(runtime: Runtime,
                                                           server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-QRESUME")
    order = await shop.place("LIVE-QRESUME")
    await shop.pay(order)
    await shop.ship(order)

    async with listen(server, order_path(order),
                      params={**buyer(order), "last_event_id": "1", "from": "start"}) as stream:
        missed = await stream.take(2)

    assert [m.id for m in missed] == ["2", "3"]  # Last-Event-ID wins over from=start


async def test_a_merchant_stream_resumed_with_last_event_id_gets_exactly_the_missed_events(
        runtime: Runtime, server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-MRESUME")
    async with listen(server, "/v1/stream", headers=shop.headers,
                      params={"types": "order.created,order.paid"}) as stream:
        first = await shop.place("LIVE-MRESUME")
        last_seen = await stream.next()
    assert last_seen.type == "order.created" and last_seen.id is not None

    second = await shop.place("LIVE-MRESUME")  # while the merchant is away
    await shop.pay(first)
    await shop.ship(first)  # not a chosen type

    async with listen(server, "/v1/stream", headers={**shop.headers,
                                                     "Last-Event-ID": last_seen.id},
                      params={"types": "order.created,order.paid"}) as stream:
        missed = await stream.take(2)
        third = await shop.place("LIVE-MRESUME")
        live = await stream.next()

    assert [(m.type, m.data["aggregate"]["id"]) for m in [*missed, live]] == [
        ("order.created", second["id"]), ("order.paid", first["id"]),
        ("order.created", third["id"])]
    ids = [last_seen.id, *(m.id for m in [*missed, live])]
    assert len(set(ids)) == 4 and all(i and "-" in i for i in ids)


async def test_a_merchant_stream_sends_low_stock_alerts(runtime: Runtime, server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-LOW", 3, threshold=1)
    async with listen(server, "/v1/stream", headers=shop.headers,
                      params={"types": "stock.low"}) as stream:
        await shop.place("LIVE-LOW", 2)
        low = await stream.next()

    assert low.type == "stock.low"
    assert low.data["data"]["sku"] == "LIVE-LOW"
    assert low.data["data"]["available"] == 1


async def test_an_idle_stream_gets_heartbeats(runtime: Runtime, server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-IDLE")
    order = await shop.place("LIVE-IDLE")
    async with listen(server, order_path(order), params=buyer(order)) as stream:
        # Nothing happens to the order, so the stream carries only comments: reading a message
        # times out once two pings (every 0.5 s) have come, or fails on any message.
        async def two_pings() -> None:
            while len([c for c in stream.comments if c.startswith("ping")]) < 2:
                await asyncio.sleep(0.05)

        pinged = asyncio.create_task(two_pings())
        reading = asyncio.create_task(stream.next(timeout=WAIT * 3))
        done, _ = await asyncio.wait({pinged, reading}, return_when=asyncio.FIRST_COMPLETED,
                                     timeout=WAIT * 3)
        reading.cancel()
        pinged.cancel()
    assert pinged in done, f"no message was expected, and two pings were: {stream.comments}"


# Who may listen to what.

async def test_a_merchant_stream_never_shows_another_business_events(
        runtime: Runtime, server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-ISO")
    rival = await open_shop(runtime, server, "LIVE-ISO", name="Rival shop")

    async with listen(server, "/v1/stream", headers=shop.headers) as stream:
        await rival.place("LIVE-ISO")
        own = await shop.place("LIVE-ISO")
        first = await stream.next()

    assert first.data["aggregate"]["id"] == own["id"]
    assert first.data["business_id"] == str(shop.merchant.principal.business_id)


async def test_the_buyer_token_opens_its_own_order_only(runtime: Runtime,
                                                        server: str) -> None:
    shop = await open_shop(runtime, server, "LIVE-TOKEN")
    order, other = await shop.place("LIVE-TOKEN"), await shop.place("LIVE-TOKEN")

    # As a bearer token too, for clients that can set headers.
    async with listen(server, order_path(order),
                      headers={"Authorization": f"Bearer {order['access_token']}"}) as stream:
        await shop.pay(other)
        await shop.pay(order)
        paid = await stream.next()
    assert paid.data["aggregate"]["id"] == order["id"]

    async with httpx.AsyncClient(base_url=server, timeout=WAIT) as http:
        refused = await http.get(order_path(order), params=buyer(other))
    error_of(refused, 404, "not_found")


async def test_open_streams_end_when_the_server_shuts_down(
        database_url: str, shared_db: Database, runtime: Runtime) -> None:
    serving = running_server(database_url, extra_env=LIVE_ENV)
    base = serving.__enter__()
    stopped = False
    try:
        shop = await open_shop(runtime, base, "LIVE-STOP")
        order = await shop.place("LIVE-STOP")
        async with listen(base, order_path(order), params=buyer(order)) as stream:
            started = time.monotonic()
            stopping = asyncio.get_running_loop().run_in_executor(
                None, serving.__exit__, None, None, None)
            with pytest.raises((StreamEnded, httpx.RemoteProtocolError)):
                await stream.next(timeout=15)
            await stopping
            stopped = True
            # Without closing its streams the server would wait for them until killed (20 s).
            assert time.monotonic() - started < 8
    finally:
        if not stopped:
            serving.__exit__(None, None, None)


@contextmanager
def server_in_thread(database_url: str) -> Iterator[tuple[str, FastAPI]]:
    """The app under uvicorn in a thread of this process, so a test can look at its hub."""
    app = create_app(Settings(database_url=database_url, live_poll_seconds=60))
    with serving_in_thread(app, wait=WAIT) as port:
        yield f"http://127.0.0.1:{port}", app


async def test_a_client_that_goes_away_releases_its_stream(
        database_url: str, shared_db: Database, runtime: Runtime) -> None:
    with server_in_thread(database_url) as (base, app):
        def streams() -> int:
            subscribers: int = app.state.runtime.hub.subscribers
            return subscribers

        shop = await open_shop(runtime, base, "LIVE-BYE")
        order = await shop.place("LIVE-BYE")
        async with listen(base, order_path(order), params=buyer(order)) as stream:
            await shop.pay(order)
            await stream.next()
            assert streams() == 1

        deadline = time.monotonic() + WAIT
        while streams() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert streams() == 0


async def test_refusals_are_plain_errors(client: httpx.AsyncClient, runtime: Runtime) -> None:
    merchant = await new_merchant(runtime)
    rival = await new_merchant(runtime, name="Rival shop")
    await stock_sku(runtime, merchant, "LIVE-REFUSE", 5)
    placed = await client.post("/v1/orders", headers=merchant.headers, json={
        "customer": {"name": "Ada", "phone": "+1 555 0100"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "LIVE-REFUSE", "quantity": 1}]})
    order = placed.json()
    path = order_path(order)
    admin_only = await tenancy.issue_operator_key(runtime, merchant.principal.business_id,
                                              name="admin only", scopes=["admin"])

    error_of(await client.get(path), 401, "unauthorized")
    error_of(await client.get(path, params={"access_token": "oat_wrong"}), 404, "not_found")
    error_of(await client.get(path, headers={"Authorization": "Bearer oat_wrong"}), 404,
             "not_found")
    error_of(await client.get(path, headers=rival.headers), 404, "not_found")
    error_of(await client.get(path, headers={"Authorization": "Bearer ol_unknown"}), 401,
             "unauthorized")
    error_of(await client.get(path, headers={"Authorization": f"Bearer {admin_only.key}"}), 403,
             "forbidden")
    error_of(await client.get("/v1/orders/not-an-id/events", params=buyer(order)), 404,
             "not_found")
    details = error_of(await client.get(path, params=buyer(order),
                                        headers={"Last-Event-ID": "two"}),
                       422, "invalid_last_event_id")
    assert details == {"last_event_id": "two"}
    error_of(await client.get(path, params={**buyer(order), "from": "yesterday"}), 422,
             "validation_error")

    error_of(await client.get("/v1/stream"), 401, "unauthorized")
    error_of(await client.get("/v1/stream",
                              headers={"Authorization": f"Bearer {order['access_token']}"}),
             401, "unauthorized")
    error_of(await client.get("/v1/stream", headers={"Authorization": f"Bearer {admin_only.key}"}),
             403, "forbidden")
    details = error_of(await client.get("/v1/stream", headers=merchant.headers,
                                        params={"types": "order.paid,order.teleported"}),
                       422, "validation_error")
    assert details == {"event_type": "order.teleported"}
    details = error_of(await client.get("/v1/stream", headers={
        **merchant.headers, "Last-Event-ID": "12"}), 422, "invalid_last_event_id")
    assert details == {"last_event_id": "12"}
