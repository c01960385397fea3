"""Edits after payment against a payment of the same order, through real server processes
(four on PostgreSQL, the embedded one on SQLite), paid by card through the sandbox provider:

- a change's payment request paid (by several clicks at once) while the merchant cancels the
  change: the request closes once, so either the change applies with its money captured once,
  or it is cancelled and any money that reached it is refunded by the payment saga; the held
  units are taken or let go, never both;
- a change made while the order's original authorisation is captured: the change is refused
  while the order waits for its money, or applies on the captured order; never a capture of
  more than the order's total.

The stock ledger sums to on hand after every round."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from orderline.worker.handlers import default_relay
from tests.conftest import new_merchant
from tests.integration.test_payments import set_capture_mode
from tests.support.card_orders import (
    assert_stock_balanced,
    merchant_api,
    pay_by_card,
    place_card_order,
)
from tests.support.catalog import stock_sku

pytestmark = pytest.mark.slow

ROUNDS = 4
CLICKS = 3
PAUSES = (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4, 0.8)


async def _paid_order(api: httpx.AsyncClient, round_: int, *lines: tuple[str, int],
                      authorise_only: bool = False) -> dict[str, Any]:
    order = await place_card_order(api, *lines, phone=f"+1 555 03{round_:02d}")
    intent = await pay_by_card(api, order)
    assert intent["status"] == ("authorized" if authorise_only else "captured")
    return order


async def _net(api: httpx.AsyncClient, order_id: str) -> tuple[int, int]:
    """(money received - refunded, money captured) by the order's ledger."""
    ledger = (await api.get(f"/v1/orders/{order_id}/payments")).json()["ledger"]
    captured = sum(r["amount"] for r in ledger if r["kind"] == "capture")
    refunded = sum(r["amount"] for r in ledger if r["kind"] == "refund")
    return captured - refunded, captured


async def test_paying_a_change_while_it_is_cancelled_takes_the_money_once_or_gives_it_back(
        runtime: Runtime, racing_server: str) -> None:
    rounds = len(PAUSES)
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "MUG", 40, price=1000)
    await stock_sku(runtime, merchant, "POT", 40, price=2500)
    outcomes: Counter[str] = Counter()
    async with merchant_api(racing_server, merchant, connections=CLICKS + 2) as api:
        for round_ in range(rounds):
            order = await _paid_order(api, round_, ("MUG", 2))
            made = await api.post(f"/v1/orders/{order['id']}/changes", json={
                "add": [{"sku": "POT", "quantity": 1}], "expected_version": None})
            assert made.status_code == 201, made.text
            change = made.json()
            assert (change["status"], change["payment_request"]["amount"]) == (
                "awaiting_payment", 2500)
            buyer = {"Authorization": f"Bearer {order['access_token']}"}
            base = f"/v1/orders/{order['id']}/changes/{change['id']}"

            async def cancel_after(pause: float, url: str = f"{base}/cancel") -> httpx.Response:
                await asyncio.sleep(pause)
                return await api.post(url)

            # The cancel goes out a little later each round, so it meets the payment at
            # each of its steps (before its intent, at the provider, while it settles, after).
            *clicks, cancelled = await asyncio.gather(
                *(api.post(f"{base}/pay-by-card", headers=buyer,
                           json={"payment_method": "pm_card_visa"}) for _ in range(CLICKS)),
                cancel_after(PAUSES[round_]))
            for click in clicks:
                assert click.status_code in (200, 409), click.text
                if click.status_code == 409:
                    assert click.json()["error"]["code"] in (
                        "order_change_closed", "payment_in_progress"), click.text
            await default_relay(runtime).relay_until_idle()  # the saga gives money back
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            final = (await api.get(base)).json()
            pot = (await api.get("/v1/inventory/POT")).json()
            net, captured = await _net(api, order["id"])
            if cancelled.status_code == 200:
                outcomes["cancelled"] += 1
                assert final["status"] == "cancelled"
                assert final["payment_request"]["status"] == "cancelled"
                assert after["total"] == 2000 and net == 2000
                assert captured in (2000, 4500)  # the change's card money, if any, refunded
                assert pot["reserved"] == 0
            else:
                outcomes["paid"] += 1
                assert cancelled.json()["error"]["code"] == "order_change_closed"
                assert final["status"] == "applied"
                assert final["payment_request"]["status"] == "paid"
                assert after["total"] == 4500 and net == captured == 4500
                assert [c.status_code for c in clicks].count(200) >= 1
            assert pot["reserved"] == 0
        pot = (await api.get("/v1/inventory/POT")).json()
        assert pot["on_hand"] == 40 - outcomes["paid"]
        await assert_stock_balanced(api)
    assert sum(outcomes.values()) == rounds


async def test_a_change_made_while_the_original_payment_is_captured_never_charges_twice(
        runtime: Runtime, racing_server: str) -> None:
    merchant = await new_merchant(runtime)
    await set_capture_mode(runtime, merchant, "manual")
    await stock_sku(runtime, merchant, "CUP", 40, price=1000)
    outcomes: Counter[str] = Counter()
    async with merchant_api(racing_server, merchant) as api:
        for round_ in range(ROUNDS):
            order = await _paid_order(api, round_, ("CUP", 3), authorise_only=True)
            captured, changed = await asyncio.gather(
                api.post(f"/v1/orders/{order['id']}/payments/capture", json={}),
                api.post(f"/v1/orders/{order['id']}/changes",
                         json={"change": [{"sku": "CUP", "quantity": 2}]}))
            assert captured.status_code == 200, captured.text
            after = (await api.get(f"/v1/orders/{order['id']}")).json()
            net, taken = await _net(api, order["id"])
            assert taken == 3000  # the authorisation captured once, whole
            if changed.status_code == 201:
                outcomes["changed after the capture"] += 1
                assert changed.json()["refund"] == {"amount": 1000, "method": "card"}
                assert (after["status"], after["total"], net) == ("paid", 2000, 2000)
            else:
                outcomes["refused while it waited"] += 1
                assert changed.status_code == 409, changed.text
                assert changed.json()["error"]["code"] in ("order_not_changeable",
                                                           "payment_in_progress")
                assert (after["status"], after["total"], net) == ("paid", 3000, 3000)
        cup = (await api.get("/v1/inventory/CUP")).json()
        assert cup["reserved"] == 0
        assert cup["on_hand"] == 40 - 3 * ROUNDS + outcomes["changed after the capture"]
        await assert_stock_balanced(api)
    assert sum(outcomes.values()) == ROUNDS
