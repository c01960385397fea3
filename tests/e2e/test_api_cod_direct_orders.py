"""A cash-on-delivery order the merchant types in (``POST /v1/orders``): the business's cash
policy decides as it does for a checkout (without the buyer's one-time code), the order is
``confirmed`` with its stock sold, the payment-deadline sweep leaves it alone, and the
merchant may place a refused one anyway with a reason kept in its history."""

from __future__ import annotations

from typing import Any

import httpx

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.worker.loop import sweep_once
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import error_of, levels, movements, ok
from tests.support.checkout import ADDRESS, open_shop

ABROAD = {**ADDRESS, "country": "CA", "region": "ON", "postal_code": "K1A 0A6"}


async def cod_merchant(client: httpx.AsyncClient, runtime: Runtime, **policy: Any) -> Merchant:
    """A shop with 20 RICE at 10.00, delivering to the US, taking cash there by default."""
    m = await new_merchant(runtime)
    shop = await open_shop(client, m, products={"RICE": (1000, 20)}, shipping=0, tax_rate=None)
    ok(await client.patch("/v1/business/cod", headers=m.headers, json={
        "enabled": True, "zone_ids": [shop.zone_id], **policy}))
    return m


def cash_order(quantity: int = 2, *, address: dict[str, str] | None = ADDRESS,
               phone: str = "+1 555 0177", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"name": "Cash Buyer", "phone": phone}, "channel": "whatsapp",
        "payment_method": "cod", "lines": [{"sku": "RICE", "quantity": quantity}], **extra}
    if address is not None:
        body["shipping_address"] = address
    return body


async def history(client: httpx.AsyncClient, m: Merchant,
                  order: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = ok(await client.get(f"/v1/orders/{order['id']}/history",
                                                        headers=m.headers))
    return entries


async def test_a_typed_cash_order_is_confirmed_with_its_stock_sold_and_no_code_asked(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime)  # a first cash order: a checkout would ask a code
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(2)), 201)
    assert (order["status"], order["payment_method"], order["total"]) == ("confirmed", "cod",
                                                                          2000)
    assert order["shipping_address"]["country"] == "US"
    assert order["manual_payment"] is None
    assert await levels(client, m, "RICE") == (18, 0, 18)  # sold, not held
    sales = [mv for mv in await movements(client, m, "RICE") if mv["reason"] == "sale"]
    assert [mv["delta"] for mv in sales] == [-2]
    created = (await history(client, m, order))[0]
    assert created["to_status"] == "confirmed" and "cod_override" not in created["changes"]
    # It can be collected as any cash order.
    paid = ok(await client.post(f"/v1/orders/{order['id']}/cod/collect", headers=m.headers,
                                json={"amount": 2000}))
    assert paid["status"] == "paid"


async def test_a_typed_cash_order_survives_the_payment_deadline_sweep(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    m = await cod_merchant(client, runtime)
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(2)), 201)
    card = ok(await client.post("/v1/orders", headers=m.headers, json={
        **cash_order(1), "payment_method": "card"}), 201)
    clock.advance(7 * 24 * 3600)
    assert await sweep_once(runtime) >= 1  # the unpaid card order goes
    # The sweep takes 200 lapsed orders at a time, oldest first, from the whole database:
    # other tests' unpaid orders share it, so sweep until nothing more lapses.
    while await sweep_once(runtime):
        pass
    kept = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert kept["status"] == "confirmed"
    gone = ok(await client.get(f"/v1/orders/{card['id']}", headers=m.headers))
    assert gone["status"] == "cancelled"
    assert await levels(client, m, "RICE") == (18, 0, 18)


async def test_a_cash_order_the_policy_refuses_is_refused_with_its_code_and_places_nothing(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime, max_order_total=5000)
    error_of(await client.post("/v1/orders", headers=m.headers,
                               json=cash_order(address=ABROAD)), 422, "cod_zone_not_allowed")
    error_of(await client.post("/v1/orders", headers=m.headers,
                               json=cash_order(address=None)), 422, "cod_zone_not_allowed")
    details = error_of(await client.post("/v1/orders", headers=m.headers,
                                         json=cash_order(6)), 422, "cod_total_above_limit")
    assert details == {"max_order_total": 5000, "total": 6000}
    ok(await client.patch("/v1/business/cod", headers=m.headers, json={"enabled": False}))
    error_of(await client.post("/v1/orders", headers=m.headers, json=cash_order()), 422,
             "cod_disabled")
    assert ok(await client.get("/v1/orders", headers=m.headers))["data"] == []
    assert await levels(client, m, "RICE") == (20, 0, 20)


async def test_a_customers_open_cash_orders_are_counted(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime, max_open_orders=1)
    ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(1)), 201)
    error_of(await client.post("/v1/orders", headers=m.headers, json=cash_order(1)), 409,
             "cod_too_many_open_orders")
    ok(await client.post("/v1/orders", headers=m.headers,
                         json=cash_order(1, phone="+1 555 0178")), 201)  # another customer


async def test_the_merchant_may_override_a_refusal_and_the_history_says_why(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime, max_order_total=5000)
    reason = "Regular customer, picks up at the counter and pays there"
    order = ok(await client.post("/v1/orders", headers=m.headers, json=cash_order(
        6, address=None, cod_override_reason=reason)), 201)
    assert order["status"] == "confirmed"
    assert await levels(client, m, "RICE") == (14, 0, 14)
    created = (await history(client, m, order))[0]
    assert created["action"] == "created"
    assert created["changes"]["cod_override"] == {
        "refused": ["cod_zone_not_allowed", "cod_total_above_limit"], "reason": reason}


async def test_an_override_reason_is_only_for_a_cash_order_and_not_blank(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await cod_merchant(client, runtime)
    error_of(await client.post("/v1/orders", headers=m.headers, json={
        **cash_order(), "payment_method": "card", "cod_override_reason": "trusted"}), 422,
        "validation_error")
    error_of(await client.post("/v1/orders", headers=m.headers, json=cash_order(
        address=ABROAD, cod_override_reason="   ")), 422, "validation_error")
    assert ok(await client.get("/v1/orders", headers=m.headers))["data"] == []
