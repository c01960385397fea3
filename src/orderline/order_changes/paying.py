"""Paying a change's payment request: by card (the buyer on the order page, or the
merchant's key) or received by hand; and the sweep that settles card payments the buyer
finished at the provider after the paying call returned.

A card payment is a payment intent of the order for the request's amount, written under the
order's lock with the request still open (one live attempt per request), created at the
provider outside the transaction, then settled (``_settle``) in a transaction that plans the
change again against the order as it now is (see ``service``'s docstring): the change
applies, or the money goes to the payment saga to be refunded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cancellations.service import RefundPlan, lines_now
from orderline.core.errors import (
    DomainError,
    NotFound,
    OrderChangeClosed,
    OrderNotChangeable,
    PaymentDeadlinePassed,
    PaymentInProgress,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.order_changes import store
from orderline.order_changes.reading import change_view, get_change
from orderline.order_changes.rules import (
    LineEdit,
    RequestStatus,
    check_changeable,
)
from orderline.order_changes.service import (
    SWEEPER_ACTOR,
    apply_change,
    close_waiting,
    plan_against,
)
from orderline.order_changes.store import ChangeRow, RequestRow
from orderline.orders import store as order_store
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.store import OrderRow
from orderline.payments import service as payments
from orderline.payments import store as payment_store
from orderline.payments.rules import LIVE_INTENTS, IntentStatus, MovementKind, RefundMethod
from orderline.payments.store import IntentRow
from orderline.tenancy.rules import Principal, Scope

log = logging.getLogger(__name__)
BY_HAND_PROVIDER = "manual"


async def _locked_request(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                          change_id: uuid.UUID) -> tuple[OrderRow, ChangeRow, RequestRow]:
    order = await order_store.load_order(conn, business_id, order_id, lock=True)
    change = None if order is None else await store.load_change(conn, business_id, order_id,
                                                                 change_id)
    request = None if change is None else await store.request_of_change(conn, change.id)
    if order is None or change is None or request is None:
        raise NotFound("payment request", change_id)
    return order, change, request


def _still_open(change: ChangeRow, request: RequestRow, now: datetime) -> None:
    if request.status != RequestStatus.OPEN:
        raise OrderChangeClosed(
            f"Change {change.number} is {change.status}; its payment request is "
            f"{request.status}.", details={"status": change.status,
                                          "request_status": request.status})
    if request.deadline <= now:
        raise PaymentDeadlinePassed("The deadline to pay for this change has passed; the "
                                    "change lapses and the order stays as it was.",
                                    details={"payment_deadline": request.deadline})


async def pay_by_card(runtime: Runtime, business_id: uuid.UUID, order_id: uuid.UUID,
                      change_id: uuid.UUID, *, payment_method: str | None,
                      actor: str) -> dict[str, Any]:
    """Pay a change's request by card through the business's card provider; the change
    applies once its money is in (module docstring). The caller is known to be allowed: the
    order's buyer (its token) or the merchant's key."""
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        provider = await order_store.card_provider_of(conn, business_id)
    gateway = payments.provider_named(runtime, provider)

    async def open_intent(conn: AsyncConnection) -> IntentRow | None:
        order, change, request = await _locked_request(conn, business_id, order_id, change_id)
        _still_open(change, request, now)
        if request.intent_id is not None:
            earlier = await payment_store.load_intent(conn, request.intent_id)
            if (earlier is not None and earlier.status in LIVE_INTENTS
                    and earlier.provider_ref is None and earlier.provider == provider):
                return earlier  # the provider never answered its creation: ask again, same key
            if earlier is not None and earlier.status in LIVE_INTENTS:
                raise PaymentInProgress("A card payment of this request is under way.",
                                        details={"intent_id": str(earlier.id)})
            if earlier is not None and earlier.status == IntentStatus.CAPTURED:
                return None  # paid, not yet applied (a crash between): settle it
        intent = await payment_store.insert_intent(conn, {
            "id": uuid.uuid4(), "business_id": business_id, "order_id": order.id,
            "provider": provider, "provider_ref": None,
            "status": IntentStatus.REQUIRES_ACTION.value, "capture_mode": "automatic",
            "currency": request.currency, "amount": request.amount, "amount_authorized": 0,
            "amount_captured": 0, "amount_voided": 0, "amount_refunded": 0,
            "amount_collected": 0, "version": 1, "created_at": now, "updated_at": now})
        await store.set_request_intent(conn, request.id, intent.id, now)
        return intent

    intent = await runtime.db.run(open_intent)
    if intent is not None:
        await runtime.checkpoints.reach("order_change.intent_opened")
        await payments.send_to_provider(runtime, gateway, intent,
                                        payment_method=payment_method, actor=actor)
    await runtime.db.run(lambda conn: _settle(runtime, conn, business_id, order_id, change_id,
                                              actor=actor))
    async with runtime.db.read() as conn:
        return await change_view(conn, business_id, order_id, change_id)


async def _settle(runtime: Runtime, conn: AsyncConnection, business_id: uuid.UUID,
                  order_id: uuid.UUID, change_id: uuid.UUID, *, actor: str) -> None:
    """The request's card money is in: apply the change, or (the request closed, the order
    moved on) hand the money to the saga to refund."""
    now = runtime.clock.now()
    order, change, request = await _locked_request(conn, business_id, order_id, change_id)
    intent = (None if request.intent_id is None
              else await payment_store.load_intent(conn, request.intent_id))
    if intent is None or intent.amount_captured - intent.amount_refunded < request.amount:
        return  # not paid (declined, or still waiting for the buyer)
    if request.status == RequestStatus.PAID and request.intent_id == intent.id:
        return  # settled already (another call of the same payment got here first)
    await runtime.checkpoints.reach("order_change.settling")
    applied = False
    if request.status == RequestStatus.OPEN and request.deadline > now:
        applied = await _apply_paid(runtime, conn, order, change, request, actor=actor,
                                    paid_by="card", intent_id=intent.id, now=now)
    if not applied:
        log.warning("payment for an order change that did not apply; refunding it",
                    extra={"order_id": str(order_id), "change_id": str(change_id)})
        await emit(conn, business_id=business_id, type=EventType.PAYMENT_CANCEL_REQUESTED,
                   aggregate_type=AggregateType.ORDER, aggregate_id=order_id,
                   payload={"order_id": order_id, "intent_ids": [intent.id]}, now=now)
        if request.status == RequestStatus.OPEN:
            await close_waiting(conn, order, change, request, status=RequestStatus.CANCELLED,
                         actor=actor, reason="order changed before the payment arrived",
                         now=now)


async def _apply_paid(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                      change: ChangeRow, request: RequestRow, *, actor: str, paid_by: str,
                      intent_id: uuid.UUID | None, now: datetime) -> bool:
    """Apply a waiting change whose request is paid, planned again against the order as it
    is now; False (nothing written) if the order moved so that it no longer fits."""
    stored = await store.lines_of(conn, [change.id])
    edits = [LineEdit(sku=line.sku, quantity=line.quantity_after) for line in stored]
    shipped = sum((await shipment_store.shipped_by_sku(conn, order.id)).values())
    try:
        check_changeable(order.status, shipped_units=shipped)
    except OrderNotChangeable:  # shipped or cancelled meanwhile
        return False
    current = {line.sku: line.quantity for line in await lines_now(conn, order)}
    if any(current.get(line.sku, 0) != line.quantity_before for line in stored):
        return False
    try:
        planned = await plan_against(conn, order, edits,
                              kept_prices={line.sku: line.unit_price for line in stored})
    except DomainError:  # a line refunded meanwhile, a SKU gone from the catalog, ...
        return False
    if planned.plan.difference != request.amount:
        return False
    closed = await store.close_request(conn, request.id, status=RequestStatus.PAID, now=now,
                                       paid_by=paid_by, intent_id=intent_id)
    assert closed is not None  # the order's lock is held and the request was open
    await apply_change(runtime, conn, order, change, planned.plan,
                 RefundPlan(amount=0, method=RefundMethod.NONE), actor=actor, now=now)
    return True


async def record_paid_by_hand(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                              change_id: uuid.UUID) -> dict[str, Any]:
    """The buyer paid the request in cash or by transfer and the merchant saw the money: it
    is booked as received (a ``manual`` payment of the order) and the change applies, in one
    transaction. Needs the ``verify`` scope, as confirming a transfer does."""
    principal.require(Scope.VERIFY)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        order, change, request = await _locked_request(conn, principal.business_id, order_id,
                                                       change_id)
        _still_open(change, request, now)
        await _book_and_apply(runtime, conn, order, change, request, actor=principal.actor,
                              paid_by="by_hand", source=f"order_change:{change.id}", now=now)

    await runtime.db.run(work)
    return await get_change(runtime, principal, order_id, change_id)


async def _book_and_apply(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                          change: ChangeRow, request: RequestRow, *, actor: str, paid_by: str,
                          source: str, now: datetime) -> None:
    """Book money received by hand (a ``manual`` intent, one ``collect`` movement; one per
    change, by the provider reference's unique key) and apply the change, in the caller's
    transaction under the order's lock; refused (raising, so the caller's transaction rolls
    the booking back) if the order moved so that the change no longer fits."""
    intent_id = uuid.uuid4()
    await payment_store.insert_intent(conn, {
        "id": intent_id, "business_id": order.business_id, "order_id": order.id,
        "provider": BY_HAND_PROVIDER, "provider_ref": f"order_change:{change.id}",
        "status": IntentStatus.CAPTURED.value, "capture_mode": "automatic",
        "currency": request.currency, "amount": request.amount, "amount_authorized": 0,
        "amount_captured": 0, "amount_voided": 0, "amount_refunded": 0,
        "amount_collected": request.amount, "version": 1, "created_at": now,
        "updated_at": now})
    await payment_store.add_movement(conn, {
        "business_id": order.business_id, "order_id": order.id, "intent_id": intent_id,
        "kind": MovementKind.COLLECT.value, "amount": request.amount,
        "source": source, "actor": actor, "created_at": now})
    if not await _apply_paid(runtime, conn, order, change, request, actor=actor,
                             paid_by=paid_by, intent_id=intent_id, now=now):
        raise OrderChangeClosed(
            "The order changed since this change was made (shipped, refunded or its "
            "lines changed); cancel the change instead.",
            details={"status": change.status})


# --- paying with a proof of transfer (the manual payments' verification queue) -------------

@dataclass(frozen=True, slots=True)
class RequestForProof:
    """A change's payment request as a proof of transfer is checked against it: what the
    buyer is asked to send, with which reference, until when, and whether it is still open."""

    request_id: uuid.UUID
    change_id: uuid.UUID
    change_number: int
    order_id: uuid.UUID
    amount: int
    currency: str
    deadline: datetime
    status: str
    created_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN

    def reference(self, order_reference: str) -> str:
        """The order's manual payment reference with the change's number: another transfer
        than the order's own (OCR reads it ignoring the dash)."""
        return f"{order_reference}-C{self.change_number}"


def _for_proof(change: ChangeRow, request: RequestRow) -> RequestForProof:
    return RequestForProof(request_id=request.id, change_id=change.id,
                           change_number=change.number, order_id=change.order_id,
                           amount=request.amount, currency=request.currency,
                           deadline=request.deadline, status=request.status,
                           created_at=request.created_at)


async def request_of_change(conn: AsyncConnection, business_id: uuid.UUID,
                            order_id: uuid.UUID, change_id: uuid.UUID) -> RequestForProof:
    """The change's payment request (404 for a change of another order or business, or one
    that asked nothing)."""
    change = await store.load_change(conn, business_id, order_id, change_id)
    request = None if change is None else await store.request_of_change(conn, change.id)
    if change is None or request is None:
        raise NotFound("payment request", change_id)
    return _for_proof(change, request)


async def requests_by_id(conn: AsyncConnection, business_id: uuid.UUID,
                         request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RequestForProof]:
    """Payment requests by id (the verification queue's proofs for changes), this
    business's only."""
    found: dict[uuid.UUID, RequestForProof] = {}
    for request_id in dict.fromkeys(request_ids):
        request = await store.load_request(conn, request_id)
        if request is None or request.business_id != business_id:
            continue
        change = await store.load_change(conn, business_id, request.order_id,
                                         request.change_id)
        if change is not None:
            found[request_id] = _for_proof(change, request)
    return found


def check_payable(request: RequestForProof, now: datetime) -> None:
    """A request still takes money: open and before its deadline (refusals as paying it)."""
    if not request.is_open:
        raise OrderChangeClosed(
            f"Change {request.change_number} is no longer waiting for payment (its payment "
            f"request is {request.status}); nothing was booked.",
            details={"request_status": request.status})
    if request.deadline <= now:
        raise PaymentDeadlinePassed(
            f"The deadline to pay for change {request.change_number} passed; the change "
            "lapses and the order stays as it was. Nothing was booked.",
            details={"payment_deadline": request.deadline})


async def pay_by_proof(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                       request_id: uuid.UUID, *, proof_id: uuid.UUID, actor: str,
                       now: datetime) -> None:
    """An approved proof of transfer pays the request, in the verification's transaction
    (the order's row locked by the caller): the money is booked as a ``manual`` payment
    (source ``proof:<id>``) and the change applies, exactly as paid by hand. Refused, with
    nothing booked, when the request closed (lapsed, cancelled, paid), its deadline passed,
    or the order moved so that the change no longer fits."""
    request = await store.load_request(conn, request_id)
    change = None if request is None else await store.load_change(
        conn, order.business_id, order.id, request.change_id)
    if request is None or change is None:
        raise NotFound("payment request", request_id)
    check_payable(_for_proof(change, request), now)
    await runtime.checkpoints.reach("order_change.proof_paying")
    await _book_and_apply(runtime, conn, order, change, request, actor=actor, paid_by="proof",
                          source=f"proof:{proof_id}", now=now)



async def settle_card_payments(runtime: Runtime, *, batch: int = 200) -> int:
    """Apply the waiting changes whose card money came in after the paying call returned
    (the buyer finished at the provider; its webhook booked the capture): the worker's sweep
    runs it before lapsing, so such a change applies within one sweep. Returns how many were
    looked at."""
    async with runtime.db.read() as conn:
        started = await store.paid_by_card_unsettled(conn, batch)
    for row in started:  # ``id`` is the change's here
        async def work(conn: AsyncConnection, r: store.DueRequest = row) -> None:
            await _settle(runtime, conn, r.business_id, r.order_id, r.id,
                          actor=SWEEPER_ACTOR)

        await runtime.db.run(work)
    return len(started)
