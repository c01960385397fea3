"""Card payments through the sandbox gateway, on both databases: the money moves exactly as
the order says, whatever order, number or timing the gateway's webhooks arrive in."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import update

from orderline.core.db.tables import table_of
from orderline.core.errors import PaymentFailed, RefundExceedsCaptured, WebhookSignatureRejected
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.payments import service as payments
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxBehaviour, SandboxGateway
from orderline.tenancy.tables import Business
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock, stock_sku

SECRET = "whsec_sandbox_test"


def with_sandbox(runtime: Runtime, **behaviour: Any) -> SandboxGateway:
    gateway = SandboxGateway(secret=SECRET, behaviour=SandboxBehaviour(**behaviour),
                             db=runtime.db)
    providers_of(runtime)["sandbox"] = gateway
    return gateway


async def sent(gateway: SandboxGateway) -> list[tuple[dict[str, str], bytes]]:
    """The webhooks the sandbox has sent so far (it sends them from background tasks)."""
    await gateway.wait_for_deliveries()
    return gateway.drain()


async def deliver_all(runtime: Runtime, gateway: SandboxGateway) -> list[str]:
    return [await payments.receive_webhook(runtime, "sandbox", headers, body)
            for headers, body in await sent(gateway)]


async def unpaid_order(runtime: Runtime, merchant: Merchant, quantity: int = 2) -> dict[str, Any]:
    await stock_sku(runtime, merchant, "MUG", 10, price=500)
    return await place(runtime, merchant, ("MUG", quantity))


async def ledger_of(runtime: Runtime, merchant: Merchant,
                    order_id: uuid.UUID) -> list[tuple[str, int]]:
    seen = await payments.payments_of_order(runtime, merchant.principal, order_id)
    return [(m["kind"], m["amount"]) for m in seen["ledger"]]


async def test_an_approved_card_pays_the_order_once_even_with_its_webhooks_redelivered(
        runtime: Runtime) -> None:
    gateway = with_sandbox(runtime, duplicate=True)
    merchant = await new_merchant(runtime)
    order = await unpaid_order(runtime, merchant)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    assert intent["status"] == "captured" and intent["amount_captured"] == 1000
    outcomes = await deliver_all(runtime, gateway)
    assert "duplicate" in outcomes and "applied" not in outcomes[len(outcomes) // 2:]
    paid = await orders.get_order(runtime, merchant.principal, order["id"])
    assert paid["status"] == "paid"
    assert await ledger_of(runtime, merchant, order["id"]) == [("authorize", 1000),
                                                               ("capture", 1000)]
    assert (await stock(runtime, merchant, "MUG"))["on_hand"] == 8
    # Webhooks about a paid order ask the worker for nothing: no refund follows.
    await default_relay(runtime).relay_until_idle()
    assert await ledger_of(runtime, merchant, order["id"]) == [("authorize", 1000),
                                                               ("capture", 1000)]


async def test_a_declined_card_says_why_keeps_the_stock_and_another_card_may_follow(
        runtime: Runtime) -> None:
    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    order = await unpaid_order(runtime, merchant)
    with pytest.raises(PaymentFailed) as declined:
        await payments.start_payment(runtime, merchant.principal, order["id"],
                                     provider="sandbox", payment_method="pm_card_declined")
    assert declined.value.details["decline_code"] == "card_declined"
    level = await stock(runtime, merchant, "MUG")
    assert (level["reserved"], level["available"]) == (2, 8)  # still held, not twice
    again = await payments.start_payment(runtime, merchant.principal, order["id"],
                                         provider="sandbox", payment_method="pm_card_visa")
    assert again["status"] == "captured"
    statuses = [i["status"] for i in (await payments.payments_of_order(
        runtime, merchant.principal, order["id"]))["data"]]
    assert statuses == ["failed", "captured"]


async def test_manual_capture_authorizes_first_and_five_captures_at_once_capture_once(
        runtime: Runtime) -> None:
    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await set_capture_mode(runtime, merchant, "manual")
    order = await unpaid_order(runtime, merchant)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    assert (intent["status"], intent["amount_authorized"], intent["amount_captured"]) == (
        "authorized", 1000, 0)
    assert (await orders.get_order(runtime, merchant.principal, order["id"]))["status"] == \
        "pending_payment"
    results = await asyncio.gather(*(payments.capture_payment(
        runtime, merchant.principal, order["id"]) for _ in range(5)), return_exceptions=True)
    assert any(isinstance(r, dict) and r["amount_captured"] == 1000 for r in results), results
    assert await ledger_of(runtime, merchant, order["id"]) == [("authorize", 1000),
                                                               ("capture", 1000)]
    assert (await orders.get_order(runtime, merchant.principal, order["id"]))["status"] == "paid"


async def set_capture_mode(runtime: Runtime, merchant: Merchant, mode: str) -> None:
    """(The settings API for it comes with the rest of the payment settings.)"""
    businesses = table_of(Business)
    await runtime.db.run(lambda conn: conn.execute(update(businesses).where(
        businesses.c.id == merchant.principal.business_id).values(capture_mode=mode)))


async def test_the_same_webhook_delivered_five_times_at_once_is_applied_once(
        runtime: Runtime) -> None:
    gateway = with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await set_capture_mode(runtime, merchant, "manual")
    order = await unpaid_order(runtime, merchant)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    await sent(gateway)
    reported = await gateway.capture(intent["provider_ref"], amount=1000,
                                     idempotency_key=f"dashboard-capture:{intent['id']}")
    assert reported.amount_captured == 1000
    succeeded = [(h, b) for h, b in await sent(gateway) if b"payment_intent.succeeded" in b]
    assert len(succeeded) == 1
    headers, body = succeeded[0]
    outcomes = await asyncio.gather(*(payments.receive_webhook(runtime, "sandbox", headers, body)
                                      for _ in range(5)))
    assert sorted(outcomes) == ["applied", "duplicate", "duplicate", "duplicate", "duplicate"]
    assert await ledger_of(runtime, merchant, order["id"]) == [("authorize", 1000),
                                                               ("capture", 1000)]


async def test_webhooks_in_reverse_order_end_in_the_latest_state(runtime: Runtime) -> None:
    gateway = with_sandbox(runtime, reorder=True)
    merchant = await new_merchant(runtime)
    order = await unpaid_order(runtime, merchant)
    await payments.start_payment(runtime, merchant.principal, order["id"], provider="sandbox",
                                 payment_method="pm_card_visa")
    outcomes = await deliver_all(runtime, gateway)
    assert "anomaly" not in outcomes
    seen = await payments.payments_of_order(runtime, merchant.principal, order["id"])
    assert seen["data"][0]["status"] == "captured"
    assert [(m["kind"], m["amount"]) for m in seen["ledger"]] == [("authorize", 1000),
                                                                  ("capture", 1000)]


async def test_refunds_racing_each_other_never_exceed_what_was_captured(
        runtime: Runtime) -> None:
    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    order = await unpaid_order(runtime, merchant)
    await payments.start_payment(runtime, merchant.principal, order["id"], provider="sandbox",
                                 payment_method="pm_card_visa")
    results = await asyncio.gather(*(payments.refund_payment(
        runtime, merchant.principal, order["id"], amount=300) for _ in range(8)),
        return_exceptions=True)
    refunded = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, RefundExceedsCaptured)]
    assert (len(refunded), len(refused)) == (3, 5), results
    ledger = await ledger_of(runtime, merchant, order["id"])
    assert sum(a for k, a in ledger if k == "refund") == 900
    with pytest.raises(RefundExceedsCaptured):
        await payments.refund_payment(runtime, merchant.principal, order["id"], amount=101)
    await payments.refund_payment(runtime, merchant.principal, order["id"], amount=100)


@pytest.mark.parametrize("tamper, code", [
    ("body", "signature_invalid"), ("old", "timestamp_outside_tolerance"),
    ("secret", "signature_invalid"), ("missing", "signature_missing")])
async def test_a_webhook_that_fails_verification_changes_nothing(
        runtime: Runtime, tamper: str, code: str) -> None:
    gateway = with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    await set_capture_mode(runtime, merchant, "manual")
    order = await unpaid_order(runtime, merchant)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    await sent(gateway)
    await gateway.capture(intent["provider_ref"], amount=1000,
                          idempotency_key=f"dashboard-capture:{intent['id']}")
    headers, body = next((h, b) for h, b in await sent(gateway) if b"succeeded" in b)
    if tamper == "body":
        body = body.replace(b"1000", b"9000")
    elif tamper == "old":
        headers = _signed(body, SECRET, 1_000_000)
    elif tamper == "secret":
        headers = _signed(body, "whsec_wrong", None)
    else:
        headers = {}
    with pytest.raises(WebhookSignatureRejected) as rejected:
        await payments.receive_webhook(runtime, "sandbox", headers, body)
    assert rejected.value.code == code
    seen = await payments.payments_of_order(runtime, merchant.principal, order["id"])
    assert seen["data"][0]["status"] == "authorized"
    assert [m["kind"] for m in seen["ledger"]] == ["authorize"]


def _signed(body: bytes, secret: str, timestamp: int | None) -> dict[str, str]:
    """The sandbox's signature scheme, written here independently: t=<unix>,v1=<hex HMAC>."""
    import hashlib
    import hmac
    import time

    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Sandbox-Signature": f"t={t},v1={mac}"}


async def test_reconciliation_finds_an_intent_that_disagrees_with_its_ledger(
        runtime: Runtime) -> None:
    from orderline.payments.reconcile import reconcile_payments
    from orderline.payments.tables import PaymentIntent

    with_sandbox(runtime)
    merchant = await new_merchant(runtime)
    order = await unpaid_order(runtime, merchant)
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    await payments.refund_payment(runtime, merchant.principal, order["id"], amount=250)
    business = merchant.principal.business_id
    assert await reconcile_payments(runtime, business) == []
    intents = table_of(PaymentIntent)
    await runtime.db.run(lambda conn: conn.execute(update(intents).where(
        intents.c.id == uuid.UUID(str(intent["id"]))).values(amount_captured=999)))
    found = await reconcile_payments(runtime, business)
    assert [p.problem for p in found] == [
        "amount_captured is 999 but its capture ledger rows sum to 1000"]
    assert found[0].order_number == order["number"]


async def test_a_provider_that_does_not_answer_leaves_the_attempt_to_resume_under_its_key(
        runtime: Runtime) -> None:
    from orderline.core.errors import PaymentProviderUnavailable

    gateway = with_sandbox(runtime, fail_next_calls=payments.CREATE_ATTEMPTS)
    merchant = await new_merchant(runtime)
    order = await unpaid_order(runtime, merchant)
    with pytest.raises(PaymentProviderUnavailable) as unanswered:
        await payments.start_payment(runtime, merchant.principal, order["id"],
                                     provider="sandbox", payment_method="pm_card_visa")
    first_id = unanswered.value.details["intent_id"]
    resumed = await payments.start_payment(runtime, merchant.principal, order["id"],
                                           provider="sandbox", payment_method="pm_card_visa")
    assert str(resumed["id"]) == first_id and resumed["status"] == "captured"
    assert await ledger_of(runtime, merchant, order["id"]) == [("authorize", 1000),
                                                               ("capture", 1000)]
    assert gateway.behaviour.fail_next_calls == 0
