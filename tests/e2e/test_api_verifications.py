"""The merchant's verification queue over HTTP: OCR scores in the worker, approval books the
money and pays the order, rejection tells the buyer, bulk decisions, figures, the audit log,
the verify scope, and isolation between businesses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.events import live
from orderline.manual_payments.files.configured import PROOF_READER
from orderline.manual_payments.files.ocr import NoReader
from orderline.manual_payments.review_rules import AGREEMENT_THRESHOLD_BP
from orderline.manual_payments.scoring import score_due
from orderline.notifications import store as notification_store
from orderline.payments.reconcile import reconcile_payments
from orderline.worker.loop import configured_relay
from tests.conftest import Merchant
from tests.e2e.conftest import error_of, levels, ok
from tests.support.manual import (
    ReceiptText,
    buyer,
    manual_order,
    php_merchant,
    receipt_for,
    upload,
)


async def _key(http: httpx.AsyncClient, shop: Merchant, *scopes: str) -> dict[str, str]:
    key = ok(await http.post("/v1/api-keys", headers=shop.headers,
                             json={"name": "staff", "scopes": list(scopes)}), 201)["key"]
    return {"Authorization": f"Bearer {key}"}


async def _submitted(http: httpx.AsyncClient, shop: Merchant, *, amount: int | None = None,
                     phone: str = "+63 917 555 0199") -> tuple[dict[str, Any], dict[str, Any]]:
    order = await manual_order(http, shop, phone=phone)
    proof = ok(await upload(http, order, receipt_for(order, amount=amount)), 201)
    return order, proof


async def _read_all(runtime: Runtime) -> None:
    while await score_due(runtime):
        pass


@pytest.mark.usefixtures("tesseract")
async def test_the_worker_scores_a_matching_receipt_high_and_a_wrong_amount_low(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    right_order, right = await _submitted(http, shop)
    wrong_order, wrong = await _submitted(http, shop, amount=99_900, phone="+63 917 555 0100")
    before = ok(await http.get(f"/v1/verifications/{right['id']}", headers=shop.headers))
    assert before["ocr_status"] == "pending" and before["score"] is None
    await _read_all(shop_runtime)
    good = ok(await http.get(f"/v1/verifications/{right['id']}", headers=shop.headers))
    bad = ok(await http.get(f"/v1/verifications/{wrong['id']}", headers=shop.headers))
    assert good["ocr_status"] == bad["ocr_status"] == "scored"
    checks = {c["name"]: c["passed"] for c in good["checks"]}
    assert checks["amount"] and checks["reference"]
    assert right_order["total"] in good["read"]["amounts"]
    # What the feature promises, not a float margin that depends on the day's OCR: the wrong
    # amount fails its check and the score stays below the level at which a score counts as
    # agreeing with an approval, while the right receipt reaches it.
    assert not {c["name"]: c["passed"] for c in bad["checks"]}["amount"]
    assert bad["score"] < AGREEMENT_THRESHOLD_BP / 10_000 <= good["score"]
    assert [a["action"] for a in good["audit"]] == ["submitted", "scored"]
    # Scores are never the buyer's to see.
    mine = ok(await http.get(f"/v1/orders/{wrong_order['id']}/payment-proofs",
                             headers=buyer(wrong_order)))["data"][0]
    assert "score" not in mine and "checks" not in mine


async def test_without_ocr_a_proof_waits_unscored_and_is_never_lost(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    shop_runtime.put(PROOF_READER, NoReader())
    _, proof = await _submitted(http, shop)
    await _read_all(shop_runtime)
    queue = ok(await http.get("/v1/verifications", headers=shop.headers))["data"]
    assert [p["id"] for p in queue] == [proof["id"]]
    assert queue[0]["ocr_status"] == "unscored" and queue[0]["score"] is None
    assert "not installed" in queue[0]["ocr_error"]
    ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=shop.headers))


async def test_approval_books_the_money_once_and_pays_the_order(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order, proof = await _submitted(http, shop)
    approved = ok(await http.post(f"/v1/verifications/{proof['id']}/approve",
                                  headers=shop.headers, json={"note": "seen in GCash"}))
    assert approved["status"] == "approved" and approved["decided_by"].startswith("api_key:")
    paid = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert paid["status"] == "paid"
    assert paid["payment_reference"] == order["manual_payment"]["reference"]
    assert await levels(http, shop, "TEE") == (9, 0, 9)  # the held unit was sold
    payments = ok(await http.get(f"/v1/orders/{order['id']}/payments", headers=shop.headers))
    assert [(m["kind"], m["amount"]) for m in payments["ledger"]] == [
        ("collect", order["total"])]
    assert [(i["provider"], i["status"]) for i in payments["data"]] == [("manual", "captured")]
    again = error_of(await http.post(f"/v1/verifications/{proof['id']}/approve",
                                     headers=shop.headers), 409, "already_verified")
    assert again["decided_by"] == approved["decided_by"] and again["status"] == "approved"
    error_of(await http.post(f"/v1/verifications/{proof['id']}/reject", headers=shop.headers,
                             json={"reason": "changed my mind"}), 409, "already_verified")
    # Paid: no more proofs.
    error_of(await upload(http, order, receipt_for(order)), 409, "proof_not_accepted")


async def test_rejection_tells_the_buyer_why_and_a_new_proof_may_follow(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order, proof = await _submitted(http, shop)
    held = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert held["payment_deadline"] > order["payment_deadline"]  # held for review
    rejected = ok(await http.post(f"/v1/verifications/{proof['id']}/reject",
                                  headers=shop.headers,
                                  json={"reason": "The amount is not the order's total"}))
    assert rejected["status"] == "rejected"
    back = ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert back["status"] == "pending_payment"
    assert back["payment_deadline"] == order["manual_payment"]["proof_deadline"]
    await configured_relay(shop_runtime).relay_until_idle()
    async with shop_runtime.db.read() as conn:
        queued = await notification_store.of_business(conn, shop.principal.business_id,
                                                      order_id=uuid.UUID(order["id"]))
    rejections = [n for n in queued if n["kind"] == "buyer:payment_proof.rejected"]
    assert len(rejections) == 1
    assert "The amount is not the order's total" in rejections[0]["body"]
    seen = ok(await http.get(f"/v1/orders/{order['id']}/payment-instructions",
                             headers=buyer(order)))
    assert seen["status"] == "rejected"
    assert seen["proofs"][0]["reason"] == "The amount is not the order's total"
    second = ok(await upload(http, order, receipt_for(order)), 201)
    assert second["version"] == 2
    ok(await http.post(f"/v1/verifications/{second['id']}/approve", headers=shop.headers))
    versions = ok(await http.get(f"/v1/orders/{order['id']}/payment-proofs",
                                 headers=shop.headers))["data"]
    assert [(p["version"], p["status"]) for p in versions] == [(1, "rejected"),
                                                              (2, "approved")]


async def test_a_rejection_needs_a_reason(http: httpx.AsyncClient, shop: Merchant) -> None:
    _, proof = await _submitted(http, shop)
    error_of(await http.post(f"/v1/verifications/{proof['id']}/reject", headers=shop.headers,
                             json={"reason": ""}), 422, "validation_error")
    error_of(await http.post(f"/v1/verifications/{proof['id']}/reject", headers=shop.headers,
                             json={}), 422, "validation_error")


async def test_only_keys_with_the_verify_scope_see_or_decide(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    _, proof = await _submitted(http, shop)
    writer = await _key(http, shop, "read", "write", "admin")
    for response in (await http.get("/v1/verifications", headers=writer),
                     await http.get(f"/v1/verifications/{proof['id']}", headers=writer),
                     await http.get(f"/v1/verifications/{proof['id']}/file", headers=writer),
                     await http.get("/v1/verifications/stats", headers=writer),
                     await http.get("/v1/verifications/events", headers=writer),
                     await http.post(f"/v1/verifications/{proof['id']}/approve",
                                     headers=writer),
                     await http.post("/v1/verifications/bulk", headers=writer, json={
                         "decisions": [{"id": proof["id"], "action": "approve"}]})):
        error_of(response, 403, "forbidden")
    verifier = await _key(http, shop, "verify")
    assert ok(await http.get("/v1/verifications", headers=verifier))["data"][0]["id"] == \
        proof["id"]
    seen = await http.get(f"/v1/verifications/{proof['id']}/file", headers=verifier)
    assert seen.status_code == 200 and seen.headers["content-type"] == "image/png"
    ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=verifier))
    audit = ok(await http.get(f"/v1/verifications/{proof['id']}", headers=verifier))["audit"]
    assert [a["action"] for a in audit][-2:] == ["file_viewed", "approved"]
    assert audit[-2]["key_id"] == audit[-1]["key_id"] is not None
    assert audit[-1]["action"] == "approved" and audit[-1]["key_id"] is not None
    assert audit[-1]["before"]["status"] == "pending"
    assert audit[-1]["after"]["status"] == "approved"


async def test_the_queue_is_oldest_first_and_filters(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime,
        clock: ManualClock) -> None:
    # Scores from a fixed reading, not from Tesseract: this test is about the queue's order and
    # filters (a one-tee order's proof scores 70, a two-tee order's 30).
    shop_runtime.put(PROOF_READER, ReceiptText(clock.now().strftime("%Y-%m-%d")))
    _, old = await _submitted(http, shop)
    clock.advance(600)
    young_order = await manual_order(http, shop, quantity=2, phone="+63 917 555 0100")
    young = ok(await upload(http, young_order, receipt_for(young_order)), 201)
    await _read_all(shop_runtime)
    queue = ok(await http.get("/v1/verifications", headers=shop.headers))["data"]
    assert [p["id"] for p in queue] == [old["id"], young["id"]]
    assert queue[0]["age_seconds"] == 600 and queue[0]["method"] == "gcash"
    high = ok(await http.get("/v1/verifications", headers=shop.headers,
                             params={"min_score": 0.7}))["data"]
    assert [p["id"] for p in high] == [old["id"]]
    low = ok(await http.get("/v1/verifications", headers=shop.headers,
                            params={"max_score": 0.6}))["data"]
    assert [p["id"] for p in low] == [young["id"]]
    aged = ok(await http.get("/v1/verifications", headers=shop.headers,
                             params={"older_than_minutes": 5}))["data"]
    assert [p["id"] for p in aged] == [old["id"]]
    assert ok(await http.get("/v1/verifications", headers=shop.headers,
                             params={"method": "maya"}))["data"] == []
    page = ok(await http.get("/v1/verifications", headers=shop.headers, params={"limit": 1}))
    rest = ok(await http.get("/v1/verifications", headers=shop.headers,
                             params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [p["id"] for p in page["data"] + rest["data"]] == [old["id"], young["id"]]


async def test_bulk_decisions_report_each_result_on_its_own(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    first_order, first = await _submitted(http, shop)
    _, second = await _submitted(http, shop, phone="+63 917 555 0100")
    ok(await http.post(f"/v1/verifications/{second['id']}/reject", headers=shop.headers,
                       json={"reason": "blurry"}))
    missing = "00000000-0000-4000-8000-000000000000"
    results = ok(await http.post("/v1/verifications/bulk", headers=shop.headers, json={
        "decisions": [{"id": first["id"], "action": "approve"},
                      {"id": second["id"], "action": "approve"},
                      {"id": missing, "action": "reject", "reason": "x"}]}))["results"]
    assert [r["ok"] for r in results] == [True, False, False]
    assert results[1]["error"]["code"] == "already_verified"
    assert results[2]["error"]["code"] == "not_found"
    assert ok(await http.get(f"/v1/orders/{first_order['id']}",
                             headers=shop.headers))["status"] == "paid"


async def test_stats_count_the_queue_and_the_agreement_of_score_and_people(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime,
        clock: ManualClock) -> None:
    # Fixed readings (70 for a one-tee order, 30 for two tees), not Tesseract's.
    shop_runtime.put(PROOF_READER, ReceiptText(clock.now().strftime("%Y-%m-%d")))
    _, good = await _submitted(http, shop)
    bad_order = await manual_order(http, shop, quantity=2, phone="+63 917 555 0100")
    bad = ok(await upload(http, bad_order, receipt_for(bad_order)), 201)
    await _submitted(http, shop, phone="+63 917 555 0101")
    await _read_all(shop_runtime)
    clock.advance(120)
    ok(await http.post(f"/v1/verifications/{good['id']}/approve", headers=shop.headers))
    clock.advance(120)
    ok(await http.post(f"/v1/verifications/{bad['id']}/reject", headers=shop.headers,
                       json={"reason": "wrong amount"}))
    stats = ok(await http.get("/v1/verifications/stats", headers=shop.headers))
    assert stats["pending"] == 1 and stats["decided"] == 2
    assert stats["approval_rate"] == 0.5
    assert stats["median_seconds_to_decision"] == 180.0  # 120 s and 240 s
    assert stats["score_agreement_rate"] == 1.0 and stats["scored_decisions"] == 2
    assert stats["oldest_pending_seconds"] == 240


async def test_auto_approval_above_the_threshold_pays_the_order_in_the_worker(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime,
        clock: ManualClock) -> None:
    # Fixed readings (70 for a one-tee order, 30 for two tees), not Tesseract's.
    shop_runtime.put(PROOF_READER, ReceiptText(clock.now().strftime("%Y-%m-%d")))
    ok(await http.patch("/v1/business/manual-payments", headers=shop.headers,
                        json={"auto_approve_threshold": 0.7}))
    order, proof = await _submitted(http, shop)
    low_order = await manual_order(http, shop, quantity=2, phone="+63 917 555 0100")
    low = ok(await upload(http, low_order, receipt_for(low_order)), 201)
    await _read_all(shop_runtime)
    seen = ok(await http.get(f"/v1/verifications/{proof['id']}", headers=shop.headers))
    assert seen["status"] == "approved" and seen["auto_decided"] is True
    assert seen["decided_by"] == "worker:auto_approve"
    assert ok(await http.get(f"/v1/orders/{order['id']}", headers=shop.headers)
              )["status"] == "paid"
    left = ok(await http.get(f"/v1/verifications/{low['id']}", headers=shop.headers))
    assert left["status"] == "pending"  # below the threshold a person decides
    assert ok(await http.get(f"/v1/orders/{low_order['id']}", headers=shop.headers)
              )["status"] == "pending_payment"


async def test_a_cancelled_order_takes_its_proof_out_of_the_queue(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order, proof = await _submitted(http, shop)
    ok(await http.delete(f"/v1/orders/{order['id']}", headers=shop.headers))
    assert ok(await http.get("/v1/verifications", headers=shop.headers))["data"] == []
    error_of(await http.post(f"/v1/verifications/{proof['id']}/approve",
                             headers=shop.headers), 409, "invalid_transition")
    assert await levels(http, shop, "TEE") == (10, 0, 10)


async def test_the_live_queue_carries_new_scored_and_decided_proofs(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    stream = await live.open_merchant_stream(
        shop_runtime, shop.principal, types=["payment_proof.*"], last_event_id=None)
    _, proof = await _submitted(http, shop)
    await _read_all(shop_runtime)
    ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=shop.headers))
    seen: list[str] = []
    events = live.merchant_events(shop_runtime, stream)
    try:
        async for event in events:
            seen.append(event.type)
            if len(seen) == 3:
                break
    finally:
        await events.aclose()
    assert seen == ["payment_proof.submitted", "payment_proof.scored",
                    "payment_proof.approved"]


async def test_another_business_sees_none_of_the_queue(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order, proof = await _submitted(http, shop)
    rival = await php_merchant(shop_runtime, name="Rival")
    h = rival.headers
    assert ok(await http.get("/v1/verifications", headers=h))["data"] == []
    assert ok(await http.get("/v1/verifications/stats", headers=h))["pending"] == 0
    for response in (await http.get(f"/v1/verifications/{proof['id']}", headers=h),
                     await http.get(f"/v1/verifications/{proof['id']}/file", headers=h),
                     await http.post(f"/v1/verifications/{proof['id']}/approve", headers=h),
                     await http.post(f"/v1/verifications/{proof['id']}/reject", headers=h,
                                     json={"reason": "no"}),
                     await http.get(f"/v1/orders/{order['id']}/payment-proofs", headers=h),
                     await http.put(f"/v1/orders/{order['id']}/payment-proof", headers=h,
                                    content=b"x")):
        error_of(response, 404, "not_found")
    results = ok(await http.post("/v1/verifications/bulk", headers=h, json={
        "decisions": [{"id": proof["id"], "action": "approve"}]}))["results"]
    assert results[0]["error"]["code"] == "not_found"
    assert ok(await http.get(f"/v1/verifications/{proof['id']}", headers=shop.headers)
              )["status"] == "pending"


async def test_a_verified_transfer_is_refunded_by_hand_and_the_refund_is_booked(
        http: httpx.AsyncClient, shop: Merchant, shop_runtime: Runtime) -> None:
    order, proof = await _submitted(http, shop)
    ok(await http.post(f"/v1/verifications/{proof['id']}/approve", headers=shop.headers))
    refunded = ok(await http.post(f"/v1/orders/{order['id']}/refunds", headers=shop.headers,
                                  json={"amount": 50_000, "reason": "one size too small"}),
                  201)
    assert refunded["provider"] == "manual" and refunded["amount_refunded"] == 50_000
    payments = ok(await http.get(f"/v1/orders/{order['id']}/payments", headers=shop.headers))
    assert [(m["kind"], m["amount"]) for m in payments["ledger"]] == [
        ("collect", order["total"]), ("refund", 50_000)]
    error_of(await http.post(f"/v1/orders/{order['id']}/refunds", headers=shop.headers,
                             json={"amount": order["total"]}), 409, "refund_exceeds_captured")
    problems = await reconcile_payments(shop_runtime, shop.principal.business_id)
    assert problems == []


async def test_an_order_paid_some_other_way_takes_its_proof_out_of_the_queue(
        http: httpx.AsyncClient, shop: Merchant) -> None:
    order, proof = await _submitted(http, shop)
    ok(await http.patch(f"/v1/orders/{order['id']}/payment", headers=shop.headers,
                        json={"reference": "cash at the counter", "amount": order["total"]}))
    assert ok(await http.get("/v1/verifications", headers=shop.headers))["data"] == []
    seen = ok(await http.get(f"/v1/verifications/{proof['id']}", headers=shop.headers))
    assert seen["status"] == "superseded" and seen["audit"][-1]["action"] == "order_paid"
    assert ok(await http.get("/v1/verifications/stats", headers=shop.headers))["pending"] == 0
