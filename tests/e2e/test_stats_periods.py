"""The figures a merchant asks for: the verification queue by day, week or month, and the
conversion of checkouts into orders by channel, on a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from tests.conftest import Merchant
from tests.e2e.conftest import error_of, ok, place_order
from tests.support.checkout import Cart, confirm, open_shop, start_checkout
from tests.support.manual import manual_order, receipt_for, upload

# A Wednesday: the 28th and 29th of October share an ISO week; Tuesday the 3rd of November
# starts another week and another month.
OCTOBER_28 = datetime(2026, 10, 28, 9, 0, tzinfo=UTC)


async def decide_one(http: httpx.AsyncClient, shop: Merchant, clock: ManualClock, *,
                     approve: bool, n: int) -> None:
    """A buyer sends a proof now, and a minute later it is decided."""
    order = await manual_order(http, shop, phone=f"+63 917 555 {n:04d}")
    proof = ok(await upload(http, order, receipt_for(order)), 201)
    clock.advance(60)
    if approve:
        ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=shop.headers))
    else:
        ok(await http.post(f"/v1/verifications/{proof['id']}/reject", headers=shop.headers,
                           json={"reason": "blurry"}))


def counts(periods: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    """start date -> (decided, approved, rejected), for the periods with decisions."""
    return {p["start"][:10]: (p["decided"], p["approved"], p["rejected"])
            for p in periods if p["decided"]}


async def test_verification_stats_by_day_week_and_month(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    clock = ManualClock(OCTOBER_28)
    shop_runtime.clock = clock
    await decide_one(http, shop, clock, approve=True, n=1)
    clock.advance(24 * 3600)
    await decide_one(http, shop, clock, approve=False, n=2)
    clock.advance(5 * 24 * 3600)  # Tuesday 3 November
    await decide_one(http, shop, clock, approve=True, n=3)

    daily = ok(await http.get("/v1/verifications/stats", headers=shop.headers,
                              params={"period": "day", "days": 7}))
    assert (daily["period"], daily["days"], daily["decided"]) == ("day", 7, 3)
    assert [p["start"][:10] for p in daily["periods"]] == [
        "2026-10-27", "2026-10-28", "2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01",
        "2026-11-02", "2026-11-03"]  # 7 days back from 3 Nov 09:03; empty days included
    assert counts(daily["periods"]) == {"2026-10-28": (1, 1, 0), "2026-10-29": (1, 0, 1),
                                        "2026-11-03": (1, 1, 0)}
    assert daily["periods"][1]["median_seconds_to_decision"] == 60.0
    assert daily["periods"][3]["approval_rate"] is None

    weekly = ok(await http.get("/v1/verifications/stats", headers=shop.headers,
                               params={"period": "week"}))
    assert weekly["days"] == 84 and len(weekly["periods"]) == 13
    assert counts(weekly["periods"]) == {"2026-10-26": (2, 1, 1), "2026-11-02": (1, 1, 0)}
    assert weekly["periods"][-2]["approval_rate"] == 0.5

    monthly = ok(await http.get("/v1/verifications/stats", headers=shop.headers,
                                params={"period": "month"}))
    assert monthly["days"] == 365
    assert monthly["periods"][0]["start"][:10] == "2025-11-01"
    assert counts(monthly["periods"]) == {"2026-10-01": (2, 1, 1), "2026-11-01": (1, 1, 0)}

    plain = ok(await http.get("/v1/verifications/stats", headers=shop.headers))
    assert (plain["days"], plain["period"], plain["periods"]) == (30, None, None)
    error_of(await http.get("/v1/verifications/stats", headers=shop.headers,
                            params={"period": "year"}), 422, "validation_error")


async def cart_on(client: httpx.AsyncClient, merchant: Merchant, channel: str) -> Cart:
    created = ok(await client.post("/v1/carts", headers=merchant.headers,
                                   json={"channel": channel}), 201)
    cart = Cart(id=created["id"], token=created["token"])
    ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                         json={"sku": "TEE", "quantity": 1}))
    return cart


async def test_order_stats_give_the_conversion_of_checkouts_by_channel(
        client: httpx.AsyncClient, merchant: Merchant, runtime: Runtime) -> None:
    clock = ManualClock(OCTOBER_28)
    runtime.clock = clock
    await open_shop(client, merchant, products={"TEE": (1000, 50)})
    bought = await cart_on(client, merchant, "web")
    ok(await confirm(client, bought, await start_checkout(client, bought)), 201)
    twice = await cart_on(client, merchant, "web")  # two checkouts, one cart, no order
    await start_checkout(client, twice)
    await start_checkout(client, twice)
    again = await cart_on(client, merchant, "web")
    ok(await confirm(client, again, await start_checkout(client, again)), 201)
    browsing = await cart_on(client, merchant, "instagram")
    await start_checkout(client, browsing)
    await place_order(client, merchant, ("TEE", 1), channel="pos")  # typed in: no checkout

    stats = ok(await client.get("/v1/orders/stats", headers=merchant.headers))
    assert stats["orders"] == 3
    assert stats["conversion_by_channel"] == {
        "instagram": {"checkouts_started": 1, "orders_placed": 0, "conversion_rate": 0.0},
        "web": {"checkouts_started": 3, "orders_placed": 2, "conversion_rate": 0.6667}}

    # The period counts checkouts started in it.
    clock.advance(3600)
    later = await cart_on(client, merchant, "web")
    await start_checkout(client, later)
    window = {"created_from": (OCTOBER_28 + timedelta(minutes=30)).isoformat()}
    recent = ok(await client.get("/v1/orders/stats", headers=merchant.headers, params=window))
    assert recent["conversion_by_channel"] == {
        "web": {"checkouts_started": 1, "orders_placed": 0, "conversion_rate": 0.0}}
    before = {"created_to": OCTOBER_28.isoformat()}
    assert ok(await client.get("/v1/orders/stats", headers=merchant.headers,
                               params=before))["conversion_by_channel"] == {}
