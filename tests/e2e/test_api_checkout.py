"""The buyer's path over HTTP: cart, checkout, confirm, and every way confirm refuses."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.orders.store import find_or_create_customer as new_customer
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import error_of, levels, ok
from tests.support.checkout import (
    ADDRESS,
    Cart,
    confirm,
    new_cart,
    open_shop,
    start_checkout,
)

outbox = table_of(OutboxEvent)


async def events_of(runtime: Runtime, merchant: Merchant, type_: str) -> list[dict[str, Any]]:
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(
            outbox.c.business_id == merchant.principal.business_id, outbox.c.type == type_))
        return [r.payload for r in rows]


async def order_count(client: httpx.AsyncClient, merchant: Merchant) -> int:
    return len(ok(await client.get("/v1/orders", headers=merchant.headers))["data"])


async def test_a_guest_checks_out_with_the_cart_token_alone_at_exact_totals(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5), "CAP": (350, 5)}, shipping=500,
                    tax_rate="10")
    cart = await new_cart(client, m, ("MUG", 2), ("CAP", 1))
    checkout = await start_checkout(client, cart)
    # 2 x 1000 + 350 = 2350; shipping 500; 10% tax on 2350 and on 500 = 235 + 50.
    assert checkout["totals"] == {"subtotal": 2350, "discount_total": 0, "shipping": 500,
                                  "shipping_discount": 0, "tax_total": 285, "total": 3135}
    assert checkout["status"] == "open" and checkout["reservation_deadline"]
    assert await levels(client, m, "MUG") == (5, 2, 3)  # held for the checkout

    response = await confirm(client, cart, checkout)
    order = ok(response, 201)
    assert response.headers["Idempotent-Replayed"] == "false"
    assert order["status"] == "pending_payment"
    assert (order["subtotal"], order["tax_total"], order["shipping_total"], order["total"]) == (
        2350, 285, 500, 3135)
    assert [(line["sku"], line["quantity"], line["line_total"], line["tax"])
            for line in order["lines"]] == [("MUG", 2, 2000, 200), ("CAP", 1, 350, 35)]
    assert order["shipping_method"]["name"] == "Standard"
    assert order["shipping_address"]["postal_code"] == "62701"
    assert order["access_token"].startswith("oat_")
    assert order["checkout"]["status"] == "converted"
    assert await levels(client, m, "MUG") == (5, 2, 3)  # the same hold, now the order's

    converted = await events_of(runtime, m, "checkout.converted")
    assert [e["order_id"] for e in converted] == [order["id"]]
    assert len(await events_of(runtime, m, "order.created")) == 1
    closed = await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                               json={"sku": "CAP", "quantity": 1})
    error_of(closed, 409, "cart_closed")


async def test_confirm_without_an_idempotency_key_is_refused_and_places_nothing(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    response = await client.post(f"/v1/checkouts/{checkout['id']}/confirm", headers=cart.headers,
                                 json={"totals": checkout["totals"]})
    error_of(response, 400, "idempotency_key_required")
    assert await order_count(client, m) == 0


async def test_a_retry_after_a_timeout_returns_the_same_order_and_places_one(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    key = str(uuid.uuid4())
    first = ok(await confirm(client, cart, checkout, key=key), 201)
    again = await confirm(client, cart, checkout, key=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first["id"] and again.json()["number"] == first["number"]
    assert await order_count(client, m) == 1
    assert await levels(client, m, "MUG") == (5, 1, 4)


async def test_the_same_key_with_other_totals_is_refused_not_served_stale(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    key = str(uuid.uuid4())
    ok(await confirm(client, cart, checkout, key=key), 201)
    other = await confirm(client, cart, checkout, key=key, totals={"total": 1})
    error_of(other, 422, "idempotency_key_reused")


async def test_a_cart_changed_between_two_retries_with_the_same_key_is_refused(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5), "CAP": (300, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    key = str(uuid.uuid4())
    ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                         json={"sku": "CAP", "quantity": 1}))
    stale = await confirm(client, cart, checkout, key=key)
    error_of(stale, 409, "cart_changed")
    # The buyer reviews the changed cart and retries with the same key: priced anew, placed.
    fresh = await start_checkout(client, cart)
    order = ok(await confirm(client, cart, fresh, key=key), 201)
    assert [line["sku"] for line in order["lines"]] == ["MUG", "CAP"]
    # Replaying the old checkout under that key now names a different request.
    error_of(await confirm(client, cart, checkout, key=key), 422, "idempotency_key_reused")
    assert await order_count(client, m) == 1


async def test_a_second_request_while_the_first_runs_is_told_it_is_in_progress(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    key = str(uuid.uuid4())
    gate = runtime.checkpoints.pause_at("confirm.claimed")
    first = asyncio.create_task(confirm(client, cart, checkout, key=key))
    await asyncio.wait_for(gate.reached.wait(), 10)
    second = await confirm(client, cart, checkout, key=key)
    gate.release()
    error_of(second, 409, "request_in_progress")
    assert (await first).status_code == 201
    assert (await confirm(client, cart, checkout, key=key)).status_code == 201  # replayed
    assert await order_count(client, m) == 1


async def test_two_tabs_confirming_one_cart_with_different_keys_place_one_order(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 2))
    checkout = await start_checkout(client, cart)
    answers = await asyncio.gather(*(confirm(client, cart, checkout) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["error"]["code"] in {"checkout_already_confirmed", "confirm_in_flight"}
    assert await order_count(client, m) == 1
    assert await levels(client, m, "MUG") == (5, 2, 3)


async def test_a_price_change_is_refused_with_the_new_totals_which_then_confirm(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=0, tax_rate=None)
    cart = await new_cart(client, m, ("MUG", 2))
    checkout = await start_checkout(client, cart)
    assert checkout["totals"]["total"] == 2000
    ok(await client.patch("/v1/variants/MUG", headers=m.headers, json={"price": 1200}))
    moved = await confirm(client, cart, checkout)
    details = error_of(moved, 409, "price_changed")
    assert details["totals"]["total"] == 2400
    assert details["changed"]["total"] == {"seen": 2000, "now": 2400}
    assert await order_count(client, m) == 0
    review = ok(await client.get(f"/v1/checkouts/{checkout['id']}", headers=cart.headers))
    assert review["totals"]["total"] == 2400  # the review now shows what confirm will charge
    order = ok(await confirm(client, cart, checkout, totals=details["totals"]), 201)
    assert order["total"] == 2400


async def test_an_address_outside_every_zone_is_undeliverable(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, countries=("US",))
    cart = await new_cart(client, m, ("MUG", 1))
    response = await start_checkout(client, cart, address={**ADDRESS, "country": "FR"},
                                    expect=422)
    error_of(response, 422, "undeliverable_address")
    assert await levels(client, m, "MUG") == (5, 0, 5)


async def test_an_empty_cart_cannot_check_out(client: httpx.AsyncClient,
                                              runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m)
    error_of(await start_checkout(client, cart, expect=422), 422, "cart_empty")


async def test_order_limits_of_the_business_are_enforced(client: httpx.AsyncClient,
                                                         runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 50)}, shipping=0, tax_rate=None)
    ok(await client.patch("/v1/business", headers=m.headers,
                          json={"min_order_total": 1500, "max_order_total": 5000}))
    small = await new_cart(client, m, ("MUG", 1))
    details = error_of(await start_checkout(client, small, expect=422), 422,
                       "below_minimum_order")
    assert details["min_order_total"] == 1500
    big = await new_cart(client, m, ("MUG", 6))
    error_of(await start_checkout(client, big, expect=422), 422, "above_maximum_order")
    fine = await new_cart(client, m, ("MUG", 3))
    ok(await confirm(client, fine, await start_checkout(client, fine)), 201)


async def test_a_coupon_is_used_once_per_order_and_given_back_on_cancel(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=500, tax_rate=None)
    coupon = ok(await client.post("/v1/coupons", headers=m.headers, json={
        "code": "TENOFF", "kind": "percentage", "percent_off": 10, "usage_limit": 1}), 201)
    cart = await new_cart(client, m, ("MUG", 3))
    checkout = await start_checkout(client, cart, coupons=("tenoff",))
    assert checkout["totals"]["discount_total"] == 300
    assert checkout["totals"]["total"] == 3000 - 300 + 500
    order = ok(await confirm(client, cart, checkout), 201)
    assert order["discount_total"] == 300
    assert sum(line["discount"] for line in order["lines"]) == 300
    used = ok(await client.get(f"/v1/coupons/{coupon['id']}", headers=m.headers))
    assert used["used_count"] == 1

    second = await new_cart(client, m, ("MUG", 1))
    error_of(await start_checkout(client, second, coupons=("TENOFF",), expect=409), 409,
             "coupon_exhausted")
    ok(await client.patch(f"/v1/orders/{order['id']}/status", headers=m.headers,
                          json={"status": "cancelled"}))
    back = ok(await client.get(f"/v1/coupons/{coupon['id']}", headers=m.headers))
    assert back["used_count"] == 0
    ok(await confirm(client, second, await start_checkout(client, second, coupons=("TENOFF",))),
       201)


async def test_a_full_discount_is_not_an_order_unless_the_business_allows_free_orders(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=0, tax_rate=None)
    ok(await client.post("/v1/coupons", headers=m.headers, json={
        "code": "FREE", "kind": "percentage", "percent_off": 100}), 201)
    cart = await new_cart(client, m, ("MUG", 1))
    error_of(await start_checkout(client, cart, coupons=("FREE",), expect=422), 422,
             "zero_total_order")
    ok(await client.patch("/v1/business", headers=m.headers, json={"allow_free_orders": True}))
    checkout = await start_checkout(client, cart, coupons=("FREE",))
    assert checkout["totals"]["total"] == 0
    assert ok(await confirm(client, cart, checkout), 201)["total"] == 0


async def test_confirms_past_the_rate_limit_are_refused(client: httpx.AsyncClient,
                                                        runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 50)})
    ok(await client.patch("/v1/business", headers=m.headers, json={"confirms_per_minute": 2}))
    answers = []
    for _ in range(3):
        cart = await new_cart(client, m, ("MUG", 1))
        answers.append(await confirm(client, cart, await start_checkout(client, cart)))
    assert [a.status_code for a in answers[:2]] == [201, 201]
    details = error_of(answers[2], 429, "rate_limited")
    assert details["retry_after_seconds"] >= 1
    assert await order_count(client, m) == 2


async def test_a_lapsed_checkout_gives_its_stock_back_and_cannot_confirm(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime, reservation_ttl_seconds=1)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 2))
    checkout = await start_checkout(client, cart)
    await asyncio.sleep(1.1)
    from orderline.checkout.checkouts import expire_lapsed_checkouts

    assert await expire_lapsed_checkouts(runtime) >= 1
    assert await levels(client, m, "MUG") == (5, 0, 5)
    error_of(await confirm(client, cart, checkout), 409, "checkout_expired")
    assert len(await events_of(runtime, m, "reservation.expired")) == 1


async def test_a_new_checkout_of_the_same_cart_replaces_the_old_one_without_holding_twice(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 2))
    first = await start_checkout(client, cart)
    second = await start_checkout(client, cart)
    assert await levels(client, m, "MUG") == (5, 2, 3)
    error_of(await confirm(client, cart, first), 409, "checkout_superseded")
    ok(await confirm(client, cart, second), 201)


async def test_another_business_and_another_cart_cannot_reach_a_checkout(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    await open_shop(client, rival, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    other_cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    for headers in (rival.headers, other_cart.headers):
        error_of(await client.get(f"/v1/checkouts/{checkout['id']}", headers=headers), 404,
                 "not_found")
        error_of(await confirm(client, cart, checkout, headers=headers), 404, "not_found")
    rival_start = await client.post("/v1/checkouts", headers=rival.headers, json={
        "cart_id": cart.id, "address": ADDRESS, "payment_method": "card",
        "customer": {"name": "X", "phone": "+1 555 0199"}})
    error_of(rival_start, 404, "not_found")
    assert await order_count(client, m) == 0
    assert await levels(client, m, "MUG") == (5, 1, 4)
    error_of(await client.get(f"/v1/checkouts/{checkout['id']}"), 401, "unauthorized")
    assert (await client.get(f"/v1/checkouts/{checkout['id']}",
                             headers=m.headers)).status_code == 200
    async with runtime.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.business_id == rival.principal.business_id,
            outbox.c.type == "order.created")) == 0


async def test_the_demo_shop_sells_through_checkout_with_its_welcome_coupon(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    from orderline.demo.shop import load_demo

    key = (await load_demo(runtime)).api_key
    demo = Merchant(principal=await tenancy.authenticate(runtime, key), key=key)
    cart = await new_cart(client, demo, ("BEAN-HOUSE-250", 4))
    checkout = await start_checkout(client, cart, coupons=("welcome10",),
                                    buyer={"name": "Demo Buyer", "phone": "+1 555 7788"})
    # 4 x 1250 = 5000, 10% off = 4500: below the 5000 for free shipping, so 500 shipping;
    # 8.25% tax on 4500 (371.25) and on 500 (41.25), each rounded half up.
    assert checkout["totals"] == {"subtotal": 5000, "discount_total": 500, "shipping": 500,
                                  "shipping_discount": 0, "tax_total": 412, "total": 5412}
    assert checkout["shipping_method"]["name"] == "Standard"
    order = ok(await confirm(client, cart, checkout), 201)
    assert order["total"] == 5412 and order["pricing"]["coupons"][0]["code"] == "WELCOME10"
    again = await new_cart(client, demo, ("MUG-350", 1))
    error_of(await start_checkout(client, again, coupons=("WELCOME10",),
                                  buyer={"name": "Demo Buyer", "phone": "+1 555 7788"},
                                  expect=409), 409, "coupon_customer_limit_reached")


async def test_the_review_prices_again_once_its_prices_are_older_than_the_setting(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)}, shipping=0, tax_rate=None)
    cart = await new_cart(client, m, ("MUG", 1))
    checkout = await start_checkout(client, cart)
    ok(await client.patch("/v1/variants/MUG", headers=m.headers, json={"price": 1100}))
    clock.advance(599)
    fresh = ok(await client.get(f"/v1/checkouts/{checkout['id']}", headers=cart.headers))
    assert fresh["totals"]["total"] == 1000  # within price_max_age_seconds: as reviewed
    clock.advance(2)
    stale = ok(await client.get(f"/v1/checkouts/{checkout['id']}", headers=cart.headers))
    assert stale["totals"]["total"] == 1100
    assert stale["prices_validated_at"] != checkout["prices_validated_at"]
    # Whatever the review shows, confirm prices again: the old totals are refused.
    error_of(await confirm(client, cart, checkout), 409, "price_changed")


async def test_one_customer_confirms_one_checkout_at_a_time(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: a second confirm waits for the first")
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    customer_id = await runtime.db.run(lambda conn: new_customer(
        conn, business_id=m.principal.business_id, name="Ada", phone="+1 555 0177",
        email=None, now=runtime.clock.now()))
    checkouts = []
    for _ in range(2):
        created = ok(await client.post("/v1/carts", headers=m.headers, json={
            "channel": "web", "customer_id": str(customer_id)}), 201)
        cart = Cart(created["id"], created["token"])
        ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                             json={"sku": "MUG", "quantity": 1}))
        checkouts.append((cart, await start_checkout(client, cart)))
    gate = runtime.checkpoints.pause_at("confirm.admitted")
    first = asyncio.create_task(confirm(client, *checkouts[0]))
    await asyncio.wait_for(gate.reached.wait(), 10)
    second = await confirm(client, *checkouts[1])
    gate.release()
    error_of(second, 409, "confirm_in_flight")
    assert (await first).status_code == 201
    assert (await confirm(client, *checkouts[1])).status_code == 201  # the guard was released


async def test_the_lines_of_a_checkout_order_cannot_be_edited_behind_its_totals(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (1000, 5)})
    cart = await new_cart(client, m, ("MUG", 1))
    order = ok(await confirm(client, cart, await start_checkout(client, cart)), 201)
    edit = await client.put(f"/v1/orders/{order['id']}", headers=m.headers,
                            json={"lines": [{"sku": "MUG", "quantity": 3}]})
    error_of(edit, 409, "order_not_editable")
    kept = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert (kept["total"], kept["lines"][0]["quantity"]) == (order["total"], 1)
    assert await levels(client, m, "MUG") == (5, 1, 4)
    noted = ok(await client.put(f"/v1/orders/{order['id']}", headers=m.headers,
                                json={"note": "gift wrap"}))
    assert noted["note"] == "gift wrap"


async def test_one_address_placing_orders_for_many_customers_is_limited_too(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await open_shop(client, m, products={"MUG": (100, 100)}, shipping=0, tax_rate=None)
    ok(await client.patch("/v1/business", headers=m.headers, json={"confirms_per_minute": 1}))
    answers = []
    for n in range(11):  # eleven different customers, one client address
        customer_id = await runtime.db.run(lambda conn, n=n: new_customer(
            conn, business_id=m.principal.business_id, name=f"Buyer {n}",
            phone=f"+1 555 01{n:02d}", email=None, now=runtime.clock.now()))
        created = ok(await client.post("/v1/carts", headers=m.headers, json={
            "channel": "web", "customer_id": str(customer_id)}), 201)
        cart = Cart(created["id"], created["token"])
        ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                             json={"sku": "MUG", "quantity": 1}))
        checkout = await start_checkout(client, cart, buyer={
            "name": f"Buyer {n}", "phone": f"+1 555 01{n:02d}"})
        answers.append(await confirm(client, cart, checkout))
    assert [a.status_code for a in answers[:10]] == [201] * 10
    assert error_of(answers[10], 429, "rate_limited")["limited_by"] == "ip"
