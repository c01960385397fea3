"""Card payments over HTTP with the sandbox gateway, whose signed webhooks are POSTed to the
API's own webhook endpoint, exactly as a real gateway would."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest

from orderline.adapters.gateways.sandbox import SandboxGateway
from orderline.bootstrap import Runtime
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, error_of, levels, movements, ok, place_order

SECRET = "whsec_e2e_sandbox"


@pytest.fixture
def sandbox(runtime: Runtime, client: httpx.AsyncClient) -> SandboxGateway:
    async def deliver(headers: dict[str, str], body: bytes) -> None:
        answer = await client.post("/v1/payments/webhooks/sandbox", headers=headers,
                                   content=body)
        assert answer.status_code == 200, answer.text

    gateway = SandboxGateway(secret=SECRET, deliver=deliver)
    runtime.providers["sandbox"] = gateway
    return gateway


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
    runtime.providers["sandbox"] = SandboxGateway(secret=SECRET)  # webhooks kept, not sent
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
