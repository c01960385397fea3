"""An ``Idempotency-Key`` on every creating request: orders, card payments, refunds, stock
adjustments and payment proofs. The same key and body replay the first answer (status and
body) and create nothing; another body, or another endpoint, is 422
``idempotency_key_reused``; a request still running is 409 ``request_in_progress``; another
business's same key is its own; a request without a key behaves as it always did."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.worker.outbox_admin import prune_relayed
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, all_orders, error_of, levels, ok, order_body
from tests.support.manual import (
    buyer,
    manual_order,
    manual_shop,
    php_merchant,
    receipt_for,
    upload,
)


def keyed(merchant: Merchant, key: str) -> dict[str, str]:
    return {**merchant.headers, "Idempotency-Key": key}


def replayed(response: httpx.Response) -> bool:
    return response.headers["Idempotent-Replayed"] == "true"


async def post_order(client: httpx.AsyncClient, merchant: Merchant, key: str | None,
                     *lines: tuple[str, int], **contact: Any) -> httpx.Response:
    headers = merchant.headers if key is None else keyed(merchant, key)
    return await client.post("/v1/orders", headers=headers, json=order_body(*lines, **contact))


# --- POST /v1/orders -------------------------------------------------------------------------

async def test_an_order_sent_again_with_its_key_is_the_first_answer_and_places_nothing(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    key = str(uuid.uuid4())
    first = await post_order(client, m, key, ("MUG", 2))
    again = await post_order(client, m, key, ("MUG", 2))
    assert (first.status_code, again.status_code) == (201, 201)
    assert not replayed(first) and replayed(again)
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert len(await all_orders(client, m)) == 1
    assert await levels(client, m, "MUG") == (10, 2, 8)  # held once

    error_of(await post_order(client, m, key, ("MUG", 3)), 422, "idempotency_key_reused")
    assert len(await all_orders(client, m)) == 1

    # Another business's same key is its own.
    await add_product(client, rival, "MUG", 10)
    theirs = ok(await post_order(client, rival, key, ("MUG", 3)), 201)
    assert theirs["id"] != first.json()["id"]
    assert len(await all_orders(client, rival)) == 1


async def test_orders_sent_without_a_key_are_each_placed_as_before(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    for _ in range(3):
        answer = ok(await post_order(client, m, None, ("MUG", 1)), 201)
        assert answer["status"] == "pending_payment"
    assert len(await all_orders(client, m)) == 3


async def test_a_refused_order_frees_its_key_for_the_retry_that_fixes_it(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 1)
    key = str(uuid.uuid4())
    error_of(await post_order(client, m, key, ("MUG", 2)), 409, "out_of_stock")
    ok(await client.post("/v1/inventory/adjustments", headers=m.headers, json={
        "sku": "MUG", "delta": 5, "reason": "receipt"}))
    placed = await post_order(client, m, key, ("MUG", 2))
    assert placed.status_code == 201 and not replayed(placed)


async def test_a_second_order_while_the_first_runs_is_told_it_is_in_progress(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    key = str(uuid.uuid4())
    gate = runtime.checkpoints.pause_at("orders.create.claimed")
    first = asyncio.create_task(post_order(client, m, key, ("MUG", 1)))
    await asyncio.wait_for(gate.reached.wait(), 10)
    second = await post_order(client, m, key, ("MUG", 1))
    gate.release()
    error_of(second, 409, "request_in_progress")
    assert (await first).status_code == 201
    assert replayed(await post_order(client, m, key, ("MUG", 1)))
    assert len(await all_orders(client, m)) == 1


async def test_one_key_sent_to_two_endpoints_is_refused_not_replayed(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    key = str(uuid.uuid4())
    ok(await post_order(client, m, key, ("MUG", 1)), 201)
    error_of(await client.post("/v1/inventory/adjustments", headers=keyed(m, key), json={
        "sku": "MUG", "delta": 5, "reason": "receipt"}), 422, "idempotency_key_reused")
    assert await levels(client, m, "MUG") == (10, 1, 9)


async def test_a_key_is_forgotten_after_a_day_and_purged(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    key = str(uuid.uuid4())
    ok(await post_order(client, m, key, ("MUG", 1)), 201)
    clock.advance(23 * 3600)
    assert replayed(await post_order(client, m, key, ("MUG", 1)))
    clock.advance(2 * 3600)
    assert await prune_relayed(runtime) >= 1
    fresh = await post_order(client, m, key, ("MUG", 1))
    assert fresh.status_code == 201 and not replayed(fresh)
    assert len(await all_orders(client, m)) == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there"])
async def test_a_blank_long_or_unprintable_key_is_refused(
        client: httpx.AsyncClient, runtime: Runtime, key: str) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    error_of(await post_order(client, m, key, ("MUG", 1)), 422, "validation_error")
    assert await all_orders(client, m) == []


# --- POST /v1/inventory/adjustments ----------------------------------------------------------

async def test_a_stock_adjustment_sent_again_with_its_key_adjusts_once(
        client: httpx.AsyncClient, runtime: Runtime, rival: Merchant) -> None:
    m = await new_merchant(runtime)
    await add_product(client, m, "MUG", 10)
    key = str(uuid.uuid4())
    body = {"sku": "MUG", "delta": 5, "reason": "receipt", "note": "crate 7"}
    first = await client.post("/v1/inventory/adjustments", headers=keyed(m, key), json=body)
    again = await client.post("/v1/inventory/adjustments", headers=keyed(m, key), json=body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json() and replayed(again)
    assert first.json()["on_hand"] == 15
    assert await levels(client, m, "MUG") == (15, 0, 15)
    error_of(await client.post("/v1/inventory/adjustments", headers=keyed(m, key),
                               json={**body, "delta": 6}), 422, "idempotency_key_reused")
    assert await levels(client, m, "MUG") == (15, 0, 15)

    await add_product(client, rival, "MUG", 1)
    theirs = ok(await client.post("/v1/inventory/adjustments", headers=keyed(rival, key),
                                  json=body))
    assert theirs["on_hand"] == 6


# --- POST /v1/orders/{id}/payments and /refunds ----------------------------------------------

@pytest.fixture
def sandbox(runtime: Runtime, client: httpx.AsyncClient) -> SandboxGateway:
    async def deliver(headers: dict[str, str], body: bytes) -> None:
        answer = await client.post("/v1/payments/webhooks/sandbox", headers=headers,
                                   content=body)
        assert answer.status_code == 200, answer.text

    gateway = SandboxGateway(secret="whsec_idempotency", deliver=deliver)
    providers_of(runtime)["sandbox"] = gateway
    return gateway


async def card_order(client: httpx.AsyncClient, merchant: Merchant) -> dict[str, Any]:
    await add_product(client, merchant, "MUG", 10, price=750)
    order: dict[str, Any] = ok(await post_order(client, merchant, None, ("MUG", 2)), 201)
    return order


async def test_a_card_payment_sent_again_with_its_key_is_one_payment(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway,
        rival: Merchant) -> None:
    m = await new_merchant(runtime)
    order = await card_order(client, m)
    path = f"/v1/orders/{order['id']}/payments"
    key = str(uuid.uuid4())
    body = {"provider": "sandbox", "payment_method": "pm_card_visa"}
    first = await client.post(path, headers=keyed(m, key), json=body)
    again = await client.post(path, headers=keyed(m, key), json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and replayed(again)
    error_of(await client.post(path, headers=keyed(m, key), json={
        **body, "payment_method": "pm_card_mastercard"}), 422, "idempotency_key_reused")
    await sandbox.wait_for_deliveries()
    seen = ok(await client.get(path, headers=m.headers))
    assert len(seen["data"]) == 1
    assert [(e["kind"], e["amount"]) for e in seen["ledger"]] == [("authorize", 1500),
                                                                  ("capture", 1500)]

    theirs = await card_order(client, rival)
    paid = ok(await client.post(f"/v1/orders/{theirs['id']}/payments",
                                headers=keyed(rival, key), json=body), 201)
    assert paid["id"] != first.json()["id"]


async def test_a_refund_sent_again_with_its_key_refunds_once(
        client: httpx.AsyncClient, runtime: Runtime, sandbox: SandboxGateway,
        rival: Merchant) -> None:
    m = await new_merchant(runtime)
    order = await card_order(client, m)
    ok(await client.post(f"/v1/orders/{order['id']}/payments", headers=m.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    path = f"/v1/orders/{order['id']}/refunds"
    key = str(uuid.uuid4())
    body = {"amount": 400, "reason": "one mug chipped"}
    first = await client.post(path, headers=keyed(m, key), json=body)
    again = await client.post(path, headers=keyed(m, key), json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and replayed(again)
    assert first.json()["amount_refunded"] == 400
    error_of(await client.post(path, headers=keyed(m, key), json={**body, "amount": 500}),
             422, "idempotency_key_reused")
    await sandbox.wait_for_deliveries()
    seen = ok(await client.get(f"/v1/orders/{order['id']}/payments", headers=m.headers))
    assert [e["amount"] for e in seen["ledger"] if e["kind"] == "refund"] == [400]

    theirs = await card_order(client, rival)
    ok(await client.post(f"/v1/orders/{theirs['id']}/payments", headers=rival.headers,
                         json={"provider": "sandbox", "payment_method": "pm_card_visa"}), 201)
    refunded = ok(await client.post(f"/v1/orders/{theirs['id']}/refunds",
                                    headers=keyed(rival, key), json=body), 201)
    assert refunded["amount_refunded"] == 400


# --- PUT /v1/orders/{id}/payment-proof -------------------------------------------------------

def proofs_url(order: dict[str, Any]) -> str:
    return f"/v1/orders/{order['id']}/payment-proofs"


async def test_a_proof_sent_again_with_its_key_is_one_proof(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await manual_order(http, shop)
    key = str(uuid.uuid4())
    headers = {**buyer(order), "Idempotency-Key": key}
    receipt = receipt_for(order)
    first = await upload(http, order, receipt, headers=headers)
    again = await upload(http, order, receipt, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and replayed(again)
    error_of(await upload(http, order, receipt_for(order), headers=headers), 422,
             "idempotency_key_reused")
    proofs = ok(await http.get(proofs_url(order), headers=buyer(order)))["data"]
    assert [p["id"] for p in proofs] == [first.json()["id"]]


async def test_a_multipart_proof_is_fingerprinted_by_its_bytes_and_fields(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order = await manual_order(http, shop)
    key = str(uuid.uuid4())
    headers = {**buyer(order), "Idempotency-Key": key}
    receipt = receipt_for(order)
    url = f"/v1/orders/{order['id']}/payment-proof"

    async def send(content: bytes, note: str) -> httpx.Response:
        return await http.put(url, headers=headers, data={"note": note},
                              files={"file": ("receipt.png", content, "image/png")})

    first = ok(await send(receipt, "paid at 10:15"), 201)
    again = await send(receipt, "paid at 10:15")
    assert again.status_code == 201 and replayed(again) and again.json() == first
    error_of(await send(receipt, "paid at 10:16"), 422, "idempotency_key_reused")
    error_of(await send(receipt_for(order), "paid at 10:15"), 422, "idempotency_key_reused")
    assert len(ok(await http.get(proofs_url(order), headers=buyer(order)))["data"]) == 1


async def test_another_business_may_use_the_same_key_for_its_own_proof(
        http: httpx.AsyncClient, shop: Merchant, rival_shop: Merchant) -> None:
    key = str(uuid.uuid4())
    ours, theirs = await manual_order(http, shop), await manual_order(http, rival_shop)
    mine = ok(await upload(http, ours, receipt_for(ours),
                           headers={**buyer(ours), "Idempotency-Key": key}), 201)
    other = await upload(http, theirs, receipt_for(theirs),
                         headers={**buyer(theirs), "Idempotency-Key": key})
    assert other.status_code == 201 and not replayed(other)
    assert other.json()["id"] != mine["id"]


@pytest.fixture
async def rival_shop(shop_runtime: Runtime, http: httpx.AsyncClient) -> Merchant:
    merchant = await php_merchant(shop_runtime, name="Rival")
    await manual_shop(http, merchant)
    return merchant

