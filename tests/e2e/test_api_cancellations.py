"""Partial cancellation over HTTP: some units of an unshipped order go, their stock comes
back, the rest is re-priced, and the money follows (the total falls, or the difference is
refunded through the provider or recorded as given back by hand)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from orderline.core.db.tables import table_of
from orderline.core.notifier import Message
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.payments.providers.sandbox import SandboxGateway
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
from tests.support.checkout import confirm, new_cart, open_shop, start_checkout

outbox = table_of(OutboxEvent)
SECRET = "whsec_e2e_cancellations"


class Inbox:
    """A notifier that keeps what it sends (the buyer's one-time code)."""

    channel = "test"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def last_code(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.sent[-1].body)
        assert found is not None, self.sent[-1]
        return found.group(1)


def units(*lines: tuple[str, int], **more: Any) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": q} for sku, q in lines], **more}


async def cancel(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any],
                 *lines: tuple[str, int], version: int | None = None,
                 **more: Any) -> httpx.Response:
    headers = dict(m.headers)
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return await client.post(f"/v1/orders/{order['id']}/cancellations", headers=headers,
                             json=units(*lines, **more))


async def preview(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any],
                  *lines: tuple[str, int]) -> dict[str, Any]:
    shown: dict[str, Any] = ok(await client.post(
        f"/v1/orders/{order['id']}/cancellations/preview", headers=m.headers,
        json=units(*lines)))
    return shown


async def order_events(runtime: Runtime, m: Merchant, type_: str) -> list[dict[str, Any]]:
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(
            outbox.c.business_id == m.principal.business_id, outbox.c.type == type_)
            .order_by(outbox.c.id))
        return [r.payload for r in rows]


async def history(client: httpx.AsyncClient, m: Merchant,
                  order: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(await client.get(f"/v1/orders/{order['id']}/history",
                                                     headers=m.headers))
    return rows


def line(order: dict[str, Any], sku: str) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in order["lines"] if x["sku"] == sku)
    return found


async def ledger_net(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any]) -> int:
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    net = 0
    for row in seen["ledger"]:
        net += {"capture": row["amount"], "collect": row["amount"],
                "refund": -row["amount"]}.get(row["kind"], 0)
    return net


async def test_an_unpaid_order_loses_units_its_total_falls_and_its_hold_shrinks(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    await add_product(client, m, "CUP", 5, price=300)
    order = await place_order(client, m, ("MUG", 3), ("CUP", 1))
    assert await levels(client, m, "MUG") == (10, 3, 7)
    seen = await preview(client, m, order, ("MUG", 2))
    assert seen["full_cancellation"] is False
    assert (seen["before"]["total"], seen["after"]["total"]) == (2550, 1050)
    assert seen["difference"]["total"] == 1500
    assert seen["refund"] == {"amount": 0, "method": "none", "provider": None}
    assert await levels(client, m, "MUG") == (10, 3, 7)  # a preview changes nothing

    done = ok(await cancel(client, m, order, ("MUG", 2), version=order["version"],
                           reason="buyer", note="buyer changed their mind"), 201)
    after = done["order"]
    assert after["total"] == after["subtotal"] == 1050
    assert (line(after, "MUG")["quantity"], line(after, "MUG")["cancelled_quantity"]) == (1, 2)
    assert line(after, "MUG")["line_total"] == 750
    assert after["version"] == order["version"] + 1
    assert await levels(client, m, "MUG") == (10, 1, 9)
    entry = (await history(client, m, order))[-1]
    assert entry["action"] == "lines_cancelled"
    assert entry["changes"]["lines"] == [{"sku": "MUG", "quantity": 2}]
    assert entry["changes"]["lines_before"] == [{"sku": "MUG", "quantity": 3},
                                                {"sku": "CUP", "quantity": 1}]
    assert entry["changes"]["totals"]["to"]["total"] == 1050
    updated = await order_events(runtime, m, "order.updated")
    assert updated[-1]["action"] == "lines_cancelled"
    assert updated[-1]["order"]["total"] == 1050

    # The buyer sees the cancelled units, with their order token, in the API and on the page.
    token = {"Authorization": f"Bearer {order['access_token']}"}
    mine = ok(await client.get(f"/v1/orders/{order['id']}", headers=token))
    assert (line(mine, "MUG")["quantity"], line(mine, "MUG")["cancelled_quantity"]) == (1, 2)
    page = await client.get(f"/o/{order['access_token']}")
    assert page.status_code == 200 and "2 cancelled" in page.text

    # The smaller order is paid as any other: exactly the units still held become a sale.
    paid = await pay(client, m, after)
    assert paid["status"] == "paid"
    assert await levels(client, m, "MUG") == (9, 0, 9)
    assert await balanced(client, m)


async def test_refusals_have_stable_codes_and_change_nothing(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    order = await place_order(client, m, ("MUG", 2))
    error_of(await cancel(client, m, order, ("MUG", 3)), 409, "cancel_exceeds_remaining")
    error_of(await cancel(client, m, order, ("NOPE", 1)), 409, "cancel_exceeds_remaining")
    error_of(await cancel(client, m, order, ("MUG", 1), version=order["version"] + 5), 412,
             "version_conflict")
    error_of(await cancel(client, m, order, ("MUG", 0)), 422, "validation_error")
    # Another business's key: the order does not exist for it.
    error_of(await cancel(client, rival, order, ("MUG", 1)), 404, "not_found")
    error_of(await client.post(f"/v1/orders/{order['id']}/cancellations/preview",
                               headers=rival.headers, json=units(("MUG", 1))), 404, "not_found")
    reader = ok(await client.post("/v1/api-keys", headers=m.headers,
                                  json={"name": "reader", "scopes": ["read"]}), 201)
    error_of(await client.post(f"/v1/orders/{order['id']}/cancellations",
                               headers={"Authorization": f"Bearer {reader['key']}"},
                               json=units(("MUG", 1))), 403, "forbidden")
    assert await levels(client, m, "MUG") == (10, 2, 8)
    shipped = await ship(client, m, await pay(client, m, order))
    error_of(await cancel(client, m, shipped, ("MUG", 1)), 409, "invalid_transition")
    assert await levels(client, m, "MUG") == (8, 0, 8)


async def test_cancelling_every_unit_left_is_a_full_cancellation(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    await add_product(client, m, "CUP", 5, price=300)
    order = await place_order(client, m, ("MUG", 2), ("CUP", 1))
    ok(await cancel(client, m, order, ("CUP", 1)), 201)
    assert (await preview(client, m, order, ("MUG", 2)))["full_cancellation"] is True
    done = ok(await cancel(client, m, order, ("MUG", 2), reason="out_of_stock"), 201)
    assert done["full_cancellation"] is True
    assert (done["order"]["status"], done["order"]["cancel_reason"]) == ("cancelled",
                                                                         "out_of_stock")
    assert await levels(client, m, "MUG") == (10, 0, 10)
    assert await levels(client, m, "CUP") == (5, 0, 5)
    error_of(await cancel(client, m, order, ("MUG", 1)), 409, "invalid_transition")
    assert [e["action"] for e in await history(client, m, order)][-2:] == [
        "lines_cancelled", "cancelled"]


async def card_shop_order(client: httpx.AsyncClient, runtime: Runtime
                          ) -> tuple[Merchant, dict[str, Any]]:
    """A checkout order of 2 MUG at 1000 and 1 CUP at 500, 10% off, 500 shipping, 10% tax."""
    m = await new_merchant(runtime)
    shop = await open_shop(client, m, products={"MUG": (1000, 10), "CUP": (500, 10)})
    ok(await client.post("/v1/coupons", headers=m.headers, json={
        "code": "TEN", "kind": "percentage", "percent_off": 10}), 201)
    cart = await new_cart(client, shop.merchant, ("MUG", 2), ("CUP", 1))
    checkout = await start_checkout(client, cart, coupons=("TEN",))
    order: dict[str, Any] = ok(await confirm(client, cart, checkout), 201)
    return m, order


async def test_a_paid_card_order_gets_the_cancelled_units_share_refunded_by_the_provider(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, order = await card_shop_order(client, runtime)
    # 2500 - 250 off = 2250, + 500 shipping, + 10% tax on both = 2775 + 50 = 3025.
    assert (order["total"], order["discount_total"]) == (3025, 250)
    intent = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                  json={"provider": "sandbox",
                                        "payment_method": "pm_card_visa"}), 201)
    assert intent["amount_captured"] == 3025
    await sandbox.wait_for_deliveries()
    paid = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert paid["status"] == "paid"
    assert await levels(client, m, "MUG") == (8, 0, 8)

    seen = await preview(client, m, paid, ("MUG", 1))
    # Left: 1 MUG + 1 CUP = 1500, 10% off = 150 -> 1350 + 135 tax; shipping 500 + 50 tax.
    assert seen["after"] == {"subtotal": 1500, "discount_total": 150, "shipping_total": 500,
                             "shipping_discount": 0, "tax_total": 185, "total": 2035}
    assert seen["refund"] == {"amount": 990, "method": "card", "provider": "sandbox"}
    assert seen["coupons"]["after"] == [{"code": "TEN", "kind": "percentage", "amount": 150}]

    done = ok(await cancel(client, m, paid, ("MUG", 1), version=paid["version"]), 201)
    await sandbox.wait_for_deliveries()
    assert done["refund"]["amount"] == 990
    after = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert (after["status"], after["total"]) == ("paid", 2035)
    assert after["pricing"]["coupons"][0]["amount"] == 150
    payments = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert payments["data"][0]["amount_refunded"] == 990
    assert [(e["kind"], e["amount"]) for e in payments["ledger"]][-1] == ("refund", 990)
    # received - refunded is what the order now costs.
    assert await ledger_net(client, m, order) == after["total"]
    assert await levels(client, m, "MUG") == (9, 0, 9)
    moved = [mv for mv in await movements(client, m, "MUG") if mv["reason"] == "cancellation"]
    assert [mv["delta"] for mv in moved] == [1]
    assert await balanced(client, m)
    assert (await order_events(runtime, m, "order.partially_refunded"))[-1]["amount"] == 990

    # Every unit left: all the money back, then the order is cancelled.
    whole = ok(await cancel(client, m, after, ("MUG", 1), ("CUP", 1)), 201)
    await sandbox.wait_for_deliveries()
    assert whole["full_cancellation"] is True and whole["order"]["status"] == "cancelled"
    assert whole["refund"]["amount"] == 2035
    assert await ledger_net(client, m, order) == 0
    assert await levels(client, m, "MUG") == (10, 0, 10)
    assert await levels(client, m, "CUP") == (10, 0, 10)
    assert await balanced(client, m)


async def test_a_confirmed_cash_on_delivery_order_puts_its_units_back_on_hand(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    shop = await open_shop(client, m, products={"RICE": (1000, 20)}, shipping=0,
                           tax_rate=None)
    ok(await client.patch("/v1/business/cod", headers=m.headers, json={
        "enabled": True, "zone_ids": [shop.zone_id]}))
    runtime.notifier = inbox = Inbox()
    cart = await new_cart(client, m, ("RICE", 3))
    checkout = await start_checkout(client, cart, payment_method="cod",
                                    buyer={"name": "Cash Buyer", "phone": "+63 917 555 0101"})
    answer = await confirm(client, cart, checkout)
    if answer.status_code == 409:  # a first cash order: the buyer's one-time code
        ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
        ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp/verify",
                             headers=cart.headers, json={"code": inbox.last_code()}))
        answer = await confirm(client, cart, checkout)
    order = ok(answer, 201)
    assert (order["status"], order["total"]) == ("confirmed", 3000)
    assert await levels(client, m, "RICE") == (17, 0, 17)
    done = ok(await cancel(client, m, order, ("RICE", 1)), 201)
    assert done["refund"] == {"amount": 0, "method": "none", "provider": None}
    assert (done["order"]["status"], done["order"]["total"]) == ("confirmed", 2000)
    assert await levels(client, m, "RICE") == (18, 0, 18)
    assert [mv["delta"] for mv in await movements(client, m, "RICE")
            if mv["reason"] == "cancellation"] == [1]
    assert await balanced(client, m)
    # The courier collects the smaller total; a unit cancelled after that is cash given
    # back by hand, booked in the ledger.
    collected = ok(await client.post(f"/v1/orders/{order['id']}/cod/collect",
                                     headers=m.headers, json={"amount": 2000}))
    assert collected["status"] == "paid"
    later = ok(await cancel(client, m, collected, ("RICE", 1)), 201)
    assert later["refund"] == {"amount": 1000, "method": "by_hand", "provider": "cod"}
    assert later["order"]["total"] == 1000
    assert await ledger_net(client, m, order) == 1000
    assert await levels(client, m, "RICE") == (19, 0, 19)
    assert await balanced(client, m)


async def test_units_cancelled_after_a_refund_give_back_no_more_than_the_card_still_holds(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    # Found by tests/integration/test_stock_properties.py: the cancellation's refund was the
    # difference in total even when an earlier refund had given most of the money back; no
    # payment held that much, so it was planned as given back "by hand" (the merchant told to
    # hand over money the buyer already had back) while the card kept what it still held.
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    order = await place_order(client, m, ("MUG", 5))
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                         json={"amount": 4000}), 201)
    await sandbox.wait_for_deliveries()
    paid = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert await ledger_net(client, m, order) == 1000

    seen = await preview(client, m, paid, ("MUG", 4))
    assert seen["refund"] == {"amount": 1000, "method": "card", "provider": "sandbox"}
    done = ok(await cancel(client, m, paid, ("MUG", 4)), 201)
    await sandbox.wait_for_deliveries()
    assert done["refund"] == {"amount": 1000, "method": "card", "provider": "sandbox"}
    assert await ledger_net(client, m, order) == 0
    # Nothing left to give back: the last unit's cancellation refunds nothing.
    after = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert after["total"] == 1000
    seen = await preview(client, m, after, ("MUG", 1))
    assert seen["refund"] == {"amount": 0, "method": "none", "provider": None}
