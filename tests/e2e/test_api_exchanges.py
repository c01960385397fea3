"""Exchanges over HTTP, on both databases: shipped units traded for a replacement order,
the buyer paying the difference by card or getting the rest back after receipt; the money
ledger per order and in total; the refusals; tenancy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.notifications import store as notification_store
from orderline.orders.status import cancel_lapsed_orders
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.reconcile import reconcile_payments
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    balanced,
    error_of,
    levels,
    ok,
    pay,
    place_order,
    ship,
)
from tests.e2e.test_api_scopes import key_with

outbox = table_of(OutboxEvent)
SECRET = "whsec_e2e_exchanges"


@pytest.fixture
def sandbox(runtime: Runtime, client: httpx.AsyncClient) -> SandboxGateway:
    async def deliver(headers: dict[str, str], body: bytes) -> None:
        answer = await client.post("/v1/payments/webhooks/sandbox", headers=headers,
                                   content=body)
        assert answer.status_code == 200, answer.text

    gateway = SandboxGateway(secret=SECRET, deliver=deliver, db=runtime.db)
    providers_of(runtime)["sandbox"] = gateway
    return gateway


def body(back: list[tuple[str, int]], instead: list[tuple[str, int]],
         reason: str = "wrong_item") -> dict[str, Any]:
    return {"lines": [{"sku": s, "quantity": q} for s, q in back], "reason": reason,
            "replacement": [{"sku": s, "quantity": q} for s, q in instead]}


async def _card_paid_and_shipped(client: httpx.AsyncClient, m: Merchant,
                                 sandbox: SandboxGateway) -> dict[str, Any]:
    await add_product(client, m, "MUG", 10)
    await add_product(client, m, "TEAPOT", 5, price=2500)
    await add_product(client, m, "CAP", 5, price=500)
    order = await place_order(client, m, ("MUG", 3))
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    shipped: dict[str, Any] = await ship(client, m, order)
    return {**shipped, "access_token": order["access_token"]}


async def _money(client: httpx.AsyncClient, m: Merchant, order_id: str) -> tuple[int, int]:
    """(received, refunded) of the order by its money ledger."""
    seen = ok(await client.get(f"/v1/orders/{order_id}/payments", headers=m.headers))
    received = sum(e["amount"] for e in seen["ledger"] if e["kind"] in ("capture", "collect"))
    refunded = sum(e["amount"] for e in seen["ledger"] if e["kind"] == "refund")
    return received, refunded


async def _card_net(client: httpx.AsyncClient, m: Merchant, *orders: dict[str, Any]) -> int:
    """Over these orders, their ledgers' received less refunded, which must be what the
    buyer's card gave less what it got back (the card's own captures and provider refunds:
    the credit's ledger rows carry the source ``exchange:<id>`` or ``exchange_back:<id>``)."""
    net = 0
    card = 0
    for order in orders:
        received, refunded = await _money(client, m, order["id"])
        net += received - refunded
        seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
        for entry in seen["ledger"]:
            if entry["source"].startswith(("exchange:", "exchange_back:")):
                continue
            if entry["kind"] == "capture":
                card += entry["amount"]
            elif entry["kind"] == "refund":
                card -= entry["amount"]
    assert net == card
    return net


async def _types(runtime: Runtime, m: Merchant) -> list[str]:
    async with runtime.db.read() as conn:
        return list((await conn.execute(
            select(outbox.c.type).where(outbox.c.business_id == m.principal.business_id)
            .order_by(outbox.c.id))).scalars().all())


def _url(order: dict[str, Any], *rest: str) -> str:
    return "/".join([f"/v1/orders/{order['id']}/exchanges", *rest])


async def test_the_buyer_owes_more_and_pays_only_the_difference_by_card(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await _card_paid_and_shipped(client, m, sandbox)
    wanted = body([("MUG", 1)], [("TEAPOT", 1)])
    preview = ok(await client.post(_url(order, "preview"), headers=m.headers, json=wanted))
    assert preview["settlement"] == {"currency": "USD", "value": 1000, "price": 2500,
                                     "credit": 1000, "owed": 1500, "refund": 0}
    assert preview["replacement"][0]["sku"] == "TEAPOT"
    assert await levels(client, m, "TEAPOT") == (5, 0, 5)  # a preview holds nothing

    before = len(await _types(runtime, m))
    made = ok(await client.post(_url(order), headers={**m.headers, "If-Match":
                                                      f'"{preview["version"]}"'},
                                json=wanted), 201)
    assert made["settlement"] == preview["settlement"]
    new = made["replacement_order"]
    assert (new["status"], new["total"], new["currency"]) == ("pending_payment", 2500, "USD")
    assert new["number"] != order["number"]
    assert made["return"]["status"] == "approved"
    assert made["return"]["exchange_id"] == made["exchange_id"]
    assert made["return"]["exchange_credit"] == 1000
    assert made["access_token"].startswith("oat_")
    # The teapot is held for the replacement; the original's mug counts as refunded.
    assert await levels(client, m, "TEAPOT") == (5, 1, 4)
    mug = next(x for x in made["order"]["lines"] if x["sku"] == "MUG")
    assert mug["refunded_quantity"] == 1
    # Linked both ways.
    links = ok(await client.get(f"/v1/orders/{order['id']}/links", headers=m.headers))["data"]
    assert [(x["kind"], x["number"], x["amount"]) for x in links] == [
        ("exchange_to", new["number"], 1000)]
    back = ok(await client.get(f"/v1/orders/{new['id']}/links", headers=m.headers))["data"]
    assert [(x["kind"], x["number"]) for x in back] == [("exchange_from", order["number"])]
    types = (await _types(runtime, m))[before:]
    assert {"exchange.created", "order.created", "return.approved"} <= set(types)
    # The buyer hears of both: the return to send back, and the replacement order.
    await default_relay(runtime).relay_until_idle()
    async with runtime.db.read() as conn:
        told = [r["kind"] for r in await notification_store.of_business(
            conn, m.principal.business_id, order_id=uuid.UUID(order["id"]))]
        told_new = [r["kind"] for r in await notification_store.of_business(
            conn, m.principal.business_id, order_id=uuid.UUID(new["id"]))]
    assert "buyer:return.approved" in told
    assert "buyer:order.created" in told_new

    # The buyer pays the difference only.
    intent = ok(await client.post(f"/v1/orders/{new['id']}/payments", headers=m.headers,
                                  json={"provider": "sandbox",
                                        "payment_method": "pm_card_visa"}), 201)
    assert intent["amount"] == 1500
    await sandbox.wait_for_deliveries()
    paid = ok(await client.get(f"/v1/orders/{new['id']}", headers=m.headers))
    assert paid["status"] == "paid"
    assert await levels(client, m, "TEAPOT") == (4, 0, 4)

    # The mug comes back; the credit paid the replacement, so nothing is left to refund.
    rid = made["return"]["id"]
    rurl = f"/v1/orders/{order['id']}/returns/{rid}"
    error_of(await client.post(f"{rurl}/cancel", headers=m.headers), 409, "invalid_transition")
    ok(await client.post(f"{rurl}/receive", headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    assert ok(await client.get(f"{rurl}/refund", headers=m.headers))["refund_amount"] == 0
    done = ok(await client.post(f"{rurl}/refund", headers=m.headers))
    assert (done["status"], done["refund_amount"], done["refund_method"]) == (
        "refunded", 0, "none")
    # The money ledger: per order exact, never counted twice.
    assert await _money(client, m, order["id"]) == (3000, 1000)
    assert await _money(client, m, new["id"]) == (2500, 0)
    # In all: the buyer's card paid 3000 and 1500; the ledger holds exactly that.
    assert await _card_net(client, m, order, new) == 4500
    assert await reconcile_payments(runtime, m.principal.business_id) == []
    assert await balanced(client, m)
    history = ok(await client.get(f"/v1/orders/{order['id']}/history", headers=m.headers))
    assert "exchanged" in [e["action"] for e in history]
    history = ok(await client.get(f"/v1/orders/{new['id']}/history", headers=m.headers))
    assert history[0]["changes"]["exchange_from"]["number"] == order["number"]


async def test_the_merchant_owes_and_refunds_the_rest_once_the_units_are_back(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await _card_paid_and_shipped(client, m, sandbox)
    made = ok(await client.post(_url(order), headers=m.headers,
                                json=body([("MUG", 2)], [("CAP", 1)])), 201)
    assert made["settlement"] == {"currency": "USD", "value": 2000, "price": 500,
                                  "credit": 500, "owed": 0, "refund": 1500}
    new = made["replacement_order"]
    assert new["status"] == "paid"  # the credit pays it: its stock sold at once
    assert await levels(client, m, "CAP") == (4, 0, 4)
    # The traded mugs cannot be refunded by lines as well.
    error_of(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                               json={"lines": [{"sku": "MUG", "quantity": 2}]}),
             409, "refund_exceeds_captured")
    rurl = f"/v1/orders/{order['id']}/returns/{made['return']['id']}"
    # Not back yet: nothing refunded.
    error_of(await client.post(f"{rurl}/refund", headers=m.headers), 409, "invalid_transition")
    assert await _money(client, m, order["id"]) == (3000, 500)
    ok(await client.post(f"{rurl}/receive", headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    preview = ok(await client.get(f"{rurl}/refund", headers=m.headers))
    assert (preview["value"], preview["restocking_fee"], preview["refund_amount"],
            preview["refund_method"]) == (2000, 0, 1500, "card")
    done = ok(await client.post(f"{rurl}/refund", headers=m.headers))
    assert (done["status"], done["refund_amount"], done["refund_method"]) == (
        "refunded", 1500, "card")
    await sandbox.wait_for_deliveries()
    assert await _money(client, m, order["id"]) == (3000, 2000)
    assert await _money(client, m, new["id"]) == (500, 0)
    # In all: 3000 paid by card, 1500 given back to it; the replacement's 500 came from
    # the mugs' money.
    assert await _card_net(client, m, order, new) == 1500
    assert await reconcile_payments(runtime, m.principal.business_id) == []
    assert await levels(client, m, "MUG") == (9, 0, 9)
    assert await balanced(client, m)


async def test_an_order_paid_outside_the_ledger_is_exchanged_and_refunded_by_hand(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    await add_product(client, m, "CAP", 5, price=500)
    order = await ship(client, m, await pay(client, m, await place_order(client, m,
                                                                         ("MUG", 2))))
    made = ok(await client.post(_url(order), headers=m.headers,
                                json=body([("MUG", 1)], [("CAP", 1)])), 201)
    assert made["replacement_order"]["status"] == "paid"
    rurl = f"/v1/orders/{order['id']}/returns/{made['return']['id']}"
    ok(await client.post(f"{rurl}/receive", headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "damaged"}]}))
    done = ok(await client.post(f"{rurl}/refund", headers=m.headers))
    assert (done["refund_amount"], done["refund_method"]) == (500, "by_hand")
    assert await _money(client, m, order["id"]) == (0, 0)
    assert await _money(client, m, made["replacement_order"]["id"]) == (500, 0)


async def test_refusals_unshipped_unknown_short_other_business_and_read_only(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway,
        rival: Merchant) -> None:
    m = await new_merchant(runtime)
    order = await _card_paid_and_shipped(client, m, sandbox)
    unshipped = await pay(client, m, await place_order(client, m, ("MUG", 1)))
    for url in (_url(unshipped), _url(unshipped, "preview")):
        error_of(await client.post(url, headers=m.headers,
                                   json=body([("MUG", 1)], [("CAP", 1)])),
                 409, "return_exceeds_shipped")
    error_of(await client.post(_url(order), headers=m.headers,
                               json=body([("MUG", 4)], [("CAP", 1)])),
             409, "return_exceeds_shipped")
    error_of(await client.post(_url(order), headers=m.headers,
                               json=body([("MUG", 1)], [("NOPE", 1)])), 422, "unknown_sku")
    error_of(await client.post(_url(order), headers=m.headers,
                               json=body([("MUG", 1)], [("TEAPOT", 6)])), 409, "out_of_stock")
    unpaid = await place_order(client, m, ("MUG", 1))
    error_of(await client.post(_url(unpaid), headers=m.headers,
                               json=body([("MUG", 1)], [("CAP", 1)])),
             409, "exchange_not_allowed")
    error_of(await client.post(_url(order), headers=rival.headers,
                               json=body([("MUG", 1)], [("CAP", 1)])), 404, "not_found")
    reader = await key_with(client, m, "read")
    error_of(await client.post(_url(order), headers=reader,
                               json=body([("MUG", 1)], [("CAP", 1)])), 403, "forbidden")
    error_of(await client.post(_url(order), headers={**m.headers, "If-Match": '"1"'},
                               json=body([("MUG", 1)], [("CAP", 1)])), 412, "version_conflict")
    # Nothing of any refusal stayed: no return, no order, no held stock.
    assert ok(await client.get(f"/v1/orders/{order['id']}/returns",
                               headers=m.headers))["data"] == []
    assert await levels(client, m, "TEAPOT") == (5, 0, 5)
    assert await levels(client, m, "CAP") == (5, 0, 5)
    # Exchanging the same units twice: the second finds them in the first's return.
    ok(await client.post(_url(order), headers=m.headers,
                         json=body([("MUG", 3)], [("CAP", 1)])), 201)
    error_of(await client.post(_url(order), headers=m.headers,
                               json=body([("MUG", 1)], [("CAP", 1)])),
             409, "return_exceeds_shipped")


async def test_a_replacement_cancelled_unpaid_gives_its_credit_back_to_the_original(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await _card_paid_and_shipped(client, m, sandbox)
    made = ok(await client.post(_url(order), headers=m.headers,
                                json=body([("MUG", 1)], [("TEAPOT", 1)])), 201)
    new = made["replacement_order"]
    cancelled = ok(await client.delete(f"/v1/orders/{new['id']}", headers=m.headers))
    assert cancelled["status"] == "cancelled"
    assert await levels(client, m, "TEAPOT") == (5, 0, 5)
    assert await _money(client, m, new["id"]) == (1000, 1000)
    assert await _money(client, m, order["id"]) == (4000, 1000)
    links = ok(await client.get(f"/v1/orders/{order['id']}/links", headers=m.headers))["data"]
    assert [(x["kind"], x["amount"]) for x in links] == [("exchange_to", 0)]
    # The mug still comes back (the return stays), and now its whole value is refunded.
    rurl = f"/v1/orders/{order['id']}/returns/{made['return']['id']}"
    ok(await client.post(f"{rurl}/receive", headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    done = ok(await client.post(f"{rurl}/refund", headers=m.headers))
    assert (done["refund_amount"], done["exchange_credit"]) == (1000, 0)
    await sandbox.wait_for_deliveries()
    assert await _card_net(client, m, order, new) == 2000
    assert await reconcile_payments(runtime, m.principal.business_id) == []
    history = ok(await client.get(f"/v1/orders/{order['id']}/history", headers=m.headers))
    assert "exchange_credit_returned" in [e["action"] for e in history]


async def test_the_buyer_pays_the_difference_on_the_replacements_page(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    ok(await client.patch("/v1/business", headers=m.headers,
                          json={"card_provider": "sandbox"}))
    order = await _card_paid_and_shipped(client, m, sandbox)
    made = ok(await client.post(_url(order), headers=m.headers,
                                json=body([("MUG", 1)], [("TEAPOT", 1)])), 201)
    new, token = made["replacement_order"], made["access_token"]
    page = await client.get(f"/o/{token}")
    assert page.status_code == 200 and "Pay the difference for your exchange" in page.text
    assert "$15.00" in page.text and f"/o/{token}/exchange/card" in page.text
    assert order["number"] in page.text  # the original's number, never its link
    declined = await client.post(f"/o/{token}/exchange/card", data={"outcome": "declined"})
    assert declined.status_code == 402 and "declined" in declined.text
    assert ok(await client.get(f"/v1/orders/{new['id']}", headers=m.headers))[
        "status"] == "pending_payment"
    done = await client.post(f"/o/{token}/exchange/card", data={"outcome": "succeeds"})
    assert done.status_code == 303, done.text
    await sandbox.wait_for_deliveries()
    assert ok(await client.get(f"/v1/orders/{new['id']}", headers=m.headers))[
        "status"] == "paid"
    assert "Pay the difference" not in (await client.get(f"/o/{token}")).text
    assert await _money(client, m, new["id"]) == (2500, 0)
    # The original's buyer page names the replacement by number only (its own token).
    original = (await client.get(f"/o/{order['access_token']}")).text
    assert new["number"] in original and token not in original


async def test_a_replacement_left_unpaid_lapses_and_its_credit_goes_back(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    m = await new_merchant(runtime, reservation_ttl_seconds=3600)
    await add_product(client, m, "MUG", 10)
    await add_product(client, m, "TEAPOT", 5, price=2500)
    order = await ship(client, m, await pay(client, m, await place_order(client, m,
                                                                         ("MUG", 2))))
    made = ok(await client.post(_url(order), headers=m.headers,
                                json=body([("MUG", 1)], [("TEAPOT", 1)])), 201)
    new = made["replacement_order"]
    clock.advance(3599)
    await cancel_lapsed_orders(runtime)  # (other tests' orders may lapse here too)
    assert ok(await client.get(f"/v1/orders/{new['id']}", headers=m.headers))[
        "status"] == "pending_payment"
    clock.advance(2)
    assert await cancel_lapsed_orders(runtime) >= 1
    lapsed = ok(await client.get(f"/v1/orders/{new['id']}", headers=m.headers))
    assert (lapsed["status"], lapsed["cancel_reason"]) == ("cancelled", "payment_timeout")
    assert await levels(client, m, "TEAPOT") == (5, 0, 5)
    # Paid outside the ledger: the credit came from outside it and goes back there (only
    # the replacement's credit payment shows it, in and out).
    assert await _money(client, m, new["id"]) == (1000, 1000)
    assert await _money(client, m, order["id"]) == (0, 0)
    returned = ok(await client.get(f"/v1/orders/{order['id']}/returns", headers=m.headers))
    assert returned["data"][0]["exchange_credit"] == 0
    assert await reconcile_payments(runtime, m.principal.business_id) == []
