"""Splitting an order and merging two, over HTTP: the lines, discounts, taxes and money are
divided exactly, the stock moves without being counted twice, both orders link to each
other, and each change is in the history and the outbox."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.reconcile import reconcile_payments
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
)
from tests.support.checkout import confirm, new_cart, open_shop, start_checkout

outbox = table_of(OutboxEvent)
SECRET = "whsec_e2e_splits"
FIGURES = ("subtotal", "discount_total", "shipping_total", "shipping_discount", "tax_total",
           "total")


def units(*lines: tuple[str, int], **more: Any) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": q} for sku, q in lines], **more}


async def split(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any],
                *lines: tuple[str, int], version: int | None = None) -> httpx.Response:
    headers = dict(m.headers)
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return await client.post(f"/v1/orders/{order['id']}/splits", headers=headers,
                             json=units(*lines))


async def merge(client: httpx.AsyncClient, m: Merchant, order: dict[str, Any],
                other: dict[str, Any], **more: Any) -> httpx.Response:
    return await client.post(f"/v1/orders/{order['id']}/merge", headers=m.headers,
                             json={"other_order_id": other["id"], **more})


async def get(client: httpx.AsyncClient, m: Merchant, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(await client.get(f"/v1/orders/{order_id}", headers=m.headers))
    return found


async def links(client: httpx.AsyncClient, m: Merchant, order_id: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = ok(await client.get(f"/v1/orders/{order_id}/links",
                                                     headers=m.headers))["data"]
    return seen


async def history(client: httpx.AsyncClient, m: Merchant, order_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(await client.get(f"/v1/orders/{order_id}/history",
                                                     headers=m.headers))
    return rows


async def events(runtime: Runtime, m: Merchant, type_: str) -> list[dict[str, Any]]:
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(
            outbox.c.business_id == m.principal.business_id, outbox.c.type == type_)
            .order_by(outbox.c.id))
        return [r.payload for r in rows]


def line(order: dict[str, Any], sku: str) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in order["lines"] if x["sku"] == sku)
    return found


def adds_up(before: dict[str, Any], *parts: dict[str, Any]) -> None:
    for name in FIGURES:
        assert sum(p[name] for p in parts) == before[name], name
    for sku in {x["sku"] for x in before["lines"]}:
        for name in ("quantity", "line_total", "discount", "tax"):
            assert sum(line(p, sku)[name] for p in parts
                       if any(x["sku"] == sku for x in p["lines"])) == line(before, sku)[name]


async def ledger_net(client: httpx.AsyncClient, m: Merchant, order_id: str) -> int:
    seen = ok(await client.get(f"/v1/orders/{order_id}/payments", headers=m.headers))
    return sum({"capture": r["amount"], "collect": r["amount"], "refund": -r["amount"]}
               .get(r["kind"], 0) for r in seen["ledger"])


async def test_an_unpaid_order_splits_in_two_and_its_hold_changes_hands(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    await add_product(client, m, "CUP", 5, price=300)
    order = await place_order(client, m, ("MUG", 3), ("CUP", 2))
    assert await levels(client, m, "MUG") == (10, 3, 7)
    seen = ok(await client.post(f"/v1/orders/{order['id']}/splits/preview", headers=m.headers,
                                json=units(("MUG", 2), ("CUP", 2))))
    assert (seen["kept"]["total"], seen["moved"]["total"]) == (750, 2100)
    assert seen["new_order_status"] == "pending_payment" and seen["money_moved"] == 0
    assert await levels(client, m, "MUG") == (10, 3, 7)  # a preview changes nothing

    done = ok(await split(client, m, order, ("MUG", 2), ("CUP", 2), version=order["version"]),
              201)
    kept, new = done["order"], done["new_order"]
    assert (kept["total"], new["total"]) == (750, 2100)
    assert [x["sku"] for x in kept["lines"]] == ["MUG"]  # a line that all moved leaves
    assert (line(new, "MUG")["quantity"], line(new, "CUP")["quantity"]) == (2, 2)
    assert new["number"] != order["number"] and new["status"] == "pending_payment"
    assert (new["customer"], new["channel"], new["currency"]) == (
        order["customer"], order["channel"], order["currency"])
    assert new["payment_deadline"] == order["payment_deadline"]
    adds_up(order, kept, new)
    # The units are held once: the same reserved count, now by two orders.
    assert await levels(client, m, "MUG") == (10, 3, 7)
    assert await levels(client, m, "CUP") == (5, 2, 3)

    assert [(x["kind"], x["number"]) for x in await links(client, m, order["id"])] == [
        ("split_into", new["number"])]
    assert [(x["kind"], x["number"]) for x in await links(client, m, new["id"])] == [
        ("split_from", order["number"])]
    assert (await history(client, m, order["id"]))[-1]["action"] == "split"
    assert (await history(client, m, new["id"]))[-1]["changes"]["split_from"]["number"] == (
        order["number"])
    assert (await events(runtime, m, "order.updated"))[-1]["action"] == "split"
    assert (await events(runtime, m, "order.created"))[-1]["order"]["id"] == new["id"]
    # The new order has its own buyer link.
    mine = ok(await client.get(f"/v1/orders/{new['id']}", headers={
        "Authorization": f"Bearer {done['new_order_access_token']}"}))
    assert mine["number"] == new["number"]

    # Each part is paid as any order: exactly its held units become a sale.
    await pay(client, m, new)
    assert await levels(client, m, "MUG") == (8, 1, 7)
    await pay(client, m, kept)
    assert await levels(client, m, "MUG") == (7, 0, 7)
    assert await levels(client, m, "CUP") == (3, 0, 3)
    assert await balanced(client, m)


async def test_split_refusals_have_stable_codes_and_change_nothing(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    order = await place_order(client, m, ("MUG", 2))
    error_of(await split(client, m, order, ("MUG", 2)), 409, "split_takes_everything")
    error_of(await split(client, m, order, ("MUG", 3)), 409, "split_exceeds_remaining")
    error_of(await split(client, m, order, ("NOPE", 1)), 409, "split_exceeds_remaining")
    error_of(await split(client, m, order, ("MUG", 1), version=order["version"] + 3), 412,
             "version_conflict")
    error_of(await split(client, m, order, ("MUG", 0)), 422, "validation_error")
    error_of(await split(client, rival, order, ("MUG", 1)), 404, "not_found")
    error_of(await client.get(f"/v1/orders/{order['id']}/links", headers=rival.headers), 404,
             "not_found")
    reader = ok(await client.post("/v1/api-keys", headers=m.headers,
                                  json={"name": "reader", "scopes": ["read"]}), 201)
    error_of(await client.post(f"/v1/orders/{order['id']}/splits",
                               headers={"Authorization": f"Bearer {reader['key']}"},
                               json=units(("MUG", 1))), 403, "forbidden")
    assert await levels(client, m, "MUG") == (10, 2, 8)
    assert (await get(client, m, order["id"]))["version"] == order["version"]


async def test_shipped_units_stay_and_the_rest_of_a_paid_order_moves_with_its_sale(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=1000)
    order = await pay(client, m, await place_order(client, m, ("MUG", 4)))
    ok(await client.post(f"/v1/orders/{order['id']}/shipments", headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 3}], "carrier": "JNE", "tracking_number": "J1"}),
       201)
    shipped = await get(client, m, order["id"])
    assert shipped["status"] == "partially_shipped"
    refused = error_of(await split(client, m, shipped, ("MUG", 2)), 409,
                       "split_exceeds_remaining")
    assert refused["shipped"] == 3
    # The one unit not shipped can move... but not every unit of the order.
    done = ok(await split(client, m, shipped, ("MUG", 1)), 201)
    kept, new = done["order"], done["new_order"]
    assert (kept["total"], new["total"], new["status"]) == (3000, 1000, "paid")
    assert done["money_moved"] == 1000
    assert await levels(client, m, "MUG") == (6, 0, 6)  # nothing counted twice
    moved = [(mv["delta"]) for mv in await movements(client, m, "MUG")
             if mv["reason"] == "split"]
    assert sorted(moved) == [-1, 1]
    assert await balanced(client, m)
    # The new order ships (and can be cancelled) on its own: its sale came with it.
    cancelled = ok(await client.patch(f"/v1/orders/{new['id']}/status", headers=m.headers,
                                      json={"status": "cancelled", "reason": "merchant"}))
    assert cancelled["status"] == "cancelled"
    assert await levels(client, m, "MUG") == (7, 0, 7)
    assert await balanced(client, m)


async def card_shop_order(client: httpx.AsyncClient, runtime: Runtime
                          ) -> tuple[Merchant, dict[str, Any]]:
    """A checkout order of 3 MUG at 1000 and 1 CUP at 333, 10% off, 500 shipping, 10% tax."""
    m = await new_merchant(runtime)
    shop = await open_shop(client, m, products={"MUG": (1000, 10), "CUP": (333, 10)})
    ok(await client.post("/v1/coupons", headers=m.headers, json={
        "code": "TEN", "kind": "percentage", "percent_off": 10}), 201)
    cart = await new_cart(client, shop.merchant, ("MUG", 3), ("CUP", 1))
    checkout = await start_checkout(client, cart, coupons=("TEN",))
    order: dict[str, Any] = ok(await confirm(client, cart, checkout), 201)
    return m, order


async def test_a_paid_card_order_divides_its_discount_tax_and_money_exactly(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, order = await card_shop_order(client, runtime)
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    paid = await get(client, m, order["id"])
    assert paid["status"] == "paid"
    done = ok(await split(client, m, paid, ("MUG", 2), ("CUP", 1), version=paid["version"]),
              201)
    kept, new = done["order"], done["new_order"]
    adds_up(paid, kept, new)
    assert new["shipping_total"] == 0 and kept["shipping_total"] == paid["shipping_total"]
    assert new["status"] == "paid" and new["paid_at"] == paid["paid_at"]
    for code_amounts in zip(kept["pricing"]["coupons"], new["pricing"]["coupons"],
                            paid["pricing"]["coupons"], strict=True):
        assert code_amounts[0]["amount"] + code_amounts[1]["amount"] == code_amounts[2]["amount"]
    # The payment stays on the original's intent; the link says how much is the new order's.
    assert done["money_moved"] == new["total"]
    assert (await links(client, m, order["id"]))[0]["amount"] == new["total"]
    assert await ledger_net(client, m, order["id"]) == kept["total"] + new["total"]
    assert await balanced(client, m)

    # The original cannot be cancelled while the new order owns part of its payment...
    refused = error_of(await client.patch(
        f"/v1/orders/{order['id']}/status", headers=m.headers,
        json={"status": "cancelled", "reason": "merchant"}), 409, "payment_shared_with_split")
    assert refused["amount"] == new["total"]
    # ... nor the new order while it holds its share: it is refunded first, on its own
    # refunds, from the original's payment (the link's share falls to 0), then cancelled.
    error_of(await client.patch(f"/v1/orders/{new['id']}/status", headers=m.headers,
                                json={"status": "cancelled", "reason": "buyer"}), 409,
             "refund_first")
    refund = ok(await client.post(f"/v1/orders/{new['id']}/refunds", headers=m.headers,
                                  json={"amount": new["total"], "reason": "split part"}), 201)
    assert refund["amount_refunded"] == new["total"]
    gone = ok(await client.patch(f"/v1/orders/{new['id']}/status", headers=m.headers,
                                 json={"status": "cancelled", "reason": "buyer"}))
    assert gone["status"] == "cancelled"
    assert [x["amount"] for x in await links(client, m, order["id"])] == [0]
    await sandbox.wait_for_deliveries()
    # Each order's ledger shows its own refunds; the capture stays the original's.
    assert await ledger_net(client, m, new["id"]) == -new["total"]
    assert await ledger_net(client, m, order["id"]) == kept["total"] + new["total"]
    assert await balanced(client, m)


async def card_paid_and_split(client: httpx.AsyncClient, runtime: Runtime,
                              sandbox: SandboxGateway, *lines: tuple[str, int]
                              ) -> tuple[Merchant, dict[str, Any], dict[str, Any], int]:
    m, order = await card_shop_order(client, runtime)
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    await sandbox.wait_for_deliveries()
    done = ok(await split(client, m, await get(client, m, order["id"]), *lines), 201)
    return m, done["order"], done["new_order"], int(done["money_moved"])


class Books:
    """Issue 16's invariant for a split card order, per order: money received - refunded is
    what the order's state says (its total, less refunds the test made that do not change the
    total; 0 once cancelled or returned), and both together are what the intent holds."""

    def __init__(self, client: httpx.AsyncClient, runtime: Runtime, m: Merchant,
                 original: dict[str, Any], split_off: dict[str, Any], moved: int) -> None:
        self.client, self.runtime, self.m, self.moved = client, runtime, m, moved
        self.a, self.b = original["id"], split_off["id"]
        self.extra = {self.a: 0, self.b: 0}

    async def held(self) -> tuple[int, int]:
        return (await ledger_net(self.client, self.m, self.a) - self.moved,
                await ledger_net(self.client, self.m, self.b) + self.moved)

    async def check(self) -> tuple[int, int]:
        held_a, held_b = await self.held()
        for order_id, held in ((self.a, held_a), (self.b, held_b)):
            order = await get(self.client, self.m, order_id)
            closed = order["status"] in ("cancelled", "returned")
            says = 0 if closed else order["total"] - self.extra[order_id]
            assert held == says, (order["number"], held, says)
        assert [x["amount"] for x in await links(self.client, self.m, self.b)] == [held_b]
        seen = ok(await self.client.get(f"/v1/orders/{self.a}/payments", headers=self.m.headers))
        (intent,) = seen["data"]
        assert held_a + held_b == intent["amount_captured"] - intent["amount_refunded"]
        # ... and the payments reconciliation, which holds every order to its status, agrees.
        assert await reconcile_payments(self.runtime, self.m.principal.business_id) == []
        return held_a, held_b


async def refund(client: httpx.AsyncClient, m: Merchant, order_id: str,
                 **body: Any) -> httpx.Response:
    return await client.post(f"/v1/orders/{order_id}/refunds", headers=m.headers, json=body)


async def cancel_units(client: httpx.AsyncClient, m: Merchant, order_id: str,
                       *lines: tuple[str, int]) -> httpx.Response:
    return await client.post(f"/v1/orders/{order_id}/cancellations", headers=m.headers,
                             json=units(*lines))


async def test_each_order_of_a_split_card_payment_refunds_only_its_own_share(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, a, b, moved = await card_paid_and_split(client, runtime, sandbox, ("MUG", 1),
                                               ("CUP", 1))
    assert moved == b["total"]
    books = Books(client, runtime, m, a, b, moved)
    assert await books.check() == (a["total"], b["total"])

    # The original gives back at most its own share: the rest of the intent is the new order's.
    refused = error_of(await refund(client, m, a["id"], amount=a["total"] + 1), 409,
                       "refund_exceeds_order_share")
    assert (refused["share"], refused["moved_out"]) == (a["total"], b["total"])
    ok(await refund(client, m, a["id"], amount=100), 201)
    books.extra[a["id"]] += 100
    # The new order is refunded from the original's intent, up to its own share.
    refused = error_of(await refund(client, m, b["id"], amount=b["total"] + 1), 409,
                       "refund_exceeds_order_share")
    assert refused["share"] == b["total"]
    ok(await refund(client, m, b["id"], amount=50), 201)
    books.extra[b["id"]] += 50
    assert await books.check() == (a["total"] - 100, b["total"] - 50)
    ledger_b = ok(await client.get(f"/v1/orders/{b['id']}/payments", headers=m.headers))
    assert [(r["kind"], r["amount"]) for r in ledger_b["ledger"]] == [("refund", 50)]

    # Lines worth more than the original's share left are refused, and nothing is claimed.
    ok(await refund(client, m, a["id"], amount=a["total"] - 100 - 500), 201)
    books.extra[a["id"]] += a["total"] - 600
    error_of(await refund(client, m, a["id"], lines=[{"sku": "MUG", "quantity": 2}]), 409,
             "refund_exceeds_order_share")
    assert line(await get(client, m, a["id"]), "MUG")["refunded_quantity"] == 0
    assert await books.check() == (500, b["total"] - 50)

    # Cancelling part of the new order refunds the difference from its share.
    before = await get(client, m, b["id"])
    part = ok(await cancel_units(client, m, b["id"], ("CUP", 1)), 201)
    difference = before["total"] - part["order"]["total"]
    assert part["refund"] == {"amount": difference, "method": "card", "provider": "sandbox"}
    assert (await books.check())[1] == part["order"]["total"] - 50

    # Neither order is cancelled while the new one holds its share...
    error_of(await client.patch(f"/v1/orders/{b['id']}/status", headers=m.headers,
                                json={"status": "cancelled", "reason": "buyer"}), 409,
             "refund_first")
    error_of(await cancel_units(client, m, a["id"], ("MUG", 2)), 409,
             "payment_shared_with_split")
    assert await books.check() == (500, part["order"]["total"] - 50)
    # ... cancelling every unit of the new order refunds its share and cancels it...
    whole = ok(await cancel_units(client, m, b["id"], ("MUG", 1)), 201)
    assert whole["full_cancellation"] and whole["order"]["status"] == "cancelled"
    assert whole["refund"]["amount"] == part["order"]["total"] - 50
    assert await books.check() == (500, 0)
    # ... and then the original's, with its own 500 left.
    whole = ok(await cancel_units(client, m, a["id"], ("MUG", 2)), 201)
    assert whole["order"]["status"] == "cancelled" and whole["refund"]["amount"] == 500
    assert await books.check() == (0, 0)
    await sandbox.wait_for_deliveries()
    assert await balanced(client, m)


async def test_a_return_of_the_split_off_order_is_refunded_from_its_share(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, a, b, moved = await card_paid_and_split(client, runtime, sandbox, ("MUG", 1),
                                               ("CUP", 1))
    books = Books(client, runtime, m, a, b, moved)
    ok(await client.patch(f"/v1/orders/{b['id']}/shipping", headers=m.headers,
                          json={"carrier": "JNE", "tracking_number": "B1"}))
    url = f"/v1/orders/{b['id']}/returns"
    asked = ok(await client.post(url, headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 1}, {"sku": "CUP", "quantity": 1}],
        "reason": "no_longer_needed"}), 201)
    ok(await client.post(f"{url}/{asked['id']}/approve", headers=m.headers))
    ok(await client.post(f"{url}/{asked['id']}/receive", headers=m.headers, json={
        "lines": [{"sku": "MUG", "condition": "restock"}, {"sku": "CUP", "condition": "restock"}]}))
    done = ok(await client.post(f"{url}/{asked['id']}/refund", headers=m.headers))
    # Every unit of the order split off, at its exact share: all of its share, from the
    # original's payment, booked on its own ledger; it is returned, the original untouched.
    assert (done["status"], done["refund_method"], done["refund_amount"]) == (
        "refunded", "card", b["total"])
    await sandbox.wait_for_deliveries()
    assert (await get(client, m, b["id"]))["status"] == "returned"
    assert (await get(client, m, a["id"]))["status"] == "paid"
    assert await books.check() == (a["total"], 0)
    assert await ledger_net(client, m, b["id"]) == -b["total"]
    # Its whole share given back: order.refunded for it (the original's is not).
    assert [str(e["order_id"]) for e in await events(runtime, m, "order.refunded")] == [
        b["id"]]
    assert await balanced(client, m)


async def test_a_return_on_the_original_never_gives_back_the_split_off_order_s_share(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m, a, b, moved = await card_paid_and_split(client, runtime, sandbox, ("MUG", 1))
    books = Books(client, runtime, m, a, b, moved)
    ok(await refund(client, m, a["id"], amount=a["total"] - 100), 201)
    books.extra[a["id"]] += a["total"] - 100
    ok(await client.patch(f"/v1/orders/{a['id']}/shipping", headers=m.headers,
                          json={"carrier": "JNE", "tracking_number": "A1"}))
    url = f"/v1/orders/{a['id']}/returns"
    asked = ok(await client.post(url, headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 1}], "reason": "damaged"}), 201)
    ok(await client.post(f"{url}/{asked['id']}/approve", headers=m.headers))
    ok(await client.post(f"{url}/{asked['id']}/receive", headers=m.headers,
                         json={"lines": [{"sku": "MUG", "condition": "restock"}]}))
    # A MUG is worth more than the 100 left of the original's own share: the intent still
    # holds the new order's share, but that is not the original's to give back.
    refused = error_of(await client.post(f"{url}/{asked['id']}/refund", headers=m.headers),
                       409, "refund_exceeds_order_share")
    assert (refused["share"], refused["moved_out"]) == (100, b["total"])
    assert ok(await client.get(f"{url}/{asked['id']}", headers=m.headers))["status"] == (
        "received")
    assert line(await get(client, m, a["id"]), "MUG")["refunded_quantity"] == 0
    assert await books.check() == (100, b["total"])


async def test_two_unpaid_orders_of_one_buyer_merge_into_one(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    await add_product(client, m, "CUP", 5, price=300)
    first = await place_order(client, m, ("MUG", 1))
    second = await place_order(client, m, ("MUG", 2), ("CUP", 1))
    assert await levels(client, m, "MUG") == (10, 3, 7)
    seen = ok(await client.post(f"/v1/orders/{first['id']}/merge/preview", headers=m.headers,
                                json={"other_order_id": second["id"]}))
    assert seen["after"]["total"] == 750 * 3 + 300
    done = ok(await merge(client, m, first, second, other_version=second["version"]))
    merged, gone = done["order"], done["merged_order"]
    assert merged["total"] == 750 * 3 + 300
    assert (line(merged, "MUG")["quantity"], line(merged, "CUP")["quantity"]) == (3, 1)
    assert (gone["status"], gone["cancel_reason"]) == ("cancelled", "merged")
    # The stock held for the merged order is held once, by the survivor, all the time.
    assert await levels(client, m, "MUG") == (10, 3, 7)
    assert await levels(client, m, "CUP") == (5, 1, 4)
    assert [x["kind"] for x in await links(client, m, first["id"])] == ["merged_from"]
    assert [x["kind"] for x in await links(client, m, second["id"])] == ["merged_into"]
    assert (await history(client, m, first["id"]))[-1]["action"] == "merged"
    assert (await history(client, m, second["id"]))[-1]["changes"]["reason"] == "merged"
    assert (await events(runtime, m, "order.updated"))[-1]["action"] == "merged"
    assert (await events(runtime, m, "order.cancelled"))[-1]["order"]["id"] == second["id"]
    # A second merge of the cancelled order is refused and changes nothing.
    error_of(await merge(client, m, first, second), 409, "orders_not_mergeable")
    paid = await pay(client, m, merged)
    assert paid["status"] == "paid"
    assert await levels(client, m, "MUG") == (7, 0, 7)
    assert await levels(client, m, "CUP") == (4, 0, 4)
    assert await balanced(client, m)


async def test_merge_refusals_have_stable_codes(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10, price=750)
    first = await place_order(client, m, ("MUG", 1))
    stranger = await place_order(client, m, ("MUG", 1), name="Bo Other",
                                 phone="+1 555 0199")
    error_of(await merge(client, m, first, stranger), 409, "orders_not_mergeable")
    error_of(await merge(client, m, first, first), 409, "orders_not_mergeable")
    same = await place_order(client, m, ("MUG", 1))
    error_of(await merge(client, m, first, same, other_version=same["version"] + 1), 412,
             "version_conflict")
    paid = await pay(client, m, same)
    refused = error_of(await merge(client, m, first, paid), 409, "orders_not_mergeable")
    assert refused["reason"] == "status"
    error_of(await merge(client, rival, first, same), 404, "not_found")
    # An order id this business does not have (another's, or none) is not found either.
    error_of(await merge(client, m, first, {"id": "00000000-0000-4000-8000-000000000000"}),
             404, "not_found")
    assert await levels(client, m, "MUG") == (9, 2, 7)


async def test_a_merge_keeps_the_earlier_payment_deadline_and_both_orders_coupons(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    shop = await open_shop(client, m, products={"MUG": (1000, 10), "CUP": (500, 10)})
    ok(await client.post("/v1/coupons", headers=m.headers, json={
        "code": "TEN", "kind": "percentage", "percent_off": 10}), 201)
    buyer = {"name": "Ada Buyer", "phone": "+1 555 0142"}
    cart = await new_cart(client, shop.merchant, ("MUG", 1))
    first = ok(await confirm(client, cart, await start_checkout(client, cart, coupons=("TEN",),
                                                                buyer=buyer)), 201)
    cart = await new_cart(client, shop.merchant, ("CUP", 2))
    later = ok(await confirm(client, cart, await start_checkout(client, cart, buyer=buyer)), 201)
    assert first["payment_deadline"] < later["payment_deadline"]
    done = ok(await merge(client, m, later, first, other_version=first["version"]))
    merged = done["order"]
    assert merged["payment_deadline"] == first["payment_deadline"]
    # 2000 of merchandise, 10% off (the first order's coupon) = 200; the later one's shipping.
    assert (merged["subtotal"], merged["discount_total"]) == (2000, 200)
    assert merged["shipping_total"] == later["shipping_total"]
    assert [c["code"] for c in merged["pricing"]["coupons"]] == ["TEN"]
    assert merged["total"] == (2000 - 200 + merged["shipping_total"]
                               + (0 if merged["prices_include_tax"] else merged["tax_total"]))
    deadline = (await history(client, m, later["id"]))[-1]["changes"]["payment_deadline"]
    assert deadline["to"] < deadline["from"]
    assert await levels(client, m, "MUG") == (10, 1, 9)
    assert await levels(client, m, "CUP") == (10, 2, 8)
    assert await balanced(client, m)
