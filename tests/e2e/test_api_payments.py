"""Card payments over HTTP with the sandbox gateway, whose signed webhooks are POSTed to the
API's own webhook endpoint, exactly as a real gateway would."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from orderline.core.runtime import Runtime
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import (
    add_product,
    api_client,
    error_of,
    levels,
    movements,
    ok,
    place_order,
)

SECRET = "whsec_e2e_sandbox"


async def an_order(client: httpx.AsyncClient, merchant: Merchant) -> dict[str, Any]:
    await add_product(client, merchant, "MUG", 10, price=750)
    order: dict[str, Any] = await place_order(client, merchant, ("MUG", 2))
    return order


def signed(body: bytes, secret: str = SECRET, t: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Sandbox-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


async def test_a_card_payment_pays_the_order_through_the_signed_webhooks(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await an_order(client, m)
    intent = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                  json={"provider": "sandbox",
                                        "payment_method": "pm_card_visa"}), 201)
    assert (intent["status"], intent["amount_captured"]) == ("captured", 1500)
    await sandbox.wait_for_deliveries()
    assert sandbox.failed_deliveries == []
    paid = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert paid["status"] == "paid"
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert [(e["kind"], e["amount"]) for e in seen["ledger"]] == [("authorize", 1500),
                                                                  ("capture", 1500)]


async def test_a_declined_card_is_402_with_the_reason(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await an_order(client, m)
    declined = await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                 json={"provider": "sandbox",
                                       "payment_method": "pm_card_insufficient_funds"})
    details = error_of(declined, 402, "payment_failed")
    assert details["decline_code"] == "insufficient_funds"
    unknown = await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                json={"provider": "nope"})
    error_of(unknown, 422, "unknown_payment_provider")


@pytest.mark.parametrize("case, code", [
    ("tampered", "signature_invalid"), ("old", "timestamp_outside_tolerance"),
    ("wrong_secret", "signature_invalid"), ("missing", "signature_missing")])
async def test_an_unverifiable_webhook_is_400_with_its_code_and_changes_nothing(
        client: httpx.AsyncClient, runtime: Runtime, case: str, code: str) -> None:
    # Webhooks kept, not sent.
    providers_of(runtime)["sandbox"] = SandboxGateway(secret=SECRET, db=runtime.db)
    m = await new_merchant(runtime)
    order = await an_order(client, m)
    intent = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                  json={"provider": "sandbox",
                                        "payment_method": "pm_card_visa"}), 201)
    body = (b'{"id": "evt_forged", "type": "payment_intent.succeeded", "created": '
            + str(int(time.time())).encode() + b', "data": {"object": {"id": "'
            + intent["provider_ref"].encode() + b'"}}}')
    headers = {"tampered": signed(body), "old": signed(body, t=int(time.time()) - 3600),
               "wrong_secret": signed(body, secret="whsec_other"),
               "missing": {"Content-Type": "application/json"}}[case]
    # Tampered: signed as sent by the gateway, then changed on the way.
    sent = body.replace(b"evt_forged", b"evt_altered") if case == "tampered" else body
    error_of(await client.post("/v1/payments/webhooks/sandbox", headers=headers, content=sent),
             400, code)
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert len(seen["ledger"]) == 2  # the payment's own authorize and capture, nothing more


async def test_refunds_are_limited_to_what_was_captured(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await an_order(client, m)
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    refund = ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                                  json={"amount": 1000, "reason": "one mug broke"}), 201)
    assert refund["amount_refunded"] == 1000
    error_of(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                               json={"amount": 501}), 409, "refund_exceeds_captured")
    ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers,
                         json={"amount": 500}), 201)


async def test_another_business_cannot_pay_read_capture_or_refund_an_order(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway,
        rival: Merchant) -> None:
    m = await new_merchant(runtime)
    order = await an_order(client, m)
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    base = f"/v1/orders/{order['id']}"
    for method, path, body in (("POST", "/payments", {"provider": "sandbox"}),
                               ("GET", "/payments", None),
                               ("POST", "/payments/capture", {}),
                               ("POST", "/refunds", {"amount": 100})):
        answer = await client.request(method, base + path, headers=rival.headers, json=body)
        error_of(answer, 404, "not_found")
    seen = ok(await client.get(f"{base}/payments", headers=m.headers))
    assert [e["kind"] for e in seen["ledger"]] == ["authorize", "capture"]


async def test_refunding_lines_gives_back_their_share_and_can_restock_them(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await an_order(client, m)  # 2 x 750
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    first = ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 1}], "restock": True, "reason": "returned"}), 201)
    assert first["amount_refunded"] == 750
    assert await levels(client, m, "MUG") == (9, 0, 9)  # 10 - 2 sold + 1 back
    # The order's line says how many of its units were refunded.
    line, = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))["lines"]
    assert (line["quantity"], line["refunded_quantity"]) == (2, 1)
    error_of(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 2}]}), 409, "refund_exceeds_captured")
    last = ok(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers, json={
        "lines": [{"sku": "MUG", "quantity": 1}]}), 201)
    assert last["amount_refunded"] == 1500
    assert await levels(client, m, "MUG") == (9, 0, 9)  # not restocked this time
    moves = [mv["reason"] for mv in await movements(client, m, "MUG")]
    assert moves.count("return") == 1
    error_of(await client.post(f"/v1/orders/{order['id']}/refunds", headers=m.headers, json={
        "amount": 100, "lines": [{"sku": "MUG", "quantity": 1}]}), 422, "validation_error")


async def test_cancelling_a_paid_card_order_is_refused_until_its_money_is_refunded(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    order = await an_order(client, m)  # 2 x 750
    base = f"/v1/orders/{order['id']}"
    ok(await client.post(f"{base}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    for cancel in (client.patch(f"{base}/status", headers=m.headers,
                                json={"status": "cancelled"}),
                   client.delete(base, headers=m.headers)):
        details = error_of(await cancel, 409, "refund_first")
        assert details["held"] == 1500 and details["refund"].endswith(f"{base}/refunds")
    refused = await client.patch(f"{base}/status", headers=m.headers,
                                 json={"status": "cancelled"})
    assert "refund it first" in refused.json()["error"]["message"].lower()
    assert ok(await client.get(base, headers=m.headers))["status"] == "paid"
    seen = ok(await client.get(f"{base}/payments", headers=m.headers))
    assert (seen["data"][0]["amount_captured"], seen["data"][0]["amount_refunded"]) == (1500, 0)

    ok(await client.post(f"{base}/refunds", headers=m.headers, json={"amount": 1500}), 201)
    cancelled = ok(await client.patch(f"{base}/status", headers=m.headers,
                                      json={"status": "cancelled"}))
    assert cancelled["status"] == "cancelled"
    assert await levels(client, m, "MUG") == (10, 0, 10)


async def test_with_manual_capture_shipping_captures_the_authorised_payment_first(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    error_of(await client.patch("/v1/business", headers=m.headers,
                                json={"capture_mode": "later"}), 422, "validation_error")
    assert ok(await client.patch("/v1/business", headers=m.headers,
                                 json={"capture_mode": "manual"}))["capture_mode"] == "manual"
    order = await an_order(client, m)
    intent = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                  json={"provider": "sandbox",
                                        "payment_method": "pm_card_visa"}), 201)
    assert (intent["status"], intent["amount_captured"]) == ("authorized", 0)
    held = ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))
    assert held["status"] == "pending_payment"
    assert held["payment_deadline"] > order["payment_deadline"]  # the authorisation holds it
    shipped = ok(await client.patch(f"/v1/orders/{order['id']}/shipping", headers=m.headers,
                                    json={"carrier": "UPS", "tracking_number": "1Z999"}))
    assert shipped["status"] == "shipped"
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert [(e["kind"], e["amount"]) for e in seen["ledger"]] == [("authorize", 1500),
                                                                  ("capture", 1500)]


class StripeIntents:
    """A stand-in for the Stripe client's PaymentIntents service: no network; it answers
    creation with an intent that needs the buyer's 3-D Secure step."""

    def __init__(self) -> None:
        self.created: dict[str, Any] = {}

    async def create_async(self, params: dict[str, Any], options: Any = None) -> Any:
        import stripe

        self.created = {"id": "pi_e2e_1", "object": "payment_intent", "amount": params["amount"],
                        "amount_capturable": 0, "amount_received": 0,
                        "currency": params["currency"], "status": "requires_action",
                        "capture_method": params["capture_method"],
                        "client_secret": "pi_e2e_1_secret", "last_payment_error": None,
                        "next_action": {"type": "redirect_to_url", "redirect_to_url": {
                            "url": "https://hooks.stripe.invalid/3ds"}},
                        "metadata": params["metadata"], "livemode": False}
        return stripe.PaymentIntent.construct_from(self.created, "sk_test_not_used")


def stripe_event(event_id: str, type_: str, created: int, intent: dict[str, Any]) -> bytes:
    import json

    return json.dumps({"id": event_id, "object": "event", "type": type_, "created": created,
                       "api_version": "2024-06-20", "livemode": False,
                       "data": {"object": intent}}).encode()


def stripe_signed(body: bytes, secret: str) -> dict[str, str]:
    """Stripe's scheme, written here on its own: t=<unix>,v1=<HMAC-SHA256 of "t.body">."""
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


async def test_stripe_webhooks_pay_the_order_once_and_a_late_created_event_changes_nothing(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    from types import SimpleNamespace

    import stripe

    from orderline.payments.providers.stripe_gateway import StripeGateway

    secret = "whsec_e2e_stripe"
    intents = StripeIntents()
    real = stripe.StripeClient("sk_test_not_used")  # verifies signatures; calls nothing here
    stand_in = SimpleNamespace(v1=SimpleNamespace(payment_intents=intents),
                               construct_event=real.construct_event)
    providers_of(runtime)["stripe"] = StripeGateway(api_key="sk_test_not_used",
                                                webhook_secret=secret,
                                                client=stand_in)  # type: ignore[arg-type]
    m = await new_merchant(runtime)
    order = await an_order(client, m)
    started = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                   json={"provider": "stripe", "payment_method": "pm_card"}),
                 201)
    assert started["status"] == "requires_action" and started["provider_ref"] == "pi_e2e_1"
    now = int(time.time())
    succeeded = stripe_event("evt_succeeded", "payment_intent.succeeded", now, {
        **intents.created, "status": "succeeded", "amount_received": 1500,
        "next_action": None})
    created = stripe_event("evt_created", "payment_intent.created", now - 5, intents.created)
    hook = "/v1/payments/webhooks/stripe"
    for body, expected in ((succeeded, "applied"), (created, "stale"),
                           (succeeded, "duplicate")):
        answer = ok(await client.post(hook, headers=stripe_signed(body, secret), content=body))
        assert answer["outcome"] == expected
    assert ok(await client.get(f"/v1/orders/{order['id']}", headers=m.headers))["status"] == "paid"
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert seen["data"][0]["status"] == "captured"
    assert [(e["kind"], e["amount"]) for e in seen["ledger"]] == [("authorize", 1500),
                                                                  ("capture", 1500)]
    tampered = succeeded.replace(b"1500", b"15000")
    error_of(await client.post(hook, headers=stripe_signed(succeeded, secret), content=tampered),
             400, "signature_invalid")


async def test_the_business_chooses_which_provider_takes_its_card_payments(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway) -> None:
    m = await new_merchant(runtime)
    error_of(await client.patch("/v1/business", headers=m.headers,
                                json={"card_provider": "paypal"}), 422, "validation_error")
    providers_of(runtime)["other"] = SandboxGateway(secret="whsec_other_gateway",
                                                    db=runtime.db)
    assert ok(await client.patch("/v1/business", headers=m.headers,
                                 json={"card_provider": "other"}))["card_provider"] == "other"
    order = await an_order(client, m)
    intent = ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                  json={"payment_method": "pm_card_visa"}), 201)
    assert (intent["provider"], intent["status"]) == ("other", "captured")


async def test_in_production_the_documented_sandbox_secret_pays_nothing(
        runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={
        "environment": "production", "sandbox_enabled": False,
        "proof_master_keys": SecretStr("k1:" + "A" * 44)})
    production = provide_parts(Runtime(settings=settings, db=runtime.db))
    async with api_client(production) as client:
        m = await new_merchant(production)
        order = await an_order(client, m)
        body = (b'{"id": "evt_doc", "type": "payment_intent.succeeded", "created": '
                + str(int(time.time())).encode() + b', "data": {"object": {"id": "pi_x"}}}')
        error_of(await client.post("/v1/payments/webhooks/sandbox", content=body,
                                   headers=signed(body, secret="whsec_sandbox_local")),
                 422, "unknown_payment_provider")
        error_of(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                                   json={"provider": "sandbox",
                                         "payment_method": "pm_card_visa"}),
                 422, "unknown_payment_provider")
        assert ok(await client.get(f"/v1/orders/{order['id']}",
                                   headers=m.headers))["status"] == "pending_payment"
