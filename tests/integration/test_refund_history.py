"""A refund as the order's history and version tell it: entered (who, how much, which lines,
why) when its amount is taken, moving the order's version on; a provider's refusal gives it all
back and says so, naming the same caller."""

from __future__ import annotations

import pytest

from orderline.core.errors import PaymentProviderUnavailable, VersionConflict
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.payments import service as payments
from orderline.payments.service import RefundLine
from tests.conftest import new_merchant
from tests.integration.test_cancelling_paid_orders import paid_order
from tests.integration.test_payments import ledger_of, with_sandbox
from tests.support.catalog import stock_sku


async def test_a_refund_the_provider_refuses_is_given_back_and_the_history_says_both(
        runtime: Runtime) -> None:
    gateway = with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "CUP", 10, price=300)
    order = await paid_order(runtime, merchant, ("CUP", 3))
    version = (await orders.get_order(runtime, merchant.principal, order["id"]))["version"]
    gateway.behaviour.fail_next_calls = 1

    with pytest.raises(PaymentProviderUnavailable):
        await payments.refund_payment(runtime, merchant.principal, order["id"],
                                      lines=[RefundLine("CUP", 1, restock=True)],
                                      reason="chipped", expected_version=version)

    assert await ledger_of(runtime, merchant, order["id"]) == [("authorize", 900),
                                                               ("capture", 900)]
    entries = await orders.order_history(runtime, merchant.principal, order["id"])
    refunded, failed = entries[-2:]
    assert (refunded["action"], failed["action"]) == ("refunded", "refund_failed")
    assert refunded["actor"] == failed["actor"] == merchant.principal.actor
    assert refunded["changes"]["reason"] == "chipped"
    assert refunded["changes"]["refund_id"] == failed["changes"]["refund_id"]
    # The units are free to refund again, and a refund with the version read before the
    # failed one is told who moved the order on.
    with pytest.raises(VersionConflict) as stale:
        await payments.refund_payment(runtime, merchant.principal, order["id"],
                                      lines=[RefundLine("CUP", 3)], expected_version=version)
    assert stale.value.details["changes_since"] == 2
    assert stale.value.details["latest_change"]["action"] == "refund_failed"
    now = (await orders.get_order(runtime, merchant.principal, order["id"]))["version"]
    assert now == version + 2
    await payments.refund_payment(runtime, merchant.principal, order["id"],
                                  lines=[RefundLine("CUP", 3)], expected_version=now)
    assert (await ledger_of(runtime, merchant, order["id"]))[-1] == ("refund", 900)
