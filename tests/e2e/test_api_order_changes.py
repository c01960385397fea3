"""Edits after payment over HTTP: lines of a paid, unshipped order added, changed or removed;
the difference refunded (the provider for cards), or asked of the buyer as a payment request
whose added units are held until it is paid (the change then applies), lapses or is
cancelled; every change versioned, with its lines and totals before and after."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.order_changes import paying
from orderline.order_changes import service as order_changes
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.tenancy import service as tenancy
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
from tests.e2e.test_api_cancellations import card_shop_order, history, ledger_net, line

outbox = table_of(OutboxEvent)
SECRET = "whsec_e2e_order_changes"


def edits(*, add: tuple[tuple[str, int], ...] = (), change: tuple[tuple[str, int], ...] = (),
          remove: tuple[str, ...] = (), **more: Any) -> dict[str, Any]:
    return {"add": [{"sku": s, "quantity": q} for s, q in add],
            "change": [{"sku": s, "quantity": q} for s, q in change],
            "remove": [{"sku": s} for s in remove], **more}


async def preview(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any],
                  **body: Any) -> httpx.Response:
    return await client.post(f"/v1/orders/{order['id']}/changes/preview", headers=m.headers,
                             json=edits(**body))


async def make(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any],
               **body: Any) -> httpx.Response:
    return await client.post(f"/v1/orders/{order['id']}/changes", headers=m.headers,
                             json=edits(**body))


async def get_order(client: httpx.AsyncClient, m: Merchant,
                    order: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    return shown


async def events_of(runtime: Runtime, m: Merchant, type_: str) -> list[dict[str, Any]]:
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(
            outbox.c.business_id == m.principal.business_id, outbox.c.type == type_)
            .order_by(outbox.c.id))
        return [r.payload for r in rows]


async def card_paid_order(client: httpx.AsyncClient, runtime: Runtime,
                          sandbox: SandboxGateway) -> tuple[Merchant, dict[str, Any]]:
    """2 MUG at 1000 and 1 CUP at 500, 10% off, 500 shipping, 10% tax: 3025, paid by card."""
    m, order = await card_shop_order(client, runtime)
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    paid = await get_order(client, m, order)
    assert (paid["status"], paid["total"]) == ("paid", 3025)
    return m, {**paid, "access_token": order["access_token"]}


async def test_removing_a_line_of_a_card_paid_order_refunds_the_difference_at_once(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, paid = await card_paid_order(client, runtime, sandbox)
    seen = ok(await preview(client, m, paid, remove=("CUP",), change=(("MUG", 1),)))
    # Left: 1 MUG = 1000, 10% off -> 900 + 90 tax; shipping 500 + 50 tax: 1540.
    assert seen["after"]["total"] == 1540 and seen["difference"] == 1540 - 3025
    assert seen["refund"] == {"amount": 1485, "method": "card", "provider": "sandbox"}
    assert (seen["applies"], seen["payment_request"]) == ("at_once", None)
    assert {x["sku"]: x["kind"] for x in seen["lines"]} == {"CUP": "removed",
                                                           "MUG": "changed"}
    assert await levels(client, m, "CUP") == (9, 0, 9)  # a preview changes nothing

    done = ok(await make(client, m, paid, remove=("CUP",), change=(("MUG", 1),),
                         expected_version=seen["version"], note="buyer wants one mug"), 201)
    await sandbox.wait_for_deliveries()
    assert (done["status"], done["number"], done["difference"]) == ("applied", 1, -1485)
    assert done["refund"] == {"amount": 1485, "method": "card"}
    assert done["order_version_after"] == done["order_version_before"] + 1
    after = await get_order(client, m, paid)
    assert (after["status"], after["total"], after["version"]) == (
        "paid", 1540, done["order_version_after"])
    assert line(after, "CUP")["quantity"] == 0 and line(after, "MUG")["quantity"] == 1
    assert await ledger_net(client, m, paid) == 1540
    assert await levels(client, m, "CUP") == (10, 0, 10)
    assert await levels(client, m, "MUG") == (9, 0, 9)
    assert await balanced(client, m)
    entry = (await history(client, m, paid))[-1]
    assert entry["action"] == "lines_changed"
    assert sorted((x["sku"], x["quantity"]) for x in entry["changes"]["lines_before"]) == [
        ("CUP", 1), ("MUG", 2)]
    assert sorted((x["sku"], x["quantity"]) for x in entry["changes"]["lines_after"]) == [
        ("CUP", 0), ("MUG", 1)]
    assert entry["changes"]["totals"]["from"]["total"] == 3025
    assert entry["changes"]["totals"]["to"]["total"] == 1540
    assert entry["changes"]["note"] == "buyer wants one mug"
    updated = (await events_of(runtime, m, "order.updated"))[-1]
    assert updated["action"] == "lines_changed"
    assert [e["number"] for e in await events_of(runtime, m, "order_change.applied")] == [1]


async def test_adding_units_waits_for_the_buyers_card_payment_holding_the_stock(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, paid = await card_paid_order(client, runtime, sandbox)
    seen = ok(await preview(client, m, paid, add=(("CUP", 2),)))
    # 2 MUG + 3 CUP = 3500, 10% off 350 -> 3150 + 315 tax; shipping 550: 4015.
    assert (seen["after"]["total"], seen["difference"]) == (4015, 990)
    assert (seen["applies"], seen["payment_request"]) == ("when_paid", {"amount": 990})

    waiting = ok(await make(client, m, paid, add=(("CUP", 2),), pay_within_hours=24), 201)
    assert waiting["status"] == "awaiting_payment"
    request = waiting["payment_request"]
    assert (request["amount"], request["status"]) == (990, "open")
    assert [x["held"] for x in waiting["lines"]] == [True]
    assert await levels(client, m, "CUP") == (9, 2, 7)  # held, not taken
    unchanged = await get_order(client, m, paid)
    assert unchanged["total"] == 3025 and line(unchanged, "CUP")["quantity"] == 1
    assert (await history(client, m, paid))[-1]["action"] == "change_requested"
    error_of(await make(client, m, paid, add=(("MUG", 1),)), 409, "order_change_open")

    buyer = {"Authorization": f"Bearer {paid['access_token']}"}
    done = ok(await client.post(
        f"/v1/orders/{paid['id']}/changes/{waiting['id']}/pay-by-card", headers=buyer,
        json={"payment_method": "pm_card_visa"}))
    await sandbox.wait_for_deliveries()
    assert done["status"] == "applied"
    assert (done["payment_request"]["status"], done["payment_request"]["paid_by"]) == (
        "paid", "card")
    after = await get_order(client, m, paid)
    assert (after["total"], line(after, "CUP")["quantity"]) == (4015, 3)
    assert await levels(client, m, "CUP") == (7, 0, 7)
    assert await ledger_net(client, m, paid) == 4015
    assert await balanced(client, m)
    assert (await history(client, m, paid))[-1]["action"] == "lines_changed"
    error_of(await client.post(f"/v1/orders/{paid['id']}/changes/{waiting['id']}/cancel",
                               headers=m.headers), 409, "order_change_closed")
    listed = ok(await client.get(f"/v1/orders/{paid['id']}/changes", headers=m.headers))
    assert [(c["number"], c["status"]) for c in listed["items"]] == [(1, "applied")]


async def test_an_unpaid_request_lapses_at_its_deadline_and_its_stock_goes_back(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    m = await new_merchant(runtime)
    await add_product(client, m, "TEA", 10, price=400)
    await add_product(client, m, "POT", 3, price=2000)
    order = await pay(client, m, await place_order(client, m, ("TEA", 2)))
    waiting = ok(await make(client, m, order, add=(("POT", 1),)), 201)
    assert waiting["payment_request"]["amount"] == 2000
    assert await levels(client, m, "POT") == (3, 1, 2)

    clock.advance(47 * 3600)
    assert await order_changes.lapse_due_requests(runtime) == 0
    clock.advance(2 * 3600)
    assert await order_changes.lapse_due_requests(runtime) == 1
    lapsed = ok(await client.get(f"/v1/orders/{order['id']}/changes/{waiting['id']}",
                                 headers=m.headers))
    assert (lapsed["status"], lapsed["payment_request"]["status"]) == ("lapsed", "lapsed")
    assert await levels(client, m, "POT") == (3, 0, 3)
    assert (await get_order(client, m, order))["total"] == 800
    assert (await history(client, m, order))[-1]["action"] == "change_lapsed"
    assert len(await events_of(runtime, m, "order_change.lapsed")) == 1
    error_of(await client.post(f"/v1/orders/{order['id']}/changes/{waiting['id']}/paid-by-hand",
                               headers=m.headers), 409, "order_change_closed")
    assert await balanced(client, m)


async def test_a_waiting_change_paid_by_hand_applies_and_a_cancelled_one_lets_go(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "TEA", 10, price=400)
    await add_product(client, m, "POT", 3, price=2000)
    order = await pay(client, m, await place_order(client, m, ("TEA", 2)))
    first = ok(await make(client, m, order, add=(("POT", 1),)), 201)
    cancelled = ok(await client.post(f"/v1/orders/{order['id']}/changes/{first['id']}/cancel",
                                     headers=m.headers))
    assert (cancelled["status"], cancelled["payment_request"]["status"]) == (
        "cancelled", "cancelled")
    assert await levels(client, m, "POT") == (3, 0, 3)
    error_of(await client.post(f"/v1/orders/{order['id']}/changes/{first['id']}/pay-by-card",
                               headers=m.headers, json={}), 409, "order_change_closed")

    second = ok(await make(client, m, order, add=(("POT", 1),), change=(("TEA", 1),)), 201)
    assert (second["number"], second["payment_request"]["amount"]) == (2, 1600)
    reader = await tenancy.create_api_key(runtime, m.principal, name="clerk",
                                          scopes=["read", "write"])
    error_of(await client.post(
        f"/v1/orders/{order['id']}/changes/{second['id']}/paid-by-hand",
        headers={"Authorization": f"Bearer {reader.key}"}), 403, "forbidden")
    done = ok(await client.post(f"/v1/orders/{order['id']}/changes/{second['id']}/paid-by-hand",
                                headers=m.headers))
    assert (done["status"], done["payment_request"]["paid_by"]) == ("applied", "by_hand")
    after = await get_order(client, m, order)
    assert (after["total"], line(after, "TEA")["quantity"], line(after, "POT")["quantity"]) \
        == (2400, 1, 1)
    assert await levels(client, m, "POT") == (2, 0, 2)
    assert await levels(client, m, "TEA") == (9, 0, 9)
    assert [mv["delta"] for mv in await movements(client, m, "TEA")
            if mv["reason"] == "cancellation"] == [1]
    assert await balanced(client, m)
    payments = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert [(e["kind"], e["amount"]) for e in payments["ledger"]] == [("collect", 1600)]


async def test_refusals_have_stable_codes_and_change_nothing(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "TEA", 10, price=400)
    await add_product(client, m, "POT", 1, price=2000)
    unpaid = await place_order(client, m, ("TEA", 1))
    error_of(await preview(client, m, unpaid, add=(("POT", 1),)), 409, "order_not_changeable")
    order = await pay(client, m, await place_order(client, m, ("TEA", 2)))
    error_of(await make(client, m, order, add=(("POT", 2),)), 409, "out_of_stock")
    error_of(await make(client, m, order, remove=("TEA",)), 422, "validation_error")
    error_of(await make(client, m, order, change=(("TEA", 2),)), 422, "validation_error")
    error_of(await make(client, m, order, add=(("NOPE", 1),)), 422, "unknown_sku")
    error_of(await make(client, m, order, add=(("POT", 1),), remove=("POT",)), 422,
             "validation_error")
    error_of(await make(client, m, order, add=(("POT", 1),),
                        expected_version=order["version"] - 1), 412, "version_conflict")
    error_of(await make(client, rival, order, add=(("POT", 1),)), 404, "not_found")
    error_of(await client.get(f"/v1/orders/{order['id']}/changes", headers=rival.headers),
             404, "not_found")
    shipped = await ship(client, m, order)
    error_of(await make(client, m, shipped, add=(("TEA", 1),)), 409, "order_not_changeable")
    assert await levels(client, m, "POT") == (1, 0, 1)
    assert ok(await client.get(f"/v1/orders/{order['id']}/changes",
                               headers=m.headers))["items"] == []


async def test_a_card_payment_for_a_change_cancelled_meanwhile_is_refunded_by_the_saga(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, paid = await card_paid_order(client, runtime, sandbox)
    waiting = ok(await make(client, m, paid, add=(("CUP", 1),)), 201)

    async def cancel_first() -> None:
        ok(await client.post(f"/v1/orders/{paid['id']}/changes/{waiting['id']}/cancel",
                             headers=m.headers))

    # The cancel lands after the intent opened, before the money is settled on the change.
    runtime.checkpoints.install("order_change.intent_opened", cancel_first)
    answer = await client.post(
        f"/v1/orders/{paid['id']}/changes/{waiting['id']}/pay-by-card", headers=m.headers,
        json={"payment_method": "pm_card_visa"})
    shown = ok(answer)
    assert (shown["status"], shown["payment_request"]["status"]) == ("cancelled", "cancelled")
    await sandbox.wait_for_deliveries()
    await default_relay(runtime).relay_until_idle()
    await sandbox.wait_for_deliveries()
    after = await get_order(client, m, paid)
    assert after["total"] == 3025
    assert await ledger_net(client, m, paid) == 3025  # the change's money went back
    assert await levels(client, m, "CUP") == (9, 0, 9)
    assert await balanced(client, m)


async def test_the_buyer_pays_a_change_on_the_order_page_and_a_declined_card_changes_nothing(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, paid = await card_paid_order(client, runtime, sandbox)
    waiting = ok(await make(client, m, paid, add=(("CUP", 1),)), 201)
    token = paid["access_token"]
    page = await client.get(f"/o/{token}")
    assert page.status_code == 200 and "Your order was changed" in page.text
    assert f"/o/{token}/changes/{waiting['id']}/card" in page.text

    declined = await client.post(f"/o/{token}/changes/{waiting['id']}/card",
                                 data={"outcome": "declined"})
    assert declined.status_code == 402 and "declined" in declined.text
    assert (await get_order(client, m, paid))["total"] == 3025
    assert await levels(client, m, "CUP") == (9, 1, 8)  # still held

    _, other = await card_shop_order(client, runtime)
    stranger = await client.post(f"/o/{other['access_token']}/changes/{waiting['id']}/card",
                                 data={"outcome": "succeeds"})
    assert stranger.status_code == 404

    done = await client.post(f"/o/{token}/changes/{waiting['id']}/card",
                             data={"outcome": "succeeds"})
    assert done.status_code == 303 and done.headers["location"] == f"/o/{token}?changed=1"
    await sandbox.wait_for_deliveries()
    after = await get_order(client, m, paid)
    assert after["total"] > 3025 and line(after, "CUP")["quantity"] == 2
    assert await ledger_net(client, m, paid) == after["total"]
    assert "Your order was changed" not in (await client.get(f"/o/{token}")).text
    assert await balanced(client, m)


async def test_a_card_payment_finished_at_the_provider_later_applies_at_the_next_sweep(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, paid = await card_paid_order(client, runtime, sandbox)
    waiting = ok(await make(client, m, paid, add=(("CUP", 1),)), 201)
    base = f"/v1/orders/{paid['id']}/changes/{waiting['id']}"
    started = ok(await client.post(f"{base}/pay-by-card", headers=m.headers,
                                   json={"payment_method": "pm_card_3ds"}))
    assert started["status"] == "awaiting_payment"  # the buyer has 3-D Secure to do
    error_of(await client.post(f"{base}/pay-by-card", headers=m.headers,
                               json={"payment_method": "pm_card_visa"}), 409,
             "payment_in_progress")
    attempts = ok(await client.get(f"/v1/orders/{paid['id']}/payments", headers=m.headers))
    live = [i for i in attempts["data"] if i["status"] == "requires_action"]
    await sandbox.complete_action(live[0]["provider_ref"], approve=True)
    await sandbox.wait_for_deliveries()
    assert ok(await client.get(base, headers=m.headers))["status"] == "awaiting_payment"

    await paying.settle_card_payments(runtime)
    applied = ok(await client.get(base, headers=m.headers))
    assert (applied["status"], applied["payment_request"]["paid_by"]) == ("applied", "card")
    after = await get_order(client, m, paid)
    assert await ledger_net(client, m, paid) == after["total"]
    assert await levels(client, m, "CUP") == (8, 0, 8)


async def test_cancelling_the_order_cancels_its_waiting_change_and_lets_its_units_go(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "TEA", 10, price=400)
    await add_product(client, m, "POT", 3, price=2000)
    order = await pay(client, m, await place_order(client, m, ("TEA", 2)))
    waiting = ok(await make(client, m, order, add=(("POT", 1),)), 201)
    assert await levels(client, m, "POT") == (3, 1, 2)
    ok(await client.delete(f"/v1/orders/{order['id']}", headers=m.headers))
    closed = ok(await client.get(f"/v1/orders/{order['id']}/changes/{waiting['id']}",
                                 headers=m.headers))
    assert (closed["status"], closed["payment_request"]["status"]) == ("cancelled",
                                                                      "cancelled")
    assert await levels(client, m, "POT") == (3, 0, 3)
    assert await levels(client, m, "TEA") == (10, 0, 10)
    assert await balanced(client, m)
