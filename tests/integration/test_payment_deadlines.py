"""Payment deadlines against card payments: an unpaid order past its deadline is cancelled and
its payment cancelled at the provider through the outbox; money that arrives anyway is given
back; a capture racing the cancellation ends in exactly one of the two outcomes."""

from __future__ import annotations

import asyncio
from typing import Any

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.orders.status import cancel_lapsed_orders
from orderline.payments import service as payments
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.integration.test_payments import set_capture_mode
from tests.support.catalog import place, stock, stock_sku

TTL = 60


async def shop(runtime: Runtime) -> tuple[SandboxGateway, Merchant, dict[str, Any]]:
    runtime.clock = ManualClock()
    gateway = SandboxGateway(secret="whsec_deadlines", db=runtime.db,
                             clock=lambda: runtime.clock.now().timestamp())
    providers_of(runtime)["sandbox"] = gateway
    merchant = await new_merchant(runtime, reservation_ttl_seconds=TTL)
    await stock_sku(runtime, merchant, "MUG", 5, price=800)
    order = await place(runtime, merchant, ("MUG", 1))
    return gateway, merchant, order


async def webhooks(runtime: Runtime, gateway: SandboxGateway) -> list[str]:
    await gateway.wait_for_deliveries()
    return [await payments.receive_webhook(runtime, "sandbox", h, b) for h, b in gateway.drain()]


async def outcome(runtime: Runtime, merchant: Merchant,
                  order_id: Any) -> tuple[str, dict[str, int]]:
    await default_relay(runtime).relay_until_idle()
    status = (await orders.get_order(runtime, merchant.principal, order_id))["status"]
    ledger: dict[str, int] = {}
    for m in (await payments.payments_of_order(runtime, merchant.principal, order_id))["ledger"]:
        ledger[m["kind"]] = ledger.get(m["kind"], 0) + m["amount"]
    return status, ledger


def exactly_one_outcome(status: str, ledger: dict[str, int]) -> str:
    captured, refunded = ledger.get("capture", 0), ledger.get("refund", 0)
    if status == "paid":
        assert (captured, refunded) == (800, 0), ledger
        return "paid"
    assert status == "cancelled", status
    assert refunded == captured, ledger  # whatever was taken was given back
    return "cancelled"


async def test_the_sweeper_cancels_a_payment_the_buyer_never_finished(runtime: Runtime) -> None:
    gateway, merchant, order = await shop(runtime)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_3ds")
    assert intent["status"] == "requires_action" and intent["next_action"]
    runtime.clock.advance(TTL + 1)  # type: ignore[attr-defined]
    assert await cancel_lapsed_orders(runtime) >= 1
    status, ledger = await outcome(runtime, merchant, order["id"])
    assert (status, ledger) == ("cancelled", {})
    seen = await payments.payments_of_order(runtime, merchant.principal, order["id"])
    assert seen["data"][0]["status"] == "cancelled"
    assert (await gateway.retrieve_intent(intent["provider_ref"])).status == "cancelled"
    assert (await stock(runtime, merchant, "MUG"))["available"] == 5


async def test_a_capture_that_lands_after_the_cancellation_is_refunded(
        runtime: Runtime) -> None:
    gateway, merchant, order = await shop(runtime)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_3ds")
    await webhooks(runtime, gateway)
    await gateway.complete_action(intent["provider_ref"], approve=True)  # captured there
    runtime.clock.advance(TTL + 1)  # type: ignore[attr-defined]
    await cancel_lapsed_orders(runtime)  # the sweeper runs before the webhook arrives
    await webhooks(runtime, gateway)
    status, ledger = await outcome(runtime, merchant, order["id"])
    assert exactly_one_outcome(status, ledger) == "cancelled"
    assert ledger == {"authorize": 800, "capture": 800, "refund": 800}
    assert (await stock(runtime, merchant, "MUG"))["on_hand"] == 5


async def test_a_capture_before_the_deadline_pays_and_the_sweeper_leaves_it(
        runtime: Runtime) -> None:
    gateway, merchant, order = await shop(runtime)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_3ds")
    await gateway.complete_action(intent["provider_ref"], approve=True)
    runtime.clock.advance(TTL - 1)  # type: ignore[attr-defined]
    await webhooks(runtime, gateway)
    runtime.clock.advance(2)  # type: ignore[attr-defined]
    await cancel_lapsed_orders(runtime)
    status, ledger = await outcome(runtime, merchant, order["id"])
    assert exactly_one_outcome(status, ledger) == "paid"


async def test_capture_and_sweeper_at_the_same_instant_end_in_one_outcome(
        runtime: Runtime) -> None:
    for offset in (-1, 1):  # just before the deadline, and just after it
        gateway, merchant, order = await shop(runtime)
        intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                              provider="sandbox", payment_method="pm_card_3ds")
        await webhooks(runtime, gateway)
        await gateway.complete_action(intent["provider_ref"], approve=True)
        runtime.clock.advance(TTL + offset)  # type: ignore[attr-defined]
        await asyncio.gather(cancel_lapsed_orders(runtime), webhooks(runtime, gateway))
        # The sweeper skips an order another transaction holds; its next round sees it.
        await cancel_lapsed_orders(runtime)
        status, ledger = await outcome(runtime, merchant, order["id"])
        assert exactly_one_outcome(status, ledger) == ("paid" if offset < 0 else "cancelled")


async def test_an_authorised_payment_holds_the_stock_past_the_unpaid_deadline(
        runtime: Runtime) -> None:
    _, merchant, order = await shop(runtime)
    await set_capture_mode(runtime, merchant, "manual")
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    assert intent["status"] == "authorized"
    runtime.clock.advance(TTL * 10)  # type: ignore[attr-defined]
    await cancel_lapsed_orders(runtime)
    assert (await orders.get_order(runtime, merchant.principal, order["id"]))["status"] == \
        "pending_payment"
    assert (await stock(runtime, merchant, "MUG"))["reserved"] == 1
    captured = await payments.capture_payment(runtime, merchant.principal, order["id"])
    assert captured["amount_captured"] == 800
    assert (await orders.get_order(runtime, merchant.principal, order["id"]))["status"] == "paid"
