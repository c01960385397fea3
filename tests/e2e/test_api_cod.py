"""Cash on delivery over HTTP: offered only where the policy allows, a one-time code for risky
orders, synchronous confirmation, collection, and failed deliveries."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.notifier import Message
from orderline.core.runtime import Runtime
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import error_of, levels, movements, ok
from tests.support.checkout import Cart, Shop, confirm, new_cart, open_shop, start_checkout

BUYER = {"name": "Cash Buyer", "phone": "+63 917 555 0101"}


class Inbox:
    """A notifier that keeps what it sends (the SMS a buyer would get)."""

    channel = "test"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def last_code(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.sent[-1].body)
        assert found is not None, self.sent[-1]
        return found.group(1)


@pytest.fixture
def inbox(runtime: Runtime) -> Inbox:
    box = Inbox()
    runtime.notifier = box
    return box


async def cod_shop(client: httpx.AsyncClient, runtime: Runtime, **policy: Any) -> Shop:
    m = await new_merchant(runtime)
    shop = await open_shop(client, m, products={"RICE": (1000, 20)}, shipping=0, tax_rate=None)
    ok(await client.patch("/v1/business/cod", headers=m.headers, json={
        "enabled": True, "zone_ids": [shop.zone_id], **policy}))
    return shop


async def cod_checkout(client: httpx.AsyncClient, m: Merchant, quantity: int = 1,
                       expect: int = 201) -> tuple[Cart, Any]:
    cart = await new_cart(client, m, ("RICE", quantity))
    return cart, await start_checkout(client, cart, buyer=BUYER, payment_method="cod",
                                      expect=expect)


async def place_cod(client: httpx.AsyncClient, m: Merchant, inbox: Inbox,
                    quantity: int = 1) -> dict[str, Any]:
    cart, checkout = await cod_checkout(client, m, quantity)
    answer = await confirm(client, cart, checkout)
    if answer.status_code == 409 and answer.json()["error"]["code"] == "otp_required":
        ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
        ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp/verify", headers=cart.headers,
                             json={"code": inbox.last_code()}))
        answer = await confirm(client, cart, checkout)
    order: dict[str, Any] = ok(answer, 201)
    return order


async def test_a_first_cash_order_needs_the_code_sent_to_the_buyer_then_is_confirmed(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await cod_shop(client, runtime)
    m = shop.merchant
    cart, checkout = await cod_checkout(client, m, 2)
    assert checkout["cod"] == {"otp_required": True, "reasons": ["first_cod_order"]}
    details = error_of(await confirm(client, cart, checkout), 409, "otp_required")
    assert details["reasons"] == ["first_cod_order"]
    sent = ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
    assert sent["sent_to"].endswith("101") and inbox.sent[-1].recipient == BUYER["phone"]
    wrong = "000000" if inbox.last_code() != "000000" else "111111"
    refused = error_of(await client.post(f"/v1/checkouts/{checkout['id']}/otp/verify",
                                         headers=cart.headers, json={"code": wrong}),
                       422, "otp_invalid")
    assert refused["attempts_left"] == 4
    ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp/verify", headers=cart.headers,
                         json={"code": inbox.last_code()}))
    order = ok(await confirm(client, cart, checkout), 201)
    assert (order["status"], order["payment_method"], order["total"]) == ("confirmed", "cod",
                                                                          2000)
    assert await levels(client, m, "RICE") == (18, 0, 18)  # sold at once, not held
    # Until a cash order of hers is delivered, each one needs its own code: the first
    # checkout's code was used up and opens no other.
    other, again = await cod_checkout(client, m)
    assert again["cod"]["otp_required"] is True
    error_of(await confirm(client, other, again), 409, "otp_required")


async def test_the_code_locks_after_five_wrong_tries_and_expires(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    runtime.clock = clock = ManualClock()
    shop = await cod_shop(client, runtime)
    cart, checkout = await cod_checkout(client, shop.merchant)
    ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
    code = inbox.last_code()
    wrong = "000000" if code != "000000" else "111111"
    verify = f"/v1/checkouts/{checkout['id']}/otp/verify"
    for _ in range(5):
        error_of(await client.post(verify, headers=cart.headers, json={"code": wrong}), 422,
                 "otp_invalid")
    error_of(await client.post(verify, headers=cart.headers, json={"code": code}), 409,
             "otp_locked")
    ok(await client.post(f"/v1/checkouts/{checkout['id']}/otp", headers=cart.headers))
    clock.advance(11 * 60)
    error_of(await client.post(verify, headers=cart.headers, json={"code": inbox.last_code()}),
             409, "otp_expired")
    error_of(await confirm(client, cart, checkout), 409, "otp_required")


@pytest.mark.parametrize("policy, quantity, code", [
    ({"enabled": False}, 1, "cod_disabled"),
    ({"zone_ids": []}, 1, "cod_zone_not_allowed"),
    ({"max_order_total": 2500}, 3, "cod_total_above_limit"),
])
async def test_each_policy_rule_refuses_cash_with_its_code(
        client: httpx.AsyncClient, runtime: Runtime, policy: dict[str, Any], quantity: int,
        code: str) -> None:
    shop = await cod_shop(client, runtime, **policy)
    _, refused = await cod_checkout(client, shop.merchant, quantity, expect=422)
    error_of(refused, 422, code)
    assert await levels(client, shop.merchant, "RICE") == (20, 0, 20)


async def test_too_many_open_cash_orders_are_refused_until_one_is_collected(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await cod_shop(client, runtime, max_open_orders=2, otp_first_order=False)
    m = shop.merchant
    first = await place_cod(client, m, inbox)
    await place_cod(client, m, inbox)
    _, refused = await cod_checkout(client, m, expect=409)
    assert error_of(refused, 409, "cod_too_many_open_orders")["limit"] == 2
    ok(await client.post(f"/v1/orders/{first['id']}/cod/collect", headers=m.headers,
                         json={"amount": 1000}))
    await place_cod(client, m, inbox)


async def test_collecting_the_cash_pays_the_order_and_a_wrong_amount_follows_the_setting(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await cod_shop(client, runtime, otp_first_order=False)
    m = shop.merchant
    order = await place_cod(client, m, inbox, 2)
    ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=m.headers,
                          json={"carrier": "LBC", "tracking_number": "LBC-1"}))
    collect = f"/v1/orders/{order['id']}/cod/collect"
    mismatch = error_of(await client.post(collect, headers=m.headers, json={"amount": 1900}),
                        422, "collected_amount_mismatch")
    assert (mismatch["expected"], mismatch["collected"]) == (2000, 1900)
    ok(await client.patch("/v1/business/cod", headers=m.headers,
                          json={"allow_discrepancy": True}))
    stats = ok(await client.get("/v1/orders/stats", headers=m.headers))
    assert (stats["paid_orders"], stats["revenue"]) == (0, 0)  # shipped, cash not in yet
    done = ok(await client.post(collect, headers=m.headers, json={"amount": 1900}))
    stats = ok(await client.get("/v1/orders/stats", headers=m.headers))
    assert (stats["paid_orders"], stats["revenue"]) == (1, 2000)
    assert done["status"] == "delivered" and done["paid_at"]
    history = ok(await client.get(f"/v1/orders/{order['id']}/history", headers=m.headers))
    assert history[-1]["changes"] == {"collected": 1900, "discrepancy": -100}
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert [(e["kind"], e["amount"]) for e in seen["ledger"]] == [("collect", 1900)]
    await default_relay(runtime).relay_until_idle()
    buyer = ok(await client.get(f"/v1/customers/{order['customer']['id']}", headers=m.headers))
    assert (buyer["total_orders"], buyer["total_spent"]) == (1, 2000)
    error_of(await client.post(collect, headers=m.headers, json={"amount": 2000}), 409,
             "invalid_transition")


async def test_a_cash_order_is_invoiced_when_its_cash_is_collected_not_when_confirmed(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await cod_shop(client, runtime, otp_first_order=False)
    m = shop.merchant
    order = await place_cod(client, m, inbox)
    assert order["status"] == "confirmed" and order["invoice_number"] is None
    ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=m.headers,
                          json={"carrier": "LBC", "tracking_number": "LBC-2"}))
    await default_relay(runtime).relay_until_idle()
    shown = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert shown["invoice_number"] is None  # a parcel may still be refused at the door
    ok(await client.post(f"/v1/orders/{order['id']}/cod/collect", headers=m.headers,
                         json={"amount": order["total"]}))
    await default_relay(runtime).relay_until_idle()
    shown = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert (shown["status"], shown["invoice_number"]) == ("delivered", "INV-000001")
    assert shown["invoiced_at"] is not None


async def test_a_refused_delivery_returns_the_stock_and_low_trust_then_refuses_cash(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox) -> None:
    shop = await cod_shop(client, runtime, otp_first_order=False, min_trust_score=-2)
    m = shop.merchant
    order = await place_cod(client, m, inbox, 3)
    assert await levels(client, m, "RICE") == (17, 0, 17)
    ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=m.headers,
                          json={"carrier": "LBC", "tracking_number": "LBC-2"}))
    error_of(await client.patch(f"/v1/orders/{order['id']}/status", headers=m.headers,
                                json={"status": "returned"}), 409, "invalid_transition")
    back = ok(await client.post(f"/v1/orders/{order['id']}/cod/failed", headers=m.headers,
                                json={"outcome": "refused", "note": "not home twice"}))
    assert (back["status"], back["cancel_reason"]) == ("returned", "delivery_failed")
    assert await levels(client, m, "RICE") == (20, 0, 20)
    assert "return" in [mv["reason"] for mv in await movements(client, m, "RICE")]
    _, refused = await cod_checkout(client, m, expect=422)
    details = error_of(refused, 422, "cod_trust_too_low")
    assert (details["score"], details["minimum"]) == (-3, -2)


async def test_another_business_cannot_collect_or_fail_a_cash_order(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, rival: Merchant) -> None:
    shop = await cod_shop(client, runtime, otp_first_order=False)
    order = await place_cod(client, shop.merchant, inbox)
    for path, body in (("collect", {"amount": 1000}), ("failed", {"outcome": "refused"})):
        error_of(await client.post(f"/v1/orders/{order['id']}/cod/{path}",
                                   headers=rival.headers, json=body), 404, "not_found")
    assert ok(await client.get(f"/v1/orders/{order['id']}",
                               headers=shop.merchant.headers))["status"] == "confirmed"
    error_of(await client.patch("/v1/business/cod", headers=rival.headers,
                                json={"zone_ids": [shop.zone_id]}), 422, "validation_error")


async def test_strangers_cannot_use_up_the_buyers_codes(
        client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, rival: Merchant) -> None:
    shop = await cod_shop(client, runtime)
    cart, checkout = await cod_checkout(client, shop.merchant)
    other_cart, _ = await cod_checkout(client, shop.merchant)
    url = f"/v1/checkouts/{checkout['id']}/otp"
    for _ in range(4):  # more than the checkout's send budget (3)
        error_of(await client.post(url, headers=rival.headers), 404, "not_found")
        error_of(await client.post(url, headers=other_cart.headers), 404, "not_found")
    assert inbox.sent == []
    # The buyer still has the whole budget: three codes, then rate_limited.
    for _ in range(3):
        ok(await client.post(url, headers=cart.headers))
    error_of(await client.post(url, headers=cart.headers), 429, "rate_limited")
    ok(await client.post(f"{url}/verify", headers=cart.headers,
                         json={"code": inbox.last_code()}))
    ok(await confirm(client, cart, checkout), 201)
