"""Cancelling an order that was paid: the stock comes back once, and the money never stays
behind on a cancelled order (a cancel that would leave it is refused until it is refunded)."""

from __future__ import annotations

from typing import Any

from orderline.core.runtime import Runtime
from orderline.orders import status as order_status
from orderline.payments import service as payments
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.service import RefundLine
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock, stock_sku


def with_sandbox(runtime: Runtime) -> SandboxGateway:
    gateway = SandboxGateway(secret="whsec_cancel_paid", db=runtime.db)
    providers_of(runtime)["sandbox"] = gateway
    return gateway


async def paid_order(runtime: Runtime, merchant: Merchant, *lines: tuple[str, int]
                     ) -> dict[str, Any]:
    order = await place(runtime, merchant, *lines)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    assert intent["status"] == "captured"
    return order


async def test_cancelling_after_a_restocking_refund_puts_each_unit_back_once(
        runtime: Runtime) -> None:
    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "CUP", 10, price=300)
    await stock_sku(runtime, merchant, "SAUCER", 10, price=200)
    order = await paid_order(runtime, merchant, ("CUP", 3), ("SAUCER", 2))
    assert ((await stock(runtime, merchant, "CUP"))["on_hand"],
            (await stock(runtime, merchant, "SAUCER"))["on_hand"]) == (7, 8)

    # Two cups come back and are restocked; the rest of the money is refunded without.
    await payments.refund_payment(runtime, merchant.principal, order["id"],
                                  lines=[RefundLine("CUP", 2)], restock=True)
    assert (await stock(runtime, merchant, "CUP"))["on_hand"] == 9
    await payments.refund_payment(runtime, merchant.principal, order["id"],
                                  amount=order["total"] - 600)

    await order_status.cancel_order(runtime, merchant.principal, order["id"])

    assert ((await stock(runtime, merchant, "CUP"))["on_hand"],
            (await stock(runtime, merchant, "SAUCER"))["on_hand"]) == (10, 10)
