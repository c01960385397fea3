"""A proof of transfer for a change's payment request: the buyer of an order paid by a
manual method owes money for a change of its lines (``order_changes``) and pays it by
transfer, with the same instructions, upload rules and review as the order's own payment.

- ``instructions``: the method's account as the order was shown it, the request's exact
  amount, its reference (the order's with ``-C<number>``: another transfer than the order's)
  and deadline, and each proof sent for it.
- ``upload``: the same steps as the order's upload (``proofs``: checks that need no lock,
  cleaning off the event loop, duplicate refusal, sealed storage, then one transaction under
  the order's row lock), linked to the request (``payment_request_id``). It leaves the
  order's own payment and hold alone: the order is paid; what waits is the change, until
  its request's deadline. A receipt sent for another payment of the order is refused too.

Deciding such a proof is the queue's (``verifications.decide_on``): approval pays the
request through ``order_changes.paying.pay_by_proof``, which applies the change.

``CHANGE_PROOFS_CLOSED``: when a change lapses or is cancelled (its events), the proofs still
waiting for its request leave the queue (``cancelled``, audited), by one conditional UPDATE
in the relay's transaction after the change's own; until then an approval is refused by the
request's status, so nothing is booked either way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import (
    DuplicateProof,
    NotFound,
    ProofDeadlinePassed,
    ProofNotAccepted,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.idempotency.service import NO_KEY, Claim
from orderline.manual_payments import method_store as payment_method_store
from orderline.manual_payments import proof_store
from orderline.manual_payments.files.cleaning import CleanProof
from orderline.manual_payments.methods import rendered_instructions
from orderline.manual_payments.proof_records import announce, buyer_proof_view, proof_view, record
from orderline.manual_payments.proofs import cleaned, new_proof_row, store_and_record
from orderline.order_changes import paying as change_payments
from orderline.order_changes.paying import RequestForProof
from orderline.orders import store as order_store
from orderline.orders.callers import OrderCaller
from orderline.orders.service import note_change
from orderline.tenancy.rules import Scope

_DEFAULT_SEND = ("Send exactly {amount} to {account_name} ({account_number}) and write "
                 "{reference} in the message or reference field, then upload a screenshot of "
                 "the receipt.")


def check_accepts(request: RequestForProof, now: datetime) -> None:
    """The request takes a proof: open, before its deadline (the order upload's refusals)."""
    if not request.is_open:
        raise ProofNotAccepted(
            f"Change {request.change_number} is no longer waiting for payment (its payment "
            f"request is {request.status}); it takes no proof now.",
            details={"request_status": request.status})
    if now >= request.deadline:
        raise ProofDeadlinePassed(
            f"The time to pay for change {request.change_number} ended at "
            f"{request.deadline.isoformat()}; the order stays as it was. Contact the shop if "
            "you already paid.", details={"proof_deadline": request.deadline})


async def _manual_payment(conn: AsyncConnection, caller: OrderCaller,
                          change_id: uuid.UUID) -> RowMapping:
    mp = await payment_method_store.manual_payment_of_order(conn, caller.business_id,
                                                            caller.order_id)
    if mp is None:
        raise ProofNotAccepted(
            "This order was not paid by transfer; pay what the change asks by card.",
            details={"change_id": str(change_id)})
    return mp


def instructions_view(mp: RowMapping, method: RowMapping | None, request: RequestForProof,
                      proofs: list[dict[str, Any]]) -> dict[str, Any]:
    """Where to pay, exactly how much (the request's amount, not the order's total), with
    which reference, until when; the account as the order was shown it."""
    shown = mp["method"]
    reference = request.reference(mp["reference"])
    template = {**shown, "instructions": method["instructions"] if method is not None
                else _DEFAULT_SEND}
    return {"change_id": request.change_id, "change_number": request.change_number,
            "payment_request_id": request.request_id,
            "method": {k: shown[k] for k in ("code", "name", "kind", "account_name",
                                              "account_number", "bank_name", "details")},
            "amount": request.amount, "currency": request.currency, "reference": reference,
            "instructions": rendered_instructions(template, amount=request.amount,
                                                  currency=request.currency,
                                                  reference=reference),
            "proof_deadline": request.deadline, "status": request.status, "proofs": proofs}


async def instructions(runtime: Runtime, caller: OrderCaller,
                       change_id: uuid.UUID) -> dict[str, Any]:
    """How to pay a change's request by transfer: its buyer and its merchant only."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        request = await change_payments.request_of_change(conn, caller.business_id,
                                                          caller.order_id, change_id)
        mp = await _manual_payment(conn, caller, change_id)
        method = await payment_method_store.load_method(conn, caller.business_id,
                                                        mp["method_id"])
        rows = [r for r in await proof_store.proofs_of_order(conn, caller.business_id,
                                                            caller.order_id)
                if r["payment_request_id"] == request.request_id]
    return instructions_view(mp, method, request, [
        buyer_proof_view(r) if caller.is_buyer else proof_view(r) for r in rows])


async def upload(runtime: Runtime, caller: OrderCaller, change_id: uuid.UUID, data: bytes, *,
                 claim: Claim = NO_KEY) -> dict[str, Any]:
    """Send a proof of transfer for the change's payment request (module docstring)."""
    caller.require(Scope.WRITE)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        request = await change_payments.request_of_change(conn, caller.business_id,
                                                          caller.order_id, change_id)
        await _manual_payment(conn, caller, change_id)
        settings = await payment_method_store.proof_settings(conn, caller.business_id)
    check_accepts(request, now)
    clean = await cleaned(runtime, settings, data)
    async with runtime.db.read() as conn:
        await _refuse_duplicate(conn, caller, request, clean.sha256)
    proof_id = uuid.uuid4()

    async def work(conn: AsyncConnection, key: str) -> dict[str, Any]:
        row = await _record_upload(runtime, conn, caller, change_id, proof_id=proof_id,
                                   key=key, clean=clean, now=now)
        return await claim.keep(conn, proof_view(row) if not caller.is_buyer
                                else buyer_proof_view(row))

    return await store_and_record(runtime, caller, proof_id, clean, work)


async def _refuse_duplicate(conn: AsyncConnection, caller: OrderCaller,
                            request: RequestForProof, sha256: str) -> None:
    owner = await proof_store.fingerprint_owner(conn, caller.business_id, sha256)
    if owner is not None and owner["order_id"] != caller.order_id:
        raise DuplicateProof("This exact file was already sent as the payment proof of "
                             "another order; send the receipt of this payment.",
                             details={"sha256_prefix": sha256[:12]})
    if await proof_store.sent_for_another_payment(conn, caller.order_id, sha256,
                                                  request.request_id):
        raise DuplicateProof("This exact file was already sent for another payment of this "
                             "order; send the receipt of the transfer for this change.",
                             details={"sha256_prefix": sha256[:12]})


async def _record_upload(runtime: Runtime, conn: AsyncConnection, caller: OrderCaller,
                         change_id: uuid.UUID, *, proof_id: uuid.UUID, key: str,
                         clean: CleanProof, now: datetime) -> dict[str, Any]:
    order = await order_store.load_order(conn, caller.business_id, caller.order_id, lock=True)
    if order is None:
        raise NotFound("order", caller.order_id)
    await runtime.checkpoints.reach("change_proof_upload.locked")
    # Under the order's lock the request cannot close: check again what was checked.
    request = await change_payments.request_of_change(conn, caller.business_id, order.id,
                                                      change_id)
    check_accepts(request, now)
    mp = await _manual_payment(conn, caller, change_id)
    await _refuse_duplicate(conn, caller, request, clean.sha256)
    owner = await proof_store.claim_fingerprint(
        conn, business_id=caller.business_id, sha256=clean.sha256, order_id=order.id,
        proof_id=proof_id, now=now)
    if owner["order_id"] != order.id:
        raise DuplicateProof("This exact file was already sent as the payment proof of "
                             "another order; send the receipt of this payment.",
                             details={"sha256_prefix": clean.sha256[:12]})
    for earlier in await proof_store.close_pending_of_request(
            conn, request.request_id, status=proof_store.SUPERSEDED, now=now):
        await record(conn, business_id=caller.business_id, proof_id=earlier["id"],
                     order_id=order.id, action="superseded", actor=caller.actor,
                     key_id=caller.key_id, before={**earlier, "status": proof_store.PENDING},
                     after=earlier, now=now)
    version = await payment_method_store.count_change_submission(conn, mp["id"], now)
    values = new_proof_row(caller, proof_id=proof_id, manual_payment_id=mp["id"],
                           version=version, key=key, clean=clean, now=now,
                           payment_request_id=request.request_id)
    await proof_store.insert_proof(conn, values)
    await record(conn, business_id=caller.business_id, proof_id=proof_id, order_id=order.id,
                 action="submitted", actor=caller.actor, key_id=caller.key_id, before=None,
                 after=values, now=now)
    await note_change(conn, order, actor=caller.actor, action="payment_proof_submitted",
                      changes={"proof_id": str(proof_id), "version": version,
                               "sha256": clean.sha256, "change_number": request.change_number,
                               "payment_request_id": str(request.request_id)}, now=now)
    await announce(conn, EventType.PAYMENT_PROOF_SUBMITTED, values, order, actor=caller.actor,
                   now=now, first=True,
                   extra={"change_number": request.change_number,
                          "expected_amount": request.amount})
    return {**values, "order_number": order.number, "order_status": order.status,
            "order_total": order.total, "order_currency": order.currency,
            "customer_name": order.customer_name,
            "reference": request.reference(mp["reference"]), "method_code": mp["method_code"],
            "expected_amount": request.amount, "proof_deadline": request.deadline}



async def close_proofs_of_closed_change(ctx: HandlerContext, conn: AsyncConnection,
                                        event: StoredEvent) -> None:
    """A change lapsed or was cancelled: its request's waiting proofs leave the queue."""
    try:
        request = await change_payments.request_of_change(
            conn, event.business_id, uuid.UUID(str(event.payload["order_id"])),
            uuid.UUID(str(event.payload["change_id"])))
    except NotFound:  # a change that asked nothing of the buyer
        return
    for closed in await proof_store.close_pending_of_request(
            conn, request.request_id, status=proof_store.CANCELLED, now=ctx.now):
        await record(conn, business_id=event.business_id, proof_id=closed["id"],
                     order_id=closed["order_id"], action="change_closed",
                     actor="worker:change_closed", key_id=None,
                     before={**closed, "status": proof_store.PENDING}, after=closed,
                     now=ctx.now)


CHANGE_PROOFS_CLOSED = Handler("change_proofs_closed",
                               frozenset({EventType.ORDER_CHANGE_LAPSED,
                                          EventType.ORDER_CHANGE_CANCELLED}),
                               close_proofs_of_closed_change)
