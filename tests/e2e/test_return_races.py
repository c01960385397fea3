"""Returns racing refunds, through real server processes (four on PostgreSQL, the embedded
one on SQLite), of orders paid by card through the sandbox provider: a received return's
refund and a refund by lines of the same units, and returns asking for the same shipped
units. The order's row lock and the line's conditional UPDATE let each unit be returned once
and refunded once: never more than captured, and both ledgers exact."""

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


async def _ledgers_exact(api: httpx.AsyncClient, order: dict[str, Any]) -> int:
    payments = (await api.get(f"/v1/orders/{order['id']}/payments")).json()
    intent = payments["data"][0]
    refunds = sum(row["amount"] for row in payments["ledger"] if row["kind"] == "refund")
    assert refunds == intent["amount_refunded"] <= intent["amount_captured"]
    await assert_stock_balanced(api)
    return int(refunds)


async def test_a_received_returns_refund_and_a_refund_of_the_same_line_never_both_pay(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "MUG", 40, price=1000)
    async with merchant_api(racing_server, merchant) as api:
        outcomes: Counter[str] = Counter()
        for _ in range(4):
            order = await shipped_card_order(api, "MUG", 2)
            base = f"/v1/orders/{order['id']}/returns"
            asked = await api.post(base, json={"lines": [{"sku": "MUG", "quantity": 2}],
                                               "reason": "defective"})
            assert asked.status_code == 201, asked.text
            rid = asked.json()["id"]
            assert (await api.post(f"{base}/{rid}/approve")).status_code == 200
            received = await api.post(f"{base}/{rid}/receive", json={
                "lines": [{"sku": "MUG", "condition": "restock"}]})
            assert received.status_code == 200, received.text
            by_return, by_lines = await asyncio.gather(
                api.post(f"{base}/{rid}/refund"),
                api.post(f"/v1/orders/{order['id']}/refunds",
                         json={"lines": [{"sku": "MUG", "quantity": 2}]}))
            codes = (by_return.status_code, by_lines.status_code)
            assert sorted(codes) in ([200, 409], [201, 409]), (by_return.text, by_lines.text)
            outcomes["return" if by_return.status_code == 200 else "lines"] += 1
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            assert after["lines"][0]["refunded_quantity"] == 2
            # Refunded once: exactly the two units' 2000, never 4000.
            assert await _ledgers_exact(api, order) == 2000
        assert sum(outcomes.values()) == 4


async def test_returns_asking_for_the_same_shipped_units_at_once_take_them_once(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "CUP", 10, price=1000)
    async with merchant_api(racing_server, merchant, connections=RIVALS) as api:
        order = await shipped_card_order(api, "CUP", 3)
        answers = await asyncio.gather(*(
            api.post(f"/v1/orders/{order['id']}/returns",
                     json={"lines": [{"sku": "CUP", "quantity": 2}], "reason": "damaged"})
            for _ in range(RIVALS)))
        codes = Counter(a.status_code for a in answers)
        assert codes == {201: 1, 409: RIVALS - 1}, [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
            "return_exceeds_shipped"}
        listed = (await api.get(f"/v1/orders/{order['id']}/returns")).json()["data"]
        assert sum(line["quantity"] for r in listed for line in r["lines"]) == 2
        await _ledgers_exact(api, order)
