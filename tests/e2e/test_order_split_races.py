"""Splits and merges racing each other and the order's other changes, through real server
processes (four on PostgreSQL, the embedded one on SQLite): the orders' row locks and the
lines' conditional UPDATEs let exactly one through where only one can be, and the stock is
never counted twice (the reconciliation balances, ``reserved`` is what the live orders
hold)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from orderline.core.runtime import Runtime
from tests.conftest import new_merchant
from tests.support.card_orders import (
    assert_stock_balanced,
    merchant_api,
    pay_by_card,
    place_card_order,
)
from tests.support.catalog import stock_sku

pytestmark = pytest.mark.slow

RIVALS = 6


async def test_concurrent_splits_of_the_same_units_move_them_once(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "MUG", 10, price=1000)
    async with merchant_api(racing_server, merchant, connections=RIVALS) as api:
        order = await place_card_order(api, ("MUG", 4))
        answers = await asyncio.gather(*(
            api.post(f"/v1/orders/{order['id']}/splits",
                     json={"lines": [{"sku": "MUG", "quantity": 3}]}) for _ in range(RIVALS)))
        codes = Counter(a.status_code for a in answers)
        assert codes == {201: 1, 409: RIVALS - 1}, [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {
            "split_exceeds_remaining", "split_takes_everything"}
        after = (await api.get(f"/v1/orders/{order['id']}")).json()
        assert (after["lines"][0]["quantity"], after["total"]) == (1, 1000)
        links = (await api.get(f"/v1/orders/{order['id']}/links")).json()["data"]
        assert len(links) == 1
        level = (await api.get("/v1/inventory/MUG")).json()
        assert (level["on_hand"], level["reserved"]) == (10, 4)
        await assert_stock_balanced(api)


async def test_a_split_and_a_shipment_of_the_same_units_never_both_take_them(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "CUP", 40, price=1000)
    async with merchant_api(racing_server, merchant) as api:
        outcomes: Counter[str] = Counter()
        for round_ in range(4):
            order = await place_card_order(api, ("CUP", 4), phone=f"+1 555 03{round_:02d}")
            paid = await api.patch(f"/v1/orders/{order['id']}/payment",
                                   json={"reference": f"r{round_}", "amount": 4000})
            assert paid.status_code == 200, paid.text
            split, shipped = await asyncio.gather(
                api.post(f"/v1/orders/{order['id']}/splits",
                         json={"lines": [{"sku": "CUP", "quantity": 2}]}),
                api.post(f"/v1/orders/{order['id']}/shipments",
                         json={"lines": [{"sku": "CUP", "quantity": 3}], "carrier": "JNE",
                               "tracking_number": f"JNE-{round_}"}))
            assert sorted((split.status_code, shipped.status_code)) == [201, 409], (
                split.text, shipped.text)
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            parcels = (await api.get(f"/v1/orders/{order['id']}/shipments")).json()["data"]
            sent = sum(line["quantity"] for p in parcels for line in p["lines"])
            if split.status_code == 201:
                outcomes["split first"] += 1
                assert (after["lines"][0]["quantity"], after["total"], sent) == (2, 2000, 0)
                assert split.json()["money_moved"] == 2000
            else:
                outcomes["shipped first"] += 1
                assert split.json()["error"]["code"] == "split_exceeds_remaining"
                assert (after["lines"][0]["quantity"], after["total"], sent) == (4, 4000, 3)
        assert sum(outcomes.values()) == 4
        level = (await api.get("/v1/inventory/CUP")).json()
        assert (level["on_hand"], level["reserved"]) == (24, 0)  # sold once, whoever won
        await assert_stock_balanced(api)


async def test_a_split_racing_a_cancellation_leaves_every_unit_held_once(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "PAN", 40, price=1000)
    async with merchant_api(racing_server, merchant) as api:
        for round_ in range(4):
            order = await place_card_order(api, ("PAN", 4), phone=f"+1 555 04{round_:02d}")
            split, cancelled = await asyncio.gather(
                api.post(f"/v1/orders/{order['id']}/splits",
                         json={"lines": [{"sku": "PAN", "quantity": 1}]}),
                api.patch(f"/v1/orders/{order['id']}/status",
                          headers={"If-Match": f'"{order["version"]}"'},
                          json={"status": "cancelled", "reason": "buyer"}))
            # The split first: the cancellation's version is stale. The cancellation first:
            # nothing is left to split.
            codes = sorted((split.status_code, cancelled.status_code))
            assert codes in ([200, 409], [201, 412]), (split.text, cancelled.text)
            if split.status_code == 409:
                assert split.json()["error"]["code"] == "split_not_allowed"
        # Whoever won each round, what is reserved is exactly what live orders still hold.
        listed = (await api.get("/v1/orders", params={"status": "pending_payment",
                                                      "limit": 100})).json()["data"]
        held = sum(line["quantity"] for o in listed for line in o["lines"])
        level = (await api.get("/v1/inventory/PAN")).json()
        assert (level["on_hand"], level["reserved"]) == (40, held)
        await assert_stock_balanced(api)


async def test_a_split_racing_a_payment_divides_the_money_or_is_paid_for_what_is_left(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "JUG", 40, price=1000)
    async with merchant_api(racing_server, merchant) as api:
        outcomes: Counter[str] = Counter()
        for round_ in range(4):
            order = await place_card_order(api, ("JUG", 4), phone=f"+1 555 06{round_:02d}")
            split, paid = await asyncio.gather(
                api.post(f"/v1/orders/{order['id']}/splits",
                         json={"lines": [{"sku": "JUG", "quantity": 1}]}),
                api.patch(f"/v1/orders/{order['id']}/payment",
                          json={"reference": f"p{round_}", "amount": 4000}))
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            if paid.status_code == 200 and split.status_code == 201:
                # Paid first: the split divided the money (1000 of it is the new order's).
                outcomes["paid first"] += 1
                assert split.json()["money_moved"] == 1000
                assert split.json()["new_order"]["status"] == "paid"
                assert (after["status"], after["total"]) == ("paid", 3000)
            else:
                # Split first: 4000 is no longer the total, so the payment is refused.
                outcomes["split first"] += 1
                assert split.status_code == 201 and paid.status_code == 422, (split.text,
                                                                               paid.text)
                assert paid.json()["error"]["code"] == "amount_mismatch"
                assert split.json()["money_moved"] == 0
                assert (after["status"], after["total"]) == ("pending_payment", 3000)
        assert sum(outcomes.values()) == 4
        await assert_stock_balanced(api)


async def test_two_merges_of_the_same_order_at_once_let_exactly_one_through(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "BOWL", 40, price=500)
    async with merchant_api(racing_server, merchant) as api:
        for round_ in range(3):
            phone = f"+1 555 05{round_:02d}"
            a, b, c = [await place_card_order(api, ("BOWL", n), phone=phone) for n in (1, 2, 3)]
            # B into A and B into C at once, and A into B the other way round.
            answers = await asyncio.gather(
                api.post(f"/v1/orders/{a['id']}/merge", json={"other_order_id": b["id"]}),
                api.post(f"/v1/orders/{c['id']}/merge", json={"other_order_id": b["id"]}),
                api.post(f"/v1/orders/{b['id']}/merge", json={"other_order_id": a["id"]}))
            codes = Counter(x.status_code for x in answers)
            assert codes[200] >= 1 and codes[200] + codes[409] == 3, [
                (x.status_code, x.text[-300:]) for x in answers]
            assert {x.json()["error"]["code"] for x in answers if x.status_code == 409} <= {
                "orders_not_mergeable"}
            seen = {o["id"]: (await api.get(f"/v1/orders/{o['id']}")).json() for o in (a, b, c)}
            live = [o for o in seen.values() if o["status"] == "pending_payment"]
            gone = [o for o in seen.values() if o["status"] == "cancelled"]
            assert all(o["cancel_reason"] == "merged" for o in gone)
            assert len(gone) == codes[200]  # each merge that went through cancelled one order
            # Every unit of the three orders is on exactly one live order, at its price.
            assert sum(line["quantity"] for o in live for line in o["lines"]) == 6
            assert sum(o["total"] for o in live) == 6 * 500
        level = (await api.get("/v1/inventory/BOWL")).json()
        assert (level["on_hand"], level["reserved"]) == (40, 18)
        await assert_stock_balanced(api)


async def test_refunds_of_both_parts_of_a_split_card_order_at_once_keep_each_to_its_share(
        runtime: Runtime, racing_server: str) -> None:
    # An order of 4 at 1000 paid by card, 2 of its units split off: the intent holds 4000,
    # 2000 of it each order's. Refunds of 1500 on both orders at once: each order's own
    # share lets exactly one of its refunds through, whatever the other order does.
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "POT", 10, price=1000)
    async with merchant_api(racing_server, merchant, connections=2 * RIVALS) as api:
        order = await place_card_order(api, ("POT", 4), phone="+1 555 0700")
        assert (await pay_by_card(api, order))["amount_captured"] == 4000
        split = await api.post(f"/v1/orders/{order['id']}/splits",
                               json={"lines": [{"sku": "POT", "quantity": 2}]})
        assert split.status_code == 201 and split.json()["money_moved"] == 2000, split.text
        new = split.json()["new_order"]
        answers = await asyncio.gather(*(
            api.post(f"/v1/orders/{target}/refunds", json={"amount": 1500})
            for _ in range(RIVALS) for target in (order["id"], new["id"])))
        by_order: dict[str, Counter[int]] = {order["id"]: Counter(), new["id"]: Counter()}
        for i, answer in enumerate(answers):
            by_order[(order["id"], new["id"])[i % 2]][answer.status_code] += 1
        assert all(c == {201: 1, 409: RIVALS - 1} for c in by_order.values()), [
            a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
            "refund_exceeds_order_share"}
        payments = (await api.get(f"/v1/orders/{order['id']}/payments")).json()
        assert payments["data"][0]["amount_refunded"] == 3000
        for order_id in (order["id"], new["id"]):
            ledger = (await api.get(f"/v1/orders/{order_id}/payments")).json()["ledger"]
            assert [r["amount"] for r in ledger if r["kind"] == "refund"] == [1500]
        links = (await api.get(f"/v1/orders/{new['id']}/links")).json()["data"]
        assert [link["amount"] for link in links] == [500]
