"""The order flow over HTTP: place, list, edit, pay, ship, deliver, cancel, and what each step
does to stock, the ledger, the history, the figures and the customer's totals."""

from __future__ import annotations

from typing import Any

import httpx

from orderline.core.runtime import Runtime
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant
from tests.e2e.conftest import (
    add_product,
    all_orders,
    balanced,
    error_of,
    levels,
    movements,
    ok,
    order_body,
    pay,
    place_order,
    ship,
)


async def _get(client: httpx.AsyncClient, merchant: Merchant, order: dict[str, Any]) -> Any:
    return ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))


async def _history(client: httpx.AsyncClient, merchant: Merchant,
                   order: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(await client.get(f"/v1/orders/{order['id']}/history",
                                                     headers=merchant.headers))
    return rows


def _lines(order: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(line["sku"], line["quantity"], line["unit_price"]) for line in order["lines"]]


async def test_placing_an_order_holds_its_stock_and_answers_with_location_and_etag(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5, price=1250)
    await add_product(client, merchant, "CAP", 3, price=800)
    response = await client.post("/v1/orders", headers=merchant.headers,
                                 json=order_body(("MUG", 2), ("CAP", 1)))
    order = ok(response, 201)
    assert order["number"] == "OL-000001"
    assert order["status"] == "pending_payment"
    assert response.headers["ETag"] == f'"{order["version"]}"' == '"1"'
    assert response.headers["Location"] == f"/v1/orders/{order['id']}"
    assert _lines(order) == [("MUG", 2, 1250), ("CAP", 1, 800)]
    assert [line["line_total"] for line in order["lines"]] == [2500, 800]
    assert (order["subtotal"], order["total"], order["currency"]) == (3300, 3300, "USD")
    assert order["customer"]["name"] == "Ada Buyer"
    assert await levels(client, merchant, "MUG") == (5, 2, 3)
    assert await levels(client, merchant, "CAP") == (3, 1, 2)
    fetched = await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers)
    access_token = order.pop("access_token")
    assert access_token.startswith("oat_") and access_token not in fetched.text
    assert order.pop("manual_payment") is None  # a card order: no transfer instructions
    assert ok(fetched) == order
    assert fetched.headers["ETag"] == '"1"'
    assert await balanced(client, merchant)


async def test_order_numbers_count_up_per_business_and_a_refused_order_may_leave_a_gap(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant,
        rival: Merchant) -> None:
    await add_product(client, merchant, "MUG", 50)
    await add_product(client, rival, "MUG", 50)
    first = await place_order(client, merchant, ("MUG", 1))
    second = await place_order(client, merchant, ("MUG", 1))
    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json=order_body(("MUG", 99))), 409, "out_of_stock")
    rivals_first = await place_order(client, rival, ("MUG", 1))
    third = await place_order(client, merchant, ("MUG", 1))
    # A line the stock was short of when priced is refused before the order is numbered, so
    # this refusal leaves no gap on either database. (One refused after numbering, when the
    # stock ran out in between, keeps its number on PostgreSQL: tests/integration/
    # test_order_numbers.py.)
    after_the_gap = "OL-000003"
    assert [first["number"], second["number"], third["number"]] == [
        "OL-000001", "OL-000002", after_the_gap]
    assert rivals_first["number"] == "OL-000001"
    assert sorted(o["number"] for o in await all_orders(client, merchant)) == [
        "OL-000001", "OL-000002", after_the_gap]


async def test_a_later_price_change_leaves_placed_orders_at_their_snapshot_price(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 10, price=1000)
    await add_product(client, merchant, "CAP", 10, price=500)
    before = await place_order(client, merchant, ("MUG", 2))
    variant = ok(await client.patch("/v1/variants/MUG", headers=merchant.headers,
                                    json={"price": 1500, "name": "Big mug"}))
    assert (variant["price_minor"], variant["name"]) == (1500, "Big mug")
    kept = await _get(client, merchant, before)
    assert (_lines(kept), kept["total"]) == ([("MUG", 2, 1000)], 2000)
    after = await place_order(client, merchant, ("MUG", 2))
    assert (_lines(after), after["total"]) == ([("MUG", 2, 1500)], 3000)
    # Editing the old order keeps the price its buyer saw for the lines it already had.
    edited = ok(await client.put(f"/v1/orders/{before['id']}", headers=merchant.headers,
                                 json={"lines": [{"sku": "MUG", "quantity": 3},
                                                 {"sku": "CAP", "quantity": 1}]}))
    assert (_lines(edited), edited["total"]) == ([("MUG", 3, 1000), ("CAP", 1, 500)], 3500)


async def test_orders_can_be_filtered_by_status_channel_customer_dates_totals_and_number(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 100, price=1000)
    ok(await client.post("/v1/channels", headers=merchant.headers, json={"code": "market"}), 201)
    placed = [
        await place_order(client, merchant, ("MUG", 1), name="Ada Lovelace", phone="+1 555 0001"),
        await place_order(client, merchant, ("MUG", 2), name="Grace Hopper", phone="+1 555 0002",
                          channel="pos"),
        await place_order(client, merchant, ("MUG", 3), name="Alan Turing", phone=None,
                          email="alan@example.org"),
        await place_order(client, merchant, ("MUG", 4), name="Ada Lovelace", phone="+1 555 0001",
                          channel="market"),
        await place_order(client, merchant, ("MUG", 5), name="Edsger Dijkstra",
                          phone="+31 20 555 0005", channel="pos"),
    ]
    await pay(client, merchant, placed[1])
    await pay(client, merchant, placed[4])

    async def numbers(**params: Any) -> list[str]:
        page = ok(await client.get("/v1/orders", headers=merchant.headers, params=params))
        return [o["number"][-1] for o in page["data"]]

    assert await numbers() == ["5", "4", "3", "2", "1"]
    assert await numbers(status="paid") == ["5", "2"]
    assert await numbers(status="pending_payment") == ["4", "3", "1"]
    assert await numbers(status="cancelled") == []
    assert await numbers(channel="pos") == ["5", "2"]
    assert await numbers(channel="market") == ["4"]
    assert await numbers(customer="ada") == ["4", "1"]
    assert await numbers(customer="EXAMPLE.ORG") == ["3"]
    assert await numbers(customer="555 0002") == ["2"]
    assert await numbers(customer="100%") == []
    assert await numbers(customer_id=placed[0]["customer"]["id"]) == ["4", "1"]
    assert await numbers(created_from=placed[2]["created_at"]) == ["5", "4", "3"]
    assert await numbers(created_to=placed[2]["created_at"]) == ["2", "1"]
    assert await numbers(created_from=placed[1]["created_at"],
                         created_to=placed[3]["created_at"]) == ["3", "2"]
    assert await numbers(created_from="2000-01-01T00:00:00Z") == ["5", "4", "3", "2", "1"]
    assert await numbers(total_min=3000) == ["5", "4", "3"]
    assert await numbers(total_max=2000) == ["2", "1"]
    assert await numbers(total_min=2000, total_max=4000) == ["4", "3", "2"]
    assert await numbers(number="OL-000004") == ["4"]
    assert await numbers(number="ol-00000") == ["5", "4", "3", "2", "1"]
    assert await numbers(status="paid", channel="pos", total_min=5000) == ["5"]


async def test_walking_pages_of_two_over_five_orders_sees_every_order_exactly_once(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 10)
    placed = [await place_order(client, merchant, ("MUG", 1)) for _ in range(5)]
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await client.get("/v1/orders", headers=merchant.headers, params=params))
        pages.append([o["number"] for o in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["OL-000005", "OL-000004"], ["OL-000003", "OL-000002"], ["OL-000001"]]
    assert sorted(n for page in pages for n in page) == sorted(o["number"] for o in placed)
    paid_only = ok(await client.get("/v1/orders", headers=merchant.headers,
                                    params={"limit": 2, "status": "paid"}))
    assert paid_only == {"data": [], "next_cursor": None}


async def test_editing_lines_while_unpaid_moves_the_reservations_with_them(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5, price=1000)
    await add_product(client, merchant, "CAP", 3, price=500)
    await add_product(client, merchant, "TEE", 4, price=2000)
    order = await place_order(client, merchant, ("MUG", 2), ("CAP", 1))
    response = await client.put(f"/v1/orders/{order['id']}",
                                headers={**merchant.headers, "If-Match": '"1"'},
                                json={"note": "leave at door",
                                      "lines": [{"sku": "MUG", "quantity": 4},
                                                {"sku": "TEE", "quantity": 1}]})
    edited = ok(response)
    assert response.headers["ETag"] == '"2"'
    assert (_lines(edited), edited["total"], edited["note"]) == (
        [("MUG", 4, 1000), ("TEE", 1, 2000)], 6000, "leave at door")
    assert await levels(client, merchant, "MUG") == (5, 4, 1)
    assert await levels(client, merchant, "CAP") == (3, 0, 3)
    assert await levels(client, merchant, "TEE") == (4, 1, 3)
    assert await balanced(client, merchant)
    update = (await _history(client, merchant, order))[-1]
    assert update["action"] == "updated"
    assert update["changes"]["lines"] == {
        "from": [{"sku": "MUG", "quantity": 2}, {"sku": "CAP", "quantity": 1}],
        "to": [{"sku": "MUG", "quantity": 4}, {"sku": "TEE", "quantity": 1}]}
    assert update["changes"]["total"] == {"from": 2500, "to": 6000}
    paid = await pay(client, merchant, edited)
    assert paid["total"] == 6000
    assert await levels(client, merchant, "MUG") == (1, 0, 1)
    assert await levels(client, merchant, "TEE") == (3, 0, 3)


async def test_an_edit_that_would_oversell_changes_neither_the_order_nor_the_stock(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    await add_product(client, merchant, "CAP", 1)
    order = await place_order(client, merchant, ("MUG", 2))
    await place_order(client, merchant, ("CAP", 1))
    details = error_of(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                                        json={"note": "more please",
                                              "lines": [{"sku": "MUG", "quantity": 5},
                                                        {"sku": "CAP", "quantity": 1}]}),
                       409, "out_of_stock")
    assert details == {"lines": [{"sku": "CAP", "requested": 1, "available": 0}]}
    after = await _get(client, merchant, order)
    assert (_lines(after), after["version"], after["note"]) == ([("MUG", 2, 1000)], 1, "")
    assert await levels(client, merchant, "MUG") == (5, 2, 3)
    assert await levels(client, merchant, "CAP") == (1, 1, 0)
    assert [h["action"] for h in await _history(client, merchant, order)] == ["created"]
    error_of(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                              json={"lines": [{"sku": "MUG", "quantity": 1},
                                              {"sku": "GHOST", "quantity": 1}]}),
             422, "unknown_sku")
    assert await levels(client, merchant, "MUG") == (5, 2, 3)


async def test_lines_cannot_change_once_the_order_is_paid_but_the_note_can(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 2)))
    details = error_of(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                                        json={"note": "too late",
                                              "lines": [{"sku": "MUG", "quantity": 1}]}),
                       409, "order_not_editable")
    assert details == {"current_status": "paid"}
    after = await _get(client, merchant, order)
    assert (_lines(after), after["note"], after["version"]) == ([("MUG", 2, 1000)], "", 2)
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    noted = ok(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                                json={"note": "fragile",
                                      "customer": {"name": "Ada B.", "phone": "+1 555 0100"}}))
    assert (noted["note"], noted["customer"]["name"], noted["status"]) == (
        "fragile", "Ada B.", "paid")
    assert (await _history(client, merchant, order))[-1]["changes"] == {
        "note": {"from": "", "to": "fragile"},
        "customer_name": {"from": "Ada Buyer", "to": "Ada B."}}


async def test_paying_turns_the_hold_into_a_sale_recorded_in_the_ledger(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5, price=1250)
    order = await place_order(client, merchant, ("MUG", 2))
    response = await client.patch(f"/v1/orders/{order['id']}/payment", headers=merchant.headers,
                                  json={"reference": "ch_123", "amount": 2500})
    paid = ok(response)
    assert response.headers["ETag"] == '"2"'
    assert (paid["status"], paid["payment_reference"], paid["version"]) == ("paid", "ch_123", 2)
    assert paid["paid_at"] is not None
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    sale, receipt = await movements(client, merchant, "MUG")
    assert (sale["reason"], sale["delta"], sale["order_id"]) == ("sale", -2, order["id"])
    assert (receipt["reason"], receipt["delta"]) == ("receipt", 5)
    assert await balanced(client, merchant)
    again = error_of(await client.patch(f"/v1/orders/{order['id']}/payment",
                                        headers=merchant.headers, json={}),
                     409, "invalid_transition")
    assert (again["current_status"], again["requested_status"]) == ("paid", "paid")
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    assert len(await movements(client, merchant, "MUG")) == 2


async def test_paying_through_the_status_endpoint_moves_stock_like_the_payment_endpoint(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 2))
    paid = ok(await client.patch(f"/v1/orders/{order['id']}/status", headers=merchant.headers,
                                 json={"status": "paid"}))
    assert paid["status"] == "paid"
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    assert [m["reason"] for m in await movements(client, merchant, "MUG")] == ["sale", "receipt"]


async def test_an_order_must_be_shipped_before_it_can_be_delivered(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 1)))
    processing = ok(await client.patch(f"/v1/orders/{order['id']}/status",
                                       headers=merchant.headers, json={"status": "processing"}))
    assert processing["status"] == "processing"
    details = error_of(await client.patch(f"/v1/orders/{order['id']}/status",
                                          headers=merchant.headers, json={"status": "delivered"}),
                       409, "invalid_transition")
    assert (details["current_status"], details["requested_status"]) == ("processing",
                                                                        "delivered")
    error_of(await client.patch(f"/v1/orders/{order['id']}/status", headers=merchant.headers,
                                json={"status": "shipped"}), 422, "validation_error")
    after = await _get(client, merchant, order)
    assert (after["status"], after["delivered_at"], after["shipped_at"]) == ("processing", None,
                                                                             None)


async def test_shipping_records_tracking_and_delivery_can_follow(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 1)))
    shipped = ok(await client.patch(f"/v1/orders/{order['id']}/shipping",
                                    headers=merchant.headers,
                                    json={"carrier": "UPS", "tracking_number": "1Z999",
                                          "tracking_url": "https://ups.example/1Z999"}))
    assert shipped["status"] == "shipped" and shipped["shipped_at"] is not None
    assert shipped["shipping"] == {"carrier": "UPS", "tracking_number": "1Z999",
                                   "tracking_url": "https://ups.example/1Z999"}
    corrected = ok(await client.patch(f"/v1/orders/{order['id']}/shipping",
                                      headers=merchant.headers,
                                      json={"carrier": "UPS", "tracking_number": "1Z998"}))
    assert (corrected["status"], corrected["shipped_at"]) == ("shipped", shipped["shipped_at"])
    assert corrected["shipping"]["tracking_number"] == "1Z998"
    delivered = ok(await client.patch(f"/v1/orders/{order['id']}/status",
                                      headers=merchant.headers, json={"status": "delivered"}))
    assert delivered["status"] == "delivered" and delivered["delivered_at"] is not None
    assert (await _get(client, merchant, order))["status"] == "delivered"
    assert await levels(client, merchant, "MUG") == (4, 0, 4)
    error_of(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=merchant.headers,
                                json={"carrier": "UPS", "tracking_number": "1Z997"}),
             409, "invalid_transition")
    assert (await _get(client, merchant, order))["shipping"]["tracking_number"] == "1Z998"


async def test_cancelling_an_unpaid_order_releases_its_held_stock(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 2))
    response = await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers,
                                   params={"reason": "buyer"})
    cancelled = ok(response)
    assert response.headers["ETag"] == '"2"'
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "buyer")
    assert cancelled["cancelled_at"] is not None
    assert await levels(client, merchant, "MUG") == (5, 0, 5)
    assert [m["reason"] for m in await movements(client, merchant, "MUG")] == ["receipt"]
    error_of(await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers),
             409, "invalid_transition")
    error_of(await client.patch(f"/v1/orders/{order['id']}/payment", headers=merchant.headers,
                                json={}), 409, "invalid_transition")
    assert await levels(client, merchant, "MUG") == (5, 0, 5)
    assert await balanced(client, merchant)


async def test_cancelling_a_paid_order_puts_the_sold_units_back_with_a_cancellation_movement(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await pay(client, merchant, await place_order(client, merchant, ("MUG", 2)))
    assert await levels(client, merchant, "MUG") == (3, 0, 3)
    cancelled = ok(await client.patch(f"/v1/orders/{order['id']}/status",
                                      headers=merchant.headers,
                                      json={"status": "cancelled", "reason": "fraud"}))
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "fraud")
    assert await levels(client, merchant, "MUG") == (5, 0, 5)
    back, sale, receipt = await movements(client, merchant, "MUG")
    assert (back["reason"], back["delta"], back["order_id"]) == ("cancellation", 2, order["id"])
    assert (sale["reason"], sale["delta"], receipt["delta"]) == ("sale", -2, 5)
    assert await balanced(client, merchant)


async def test_the_history_lists_every_change_with_its_actor_and_statuses(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    ok(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                        json={"note": "call first"}))
    await pay(client, merchant, order)
    ok(await client.patch(f"/v1/orders/{order['id']}/status", headers=merchant.headers,
                          json={"status": "processing"}))
    await ship(client, merchant, order)
    ok(await client.patch(f"/v1/orders/{order['id']}/status", headers=merchant.headers,
                          json={"status": "delivered"}))
    history = await _history(client, merchant, order)
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("created", None, "pending_payment"),
        ("updated", "pending_payment", "pending_payment"),
        ("payment_confirmed", "pending_payment", "paid"),
        ("status_changed", "paid", "processing"),
        ("shipping_updated", "processing", "shipped"),
        ("status_changed", "shipped", "delivered"),
    ]
    actor = f"api_key:{merchant.principal.key_prefix}"
    assert {h["actor"] for h in history} == {actor}
    assert history[0]["changes"] == {"lines": [{"sku": "MUG", "quantity": 1}], "total": 1000}
    assert history[1]["changes"] == {"note": {"from": "", "to": "call first"}}
    assert history[2]["changes"] == {"payment_reference": "pay-1", "amount": 1000}
    assert history[4]["changes"]["tracking_number"] == {"from": None, "to": "JD0001"}
    assert [h["id"] for h in history] == sorted(h["id"] for h in history)
    assert (await _get(client, merchant, order))["version"] == 6


async def test_stats_count_revenue_only_from_paid_and_later_orders(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 50, price=1000)
    empty = ok(await client.get("/v1/orders/stats", headers=merchant.headers))
    assert (empty["orders"], empty["revenue"], empty["average_order_value"]) == (0, 0, 0)
    pending = await place_order(client, merchant, ("MUG", 1))
    paid = await pay(client, merchant, await place_order(client, merchant, ("MUG", 2)))
    shipped = await place_order(client, merchant, ("MUG", 3), channel="pos")
    await ship(client, merchant, await pay(client, merchant, shipped))
    refunded = await pay(client, merchant, await place_order(client, merchant, ("MUG", 4)))
    ok(await client.delete(f"/v1/orders/{refunded['id']}", headers=merchant.headers))
    processing = await pay(client, merchant, await place_order(client, merchant, ("MUG", 2)))
    ok(await client.patch(f"/v1/orders/{processing['id']}/status", headers=merchant.headers,
                          json={"status": "processing"}))
    stats = ok(await client.get("/v1/orders/stats", headers=merchant.headers))
    assert stats == {
        "currency": "USD", "orders": 5, "paid_orders": 3, "revenue": 7000,
        "average_order_value": 2333,
        "by_status": {"pending_payment": 1, "paid": 1, "shipped": 1, "cancelled": 1,
                      "processing": 1},
        "by_channel": {"web": {"orders": 4, "revenue": 4000},
                       "pos": {"orders": 1, "revenue": 3000}},
        "conversion_by_channel": {},  # typed in by the merchant: no checkout started
    }
    assert (pending["total"], paid["total"]) == (1000, 2000)
    in_window = ok(await client.get("/v1/orders/stats", headers=merchant.headers,
                                    params={"created_from": shipped["created_at"],
                                            "created_to": refunded["created_at"]}))
    assert (in_window["orders"], in_window["revenue"], in_window["average_order_value"]) == (
        1, 3000, 3000)


async def test_customer_totals_follow_payments_and_cancellations_of_paid_orders(
        client: httpx.AsyncClient, merchant: Merchant, runtime: Runtime) -> None:
    """The totals are kept by an event handler: they change once the relay has run."""
    await add_product(client, merchant, "MUG", 50, price=1000)
    first = await place_order(client, merchant, ("MUG", 1), phone="+44 20 7946 0000")
    second = await place_order(client, merchant, ("MUG", 3), phone="+44 20 7946 0000",
                               email="ada@example.org")
    customer_id = first["customer"]["id"]
    assert second["customer"]["id"] == customer_id

    async def totals() -> tuple[int, int]:
        await default_relay(runtime).relay_until_idle()
        customer = ok(await client.get(f"/v1/customers/{customer_id}", headers=merchant.headers))
        return customer["total_orders"], customer["total_spent"]

    assert await totals() == (0, 0)
    await pay(client, merchant, first)
    assert await totals() == (1, 1000)
    await pay(client, merchant, second)
    assert await totals() == (2, 4000)
    ok(await client.delete(f"/v1/orders/{second['id']}", headers=merchant.headers))
    assert await totals() == (1, 1000)
    found = ok(await client.get("/v1/customers", headers=merchant.headers,
                                params={"phone": "+44 20 7946 0000"}))["data"]
    assert [(c["id"], c["total_orders"], c["total_spent"]) for c in found] == [
        (customer_id, 1, 1000)]
    assert ok(await client.get("/v1/customers", headers=merchant.headers,
                               params={"phone": "+1 000"}))["data"] == []
