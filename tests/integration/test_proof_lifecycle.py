"""A proof's life after upload: sealed on disk, readable after a master key rotation, deleted
after its retention, and erased with the customer's personal data, while the financial
records and the audit trail stay."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from orderline.bench.receipts import draw_receipt
from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.clock import ManualClock
from orderline.core.errors import CustomerHasOpenOrders, ProofFileDeleted
from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.manual_payments import proof_store, verifications
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.manual_payments.files.encryption import sealed_key_id
from orderline.manual_payments.retention import delete_expired_files, rotate_master_keys
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.callers import OrderCaller
from orderline.orders.rules import OrderStatus, RequestedLine
from orderline.orders.service import Contact
from orderline.payments import service as payments
from orderline.payments import store as payment_store
from orderline.privacy import service as personal_data
from tests.conftest import Merchant
from tests.support.catalog import stock_sku
from tests.support.manual import master_keys, php_merchant, sealed_storage

NAME, PHONE, EMAIL = "Maria Santos", "+63 917 555 0199", "maria@example.ph"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "proofs"


@pytest.fixture
async def shop(runtime: Runtime, folder: Path) -> Merchant:
    runtime.clock = ManualClock()
    runtime.put(PROOF_STORAGE, sealed_storage(folder, master_keys("k1")))
    merchant = await php_merchant(runtime)
    await stock_sku(runtime, merchant, "TEE", 20, price=125_000)
    await manual_methods.create_method(
        runtime, merchant.principal, template="gcash", code=None, name=None, kind=None,
        currency=None, account_name="Juan Dela Cruz", account_number="0917 555 0101",
        bank_name=None, details={}, instructions=None, channels=[], enabled=True, position=0)
    return merchant


async def _paid_by_proof(runtime: Runtime, shop: Merchant, tag: str) -> tuple[dict[str, Any],
                                                                             dict[str, Any]]:
    order = await direct_orders.create_order(runtime, shop.principal, NewOrder(
        customer=Contact(name=NAME, phone=PHONE, email=EMAIL), channel="web",
        lines=[RequestedLine("TEE", 1)], payment_method="gcash"))
    caller = OrderCaller(business_id=shop.principal.business_id, order_id=order["id"],
                         principal=None)
    receipt = draw_receipt(amount="1,250.00", reference=tag, date="Dec 02, 2026",
                           recipient=NAME, width=360)
    sent = await payment_proofs.upload(runtime, caller, receipt)
    proof = await verifications.approve(runtime, shop.principal, sent["id"])
    return order, proof


async def _retention(runtime: Runtime, shop: Merchant) -> int:
    return await delete_expired_files(runtime, business_id=shop.principal.business_id)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


async def test_a_stored_proof_is_sealed_on_disk_and_opens_only_with_its_key(
        runtime: Runtime, shop: Merchant, folder: Path) -> None:
    order, proof = await _paid_by_proof(runtime, shop, "SEAL1")
    [stored] = _files(folder)
    raw = stored.read_bytes()
    assert b"\x89PNG" not in raw and b"IHDR" not in raw  # no plaintext image on disk
    assert sealed_key_id(raw) == "k1"
    caller = OrderCaller(business_id=shop.principal.business_id, order_id=order["id"],
                         principal=None)
    content, media_type = await payment_proofs.proof_file(runtime, caller, proof["id"])
    assert content.startswith(b"\x89PNG") and media_type == "image/png"
    runtime.put(PROOF_STORAGE, sealed_storage(folder, master_keys("other")))
    with pytest.raises(ProofFileDeleted):  # unreadable: said plainly, never a 500
        await payment_proofs.proof_file(runtime, caller, proof["id"])


async def test_rotation_rewraps_old_proofs_and_they_stay_readable(
        runtime: Runtime, shop: Merchant, folder: Path) -> None:
    order, proof = await _paid_by_proof(runtime, shop, "ROT1")
    caller = OrderCaller(business_id=shop.principal.business_id, order_id=order["id"],
                         principal=None)
    before, _ = await payment_proofs.proof_file(runtime, caller, proof["id"])
    runtime.put(PROOF_STORAGE, sealed_storage(folder, master_keys("k2", "k1")))
    done = await rotate_master_keys(runtime, business_id=shop.principal.business_id)
    assert done.rewrapped >= 1 and done.missing == done.unreadable == 0
    assert {sealed_key_id(p.read_bytes()) for p in _files(folder)} == {"k2"}
    runtime.put(PROOF_STORAGE, sealed_storage(folder, master_keys("k2")))  # k1 retired
    after, _ = await payment_proofs.proof_file(runtime, caller, proof["id"])
    assert after == before
    again = await rotate_master_keys(runtime, business_id=shop.principal.business_id)
    assert again.rewrapped == 0  # idempotent


async def test_files_are_deleted_after_retention_once_the_order_is_final_and_the_hash_stays(
        runtime: Runtime, shop: Merchant, folder: Path) -> None:
    assert isinstance(runtime.clock, ManualClock)
    order, proof = await _paid_by_proof(runtime, shop, "RET1")
    runtime.clock.advance(200 * 86400)
    assert await _retention(runtime, shop) == 0  # paid, not final: kept
    await order_status.set_shipping(runtime, shop.principal, order["id"], carrier="LBC",
                                    tracking_number="LBC1", tracking_url=None)
    await order_status.change_status(runtime, shop.principal, order["id"],
                                     status=OrderStatus.DELIVERED)
    runtime.clock.advance(89 * 86400)
    assert await _retention(runtime, shop) == 0  # 89 of 90 days
    runtime.clock.advance(2 * 86400)
    assert await _retention(runtime, shop) == 1
    assert _files(folder) == []
    caller = OrderCaller(business_id=shop.principal.business_id, order_id=order["id"],
                         principal=None)
    with pytest.raises(ProofFileDeleted):
        await payment_proofs.proof_file(runtime, caller, proof["id"])
    async with runtime.db.read() as conn:
        audit = await proof_store.audit_of_proof(conn, shop.principal.business_id, proof["id"])
        row = await proof_store.load_proof(conn, shop.principal.business_id, proof["id"])
    assert row is not None and row["sha256"] == proof["sha256"] and row["storage_key"] is None
    assert audit[-1]["action"] == "file_deleted"
    assert audit[-1]["before"]["sha256"] == proof["sha256"]


async def test_erasure_waits_for_open_orders_then_keeps_only_the_books(
        runtime: Runtime, shop: Merchant, folder: Path) -> None:
    order, proof = await _paid_by_proof(runtime, shop, "ERA1")
    customer_id = uuid.UUID(str((await orders.get_order(runtime, shop.principal, order["id"]))
                                ["customer"]["id"]))
    exported = await personal_data.export(runtime, shop.principal, customer_id)
    assert exported["customer"]["phone"] == PHONE
    assert exported["orders"][0]["customer_email"] == EMAIL
    assert exported["payment_proofs"][0]["sha256"] == proof["sha256"]
    with pytest.raises(CustomerHasOpenOrders):
        await personal_data.erase(runtime, shop.principal, customer_id)
    # A cancelled order keeps none of the buyer's money: the transfer is refunded first.
    await payments.refund_payment(runtime, shop.principal, order["id"], amount=order["total"])
    await order_status.cancel_order(runtime, shop.principal, order["id"])
    done = await personal_data.erase(runtime, shop.principal, customer_id)
    assert done["proof_files_deleted"] == 1 and _files(folder) == []
    after = await personal_data.export(runtime, shop.principal, customer_id)
    text = repr(after)
    for personal in (NAME, PHONE, EMAIL):
        assert personal not in text
    kept = await orders.get_order(runtime, shop.principal, order["id"])
    assert kept["total"] == order["total"] and kept["number"] == order["number"]
    async with runtime.db.read() as conn:
        ledger = await payment_store.movements_of_order(conn, order["id"])
    assert [m.kind for m in ledger][:1] == ["collect"]  # the money's record stays
    history = repr(await orders.order_history(runtime, shop.principal, order["id"]))
    assert PHONE not in history and EMAIL not in history
