"""Paying a change's payment request with a proof of transfer, over HTTP: the buyer of an
order paid by GCash owes money for a change of its lines, sends a receipt for the request
(its amount and reference, not the order's), the verification queue shows it as the
payment for change N, and approving it books the money and applies the change in one
transaction; a rejection leaves the request open; a request that lapsed or was cancelled
refuses the approval with nothing booked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_READER
from orderline.manual_payments.scoring import score_due
from orderline.order_changes import service as order_changes
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant
from tests.e2e.conftest import balanced, error_of, levels, ok
from tests.support.manual import (
    buyer,
    manual_order,
    manual_shop,
    php_merchant,
    receipt_for,
    upload,
)

TEE = 125_000


@pytest.fixture(autouse=True)
async def no_request_left_open(shop_runtime: Runtime,
                               clock: ManualClock) -> AsyncIterator[None]:
    """The database is shared: a request a test leaves open would be due in another's sweep."""
    yield
    clock.advance(400 * 3600)  # past any deadline (336 hours at most)
    await order_changes.lapse_due_requests(shop_runtime)


async def paid_by_gcash(http: httpx.AsyncClient, shop: Merchant,
                        phone: str = "+63 917 555 0199") -> dict[str, Any]:
    """One TEE (PHP 1,250.00) paid by GCash: its proof approved."""
    order = await manual_order(http, shop, phone=phone)
    receipt = receipt_for(order)
    proof = ok(await upload(http, order, receipt), 201)
    ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=shop.headers))
    paid = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert paid["status"] == "paid"
    return {**order, "version": paid["version"], "receipt": receipt}


async def one_more_tee(http: httpx.AsyncClient, shop: Merchant,
                       order: dict[str, Any]) -> dict[str, Any]:
    """A change to one TEE more: the buyer owes one more, the unit held."""
    have = next(line["quantity"] for line in order["lines"] if line["sku"] == "TEE")
    change: dict[str, Any] = ok(await http.post(
        f"/v1/orders/{order['id']}/changes", headers=shop.headers,
        json={"change": [{"sku": "TEE", "quantity": have + 1}]}), 201)
    assert change["status"] == "awaiting_payment"
    assert change["payment_request"]["amount"] == TEE
    return change


def change_receipt(instructions: dict[str, Any], *, amount: int | None = None,
                   noise: str = "") -> bytes:
    """The receipt of the transfer the instructions ask for."""
    return receipt_for({"manual_payment": {
        "amount": instructions["amount"], "currency": instructions["currency"],
        "reference": instructions["reference"]}}, amount=amount, noise=noise)


def proofs_url(order: dict[str, Any], change: dict[str, Any]) -> str:
    return f"/v1/orders/{order['id']}/changes/{change['id']}/proofs"


async def instructions_of(http: httpx.AsyncClient, order: dict[str, Any],
                          change: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = ok(await http.get(
        f"/v1/orders/{order['id']}/changes/{change['id']}/payment-instructions",
        headers=buyer(order)))
    return shown


async def ledger(http: httpx.AsyncClient, shop: Merchant,
                 order: dict[str, Any]) -> list[tuple[str, int, str]]:
    payments = ok(await http.get(f"/v1/orders/{order['id']}/payments", headers=shop.headers))
    return [(m["kind"], m["amount"], m.get("source") or "") for m in payments["ledger"]]


async def change_of(http: httpx.AsyncClient, shop: Merchant, order: dict[str, Any],
                    change: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = ok(await http.get(
        f"/v1/orders/{order['id']}/changes/{change['id']}", headers=shop.headers))
    return shown


async def test_a_proof_for_a_change_is_shown_as_its_payment_and_approving_it_applies_the_change(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await paid_by_gcash(http, shop)
    change = await one_more_tee(http, shop, order)
    assert await levels(http, shop, "TEE") == (9, 1, 8)  # the added unit held
    told = await instructions_of(http, order, change)
    reference = order["manual_payment"]["reference"]
    assert (told["amount"], told["currency"], told["change_number"]) == (TEE, "PHP", 1)
    assert told["reference"] == f"{reference}-C1" and told["status"] == "open"
    assert told["method"]["account_name"] == "Juan Dela Cruz"
    assert "PHP 1,250.00" in told["instructions"] and f"{reference}-C1" in told["instructions"]
    assert told["proof_deadline"] == change["payment_request"]["deadline"]

    sent = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                              content=change_receipt(told)), 201)
    assert sent["status"] == "pending"
    assert sent["payment_request_id"] == change["payment_request"]["id"]
    assert "score" not in sent  # the buyer's view

    queue = ok(await http.get("/v1/verifications", headers=shop.headers))["data"]
    assert [p["id"] for p in queue] == [sent["id"]]
    shown = queue[0]
    assert shown["change"]["number"] == 1 and shown["change"]["amount"] == TEE
    assert shown["change"]["status"] == "open"
    assert shown["expected_amount"] == TEE and shown["reference"] == f"{reference}-C1"
    assert shown["order"]["number"] == order["number"]

    approved = ok(await http.post(f"/v1/verifications/{sent['id']}/approve",
                                  headers=shop.headers))
    assert approved["status"] == "approved" and approved["change"]["status"] == "paid"
    done = await change_of(http, shop, order, change)
    assert done["status"] == "applied"
    assert (done["payment_request"]["status"], done["payment_request"]["paid_by"]) == (
        "paid", "proof")
    after = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert after["total"] == 2 * TEE
    assert [line["quantity"] for line in after["lines"] if line["sku"] == "TEE"] == [2]
    assert await levels(http, shop, "TEE") == (8, 0, 8)  # the held unit sold, once
    assert [(kind, amount) for kind, amount, _ in await ledger(http, shop, order)] == [
        ("collect", TEE), ("collect", TEE)]
    assert await balanced(http, shop)
    detail = ok(await http.get(f"/v1/verifications/{sent['id']}", headers=shop.headers))
    assert [a["action"] for a in detail["audit"]][:1] == ["submitted"]
    assert "approved" in [a["action"] for a in detail["audit"]]
    # Paid: the request takes no more proofs, and the proof cannot be decided again.
    error_of(await http.post(proofs_url(order, change), headers=buyer(order),
                             content=change_receipt(told, noise="again")), 409,
             "proof_not_accepted")
    error_of(await http.post(f"/v1/verifications/{sent['id']}/approve",
                             headers=shop.headers), 409, "already_verified")


async def test_rejecting_a_change_proof_leaves_the_request_open_for_another(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await paid_by_gcash(http, shop)
    change = await one_more_tee(http, shop, order)
    told = await instructions_of(http, order, change)
    first = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                               content=change_receipt(told, amount=1_000)), 201)
    ok(await http.post(f"/v1/verifications/{first['id']}/reject", headers=shop.headers,
                       json={"reason": "The amount is not the change's."}))
    still = await change_of(http, shop, order, change)
    assert (still["status"], still["payment_request"]["status"]) == ("awaiting_payment",
                                                                      "open")
    assert await levels(http, shop, "TEE") == (9, 1, 8)
    assert len(await ledger(http, shop, order)) == 1  # the order's own payment only
    mine = (await instructions_of(http, order, change))["proofs"]
    assert [(p["status"], p["reason"]) for p in mine] == [
        ("rejected", "The amount is not the change's.")]
    second = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                                content=change_receipt(told)), 201)
    ok(await http.post(f"/v1/verifications/{second['id']}/approve", headers=shop.headers))
    assert (await change_of(http, shop, order, change))["status"] == "applied"
    assert await levels(http, shop, "TEE") == (8, 0, 8)


async def test_a_new_proof_for_a_change_replaces_one_still_waiting(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await paid_by_gcash(http, shop)
    change = await one_more_tee(http, shop, order)
    told = await instructions_of(http, order, change)
    first = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                               content=change_receipt(told, noise="one")), 201)
    second = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                                content=change_receipt(told, noise="two")), 201)
    statuses = {p["id"]: p["status"] for p in (await instructions_of(http, order, change))[
        "proofs"]}
    assert statuses == {first["id"]: "superseded", second["id"]: "pending"}
    queue = ok(await http.get("/v1/verifications", headers=shop.headers))["data"]
    assert [p["id"] for p in queue] == [second["id"]]


async def test_a_proof_approved_after_the_request_lapsed_or_was_cancelled_books_nothing(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime,
        clock: ManualClock) -> None:
    lapsing = await paid_by_gcash(http, shop)
    change = await one_more_tee(http, shop, lapsing)
    told = await instructions_of(http, lapsing, change)
    sent = ok(await http.post(proofs_url(lapsing, change), headers=buyer(lapsing),
                              content=change_receipt(told)), 201)
    clock.advance(49 * 3600)
    # Past the deadline, not yet swept: refused by the deadline itself.
    error_of(await http.post(f"/v1/verifications/{sent['id']}/approve",
                             headers=shop.headers), 409, "payment_deadline_passed")
    error_of(await http.post(proofs_url(lapsing, change), headers=buyer(lapsing),
                             content=change_receipt(told, noise="late")), 409,
             "proof_deadline_passed")
    assert await order_changes.lapse_due_requests(shop_runtime) >= 1  # (the shared database)
    assert (await change_of(http, shop, lapsing, change))["status"] == "lapsed"
    error_of(await http.post(f"/v1/verifications/{sent['id']}/approve",
                             headers=shop.headers), 409, "order_change_closed")
    shown = ok(await http.get(f"/v1/verifications/{sent['id']}", headers=shop.headers))
    assert shown["status"] == "pending" and shown["change"]["status"] == "lapsed"
    assert len(await ledger(http, shop, lapsing)) == 1
    assert await levels(http, shop, "TEE") == (9, 0, 9)  # the held unit went back
    # The merchant clears it from the queue with a rejection.
    ok(await http.post(f"/v1/verifications/{sent['id']}/reject", headers=shop.headers,
                       json={"reason": "The change lapsed; we will refund this transfer."}))

    cancelled = await paid_by_gcash(http, shop, phone="+63 917 555 0142")
    other = await one_more_tee(http, shop, cancelled)
    told = await instructions_of(http, cancelled, other)
    waiting = ok(await http.post(proofs_url(cancelled, other), headers=buyer(cancelled),
                                 content=change_receipt(told)), 201)
    ok(await http.post(f"/v1/orders/{cancelled['id']}/changes/{other['id']}/cancel",
                       headers=shop.headers))
    error_of(await http.post(f"/v1/verifications/{waiting['id']}/approve",
                             headers=shop.headers), 409, "order_change_closed")
    assert len(await ledger(http, shop, cancelled)) == 1
    # The change's event takes its waiting proof out of the queue, audited.
    await default_relay(shop_runtime).relay_until_idle()
    gone = ok(await http.get(f"/v1/verifications/{waiting['id']}", headers=shop.headers))
    assert gone["status"] == "cancelled"
    assert gone["audit"][-1]["action"] == "change_closed"
    queue = ok(await http.get("/v1/verifications", headers=shop.headers))["data"]
    assert waiting["id"] not in [p["id"] for p in queue]
    error_of(await http.post(f"/v1/verifications/{waiting['id']}/approve",
                             headers=shop.headers), 409, "invalid_transition")
    after = ok(await http.get(f"/v1/orders/{cancelled['id']}", headers=shop.headers))
    assert after["total"] == TEE
    assert await balanced(http, shop)


async def test_a_change_proof_is_refused_for_others_and_for_a_receipt_already_used(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order = await paid_by_gcash(http, shop)
    change = await one_more_tee(http, shop, order)
    told = await instructions_of(http, order, change)
    stranger = await php_merchant(shop_runtime, name="Another shop")
    await manual_shop(http, stranger)
    elsewhere = await manual_order(http, stranger, phone="+63 917 555 0777")
    receipt = change_receipt(told)
    # Another business's key, another order's token: as if the change did not exist.
    error_of(await http.post(proofs_url(order, change), headers=stranger.headers,
                             content=receipt), 404, "not_found")
    error_of(await http.post(proofs_url(order, change), headers=buyer(elsewhere),
                             content=receipt), 404, "not_found")
    error_of(await http.get(
        f"/v1/orders/{order['id']}/changes/{change['id']}/payment-instructions",
        headers=stranger.headers), 404, "not_found")
    # A change of another order of the same business is not this order's.
    second = await paid_by_gcash(http, shop, phone="+63 917 555 0143")
    error_of(await http.post(proofs_url(second, change), headers=buyer(second),
                             content=receipt), 404, "not_found")
    # The receipt of the order's own payment does not pay the change.
    error_of(await http.post(proofs_url(order, change), headers=buyer(order),
                             content=order["receipt"]), 409, "duplicate_proof")
    # Same cleaning and limits as the order's upload.
    error_of(await http.post(proofs_url(order, change), headers=buyer(order),
                             content=b"not an image at all"), 415, "unsupported_file_type")
    # The merchant's key may send it too, and sees the merchant's view.
    sent = ok(await http.post(proofs_url(order, change), headers=shop.headers,
                              content=receipt), 201)
    assert sent["payment_request_id"] == change["payment_request"]["id"]
    assert sent["expected_amount"] == TEE and sent["reference"] == told["reference"]
    # An order paid by card has no transfer account to pay a change into.
    card = ok(await http.post("/v1/orders", headers=shop.headers, json={
        "customer": {"name": "Ana", "phone": "+63 917 555 0144"}, "channel": "whatsapp",
        "payment_method": "bank_transfer", "lines": [{"sku": "TEE", "quantity": 1}]}), 201)
    ok(await http.patch(f"/v1/orders/{card['id']}/payment", headers=shop.headers,
                        json={}))
    not_manual = await one_more_tee(http, shop, card)
    error_of(await http.post(proofs_url(card, not_manual), headers=buyer(card),
                             content=change_receipt(told, noise="card")), 409,
             "proof_not_accepted")


class RequestReceipt:
    """A proof reader that reads every proof as the transfer of ``amount`` with
    ``reference`` to the shop's account today."""

    def __init__(self, amount: str, reference: str) -> None:
        self.text = (f"GCash\nAmount: PHP {amount}\nRef: {reference}\n"
                     f"Date: {datetime.now(UTC).strftime('%b %d, %Y')}\nSent to\n"
                     "Juan Dela Cruz\n")

    def available(self) -> bool:
        return True

    async def read_text(self, content: bytes, media_type: str) -> str:
        return self.text


async def test_a_change_proof_is_scored_against_the_request_not_the_order_total(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order = await ok_order_of_two(http, shop)
    change = await one_more_tee(http, shop, order)
    told = await instructions_of(http, order, change)
    shop_runtime.put(PROOF_READER, RequestReceipt("1,250.00", told["reference"]))
    sent = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                              content=change_receipt(told)), 201)
    while await score_due(shop_runtime):
        pass
    scored = ok(await http.get(f"/v1/verifications/{sent['id']}", headers=shop.headers))
    checks = {c["name"]: c["passed"] for c in scored["checks"]}
    assert checks == {"amount": True, "reference": True, "date": True, "recipient": True}
    # The order's own reference alone does not match the change's request.
    shop_runtime.put(PROOF_READER, RequestReceipt("1,250.00",
                                                  order["manual_payment"]["reference"]))
    again = ok(await http.post(proofs_url(order, change), headers=buyer(order),
                               content=change_receipt(told, noise="own ref")), 201)
    while await score_due(shop_runtime):
        pass
    wrong = ok(await http.get(f"/v1/verifications/{again['id']}", headers=shop.headers))
    assert {c["name"]: c["passed"] for c in wrong["checks"]}["reference"] is False


async def ok_order_of_two(http: httpx.AsyncClient, shop: Merchant) -> dict[str, Any]:
    """Two TEE paid by GCash (PHP 2,500.00): a request for one more is not its total."""
    order = await manual_order(http, shop, quantity=2)
    proof = ok(await upload(http, order, receipt_for(order)), 201)
    ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=shop.headers))
    return order


async def test_the_order_page_takes_a_change_proof_for_its_own_order_only(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order = await paid_by_gcash(http, shop)
    change = await one_more_tee(http, shop, order)
    other = await paid_by_gcash(http, shop, phone="+63 917 555 0145")
    told = await instructions_of(http, order, change)
    files = {"file": ("receipt.png", change_receipt(told), "image/png")}
    # Another order's link does not reach this change.
    refused = await http.post(f"/o/{other['access_token']}/changes/{change['id']}/proof",
                              files=files)
    assert refused.status_code == 404
    page = await http.get(f"/o/{order['access_token']}")
    assert told["reference"] in page.text and "Send the proof of transfer" in page.text
    sent = await http.post(f"/o/{order['access_token']}/changes/{change['id']}/proof",
                           files=files)
    assert sent.status_code == 303
    mine = (await instructions_of(http, order, change))["proofs"]
    assert [p["status"] for p in mine] == ["pending"]
    bad = await http.post(f"/o/{order['access_token']}/changes/{change['id']}/proof",
                          files={"file": ("x.txt", b"plain words", "text/plain")})
    assert bad.status_code == 415 and "This kind of file is not accepted" in bad.text
