"""The issue's races, through real HTTP against real server processes.

SQLite: one ``orderline serve`` process (the embedded mode). PostgreSQL: ``--workers 4``, so the
requests really land in four processes with their own connection pools; for one
``Idempotency-Key`` sent by many requests at once, only the key's claim (its own short
transaction on a unique row) keeps them to one effect.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from orderline.catalog.tables import Reservation
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import stock_sku
from tests.support.servers import running_worker

pytestmark = pytest.mark.slow


def order_body(sku: str, quantity: int = 1, n: int = 0) -> dict[str, Any]:
    return {"customer": {"name": f"Buyer {n}", "phone": f"+1 555 {n:04d}"}, "channel": "web",
            "lines": [{"sku": sku, "quantity": quantity}], "payment_method": "card"}


async def buy_concurrently(base: str, merchant: Merchant, sku: str,
                           buyers: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=buyers, max_keepalive_connections=buyers)
    async with httpx.AsyncClient(base_url=base, headers=merchant.headers, limits=limits,
                                 timeout=60) as client:
        return list(await asyncio.gather(*(
            client.post("/v1/orders", json=order_body(sku, n=n)) for n in range(buyers))))


async def active_reservations(runtime: Runtime, merchant: Merchant) -> int:
    reservations = table_of(Reservation)
    async with runtime.db.read() as conn:
        return int(await conn.scalar(
            select(func.count()).select_from(reservations)
            .where(reservations.c.business_id == merchant.principal.business_id,
                   reservations.c.status == "active")) or 0)


async def stock_over_http(base: str, merchant: Merchant, sku: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, headers=merchant.headers) as client:
        response = await client.get(f"/v1/inventory/{sku}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_last_unit_goes_to_exactly_one_of_100_concurrent_buyers(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "LAST-ONE", 1)

    responses = await buy_concurrently(racing_server, merchant, "LAST-ONE", 100)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 99}, statuses
    refused = [r.json()["error"] for r in responses if r.status_code == 409]
    assert {e["code"] for e in refused} == {"out_of_stock"}
    assert refused[0]["details"]["lines"] == [{"sku": "LAST-ONE", "requested": 1,
                                               "available": 0}]
    level = await stock_over_http(racing_server, merchant, "LAST-ONE")
    assert (level["available"], level["on_hand"], level["reserved"]) == (0, 1, 1)
    assert await active_reservations(runtime, merchant) == 1


async def test_five_units_ten_buyers_then_three_payments(runtime: Runtime,
                                                         racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "FIVE", 5)

    responses = await buy_concurrently(racing_server, merchant, "FIVE", 10)
    created = [r.json() for r in responses if r.status_code == 201]
    assert Counter(r.status_code for r in responses) == {201: 5, 409: 5}
    assert await active_reservations(runtime, merchant) == 5
    assert len({o["number"] for o in created}) == 5

    async with httpx.AsyncClient(base_url=racing_server, headers=merchant.headers) as client:
        paid = await asyncio.gather(*(
            client.patch(f"/v1/orders/{o['id']}/payment", json={"reference": f"PAY-{i}"})
            for i, o in enumerate(created[:3])))
    assert [p.status_code for p in paid] == [200, 200, 200]
    level = await stock_over_http(racing_server, merchant, "FIVE")
    assert (level["on_hand"], level["reserved"], level["available"]) == (2, 2, 0)
    assert await active_reservations(runtime, merchant) == 2


async def test_worker_cancels_an_unpaid_order_after_a_one_second_deadline(
        runtime: Runtime, racing_server: str, database_url: str) -> None:
    merchant = await new_merchant(runtime, reservation_ttl_seconds=1)
    await stock_sku(runtime, merchant, "TIMED", 2)
    async with httpx.AsyncClient(base_url=racing_server, headers=merchant.headers) as client:
        created = await client.post("/v1/orders", json=order_body("TIMED", quantity=2))
        assert created.status_code == 201
        order_id = created.json()["id"]
        # The order holds its stock (a reservation row, whatever the clock says: a loaded
        # machine can take longer than the one-second deadline to ask for the level).
        assert await active_reservations(runtime, merchant) == 1

        with running_worker(database_url, interval=0.2):
            order = await wait_for_status(client, order_id, "cancelled")

    assert order["cancel_reason"] == "payment_timeout"
    level = await stock_over_http(racing_server, merchant, "TIMED")
    assert (level["on_hand"], level["reserved"], level["available"]) == (2, 0, 2)
    async with httpx.AsyncClient(base_url=racing_server, headers=merchant.headers) as client:
        history = (await client.get(f"/v1/orders/{order_id}/history")).json()
        late = await client.patch(f"/v1/orders/{order_id}/payment", json={})
    assert [h["action"] for h in history] == ["created", "cancelled"]
    assert history[-1]["actor"] == "worker:payment_deadline"
    assert late.status_code == 409


async def wait_for_status(client: httpx.AsyncClient, order_id: str, status: str,
                          timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        order: dict[str, Any] = (await client.get(f"/v1/orders/{order_id}")).json()
        if order["status"] == status:
            return order
        await asyncio.sleep(0.2)
    raise AssertionError(f"order {order_id} did not become {status} within {timeout}s")


async def test_ten_identical_orders_at_once_with_one_key_place_one_order_and_take_stock_once(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "KEYED", 50)
    key = str(uuid.uuid4())
    body = {"customer": {"name": "Ada", "phone": "+1 555 0101"}, "channel": "web",
            "lines": [{"sku": "KEYED", "quantity": 3}], "payment_method": "card"}
    headers = {**merchant.headers, "Idempotency-Key": key}
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
    async with httpx.AsyncClient(base_url=racing_server, headers=headers, limits=limits,
                                 timeout=60) as client:
        answers = list(await asyncio.gather(*(client.post("/v1/orders", json=body)
                                              for _ in range(10))))

        statuses = Counter(a.status_code for a in answers)
        assert set(statuses) <= {201, 409}, [a.text for a in answers]
        placed = [a for a in answers if a.status_code == 201]
        assert sum(a.headers["Idempotent-Replayed"] == "false" for a in placed) == 1
        assert len({a.json()["id"] for a in placed}) == 1  # replays are the same order
        assert {a.json()["error"]["code"] for a in answers
                if a.status_code == 409} <= {"request_in_progress"}

        # Once the first has finished, every retry is its answer.
        again = await client.post("/v1/orders", json=body)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == placed[0].json()
        listed = (await client.get("/v1/orders")).json()["data"]
    assert [o["id"] for o in listed] == [placed[0].json()["id"]]
    level = await stock_over_http(racing_server, merchant, "KEYED")
    assert (level["on_hand"], level["reserved"], level["available"]) == (50, 3, 47)
