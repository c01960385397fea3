"""The merchant's overview over HTTP, on each database: a shop with card, cash and GCash
orders over two days, a checkout that converted and one that did not, low stock and a failing
webhook, and every figure and list of ``GET /v1/overview`` checked against what was built;
who may read it, and that another business sees only its own (nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.webhooks import service as webhooks
from orderline.webhooks.service import deliver_due
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import error_of, ok, pay, ship
from tests.support.checkout import ADDRESS, confirm, new_cart, open_shop, start_checkout
from tests.support.manual import manual_order, receipt_for, upload
from tests.support.webhook_receiver import receiver

# Two days before "today" (Tuesday 3 November 2026, UTC), and today's morning.
TWO_DAYS_AGO = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
THIS_MORNING = datetime(2026, 11, 3, 9, 55, tzinfo=UTC)
TEE = 125_000  # PHP 1,250.00, as the manual shop sells it
PH_ADDRESS = {**ADDRESS, "city": "Manila", "region": "NCR", "postal_code": "1000",
              "country": "PH"}


async def key_with(http: httpx.AsyncClient, shop: Merchant, *scopes: str) -> dict[str, str]:
    issued = ok(await http.post("/v1/api-keys", headers=shop.headers,
                                json={"name": "+".join(scopes), "scopes": list(scopes)}), 201)
    return {"Authorization": f"Bearer {issued['key']}"}


async def card_order(http: httpx.AsyncClient, shop: Merchant, sku: str, *, channel: str,
                     phone: str) -> dict[str, Any]:
    order: dict[str, Any] = ok(await http.post("/v1/orders", headers=shop.headers, json={
        "customer": {"name": f"Buyer {phone[-4:]}", "phone": phone}, "channel": channel,
        "payment_method": "card", "lines": [{"sku": sku, "quantity": 1}]}), 201)
    return order


async def cash_order(http: httpx.AsyncClient, shop: Merchant, sku: str, *,
                     phone: str) -> dict[str, Any]:
    order: dict[str, Any] = ok(await http.post("/v1/orders", headers=shop.headers, json={
        "customer": {"name": f"Cash {phone[-4:]}", "phone": phone}, "channel": "whatsapp",
        "payment_method": "cod", "shipping_address": PH_ADDRESS,
        "lines": [{"sku": sku, "quantity": 1}]}), 201)
    return order


async def overview(http: httpx.AsyncClient, headers: dict[str, str],
                   **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = ok(await http.get("/v1/overview", headers=headers, params=params))
    return answer


def ids(listed: dict[str, Any]) -> list[str]:
    return [o["id"] for o in listed["first"]]


def zero_figures(currency: str) -> dict[str, Any]:
    return {"orders": 0, "paid_orders": 0, "revenue": {currency: 0},
            "average_order_value": {currency: 0}, "checkouts_started": 0,
            "checkouts_converted": 0, "conversion_rate": None}


async def test_the_overview_counts_sales_lists_what_waits_and_reports_health(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    clock = ManualClock(TWO_DAYS_AGO - timedelta(hours=1))
    shop_runtime.clock = clock
    h = shop.headers
    for sku, price, units, threshold in (("MUG", 50_000, 3, 5), ("CAP", 20_000, 10, 2)):
        ok(await http.post("/v1/products", headers=h, json={
            "name": f"Product {sku}", "variants": [{
                "sku": sku, "name": f"Variant {sku}", "price": price, "initial_stock": units,
                "low_stock_threshold": threshold}]}), 201)
    zone = await open_shop(http, shop, products={}, shipping=0, tax_rate=None,
                           countries=("US", "PH"))
    ok(await http.patch("/v1/business/cod", headers=h, json={
        "enabled": True, "zone_ids": [zone.zone_id]}))
    await default_relay(shop_runtime).relay_until_idle()  # the set-up's events are relayed

    # Two days ago: a card order on the web, paid and shipped.
    clock.advance(3600)
    shipped = await card_order(http, shop, "TEE", channel="web", phone="+63 917 000 0001")
    await pay(http, shop, shipped)
    await ship(http, shop, shipped)

    # This morning: paid not shipped, unpaid, two cash orders (one out for delivery), a GCash
    # order whose proof waits, a checkout that became an order and one that did not.
    clock.advance((THIS_MORNING - clock.now()).total_seconds())
    paid = await card_order(http, shop, "TEE", channel="web", phone="+63 917 000 0002")
    clock.advance(60)
    await pay(http, shop, paid)
    unpaid = await card_order(http, shop, "CAP", channel="pos", phone="+63 917 000 0003")
    clock.advance(60)
    cash_confirmed = await cash_order(http, shop, "TEE", phone="+63 917 000 0004")
    cash_out = await cash_order(http, shop, "CAP", phone="+63 917 000 0005")
    await ship(http, shop, cash_out)
    gcash = await manual_order(http, shop, phone="+63 917 000 0006")
    clock.advance(60)
    ok(await upload(http, gcash, receipt_for(gcash)), 201)
    converted = await new_cart(http, shop, ("CAP", 1))
    from_checkout = ok(await confirm(http, converted, await start_checkout(http, converted)), 201)
    left = await new_cart(http, shop, ("CAP", 1))
    await start_checkout(http, left)
    await start_checkout(http, left)  # started again: the cart still counts once
    clock.advance(5 * 60)
    now = clock.now()

    answer = await overview(http, h, due_within_hours=1)
    assert (answer["period"], answer["first_day"], answer["today"], answer["currency"]) == (
        "week", "2026-10-28", "2026-11-03", "PHP")
    assert answer["due_within_hours"] == 1

    today = answer["sales_today"]
    assert today["total"] == {
        "orders": 6, "paid_orders": 1, "revenue": {"PHP": TEE},
        "average_order_value": {"PHP": TEE}, "checkouts_started": 2,
        "checkouts_converted": 1, "conversion_rate": 0.5}
    assert sorted(today["by_channel"]) == ["pos", "web", "whatsapp"]
    web = today["by_channel"]["web"]
    assert (web["orders"], web["paid_orders"], web["revenue"], web["checkouts_started"],
            web["checkouts_converted"], web["conversion_rate"]) == (
        2, 1, {"PHP": TEE}, 2, 1, 0.5)
    whatsapp = today["by_channel"]["whatsapp"]  # cash not collected is not revenue yet
    assert (whatsapp["orders"], whatsapp["paid_orders"], whatsapp["revenue"]) == (
        3, 0, {"PHP": 0})
    assert today["by_channel"]["pos"]["orders"] == 1

    period = answer["sales_in_period"]
    assert (period["total"]["orders"], period["total"]["paid_orders"],
            period["total"]["revenue"], period["total"]["average_order_value"]) == (
        7, 2, {"PHP": 2 * TEE}, {"PHP": TEE})
    assert period["by_channel"]["web"]["revenue"] == {"PHP": 2 * TEE}

    series = answer["series"]
    assert [d["date"] for d in series] == [f"2026-{d}" for d in (
        "10-28", "10-29", "10-30", "10-31", "11-01", "11-02", "11-03")]
    assert {d["date"]: (d["orders"], d["paid_orders"], d["revenue"]["PHP"])
            for d in series if d["orders"]} == {"2026-11-01": (1, 1, TEE),
                                                "2026-11-03": (6, 1, TEE)}
    assert series[0] == {"date": "2026-10-28", "orders": 0, "paid_orders": 0,
                         "revenue": {"PHP": 0}}

    waiting = answer["waiting"]
    # Unpaid with a deadline in the next hour: the typed-in card order and the checkout's
    # order (the GCash order has until its proof deadline, days away), nearest first.
    mine = {o["id"]: o for o in ok(await http.get(
        "/v1/orders", headers=h, params={"status": "pending_payment"}))["data"]}
    due_soon = sorted((o for o in mine.values()
                       if now < datetime.fromisoformat(o["payment_deadline"])
                       <= now + timedelta(hours=1)),
                      key=lambda o: (o["payment_deadline"], o["id"]))
    assert {o["id"] for o in due_soon} == {unpaid["id"], from_checkout["id"]}
    assert waiting["payment_due"]["count"] == 2
    assert ids(waiting["payment_due"]) == [o["id"] for o in due_soon]
    first_due = waiting["payment_due"]["first"][0]
    assert datetime.fromisoformat(first_due["due_at"]) == datetime.fromisoformat(
        due_soon[0]["payment_deadline"])
    later = await overview(http, h, due_within_hours=168)
    assert later["waiting"]["payment_due"]["count"] == 3  # now the GCash order too

    assert waiting["to_ship"]["count"] == 2
    assert ids(waiting["to_ship"]) == [paid["id"], cash_confirmed["id"]]  # by when paid
    one = waiting["to_ship"]["first"][0]
    assert (one["number"], one["customer_name"], one["total"], one["currency"],
            one["status"]) == (paid["number"], "Buyer 0002", TEE, "PHP", "paid")
    assert datetime.fromisoformat(one["since"]) == THIS_MORNING + timedelta(seconds=60)
    assert waiting["cash_to_collect"]["count"] == 1
    assert ids(waiting["cash_to_collect"]) == [cash_out["id"]]
    assert waiting["proofs_to_verify"]["count"] == 1
    assert ids(waiting["proofs_to_verify"]) == [gcash["id"]]

    # Low stock: MUG (3 free, threshold 5); CAP has 10 - 3 sold or held, above its 2; TEE
    # has no threshold.
    assert answer["low_stock"]["count"] == 1
    [low] = answer["low_stock"]["first"]
    assert (low["sku"], low["available"], low["threshold"]) == ("MUG", 3, 5)

    outbox = answer["health"]["outbox"]
    assert outbox["pending"] > 0 and outbox["dead"] == 0
    assert outbox["oldest_pending_seconds"] == (now - TWO_DAYS_AGO).total_seconds()
    assert answer["health"]["webhooks"] == {
        "endpoints": 0, "endpoints_failing": 0, "endpoints_disabled": 0,
        "deliveries_retrying": 0, "deliveries_dead": 0}

    # The relay empties the outbox. Then a webhook that fails: after one round of deliveries
    # it is failing, its delivery retrying.
    await default_relay(shop_runtime).relay_until_idle()
    assert (await overview(http, h))["health"]["outbox"] == {
        "pending": 0, "oldest_pending_seconds": None, "dead": 0}
    ok(await http.patch("/v1/business", headers=h, json={"development_mode": True}))
    try:
        with receiver() as hook:
            hook.fail_always()
            ok(await http.post("/v1/webhooks", headers=h, json={
                "url": hook.url, "event_types": ["order.paid"]}), 201)
            await pay(http, shop, unpaid)
            await default_relay(shop_runtime).relay_until_idle()
            await deliver_due(shop_runtime)
            assert len(hook.received) == 1
            health = (await overview(http, h))["health"]
            assert health["webhooks"] == {
                "endpoints": 1, "endpoints_failing": 1, "endpoints_disabled": 0,
                "deliveries_retrying": 1, "deliveries_dead": 0}
            assert health["outbox"] == {"pending": 0, "oldest_pending_seconds": None,
                                        "dead": 0}
    finally:
        for endpoint in await webhooks.list_endpoints(shop_runtime, shop.principal):
            await webhooks.delete_endpoint(shop_runtime, shop.principal, endpoint["id"])

    # A read-only key sees the same overview; a verifier-only key is refused.
    reader = await key_with(http, shop, "read")
    assert (await overview(http, reader)) == (await overview(http, h))
    verifier = await key_with(http, shop, "verify")
    details = error_of(await http.get("/v1/overview", headers=verifier), 403, "forbidden")
    assert details["required_scope"] == "read"


async def test_another_business_sees_only_its_own_figures(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    shop_runtime.clock = ManualClock(THIS_MORNING)
    await card_order(http, shop, "TEE", channel="web", phone="+63 917 000 0100")
    rival = await new_merchant(shop_runtime, name="Rival shop")
    await default_relay(shop_runtime).relay_until_idle()
    answer = await overview(http, rival.headers, period="day")
    assert answer["currency"] == "USD"
    for sales in (answer["sales_today"], answer["sales_in_period"]):
        assert sales == {"total": zero_figures("USD"), "by_channel": {}}
    assert answer["series"] == [{"date": "2026-11-03", "orders": 0, "paid_orders": 0,
                                 "revenue": {"USD": 0}}]
    assert all(w == {"count": 0, "first": []} for w in answer["waiting"].values())
    assert answer["low_stock"] == {"count": 0, "first": []}
    assert answer["health"] == {
        "webhooks": {"endpoints": 0, "endpoints_failing": 0, "endpoints_disabled": 0,
                     "deliveries_retrying": 0, "deliveries_dead": 0},
        "outbox": {"pending": 0, "oldest_pending_seconds": None, "dead": 0}}
    mine = await overview(http, shop.headers, period="day")
    assert mine["sales_today"]["total"]["orders"] == 1


async def test_a_day_is_today_alone_and_a_year_365_days(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    shop_runtime.clock = ManualClock(THIS_MORNING)
    await pay(http, shop, await card_order(http, shop, "TEE", channel="web",
                                           phone="+63 917 000 0200"))
    day = await overview(http, shop.headers, period="day")
    assert day["first_day"] == day["today"] == "2026-11-03"
    assert day["sales_in_period"] == day["sales_today"]
    assert len(day["series"]) == 1 and day["series"][0]["revenue"] == {"PHP": TEE}
    year = await overview(http, shop.headers, period="year")
    assert (year["first_day"], len(year["series"])) == ("2025-11-04", 365)
    assert year["sales_in_period"]["total"]["revenue"] == {"PHP": TEE}


async def test_an_unknown_period_or_hours_out_of_range_are_refused(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    for params in ({"period": "fortnight"}, {"period": ""}, {"due_within_hours": 0},
                   {"due_within_hours": 169}, {"due_within_hours": "soon"}):
        error_of(await http.get("/v1/overview", headers=shop.headers, params=params), 422,
                 "validation_error")
    error_of(await http.get("/v1/overview"), 401, "unauthorized")
