"""Shipping an order in parcels, and moving stock between locations, over HTTP: what each
step does to the order's status, the stock ledger per location, the history and the events."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.notifications import store as notification_store
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    balanced,
    error_of,
    levels,
    movements,
    ok,
    pay,
    place_order,
    ship,
)
from tests.e2e.test_api_scopes import key_with
from tests.support.checkout import confirm, new_cart, open_shop, start_checkout


async def _add_location(client: httpx.AsyncClient, merchant: Merchant, code: str) -> None:
    ok(await client.post("/v1/locations", headers=merchant.headers,
                         json={"code": code, "name": f"Store {code}"}), 201)


async def _receive(client: httpx.AsyncClient, merchant: Merchant, sku: str, location: str,
                   units: int) -> None:
    ok(await client.post("/v1/inventory/adjustments", headers=merchant.headers, json={
        "sku": sku, "location": location, "delta": units, "reason": "receipt"}))


async def _at(client: httpx.AsyncClient, merchant: Merchant, sku: str) -> dict[str, int]:
    """On hand of ``sku`` per location code."""
    stock = ok(await client.get(f"/v1/inventory/{sku}", headers=merchant.headers))
    return {loc["location"]: loc["on_hand"] for loc in stock["locations"]}


async def _paid_order(client: httpx.AsyncClient, merchant: Merchant) -> dict[str, Any]:
    await add_product(client, merchant, "MUG", 10)
    await add_product(client, merchant, "CAP", 10)
    return await pay(client, merchant, await place_order(client, merchant, ("MUG", 3), ("CAP", 1)))


def _parcel(*lines: tuple[str, int], **more: Any) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
            "carrier": "DHL", "tracking_number": f"T-{len(lines)}-{more.get('n', 1)}",
            "tracking_url": "https://track.example/T", **{k: v for k, v in more.items()
                                                          if k != "n"}}


async def _events(runtime: Runtime, merchant: Merchant, prefix: str) -> list[str]:
    outbox = outbox_store.outbox
    async with runtime.db.read() as conn:
        types = (await conn.execute(
            select(outbox.c.type).where(outbox.c.business_id == merchant.principal.business_id)
            .order_by(outbox.c.id))).scalars().all()
    return [t for t in types if t.startswith(prefix)]


async def test_an_order_ships_in_two_parcels_then_is_delivered_parcel_by_parcel(
        client: httpx.AsyncClient, merchant: Merchant, runtime: Runtime) -> None:
    order = await _paid_order(client, merchant)
    url = f"/v1/orders/{order['id']}/shipments"

    first = ok(await client.post(url, headers=merchant.headers,
                                 json=_parcel(("MUG", 2), n=1)), 201)
    assert first["order"]["status"] == "partially_shipped"
    assert first["shipment"]["number"] == 1
    assert first["shipment"]["lines"] == [{"sku": "MUG", "quantity": 2, "location": "main"}]
    assert first["order"]["shipping"]["tracking_number"] == "T-1-1"
    error_of(await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers),
             409, "invalid_transition")

    second = ok(await client.post(url, headers=merchant.headers,
                                  json=_parcel(("MUG", 1), ("CAP", 1), n=2)), 201)
    assert second["order"]["status"] == "shipped"
    assert second["order"]["shipped_at"] is not None
    listed = ok(await client.get(url, headers=merchant.headers))["data"]
    assert [(s["number"], s["status"]) for s in listed] == [(1, "shipped"), (2, "shipped")]

    # Stock left at payment; shipping from where it was sold moves nothing more.
    assert await levels(client, merchant, "MUG") == (7, 0, 7)
    assert await balanced(client, merchant)

    one = ok(await client.post(f"{url}/{listed[0]['id']}/delivered", headers=merchant.headers))
    assert (one["order"]["status"], one["shipment"]["status"]) == ("shipped", "delivered")
    again = ok(await client.post(f"{url}/{listed[0]['id']}/delivered", headers=merchant.headers))
    assert again["order"]["version"] == one["order"]["version"]
    both = ok(await client.post(f"{url}/{listed[1]['id']}/delivered", headers=merchant.headers))
    assert both["order"]["status"] == "delivered"
    assert both["order"]["delivered_at"] is not None

    history = ok(await client.get(f"/v1/orders/{order['id']}/history",
                                  headers=merchant.headers))
    actions = [h["action"] for h in history]
    assert actions.count("shipment_created") == 2
    assert actions.count("shipment_delivered") == 2
    created = next(h for h in history if h["action"] == "shipment_created")
    assert created["changes"]["lines"] == [{"sku": "MUG", "quantity": 2}]
    assert await _events(runtime, merchant, "shipment.") == [
        "shipment.created", "shipment.created", "shipment.delivered", "shipment.delivered"]
    assert {"order.partially_shipped", "order.shipped", "order.delivered"} <= set(
        await _events(runtime, merchant, "order."))
    # The buyer hears of each parcel once: the first by shipment.created, the last (which
    # completed the order) by order.shipped.
    await default_relay(runtime).relay_until_idle()
    async with runtime.db.read() as conn:
        told = [r["kind"] for r in await notification_store.of_business(
            conn, merchant.principal.business_id, order_id=uuid.UUID(order["id"]))]
    assert told.count("buyer:shipment.created") == 1
    assert told.count("buyer:order.shipped") == 1


async def test_no_unit_ships_twice(client: httpx.AsyncClient, merchant: Merchant) -> None:
    order = await _paid_order(client, merchant)
    url = f"/v1/orders/{order['id']}/shipments"
    ok(await client.post(url, headers=merchant.headers, json=_parcel(("MUG", 2))), 201)

    details = error_of(await client.post(url, headers=merchant.headers,
                                         json=_parcel(("MUG", 2))), 409,
                       "shipment_exceeds_order")
    assert details["lines"]["MUG"] == {"requested": 2, "remaining": 1}
    error_of(await client.post(url, headers=merchant.headers, json=_parcel(("HAT", 1))),
             422, "validation_error")
    rest = ok(await client.post(url, headers=merchant.headers, json=_parcel()), 201)
    assert sorted((line["sku"], line["quantity"]) for line in rest["shipment"]["lines"]) == [
        ("CAP", 1), ("MUG", 1)]
    assert rest["order"]["status"] == "shipped"
    error_of(await client.post(url, headers=merchant.headers, json=_parcel()), 409,
             "invalid_transition")


async def test_shipping_the_whole_order_in_one_go_is_one_shipment_of_what_is_left(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    order = await _paid_order(client, merchant)
    url = f"/v1/orders/{order['id']}/shipments"
    ok(await client.post(url, headers=merchant.headers, json=_parcel(("MUG", 1))), 201)

    shipped = await ship(client, merchant, order)

    assert shipped["status"] == "shipped"
    assert shipped["shipping"]["tracking_number"] == "JD0001"
    listed = ok(await client.get(url, headers=merchant.headers))["data"]
    assert len(listed) == 2
    assert sorted((line["sku"], line["quantity"]) for line in listed[1]["lines"]) == [
        ("CAP", 1), ("MUG", 2)]
    # Correcting the tracking afterwards corrects the latest shipment's too.
    ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=merchant.headers,
                          json={"carrier": "UPS", "tracking_number": "1Z"}))
    listed = ok(await client.get(url, headers=merchant.headers))["data"]
    assert (listed[1]["carrier"], listed[1]["tracking_number"]) == ("UPS", "1Z")
    assert (listed[0]["carrier"], listed[0]["tracking_number"]) == ("DHL", "T-1-1")
    delivered = ok(await client.patch(f"/v1/orders/{order['id']}/status",
                                     headers=merchant.headers, json={"status": "delivered"}))
    assert delivered["status"] == "delivered"
    listed = ok(await client.get(url, headers=merchant.headers))["data"]
    assert {s["status"] for s in listed} == {"delivered"}


async def test_shipping_from_another_location_takes_the_units_from_its_ledger(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    order = await _paid_order(client, merchant)
    await _add_location(client, merchant, "north")
    await _receive(client, merchant, "MUG", "north", 2)
    url = f"/v1/orders/{order['id']}/shipments"

    sent = ok(await client.post(url, headers=merchant.headers,
                                json=_parcel(("MUG", 2), location="north")), 201)

    assert sent["shipment"]["location"] == "north"
    assert sent["shipment"]["lines"] == [{"sku": "MUG", "quantity": 2, "location": "north"}]
    # The sale moved: main got its 2 units back, north gave them.
    assert await _at(client, merchant, "MUG") == {"main": 9, "north": 0}
    moved = [(m["location"], m["delta"], m["reason"])
             for m in await movements(client, merchant, "MUG")][:2]
    assert sorted(moved) == [("main", 2, "reallocation"), ("north", -2, "reallocation")]
    assert await balanced(client, merchant)

    short = error_of(await client.post(url, headers=merchant.headers,
                                       json=_parcel(("MUG", 1), location="north")),
                     409, "insufficient_stock")
    assert short["available"] == 0
    assert await _at(client, merchant, "MUG") == {"main": 9, "north": 0}
    error_of(await client.post(url, headers=merchant.headers,
                               json=_parcel(("MUG", 1), location="nowhere")), 404, "not_found")
    assert await balanced(client, merchant)


async def test_an_unpaid_order_cannot_ship_in_parcels(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 2))
    error_of(await client.post(f"/v1/orders/{order['id']}/shipments", headers=merchant.headers,
                               json=_parcel(("MUG", 1))), 409, "invalid_transition")


async def test_another_business_and_a_read_only_key_cannot_ship(
        client: httpx.AsyncClient, merchant: Merchant, runtime: Runtime) -> None:
    order = await _paid_order(client, merchant)
    url = f"/v1/orders/{order['id']}/shipments"
    sent = ok(await client.post(url, headers=merchant.headers, json=_parcel(("MUG", 1))), 201)
    rival = await new_merchant(runtime, name="Rival shop")
    error_of(await client.post(url, headers=rival.headers, json=_parcel(("MUG", 1))), 404,
             "not_found")
    error_of(await client.get(url, headers=rival.headers), 404, "not_found")
    error_of(await client.post(f"{url}/{sent['shipment']['id']}/delivered",
                               headers=rival.headers), 404, "not_found")
    error_of(await client.post(f"{url}/not-an-id/delivered", headers=merchant.headers), 404,
             "not_found")

    reader = await key_with(client, merchant, "read")
    assert len(ok(await client.get(url, headers=reader))["data"]) == 1
    error_of(await client.post(url, headers=reader, json=_parcel(("MUG", 1))), 403,
             "forbidden")
    error_of(await client.post(f"{url}/{sent['shipment']['id']}/delivered", headers=reader),
             403, "forbidden")
    error_of(await client.post("/v1/inventory/transfers", headers=reader, json={
        "sku": "MUG", "from_location": "main", "to_location": "main", "quantity": 1}),
        403, "forbidden")


async def test_a_transfer_moves_free_units_as_a_ledger_pair(
        client: httpx.AsyncClient, merchant: Merchant, runtime: Runtime) -> None:
    await add_product(client, merchant, "MUG", 5)
    await _add_location(client, merchant, "north")
    await place_order(client, merchant, ("MUG", 2))  # 2 of main's 5 held

    moved = ok(await client.post("/v1/inventory/transfers", headers=merchant.headers, json={
        "sku": "MUG", "from_location": "main", "to_location": "north", "quantity": 3}), 201)

    assert (moved["from_location"], moved["to_location"], moved["quantity"]) == (
        "main", "north", 3)
    assert await _at(client, merchant, "MUG") == {"main": 2, "north": 3}
    pair = [(m["location"], m["delta"], m["reason"])
            for m in await movements(client, merchant, "MUG")][:2]
    assert sorted(pair) == [("main", -3, "transfer_out"), ("north", 3, "transfer_in")]
    assert await balanced(client, merchant)
    assert await _events(runtime, merchant, "stock.transferred") == ["stock.transferred"]

    short = error_of(await client.post("/v1/inventory/transfers", headers=merchant.headers,
                                       json={"sku": "MUG", "from_location": "main",
                                             "to_location": "north", "quantity": 1}),
                     409, "insufficient_stock")
    assert short["available"] == 0
    error_of(await client.post("/v1/inventory/transfers", headers=merchant.headers, json={
        "sku": "MUG", "from_location": "north", "to_location": "north", "quantity": 1}),
        422, "validation_error")
    error_of(await client.post("/v1/inventory/transfers", headers=merchant.headers, json={
        "sku": "MUG", "from_location": "north", "to_location": "south", "quantity": 1}),
        404, "not_found")
    rival = await new_merchant(runtime, name="Rival shop")
    error_of(await client.post("/v1/inventory/transfers", headers=rival.headers, json={
        "sku": "MUG", "from_location": "north", "to_location": "main", "quantity": 1}),
        404, "not_found")
    assert await _at(client, merchant, "MUG") == {"main": 2, "north": 3}
    assert await balanced(client, merchant)


async def test_an_order_without_a_location_takes_each_line_where_its_stock_is(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 1)
    await add_product(client, merchant, "CAP", 5)
    for code in ("north", "south"):
        await _add_location(client, merchant, code)
    await _receive(client, merchant, "MUG", "north", 2)
    await _receive(client, merchant, "MUG", "south", 4)

    # MUG: main has 1, too few; south has the most. CAP: main (the default) has enough.
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 3),
                                                           ("CAP", 2)))
    assert await _at(client, merchant, "MUG") == {"main": 1, "north": 2, "south": 1}
    assert await _at(client, merchant, "CAP") == {"main": 3}

    # Named: only that location, and refused there as before.
    named = await client.post("/v1/orders", headers=merchant.headers, json={
        **_order_at("main", ("MUG", 2))})
    error_of(named, 409, "out_of_stock")
    # Short everywhere: refused, nothing held anywhere.
    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json=_order_at(None, ("MUG", 3))), 409, "out_of_stock")
    assert await levels(client, merchant, "MUG") == (4, 0, 4)
    shipped = await ship(client, merchant, order)
    assert shipped["status"] == "shipped"
    assert await balanced(client, merchant)


def _order_at(location: str | None, *lines: tuple[str, int]) -> dict[str, Any]:
    body: dict[str, Any] = {"customer": {"name": "Ada", "phone": "+1 555 0100"},
                            "channel": "web", "payment_method": "card",
                            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines]}
    if location is not None:
        body["location"] = location
    return body


async def test_a_checkout_holds_each_line_where_its_stock_is_and_the_cart_says_so(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await open_shop(client, merchant, products={"MUG": (1000, 1), "CAP": (500, 5)})
    for code in ("north", "south"):
        await _add_location(client, merchant, code)
    await _receive(client, merchant, "MUG", "north", 2)
    await _receive(client, merchant, "MUG", "south", 4)

    # MUG: main (the default) has 1, too few, south the most; CAP: main has enough.
    cart = await new_cart(client, merchant, ("MUG", 3), ("CAP", 2))
    shown = ok(await client.get(f"/v1/carts/{cart.id}", headers=cart.headers))
    assert {line["sku"]: (line["available"], line["in_stock"]) for line in shown["lines"]} == {
        "MUG": (4, True), "CAP": (5, True)}
    checkout = await start_checkout(client, cart)
    stock = ok(await client.get("/v1/inventory/MUG", headers=merchant.headers))
    assert {loc["location"]: loc["reserved"] for loc in stock["locations"]} == {
        "main": 0, "north": 0, "south": 3}
    order = ok(await confirm(client, cart, checkout), 201)
    await pay(client, merchant, order)
    assert await _at(client, merchant, "MUG") == {"main": 1, "north": 2, "south": 1}
    assert await _at(client, merchant, "CAP") == {"main": 3}
    # Short at every single location (5 of MUG: 1, 2 and 1 left): refused, nothing held.
    short = await start_checkout(client, await new_cart(client, merchant, ("MUG", 5)),
                                 expect=409)
    error_of(short, 409, "out_of_stock")
    assert await levels(client, merchant, "MUG") == (4, 0, 4)
    shipped = await ship(client, merchant, order)
    assert shipped["status"] == "shipped"
    assert await balanced(client, merchant)
