"""Cancelling an order that was paid: the stock comes back once, and the money never stays
behind on a cancelled order (a cancel that would leave it is refused until it is refunded)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from orderline.core.db.tables import table_of
from orderline.core.errors import RefundFirst
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.payments import service as payments
from orderline.payments.providers.base import ProviderRefund
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.service import RefundLine
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.integration.test_payments import set_capture_mode
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


async def test_a_paid_order_is_not_cancelled_while_it_holds_money_not_refunded(
        runtime: Runtime) -> None:
    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "VASE", 5, price=1000)
    order = await paid_order(runtime, merchant, ("VASE", 1))

    for refunded_so_far in (0, 400):
        with pytest.raises(RefundFirst) as refused:
            await order_status.cancel_order(runtime, merchant.principal, order["id"])
        assert refused.value.details["held"] == 1000 - refunded_so_far
        assert "Refund it first (POST /v1/orders/{id}/refunds), then cancel" in str(
            refused.value.message)
        seen = await orders.get_order(runtime, merchant.principal, order["id"])
        assert seen["status"] == "paid" and (await stock(runtime, merchant, "VASE"))[
            "on_hand"] == 4
        if refunded_so_far == 0:
            await payments.refund_payment(runtime, merchant.principal, order["id"],
                                          amount=400)
    assert await cancel_requests(runtime, order["id"]) == 0  # nothing left for a saga

    await payments.refund_payment(runtime, merchant.principal, order["id"], amount=600)
    cancelled = await order_status.cancel_order(runtime, merchant.principal, order["id"])
    assert cancelled["status"] == "cancelled"
    assert (await stock(runtime, merchant, "VASE"))["on_hand"] == 5
    intent = (await payments.payments_of_order(runtime, merchant.principal,
                                               order["id"]))["data"][0]
    assert (intent["amount_captured"], intent["amount_refunded"]) == (1000, 1000)


async def test_cancelling_an_unpaid_order_gives_back_a_partial_capture_through_the_saga(
        runtime: Runtime) -> None:
    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await set_capture_mode(runtime, merchant, "manual")
    await stock_sku(runtime, merchant, "RUG", 5, price=1000)
    order = await place(runtime, merchant, ("RUG", 1))
    await payments.start_payment(runtime, merchant.principal, order["id"], provider="sandbox",
                                 payment_method="pm_card_visa")
    await payments.capture_payment(runtime, merchant.principal, order["id"], amount=300)
    assert (await orders.get_order(runtime, merchant.principal, order["id"]))["status"] == \
        "pending_payment"

    await order_status.cancel_order(runtime, merchant.principal, order["id"])
    await default_relay(runtime).relay_until_idle()

    intent = (await payments.payments_of_order(runtime, merchant.principal,
                                               order["id"]))["data"][0]
    assert (intent["amount_captured"], intent["amount_refunded"]) == (300, 300)
    assert (await stock(runtime, merchant, "RUG"))["available"] == 5


async def cancel_requests(runtime: Runtime, order_id: uuid.UUID) -> int:
    outbox = table_of(OutboxEvent)
    async with runtime.db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.aggregate_id == order_id,
            outbox.c.type == "payment.cancel_requested")) or 0)


class RefundHeldBack(SandboxGateway):
    """The sandbox, whose refunds wait until the test lets them through."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(secret="whsec_cancel_paid", db=runtime.db)
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def refund(self, reference: str, *, amount: int,
                     idempotency_key: str) -> ProviderRefund:
        self.asked.set()
        await self.release.wait()
        return await super().refund(reference, amount=amount, idempotency_key=idempotency_key)


async def test_a_refund_still_being_asked_of_the_provider_holds_the_cancel_back(
        runtime: Runtime) -> None:
    gateway = RefundHeldBack(runtime)
    providers_of(runtime)["sandbox"] = gateway
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "LAMP", 5, price=1000)
    order = await paid_order(runtime, merchant, ("LAMP", 1))
    refunding = asyncio.create_task(payments.refund_payment(
        runtime, merchant.principal, order["id"], amount=1000))
    await gateway.asked.wait()  # taken on the intent, not yet agreed by the provider

    with pytest.raises(RefundFirst) as refused:
        await order_status.cancel_order(runtime, merchant.principal, order["id"])
    assert refused.value.details["held"] == 1000

    gateway.release.set()
    await refunding
    cancelled = await order_status.cancel_order(runtime, merchant.principal, order["id"])
    assert cancelled["status"] == "cancelled"
