"""The merchant's verification queue: payment proofs waiting for a person, approved or
rejected one at a time or in bulk, its figures, and each proof's audit trail.

A decision locks the order row first (as every change of an order does), then leaves
``pending`` by one conditional UPDATE: of two staff acting on one proof at once, exactly one
gets the row; the other is told who decided (``already_verified``). Approval books the money
in the payments ledger (a ``manual`` intent, one ``collect`` movement; at most one manual
intent per order by a unique key) and pays the order (its held stock becomes a sale) in the
same transaction. Rejection tells the buyer why, through the outbox.

Only keys with the ``verify`` scope see or act on the queue; the merchant's overview counts
the waiting proofs and names their orders with ``read`` (``awaiting_verification``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import (
    AlreadyVerified,
    DomainError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import EventType
from orderline.manual_payments import method_store as payment_method_store
from orderline.manual_payments import proof_store
from orderline.manual_payments.proof_records import announce, proof_view, record
from orderline.manual_payments.proofs import open_file
from orderline.manual_payments.review_rules import (
    AGREEMENT_THRESHOLD_BP,
    PERIOD_DEFAULT_DAYS,
    Decided,
    Period,
    QueueFigures,
    Waiting,
    figures_by_period,
    held_until,
    pending_by_period,
    period_start,
    queue_figures,
)
from orderline.order_changes import paying as change_payments
from orderline.orders import store as order_store
from orderline.orders.figures_store import WaitingOrders
from orderline.orders.rules import OrderStatus
from orderline.orders.service import lock_for_change, note_change, save_change
from orderline.orders.status import mark_paid
from orderline.orders.store import OrderRow
from orderline.payments import store as payment_store
from orderline.payments.rules import IntentStatus, MovementKind
from orderline.tenancy.rules import Principal, Scope

MANUAL_PROVIDER = "manual"
MAX_BULK = 100
MAX_REASON = 500


async def list_queue(runtime: Runtime, principal: Principal, f: proof_store.QueueFilter, *,
                     after: tuple[datetime, uuid.UUID] | None,
                     limit: int) -> list[dict[str, Any]]:
    principal.require(Scope.VERIFY)
    now = runtime.clock.now()

    async def page(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = await proof_store.queue(conn, principal.business_id, f, after=after, limit=limit)
        return await with_changes(conn, principal.business_id,
                                  [proof_view(r, now=now) for r in rows])
    return await runtime.db.read_from_replica(principal.business_id, page)


async def get_verification(runtime: Runtime, principal: Principal,
                           proof_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.VERIFY)
    async with runtime.db.read() as conn:
        row = await proof_store.load_proof(conn, principal.business_id, proof_id)
        if row is None:
            raise NotFound("verification", proof_id)
        shown = (await with_changes(conn, principal.business_id,
                                    [proof_view(row, now=runtime.clock.now())]))[0]
        shown["ocr_text"] = row["ocr_text"]
        shown["audit"] = [dict(a) for a in await proof_store.audit_of_proof(
            conn, principal.business_id, proof_id)]
    return shown


async def proof_file(runtime: Runtime, principal: Principal,
                     proof_id: uuid.UUID) -> tuple[bytes, str]:
    principal.require(Scope.VERIFY)
    async with runtime.db.read() as conn:
        row = await proof_store.load_proof(conn, principal.business_id, proof_id)
    if row is None:
        raise NotFound("verification", proof_id)
    return await open_file(runtime, row, actor=principal.actor, key_id=principal.key_id)


async def awaiting_verification(runtime: Runtime, principal: Principal, *,
                                first: int) -> WaitingOrders:
    """How many proofs wait for a person and the orders of the ``first`` few, for the
    merchant's overview. Only ``read``: the count and the orders (which a read key sees
    anyway) say nothing of the proofs themselves, which stay behind ``verify``."""
    principal.require(Scope.READ)
    async def read(conn: AsyncConnection) -> WaitingOrders:
        return await proof_store.orders_awaiting_verification(conn, principal.business_id,
                                                              first=first)
    return await runtime.db.read_from_replica(principal.business_id, read)


# --- deciding ---------------------------------------------------------------------------------

def _check_reason(reason: str | None) -> str:
    cleaned = (reason or "").strip()
    if not cleaned or len(cleaned) > MAX_REASON:
        raise ValidationFailed(f"A rejection needs a reason the buyer will read (1 to "
                               f"{MAX_REASON} characters).", details={"field": "reason"})
    return cleaned


async def approve(runtime: Runtime, principal: Principal, proof_id: uuid.UUID,
                  note: str | None = None) -> dict[str, Any]:
    principal.require(Scope.VERIFY)
    now = runtime.clock.now()
    return await runtime.db.run(lambda conn: decide_on(
        runtime, conn, principal.business_id, proof_id, approve=True, actor=principal.actor,
        key_id=principal.key_id, reason=note, now=now))


async def reject(runtime: Runtime, principal: Principal, proof_id: uuid.UUID,
                 reason: str | None) -> dict[str, Any]:
    principal.require(Scope.VERIFY)
    cleaned = _check_reason(reason)
    now = runtime.clock.now()
    return await runtime.db.run(lambda conn: decide_on(
        runtime, conn, principal.business_id, proof_id, approve=False, actor=principal.actor,
        key_id=principal.key_id, reason=cleaned, now=now))


async def decide_on(runtime: Runtime, conn: AsyncConnection, business_id: uuid.UUID,
                    proof_id: uuid.UUID, *, approve: bool, actor: str,
                    key_id: uuid.UUID | None, reason: str | None, now: datetime,
                    auto: bool = False) -> dict[str, Any]:
    """Decide one proof in ``conn``'s transaction (the API's and the auto-approver's path)."""
    found = await proof_store.load_proof(conn, business_id, proof_id)
    if found is None:
        raise NotFound("verification", proof_id)
    order = await order_store.load_order(conn, business_id, found["order_id"], lock=True)
    assert order is not None  # a proof's order is never deleted while the proof exists
    await runtime.checkpoints.reach("verification.locked")
    # Under the order's lock the proof cannot move: whoever decided first is named.
    found = await proof_store.load_proof(conn, business_id, proof_id)
    assert found is not None
    if found["status"] != proof_store.PENDING:
        raise _not_pending(found)
    if found["payment_request_id"] is not None:
        return await _decide_for_change(runtime, conn, order, found, approve=approve,
                                        actor=actor, key_id=key_id, reason=reason, now=now,
                                        auto=auto)
    if approve and order.status != OrderStatus.PENDING_PAYMENT:
        raise InvalidTransition(
            f"Order {order.number} is {order.status}; a payment proof can only be "
            "approved while the order awaits payment. If the buyer did pay, refund them.",
            details={"order_status": order.status})
    status = proof_store.APPROVED if approve else proof_store.REJECTED
    decided = await proof_store.claim_decision(conn, proof_id, status=status, values={
        "decided_by": actor, "decided_key_id": key_id, "decided_at": now, "reason": reason,
        "auto_decided": auto})
    if decided is None:
        current = await proof_store.load_proof(conn, business_id, proof_id)
        assert current is not None
        raise _not_pending(current)
    mp = await payment_method_store.manual_payment_of_order(conn, business_id, order.id)
    assert mp is not None
    if approve:
        await _book_transfer(conn, order, mp, proof_id, actor=actor, now=now)
        await mark_paid(runtime, conn, order, actor=actor, reference=mp["reference"], now=now)
        await payment_method_store.write_manual_payment(conn, mp["id"], {
            "status": "approved", "updated_at": now})
    else:
        settings = await payment_method_store.proof_settings(conn, business_id)
        await payment_method_store.write_manual_payment(conn, mp["id"], {
            "status": "rejected", "updated_at": now})
        if order.status == OrderStatus.PENDING_PAYMENT:
            # Back to the proof deadline: a new proof may come until then, else the sweeper
            # cancels the order and its stock goes back.
            await order_store.set_hold(conn, order.id, held_until(
                proof_deadline=mp["proof_deadline"], now=now,
                review_hours=settings["proof_review_hours"], proof_pending=False))
        # In the order's history and on its own stream (order.updated), so the buyer's open
        # page shows the reason at once and offers a new upload.
        await save_change(conn, order, actor=actor, action="payment_proof_rejected",
                          values={}, changes={"proof_id": str(proof_id), "reason": reason},
                          now=now)
    action = ("auto_approved" if auto else "approved") if approve else "rejected"
    await record(conn, business_id=business_id, proof_id=proof_id, order_id=order.id,
                 action=action, actor=actor, key_id=key_id, before=found, after=decided,
                 now=now)
    await announce(conn, EventType.PAYMENT_PROOF_APPROVED if approve
                   else EventType.PAYMENT_PROOF_REJECTED, decided, order, actor=actor, now=now,
                   extra={"proof_deadline": mp["proof_deadline"]})
    row = await proof_store.load_proof(conn, business_id, proof_id)
    assert row is not None
    return proof_view(row, now=now)


async def _decide_for_change(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                             found: RowMapping, *, approve: bool, actor: str,
                             key_id: uuid.UUID | None, reason: str | None, now: datetime,
                             auto: bool) -> dict[str, Any]:
    """A proof for a change's payment request, the order's row locked: approving it pays the
    request and applies the change (``order_changes.paying.pay_by_proof``: the money booked
    as a ``manual`` payment, in this transaction); a request that lapsed, was cancelled or
    paid otherwise refuses it and nothing is booked. Rejecting leaves the request open: the
    buyer may send another proof until its deadline."""
    proof_id = found["id"]
    request_id = found["payment_request_id"]
    if approve:
        requests = await change_payments.requests_by_id(conn, order.business_id, [request_id])
        if request_id not in requests:
            raise NotFound("payment request", request_id)
        change_payments.check_payable(requests[request_id], now)
    status = proof_store.APPROVED if approve else proof_store.REJECTED
    decided = await proof_store.claim_decision(conn, proof_id, status=status, values={
        "decided_by": actor, "decided_key_id": key_id, "decided_at": now, "reason": reason,
        "auto_decided": auto})
    if decided is None:
        current = await proof_store.load_proof(conn, order.business_id, proof_id)
        assert current is not None
        raise _not_pending(current)
    if approve:
        await change_payments.pay_by_proof(runtime, conn, order, request_id,
                                           proof_id=proof_id, actor=actor, now=now)
    else:
        await note_change(conn, order, actor=actor, action="payment_proof_rejected",
                          changes={"proof_id": str(proof_id), "reason": reason,
                                   "payment_request_id": str(request_id)}, now=now)
    action = ("auto_approved" if auto else "approved") if approve else "rejected"
    await record(conn, business_id=order.business_id, proof_id=proof_id, order_id=order.id,
                 action=action, actor=actor, key_id=key_id, before=found, after=decided,
                 now=now)
    after = await change_payments.requests_by_id(conn, order.business_id, [request_id])
    await announce(conn, EventType.PAYMENT_PROOF_APPROVED if approve
                   else EventType.PAYMENT_PROOF_REJECTED, decided, order, actor=actor, now=now,
                   extra={"payment_request_id": request_id,
                          "change_number": after[request_id].change_number,
                          "proof_deadline": after[request_id].deadline})
    row = await proof_store.load_proof(conn, order.business_id, proof_id)
    assert row is not None
    return (await with_changes(conn, order.business_id, [proof_view(row, now=now)]))[0]


async def with_changes(conn: AsyncConnection, business_id: uuid.UUID,
                       shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Proofs for a change's payment request say so (``change``: its number, the request's
    amount, deadline and status), and what they are checked against is the request's
    amount and reference, not the order's."""
    for s in shown:
        s.setdefault("change", None)
    ids = [s["payment_request_id"] for s in shown if s.get("payment_request_id")]
    if not ids:
        return shown
    requests = await change_payments.requests_by_id(conn, business_id, ids)
    for s in shown:
        request = requests.get(s.get("payment_request_id"))  # type: ignore[arg-type]
        if request is None:
            continue
        s["change"] = {"id": request.change_id, "number": request.change_number,
                       "payment_request_id": request.request_id, "amount": request.amount,
                       "currency": request.currency, "deadline": request.deadline,
                       "status": request.status}
        if "reference" in s:
            s["reference"] = request.reference(s["reference"])
            s["expected_amount"] = request.amount
            s["proof_deadline"] = request.deadline
    return shown


def _not_pending(current: RowMapping) -> DomainError:
    if current["status"] in proof_store.DECIDED:
        return AlreadyVerified(
            f"This proof was already {current['status']} by {current['decided_by']} at "
            f"{current['decided_at'].isoformat()}.",
            details={"status": current["status"], "decided_by": current["decided_by"],
                     "decided_at": current["decided_at"], "reason": current["reason"]})
    return InvalidTransition(
        f"This proof is {current['status']} (a newer proof replaced it, or its order, or the "
        "change it paid for, was cancelled); there is nothing to decide.",
        details={"status": current["status"]})


async def _book_transfer(conn: AsyncConnection, order: OrderRow, mp: RowMapping,
                         proof_id: uuid.UUID | None, *, actor: str, now: datetime) -> None:
    """The money movement: the transfer the merchant confirmed, as received money."""
    intent_id = uuid.uuid4()
    await payment_store.insert_intent(conn, {
        "id": intent_id, "business_id": order.business_id, "order_id": order.id,
        "provider": MANUAL_PROVIDER, "provider_ref": f"order:{order.id}",
        "status": IntentStatus.CAPTURED.value, "capture_mode": "automatic",
        "currency": order.currency, "amount": mp["amount"], "amount_authorized": 0,
        "amount_captured": 0, "amount_voided": 0, "amount_refunded": 0,
        "amount_collected": mp["amount"], "version": 1, "created_at": now,
        "updated_at": now})
    await payment_store.add_movement(conn, {
        "business_id": order.business_id, "order_id": order.id, "intent_id": intent_id,
        "kind": MovementKind.COLLECT.value, "amount": mp["amount"],
        "source": f"proof:{proof_id}" if proof_id else f"by_hand:{order.id}", "actor": actor,
        "created_at": now})


async def confirm_received(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                           note: str, bank_reference: str | None = None,
                           expected_version: int | None = None) -> dict[str, Any]:
    """The merchant saw the transfer in the bank app, without a proof from the buyer: the
    same decision as approving a proof (``verify`` scope, as money moves on it). The money is
    booked in the ledger as received by hand (so it can be refunded, and the order cannot be
    cancelled while holding it), the order is paid, any waiting proof leaves the queue, and
    the history names who confirmed it and why (``note``, never shown to the buyer)."""
    principal.require(Scope.VERIFY)
    cleaned = (note or "").strip()
    if not cleaned or len(cleaned) > MAX_REASON:
        raise ValidationFailed(f"Say where you saw the money (1 to {MAX_REASON} characters): "
                               "it is kept in the order's history.", details={"field": "note"})
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "payment_received")
        mp = await payment_method_store.manual_payment_of_order(conn, principal.business_id,
                                                                order.id)
        if mp is None:
            raise InvalidTransition(
                f"Order {order.number} is not paid by one of the business's manual methods; "
                "confirm its payment with PATCH /v1/orders/{id}/payment.",
                details={"payment_method": order.payment_method})
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise InvalidTransition(
                f"Order {order.number} is {order.status}; a transfer can only be confirmed "
                "while the order awaits payment.", details={"current_status": order.status})
        await _book_transfer(conn, order, mp, None, actor=principal.actor, now=now)
        shown = await mark_paid(runtime, conn, order, actor=principal.actor,
                                reference=bank_reference or mp["reference"], now=now,
                                action="payment_received",
                                more_changes={"by_hand": True, "note": cleaned,
                                              "method": order.payment_method})
        await payment_method_store.write_manual_payment(conn, mp["id"], {
            "status": "approved", "updated_at": now})
        return shown

    return await runtime.db.run(work)


async def bulk(runtime: Runtime, principal: Principal,
               decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each decision in its own transaction, each result reported on its own: one refusal
    does not undo the others."""
    principal.require(Scope.VERIFY)
    if not 1 <= len(decisions) <= MAX_BULK:
        raise ValidationFailed(f"Send between 1 and {MAX_BULK} decisions at once.",
                               details={"count": len(decisions)})
    results = []
    for item in decisions:
        proof_id = item["id"]
        try:
            if item["action"] == "approve":
                shown = await approve(runtime, principal, proof_id, item.get("reason"))
            else:
                shown = await reject(runtime, principal, proof_id, item.get("reason"))
            results.append({"id": proof_id, "ok": True, "verification": shown})
        except DomainError as exc:
            results.append({"id": proof_id, "ok": False, "error": {
                "code": exc.code, "message": exc.message, "details": exc.details}})
    return results


# --- figures --------------------------------------------------------------------------------

def _figures_view(figures: QueueFigures) -> dict[str, Any]:
    return {"decided": figures.decided, "approved": figures.approved,
            "rejected": figures.rejected, "auto_approved": figures.auto_approved,
            "approval_rate": figures.approval_rate,
            "median_seconds_to_decision": figures.median_seconds_to_decision,
            "score_agreement_rate": figures.score_agreement_rate,
            "scored_decisions": figures.scored_decisions}


async def stats(runtime: Runtime, principal: Principal, *, days: int | None = None,
                period: Period | None = None) -> dict[str, Any]:
    """The queue's figures over the last ``days`` (30 unless named, or the period's own
    window: 30 days, 12 weeks, a year), and with a ``period`` the same figures for each
    day, week or month of it (UTC), oldest first, with how many proofs were still waiting at
    each period's end; the first period is counted whole, from its own start."""
    principal.require(Scope.VERIFY)
    if days is None:
        days = PERIOD_DEFAULT_DAYS[period] if period else 30
    if not 1 <= days <= 365:
        raise ValidationFailed("days is between 1 and 365.", details={"field": "days"})
    now = runtime.clock.now()
    since = now - timedelta(days=days)
    # The first period is read whole (from its start), the window's figures from ``since``.
    first = since if period is None else period_start(since, period)

    async def read(conn: AsyncConnection) -> tuple[
            RowMapping, list[RowMapping], RowMapping, list[tuple[datetime, datetime | None]]]:
        return (await proof_store.pending_figures(conn, principal.business_id),
                await proof_store.decided_since(conn, principal.business_id, first,
                                                limit=50_000),
                await payment_method_store.proof_settings(conn, principal.business_id),
                [] if period is None else
                await proof_store.waiting_since(conn, principal.business_id, first))
    pending, rows, settings, spans = await runtime.db.read_from_replica(
        principal.business_id, read)
    threshold = settings["proof_auto_approve_bp"] or AGREEMENT_THRESHOLD_BP
    decided = [Decided(approved=r["status"] == proof_store.APPROVED,
                       uploaded_at=r["uploaded_at"], decided_at=r["decided_at"],
                       score_bp=r["score_bp"], auto=r["auto_decided"]) for r in rows]
    figures = queue_figures([d for d in decided if d.decided_at >= since],
                            threshold_bp=threshold)
    oldest = pending["oldest"]
    buckets = None
    if period is not None:
        waiting = pending_by_period([Waiting(uploaded_at=up, left_at=left) for up, left in spans],
                                    period=period, since=since, now=now)
        buckets = [{"start": start, **_figures_view(f), "pending_at_end": still}
                   for (start, f), (_, still) in zip(
                       figures_by_period(decided, period=period, since=since, now=now,
                                         threshold_bp=threshold), waiting, strict=True)]
    return {"days": days, "pending": pending["pending"],
            "pending_unscored": pending["pending"] - pending["scored"],
            "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else None,
            **_figures_view(figures), "agreement_threshold": figures.agreement_threshold,
            "period": period, "periods": buckets}
