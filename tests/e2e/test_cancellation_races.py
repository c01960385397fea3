"""Partial cancellations of the same units at once, through real server processes (four on
PostgreSQL, the embedded one on SQLite), of an order paid by card through the sandbox
provider: the order's row lock and the line's conditional UPDATE let exactly one through, so
no line loses more units than it had and the buyer is refunded once."""

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


async def test_concurrent_cancellations_of_the_same_units_take_them_and_refund_them_once(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "MUG", 10, price=1000)
    async with merchant_api(racing_server, merchant, connections=RIVALS) as api:
        order = await place_card_order(api, ("MUG", 4))
        assert (await pay_by_card(api, order))["amount_captured"] == 4000

        answers = await asyncio.gather(*(
            api.post(f"/v1/orders/{order['id']}/cancellations",
                     json={"lines": [{"sku": "MUG", "quantity": 3}]}) for _ in range(RIVALS)))
        codes = Counter(a.status_code for a in answers)
        assert codes == {201: 1, 409: RIVALS - 1}, [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
            "cancel_exceeds_remaining"}

        after = (await api.get(f"/v1/orders/{order['id']}")).json()
        mug = after["lines"][0]
        assert (mug["quantity"], mug["cancelled_quantity"]) == (1, 3)
        assert (after["status"], after["total"]) == ("paid", 1000)
        payments = (await api.get(f"/v1/orders/{order['id']}/payments")).json()
        assert payments["data"][0]["amount_refunded"] == 3000
        refunds = [row["amount"] for row in payments["ledger"] if row["kind"] == "refund"]
        assert refunds == [3000]
        level = (await api.get("/v1/inventory/MUG")).json()
        assert (level["on_hand"], level["reserved"]) == (9, 0)
        await assert_stock_balanced(api)


async def test_a_cancellation_and_a_shipment_of_the_same_units_never_both_take_them(
        runtime: Runtime, racing_server: str) -> None:
    # Each round: an order of 4 paid by card, then 3 of its units cancelled and 3 shipped at
    # once. Both lock the order's row: whichever comes second finds the units gone (the
    # shipment) or the order shipping (the cancellation), never both through.
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "CUP", 40, price=1000)
    async with merchant_api(racing_server, merchant) as api:
        outcomes: Counter[str] = Counter()
        for round_ in range(4):
            order = await place_card_order(api, ("CUP", 4), phone=f"+1 555 02{round_:02d}")
            await pay_by_card(api, order)
            cancelled, shipped = await asyncio.gather(
                api.post(f"/v1/orders/{order['id']}/cancellations",
                         json={"lines": [{"sku": "CUP", "quantity": 3}]}),
                api.post(f"/v1/orders/{order['id']}/shipments",
                         json={"lines": [{"sku": "CUP", "quantity": 3}], "carrier": "JNE",
                               "tracking_number": f"JNE-{round_}"}))
            assert sorted((cancelled.status_code, shipped.status_code)) == [201, 409], (
                cancelled.text, shipped.text)
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            cup = after["lines"][0]
            parcels = (await api.get(f"/v1/orders/{order['id']}/shipments")).json()["data"]
            sent = sum(line["quantity"] for p in parcels for line in p["lines"])
            if cancelled.status_code == 201:
                outcomes["cancelled first"] += 1
                assert shipped.json()["error"]["code"] == "shipment_exceeds_order"
                assert (cup["quantity"], cup["cancelled_quantity"], sent) == (1, 3, 0)
                assert (after["status"], after["total"]) == ("paid", 1000)
            else:
                outcomes["shipped first"] += 1
                assert cancelled.json()["error"]["code"] == "invalid_transition"
                assert (cup["quantity"], cup["cancelled_quantity"], sent) == (4, 0, 3)
                assert (after["status"], after["total"]) == ("partially_shipped", 4000)
            payments = (await api.get(f"/v1/orders/{order['id']}/payments")).json()
            assert payments["data"][0]["amount_refunded"] == (
                3000 if cancelled.status_code == 201 else 0)
        assert sum(outcomes.values()) == 4
        await assert_stock_balanced(api)
