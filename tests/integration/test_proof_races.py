"""Races on manual payments, with real connections on both databases (concurrent
transactions on PostgreSQL; SQLite serialises its writers): two staff deciding one proof,
two orders sending one receipt, and the deadline sweeper against an approval."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from orderline.bench.receipts import draw_receipt
from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.manual_payments import proof_store, verifications
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.orders import service as orders
from orderline.orders.callers import OrderCaller
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from orderline.orders.status import cancel_lapsed_orders
from orderline.orders.store import set_hold
from orderline.payments import store as payment_store
from tests.conftest import Merchant
from tests.support.catalog import stock, stock_sku
from tests.support.manual import master_keys, php_merchant, sealed_storage

ROUNDS = 6


@pytest.fixture
async def shop(runtime: Runtime, tmp_path: Path) -> Merchant:
    runtime.put(PROOF_STORAGE, sealed_storage(tmp_path / "proofs", master_keys("k1")))
    merchant = await php_merchant(runtime)
    await stock_sku(runtime, merchant, "TEE", 100, price=125_000)
    await manual_methods.create_method(
        runtime, merchant.principal, template="gcash", code=None, name=None, kind=None,
        currency=None, account_name="Juan Dela Cruz", account_number="0917 555 0101",
        bank_name=None, details={}, instructions=None, channels=[], enabled=True, position=0)
    return merchant


async def _order(runtime: Runtime, shop: Merchant, n: int) -> dict[str, Any]:
    return await direct_orders.create_order(runtime, shop.principal, NewOrder(
        customer=Contact(name=f"Buyer {n}", phone=f"+63 917 555 {n:04d}"), channel="web",
        lines=[RequestedLine("TEE", 1)], payment_method="gcash"))


def _caller(shop: Merchant, order: dict[str, Any]) -> OrderCaller:
    return OrderCaller(business_id=shop.principal.business_id, order_id=order["id"],
                       principal=None)


def _receipt(tag: str) -> bytes:
    return draw_receipt(amount="1,250.00", reference=tag, date="Dec 02, 2026",
                        recipient="Juan Dela Cruz", width=360)


async def _outcome(call: Any) -> str:
    try:
        await call
    except DomainError as exc:
        return exc.code
    return "ok"


async def test_concurrent_approvals_and_rejections_of_one_proof_have_one_outcome(
        runtime: Runtime, shop: Merchant) -> None:
    for n in range(ROUNDS):
        order = await _order(runtime, shop, n)
        proof = await payment_proofs.upload(runtime, _caller(shop, order), _receipt(f"R{n}"))
        calls = [verifications.approve(runtime, shop.principal, proof["id"]) if i % 2 == 0
                 else verifications.reject(runtime, shop.principal, proof["id"], "not seen")
                 for i in range(6)]
        outcomes = await asyncio.gather(*(_outcome(c) for c in calls))
        assert outcomes.count("ok") == 1, outcomes
        assert set(outcomes) - {"ok"} == {"already_verified"}
        async with runtime.db.read() as conn:
            row = await proof_store.load_proof(conn, shop.principal.business_id, proof["id"])
            ledger = await payment_store.movements_of_order(conn, order["id"])
        assert row is not None
        winner = outcomes.index("ok")
        assert row["status"] == ("approved" if winner % 2 == 0 else "rejected")
        placed = await orders.get_order(runtime, shop.principal, order["id"])
        if row["status"] == "approved":
            assert [(m.kind, m.amount) for m in ledger] == [("collect", order["total"])]
            assert placed["status"] == "paid"
        else:
            assert ledger == [] and placed["status"] == "pending_payment"
    level = await stock(runtime, shop, "TEE")
    assert level["on_hand"] >= 100 - ROUNDS and level["reserved"] >= 0


async def test_two_orders_sending_the_same_receipt_at_once_keep_it_for_one(
        runtime: Runtime, shop: Merchant) -> None:
    for n in range(ROUNDS):
        first, second = await _order(runtime, shop, 100 + 2 * n), await _order(
            runtime, shop, 101 + 2 * n)
        receipt = _receipt(f"SAME{n}")
        outcomes = await asyncio.gather(
            _outcome(payment_proofs.upload(runtime, _caller(shop, first), receipt)),
            _outcome(payment_proofs.upload(runtime, _caller(shop, second), receipt)))
        assert sorted(outcomes) == ["duplicate_proof", "ok"], outcomes
        kept = [len(await payment_proofs.list_proofs(runtime, _caller(shop, o)))
                for o in (first, second)]
        assert sorted(kept) == [0, 1]


async def test_an_approval_racing_the_deadline_sweeper_pays_or_cancels_never_both(
        runtime: Runtime, shop: Merchant) -> None:
    for n in range(ROUNDS):
        order = await _order(runtime, shop, 200 + n)
        proof = await payment_proofs.upload(runtime, _caller(shop, order), _receipt(f"D{n}"))
        # The review window has run out: the sweeper may cancel, the approval may pay.
        future = runtime.clock.now()
        async with runtime.db.write() as conn:
            await set_hold(conn, order["id"], future)
        outcome, _ = await asyncio.gather(
            _outcome(verifications.approve(runtime, shop.principal, proof["id"])),
            cancel_lapsed_orders(runtime))
        await cancel_lapsed_orders(runtime)  # if it skipped the order the approval held
        placed = await orders.get_order(runtime, shop.principal, order["id"])
        async with runtime.db.read() as conn:
            ledger = await payment_store.movements_of_order(conn, order["id"])
        if outcome == "ok":
            assert placed["status"] == "paid" and len(ledger) == 1
        else:
            assert outcome in ("payment_deadline_passed", "invalid_transition"), outcome
            assert placed["status"] == "cancelled" and ledger == []
