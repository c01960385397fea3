"""Exchanges racing each other and refunds, through real server processes (four on
PostgreSQL, the embedded one on SQLite), of orders paid by card through the sandbox provider:
the order's row lock and the lines' conditional UPDATE let each shipped unit be traded or
refunded once; the replacement's stock and both orders' money ledgers stay exact."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.conftest import new_merchant
from tests.support.card_orders import assert_stock_balanced, merchant_api, shipped_card_order
from tests.support.catalog import stock_sku

pytestmark = pytest.mark.slow

RIVALS = 6


def _exchange(sku: str, units: int, instead: str) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": units}], "reason": "wrong_item",
            "replacement": [{"sku": instead, "quantity": 1}]}


async def _net(api: httpx.AsyncClient, order_id: str) -> int:
    """The order's received less refunded by its ledger, checked against its intents."""
    payments = (await api.get(f"/v1/orders/{order_id}/payments")).json()
    received = refunded = 0
    for row in payments["ledger"]:
        if row["kind"] in ("capture", "collect"):
            received += row["amount"]
        elif row["kind"] == "refund":
            refunded += row["amount"]
    intents = payments["data"]
    assert refunded == sum(i["amount_refunded"] for i in intents)
    assert received == sum(i["amount_captured"] + i["amount_collected"] for i in intents)
    assert refunded <= received
    return received - refunded


async def test_exchanges_of_the_same_shipped_units_at_once_trade_them_once(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "CUP", 10, price=1000)
    await stock_sku(runtime, merchant, "LID", 10, price=400)
    async with merchant_api(racing_server, merchant, connections=RIVALS) as api:
        order = await shipped_card_order(api, "CUP", 3)
        answers = await asyncio.gather(*(
            api.post(f"/v1/orders/{order['id']}/exchanges", json=_exchange("CUP", 2, "LID"))
            for _ in range(RIVALS)))
        codes = Counter(a.status_code for a in answers)
        assert codes == {201: 1, 409: RIVALS - 1}, [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
            "return_exceeds_shipped"}
        won = next(a.json() for a in answers if a.status_code == 201)
        assert won["settlement"] == {"currency": "USD", "value": 2000, "price": 400,
                                     "credit": 400, "owed": 0, "refund": 1600}
        links = (await api.get(f"/v1/orders/{order['id']}/links")).json()["data"]
        assert len(links) == 1
        returns = (await api.get(f"/v1/orders/{order['id']}/returns")).json()["data"]
        assert [r["exchange_id"] for r in returns] == [won["exchange_id"]]
        lid = (await api.get("/v1/inventory/LID")).json()
        assert (lid["on_hand"], lid["reserved"]) == (9, 0)  # one replacement, sold
        # Money: the original's card paid 3000; 400 of it paid the replacement.
        assert await _net(api, order["id"]) == 2600
        assert await _net(api, won["replacement_order"]["id"]) == 400
        await assert_stock_balanced(api)


async def test_an_exchange_and_a_refund_of_the_same_line_never_both_take_it(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "MUG", 40, price=1000)
    await stock_sku(runtime, merchant, "CAP", 40, price=500)
    async with merchant_api(racing_server, merchant) as api:
        outcomes: Counter[str] = Counter()
        for _ in range(4):
            order = await shipped_card_order(api, "MUG", 2)
            exchanged, refunded = await asyncio.gather(
                api.post(f"/v1/orders/{order['id']}/exchanges",
                         json=_exchange("MUG", 2, "CAP")),
                api.post(f"/v1/orders/{order['id']}/refunds",
                         json={"lines": [{"sku": "MUG", "quantity": 2}]}))
            codes = sorted((exchanged.status_code, refunded.status_code))
            assert codes in ([200, 409], [201, 409]), (exchanged.text, refunded.text)
            loser = exchanged if exchanged.status_code == 409 else refunded
            assert loser.json()["error"]["code"] == "refund_exceeds_captured", loser.text
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            assert after["lines"][0]["refunded_quantity"] == 2
            if exchanged.status_code == 201:
                outcomes["exchange"] += 1
                new = exchanged.json()["replacement_order"]
                # 500 of the 2000 paid the cap; the rest waits for the mugs to come back.
                assert await _net(api, order["id"]) == 1500
                assert await _net(api, new["id"]) == 500
            else:
                outcomes["refund"] += 1
                assert await _net(api, order["id"]) == 0
        assert sum(outcomes.values()) == 4
        await assert_stock_balanced(api)
