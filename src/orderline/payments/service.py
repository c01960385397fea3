"""Card payments through a provider: start an intent, apply what the provider reports (call
answers and signed webhooks alike), capture, refund.

Provider calls happen outside database transactions (a slow gateway never holds a row lock)
and always carry an idempotency key derived from our ids, so a retried call never moves money
twice. What the provider reports is applied in one transaction: lock the order, then the
intent (always in that order), move the intent's cumulative amounts forward to what the
provider reports (one ledger row per step), and mark the order paid when the money received
equals its total. A webhook is recorded by (provider, event id) in the same transaction, so a
redelivery changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog.rules import MovementReason
from orderline.catalog.stock_store import LevelDelta
from orderline.core.errors import (
    InvalidTransition,
    NotFound,
    PaymentDeadlinePassed,
    PaymentFailed,
    PaymentInProgress,
    PaymentNotCapturable,
    PaymentProviderUnavailable,
    RefundExceedsCaptured,
    UnknownPaymentProvider,
    ValidationFailed,
    WebhookSignatureRejected,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.events.outbox import emit
from orderline.idempotency.service import NO_KEY, Claim
from orderline.orders import store as order_store
from orderline.orders.rules import REVENUE_STATUSES, OrderStatus
from orderline.orders.service import note_change, stale_version
from orderline.orders.status import mark_paid, set_shipping
from orderline.orders.store import OrderRow
from orderline.payments import shares
from orderline.payments import store as payment_store
from orderline.payments.providers.base import (
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    ProviderIntent,
    ProviderStatus,
    WebhookRejected,
)
from orderline.payments.providers.configured import providers_of
from orderline.payments.rules import (
    LIVE_INTENTS,
    OFFLINE_PROVIDERS,
    Apply,
    IntentStatus,
    Ledger,
    MovementKind,
    credit_of,
    is_paid,
    line_refund_amount,
    next_status,
)
from orderline.payments.store import IntentRow
from orderline.tenancy.rules import CaptureMode, Principal, Scope

log = logging.getLogger(__name__)

# A create call the provider did not answer is sent again (same idempotency key) this often.
CREATE_ATTEMPTS = 3


def provider_named(runtime: Runtime, name: str) -> PaymentProvider:
    provider = providers_of(runtime).get(name)
    if provider is None:
        raise UnknownPaymentProvider(
            f"No payment provider '{name}' is configured; use one of: "
            + (", ".join(sorted(providers_of(runtime))) or "none") + ".",
            details={"provider": name, "configured": sorted(providers_of(runtime))})
    return provider


def intent_view(intent: IntentRow) -> dict[str, Any]:
    return {k: getattr(intent, k) for k in (
        "id", "order_id", "provider", "provider_ref", "status", "capture_mode", "currency",
        "amount", "amount_authorized", "amount_captured", "amount_voided", "amount_refunded",
        "amount_collected", "client_secret", "next_action", "failure_code", "failure_message",
        "created_at", "updated_at")}


# --- starting a payment ------------------------------------------------------------------

async def start_payment(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                        provider: str | None = None,
                        payment_method: str | None) -> dict[str, Any]:
    """A new payment attempt for an unpaid order, through the business's card provider (its
    ``card_provider`` setting) unless ``provider`` names another configured one. A declined
    card is ``payment_failed`` with the provider's reason; the order keeps its stock until its
    deadline, and another attempt may follow (never two live ones at once)."""
    principal.require(Scope.WRITE)
    return await start_payment_for(runtime, principal.business_id, order_id,
                                   actor=principal.actor, provider=provider,
                                   payment_method=payment_method)


async def start_payment_for(runtime: Runtime, business_id: uuid.UUID, order_id: uuid.UUID, *,
                            actor: str, provider: str | None = None,
                            payment_method: str | None) -> dict[str, Any]:
    """``start_payment`` once the caller is known to be allowed to pay the order: its
    merchant's key, or its buyer (the hosted checkout's card step,
    ``checkout.card_payment``)."""
    if provider is None:
        async with runtime.db.read() as conn:
            provider = await order_store.card_provider_of(conn, business_id)
    gateway = provider_named(runtime, provider)
    now = runtime.clock.now()
    intent_id = uuid.uuid4()

    async def open_intent(conn: AsyncConnection) -> IntentRow:
        order = await _lock_order(conn, business_id, order_id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise InvalidTransition(f"The order is '{order.status}'; only an order awaiting "
                                    "payment can be paid.",
                                    details={"current_status": order.status})
        if order.payment_deadline <= now:
            raise PaymentDeadlinePassed("The payment deadline has passed; place the order "
                                        "again.", details={"payment_deadline":
                                                           order.payment_deadline})
        every = await payment_store.intents_of_order(conn, business_id, order_id)
        live = [i for i in every if i.status in LIVE_INTENTS]
        credit = _credit(every)
        if live and live[0].provider_ref is None and live[0].provider == provider:
            return live[0]  # the provider never answered its creation: ask again, same key
        if live:
            raise PaymentInProgress("This order already has a payment in progress; finish or "
                                    "cancel it first.", details={"intent_id": str(live[0].id)})
        mode = await order_store.capture_mode_of(conn, business_id)
        return await payment_store.insert_intent(conn, {
            "id": intent_id, "business_id": business_id, "order_id": order_id,
            "provider": provider, "provider_ref": None,
            "status": IntentStatus.REQUIRES_ACTION.value, "capture_mode": mode,
            "currency": order.currency, "amount": order.total - credit,
            "amount_authorized": 0,
            "amount_captured": 0, "amount_voided": 0, "amount_refunded": 0,
            "amount_collected": 0, "version": 1, "created_at": now, "updated_at": now})

    intent = await runtime.db.run(open_intent)
    return await send_to_provider(runtime, gateway, intent, payment_method=payment_method,
                                  actor=actor)


async def send_to_provider(runtime: Runtime, gateway: PaymentProvider, intent: IntentRow, *,
                           payment_method: str | None, actor: str) -> dict[str, Any]:
    """Create a written intent at its provider and apply the answer: a declined card is
    ``PaymentFailed`` (the intent failed), a provider that did not answer
    ``PaymentProviderUnavailable`` (the intent stays live; asking again uses the same key)."""
    provider = intent.provider
    intent_id = intent.id
    try:
        reported = await _create_at_provider(gateway, intent, payment_method)
    except ProviderError as error:
        if error.retryable:
            # Unknown whether the provider made it: the attempt stays live (a webhook may still
            # bring its money), and the next start asks again under the same key.
            raise PaymentProviderUnavailable(
                f"The payment provider did not answer ({error}); try again.",
                details={"provider": provider, "intent_id": str(intent_id)}) from error
        await _fail_without_reference(runtime, intent_id, error)
        raise PaymentFailed(f"The payment was declined: {error}",
                            details={"decline_code": error.code,
                                     "intent_id": str(intent_id)}) from error
    applied = await apply_report(runtime, intent_id, reported, source=f"create:{intent_id}",
                                 actor=actor)
    if applied.status == IntentStatus.FAILED:
        raise PaymentFailed(
            f"The payment was declined: {applied.failure_message or applied.failure_code}",
            details={"decline_code": applied.failure_code, "intent_id": str(intent_id)})
    return intent_view(applied)


async def _create_at_provider(gateway: PaymentProvider, intent: IntentRow,
                              payment_method: str | None) -> ProviderIntent:
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return await gateway.create_intent(
                amount=intent.amount, currency=intent.currency,
                capture_mode=CaptureMode(intent.capture_mode),
                idempotency_key=f"intent:{intent.id}", payment_method=payment_method,
                metadata={"business_id": str(intent.business_id),
                          "order_id": str(intent.order_id), "intent_id": str(intent.id)})
        except ProviderError as error:
            if not error.retryable or attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _fail_without_reference(runtime: Runtime, intent_id: uuid.UUID,
                                  error: ProviderError) -> None:
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        await payment_store.write_intent(conn, intent_id, {
            "status": IntentStatus.FAILED.value, "failure_code": error.code,
            "failure_message": str(error)[:500], "updated_at": now})

    await runtime.db.run(work)


# --- applying what the provider reports ------------------------------------------------------

async def apply_report(runtime: Runtime, intent_id: uuid.UUID, reported: ProviderIntent, *,
                       source: str, actor: str) -> IntentRow:
    """Apply a call's answer (not a webhook) to the intent; returns the intent after."""
    return await runtime.db.run(lambda conn: _apply_on(runtime, conn, intent_id, reported,
                                                       source=source, actor=actor))


async def _apply_on(runtime: Runtime, conn: AsyncConnection, intent_id: uuid.UUID,
                    reported: ProviderIntent, *, source: str, actor: str,
                    settle: bool = True) -> IntentRow:
    intent = await payment_store.load_intent(conn, intent_id)
    assert intent is not None
    order = await _lock_order(conn, intent.business_id, intent.order_id)
    locked = await payment_store.load_intent(conn, intent_id, lock=True)
    assert locked is not None
    after, _ = await _advance(runtime, conn, order, locked, reported, source=source,
                              actor=actor, settle=settle)
    return after


async def receive_webhook(runtime: Runtime, provider: str, headers: dict[str, str],
                          body: bytes) -> str:
    """Verify, then apply once. Returns what happened: applied, duplicate, stale, anomaly or
    unknown_intent. A webhook that fails verification changes nothing."""
    gateway = provider_named(runtime, provider)
    try:
        event = gateway.verify_webhook(headers={k.lower(): v for k, v in headers.items()},
                                       body=body)
    except WebhookRejected as rejected:
        raise WebhookSignatureRejected(rejected.code, rejected.message) from rejected
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> str:
        intent = await _intent_of_event(conn, provider, event)
        fresh = await payment_store.record_event(conn, {
            "provider": provider, "event_id": event.event_id, "type": event.type,
            "business_id": intent.business_id if intent else None,
            "intent_id": intent.id if intent else None, "outcome": "applied",
            "payload": _event_payload(event), "received_at": now})
        if not fresh:
            return "duplicate"
        if intent is None or event.intent is None:
            return "unknown_intent"
        order = await _lock_order(conn, intent.business_id, intent.order_id)
        locked = await payment_store.load_intent(conn, intent.id, lock=True)
        assert locked is not None
        _, outcome = await _advance(runtime, conn, order, locked, event.intent,
                                    source=f"event:{event.event_id}",
                                    actor=f"provider:{provider}")
        return outcome

    return await runtime.db.run(work)


async def _intent_of_event(conn: AsyncConnection, provider: str,
                           event: ProviderEvent) -> IntentRow | None:
    raw = event.metadata.get("intent_id")
    if raw:
        try:
            found = await payment_store.load_intent(conn, uuid.UUID(raw))
        except ValueError:
            found = None
        if found is not None and found.provider == provider:
            return found
    if event.intent is not None:
        return await payment_store.find_by_reference(conn, provider, event.intent.reference)
    return None


def _event_payload(event: ProviderEvent) -> dict[str, Any]:
    intent = event.intent
    return {"type": event.type, "created": event.created, "metadata": event.metadata,
            "intent": None if intent is None else {
                "reference": intent.reference, "status": intent.status.value,
                "amount": intent.amount, "amount_authorized": intent.amount_authorized,
                "amount_captured": intent.amount_captured,
                "failure_code": intent.failure_code}}


async def _advance(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                   intent: IntentRow, reported: ProviderIntent, *, source: str,
                   actor: str, settle: bool = True) -> tuple[IntentRow, str]:
    """Move the (locked) intent forward to what the provider reports; book each step in the
    ledger; then (``settle``) pay the order when its money is in. Never moves anything
    backwards. The saga applies its own cancel without settling: it refunds itself."""
    now = runtime.clock.now()
    current = IntentStatus(intent.status)
    decision = next_status(current, reported.status)
    authorized = max(intent.amount_authorized, reported.amount_authorized,
                     reported.amount_captured)
    captured = max(intent.amount_captured, reported.amount_captured)
    if decision == Apply.ANOMALY:
        log.warning("payment report does not fit the intent's status",
                    extra={"intent_id": str(intent.id), "status": str(current),
                           "reported": reported.status.value})
    # The status moves only as the table allows, but money the provider reports as taken is
    # booked whatever our status says (then given back if the order will not be paid).
    ledger = _ledger(intent)
    values: dict[str, Any] = {"updated_at": now}
    for kind, delta in ((MovementKind.AUTHORIZE, authorized - intent.amount_authorized),
                        (MovementKind.CAPTURE, captured - intent.amount_captured)):
        if delta > 0:
            ledger = ledger.plus(kind, delta)
            await _book(conn, intent, kind, delta, source=source, actor=actor, now=now)
    status = reported.status.value if decision == Apply.MOVE else intent.status
    if status == IntentStatus.CANCELLED and ledger.capturable > 0:
        voided = ledger.capturable
        ledger = ledger.plus(MovementKind.VOID, voided)
        await _book(conn, intent, MovementKind.VOID, voided, source=source, actor=actor,
                    now=now)
        values["amount_voided"] = ledger.voided
    values.update(status=status, amount_authorized=ledger.authorized,
                  amount_captured=ledger.captured)
    if decision in (Apply.MOVE, Apply.SAME):
        values.update(client_secret=reported.client_secret or intent.client_secret,
                      next_action=reported.next_action, failure_code=reported.failure_code,
                      failure_message=(reported.failure_message or None) and
                      reported.failure_message[:500])
    if reported.reference and intent.provider_ref is None:
        values["provider_ref"] = reported.reference
    after = await payment_store.write_intent(conn, intent.id, values)
    if decision == Apply.MOVE:
        await emit(conn, business_id=intent.business_id, type=EventType.PAYMENT_UPDATED,
                   aggregate_type=AggregateType.ORDER, aggregate_id=intent.order_id,
                   payload={"payment": intent_view(after), "previous_status": str(current)},
                   now=now)
    if settle:
        await _pay_if_complete(runtime, conn, order, after, actor=actor, now=now)
    return after, {Apply.MOVE: "applied", Apply.SAME: "duplicate", Apply.STALE: "stale",
                   Apply.ANOMALY: "anomaly"}[decision]


async def _book(conn: AsyncConnection, intent: IntentRow, kind: MovementKind, amount: int, *,
                source: str, actor: str, now: datetime,
                order_id: uuid.UUID | None = None) -> None:
    """One ledger row; ``order_id`` names the order refunded when it is not the intent's
    own (an order split off, refunded from its original's payment: ``shares``)."""
    await payment_store.add_movement(conn, {
        "business_id": intent.business_id, "order_id": order_id or intent.order_id,
        "intent_id": intent.id, "kind": kind.value, "amount": amount, "source": source,
        "actor": actor, "created_at": now})


async def _pay_if_complete(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                           intent: IntentRow, *, actor: str, now: datetime) -> None:
    """Pay the order when its money is in; hold its stock on while an authorisation waits
    for capture; and have money that arrived for an order that will not be paid (cancelled,
    or past its deadline) given back by the worker."""
    ledger = _ledger(intent)
    if order.status == OrderStatus.PENDING_PAYMENT and order.payment_deadline > now:
        # A replacement order of an exchange: its credit pays part, this payment the rest.
        due = order.total - _credit(await payment_store.intents_of_order(
            conn, order.business_id, order.id))
        if is_paid(due, ledger):
            await mark_paid(runtime, conn, order, actor=actor,
                            reference=intent.provider_ref, now=now)
        elif (intent.status == IntentStatus.AUTHORIZED
              and ledger.capturable >= due):
            # Secured but not captured (manual capture): keep the stock until the provider's
            # authorisation runs out, not the unpaid-order deadline.
            await order_store.set_hold(conn, order.id, now + timedelta(
                hours=runtime.settings.authorization_hold_hours), only_longer=True)
        return
    will_not_be_paid = order.status in (OrderStatus.CANCELLED, OrderStatus.RETURNED) or (
        order.status == OrderStatus.PENDING_PAYMENT and order.payment_deadline <= now)
    if will_not_be_paid and (ledger.refundable > 0 or intent.status in LIVE_INTENTS):
        log.warning("payment for an order that will not be paid; cancelling it",
                    extra={"order_id": str(order.id), "intent_id": str(intent.id)})
        await emit(conn, business_id=order.business_id,
                   type=EventType.PAYMENT_CANCEL_REQUESTED, aggregate_type=AggregateType.ORDER,
                   aggregate_id=order.id,
                   payload={"order_id": order.id, "intent_ids": [intent.id]}, now=now)


def _credit(intents: list[IntentRow]) -> int:
    return credit_of((i.provider, i.amount_captured + i.amount_collected - i.amount_refunded)
                     for i in intents)


def _ledger(intent: IntentRow) -> Ledger:
    return Ledger(authorized=intent.amount_authorized, captured=intent.amount_captured,
                  voided=intent.amount_voided, refunded=intent.amount_refunded,
                  collected=intent.amount_collected)


async def _lock_order(conn: AsyncConnection, business_id: uuid.UUID,
                      order_id: uuid.UUID) -> OrderRow:
    order = await order_store.load_order(conn, business_id, order_id, lock=True)
    if order is None:
        raise NotFound("order", order_id)
    return order


# --- capture and refund -------------------------------------------------------------------

async def capture_payment(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                          amount: int | None = None) -> dict[str, Any]:
    """Capture an authorised payment (manual capture mode), all of it unless ``amount``.
    Concurrent captures send the same idempotency key and book one capture."""
    principal.require(Scope.WRITE)
    async with runtime.db.read() as conn:
        intents = await payment_store.intents_of_order(conn, principal.business_id, order_id)
    authorized = [i for i in intents if i.status == IntentStatus.AUTHORIZED]
    if not authorized:
        if not intents and await _order_missing(runtime, principal, order_id):
            raise NotFound("order", order_id)
        raise PaymentNotCapturable("No authorised payment to capture on this order.",
                                   details={"statuses": [i.status for i in intents]})
    intent = authorized[-1]
    wanted = intent.amount_authorized - intent.amount_captured if amount is None \
        else amount
    if not 0 < wanted <= intent.amount_authorized - intent.amount_captured:
        raise ValidationFailed("The amount to capture must be positive and at most what is "
                               "authorised and not yet captured.",
                               details={"amount": wanted, "capturable":
                                        intent.amount_authorized - intent.amount_captured})
    gateway = provider_named(runtime, intent.provider)
    try:
        reported = await gateway.capture(_reference(intent), amount=wanted,
                                         idempotency_key=f"capture:{intent.id}")
    except ProviderError as error:
        if error.retryable:
            raise PaymentProviderUnavailable(f"The payment provider did not answer ({error}); "
                                             "try again.") from error
        raise PaymentNotCapturable(f"The provider refused the capture: {error}",
                                   details={"provider_code": error.code}) from error
    after = await apply_report(runtime, intent.id, reported,
                               source=f"capture:{intent.id}", actor=principal.actor)
    return intent_view(after)


async def ship_order(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                     carrier: str, tracking_number: str, tracking_url: str | None,
                     expected_version: int | None = None) -> dict[str, Any]:
    """Fulfilment: with manual capture, an order whose payment is authorised is captured
    first (the money is taken when the goods leave), then marked shipped."""
    principal.require(Scope.WRITE)
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        intents = await payment_store.intents_of_order(conn, principal.business_id, order_id)
        capture_first = order.status == OrderStatus.PENDING_PAYMENT and any(
            i.status == IntentStatus.AUTHORIZED for i in intents)
        if capture_first and expected_version not in (None, order.version):
            assert expected_version is not None
            raise await stale_version(conn, order, expected_version)
    if capture_first:
        await capture_payment(runtime, principal, order_id)
        expected_version = None  # the capture itself moved the version on
    return await set_shipping(runtime, principal, order_id, carrier=carrier,
                              tracking_number=tracking_number, tracking_url=tracking_url,
                              expected_version=expected_version)


async def _order_missing(runtime: Runtime, principal: Principal, order_id: uuid.UUID) -> bool:
    async with runtime.db.read() as conn:
        return await order_store.load_order(conn, principal.business_id, order_id) is None


@dataclass(frozen=True, slots=True)
class RefundLine:
    sku: str
    quantity: int
    restock: bool | None = None  # None: as the refund's ``restock`` says


async def refund_payment(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                         amount: int | None = None, lines: list[RefundLine] | None = None,
                         restock: bool = False, reason: str = "",
                         claim: Claim = NO_KEY,
                         expected_version: int | None = None) -> dict[str, Any]:
    """Refund part or all of what was received: an ``amount``, or ``lines`` (each line's
    share of its net amount, see ``line_refund_amount``), optionally putting those units back
    in stock. The amount (and the lines' units) are taken with conditional UPDATEs first, so
    concurrent refunds can never add up past what was received; then the provider is asked
    with an idempotency key; if it refuses, everything taken is given back. Cash and verified
    transfers (``OFFLINE_PROVIDERS``) are refunded by the merchant by hand: the refund is
    booked without asking anyone.

    ``restock`` is for the lines without their own choice (``RefundLine.restock``). The
    refund moves the order's version on and enters its history (who, how much, which lines,
    the reason) when the amount is taken; if the provider refuses, a ``refund_failed`` entry
    follows. ``expected_version`` (If-Match) refuses it (412) if the order changed since."""
    principal.require(Scope.WRITE)
    if (amount is None) == (not lines):
        raise ValidationFailed("Refund either an amount or lines, not both and not neither.",
                               details={"amount": amount, "lines": len(lines or [])})
    if amount is not None and (isinstance(amount, bool) or amount <= 0):
        raise ValidationFailed("A refund needs a positive amount in minor units.",
                               details={"amount": amount})
    now = runtime.clock.now()
    refund_id = uuid.uuid4()
    claimed: list[ClaimedUnits] = []

    chain: list[tuple[uuid.UUID, ...]] = []
    own_before: list[int] = []

    async def reserve(conn: AsyncConnection) -> tuple[IntentRow, int]:
        await claim.pin(conn)  # once the amount is taken, a retry must not take it again
        order = await _lock_order(conn, principal.business_id, order_id)
        if expected_version is not None and expected_version != order.version:
            raise await stale_version(conn, order, expected_version)
        purse = await shares.purse_of(conn, order, lock=True)
        total = amount if amount is not None else await _claim_lines(
            conn, order, lines or [], claimed, restock=restock)
        shares.check_share(purse, total, order.currency)
        own_before.append(purse.own)
        for intent in purse.intents:
            taken = await shares.take_refund(conn, intent.id, total, now,
                                              chain=purse.chain_for(intent))
            if taken is not None:
                chain.append(purse.chain_for(intent))
                await note_change(conn, order, actor=principal.actor, action="refunded",
                                  changes=_refund_changes(refund_id, total, order.currency,
                                                          claimed, reason,
                                                          by_hand=intent.provider
                                                          in OFFLINE_PROVIDERS),
                                  now=now)
                return taken, total
        raise RefundExceedsCaptured(
            f"A refund of {total} is more than any payment of this order has left to refund.",
            details={"amount": total})

    intent, total = await runtime.db.run(reserve)
    if intent.provider not in OFFLINE_PROVIDERS:
        try:
            gateway = provider_named(runtime, intent.provider)
            await gateway.refund(_reference(intent), amount=total,
                                 idempotency_key=f"refund:{refund_id}")
        except UnknownPaymentProvider:
            await runtime.db.run(lambda conn: _give_back_refund(conn, intent, total, claimed,
                                                                now, refund_id=refund_id,
                                                                actor=principal.actor,
                                                                order_id=order_id,
                                                                chain=chain[-1]))
            raise
        except ProviderError as error:
            await runtime.db.run(lambda conn: _give_back_refund(conn, intent, total, claimed,
                                                                now, refund_id=refund_id,
                                                                actor=principal.actor,
                                                                order_id=order_id,
                                                                chain=chain[-1]))
            raise PaymentProviderUnavailable(
                f"The provider did not refund ({error}); nothing was refunded.",
                details={"provider_code": error.code}) from error

    async def book(conn: AsyncConnection) -> IntentRow:
        order = await _lock_order(conn, principal.business_id, order_id)
        await _book(conn, intent, MovementKind.REFUND, total, source=f"refund:{refund_id}",
                    actor=principal.actor, now=now, order_id=order_id)
        restocked = [c for c in claimed if c.restock]
        if restocked and order.status in REVENUE_STATUSES:
            await _restock(conn, order, restocked, actor=principal.actor, now=now)
        after = await payment_store.load_intent(conn, intent.id)
        assert after is not None
        full = (total >= own_before[-1] if intent.order_id != order_id
                else after.amount_refunded >= order.total)
        await emit(conn, business_id=principal.business_id,
                   type=EventType.ORDER_REFUNDED if full else EventType.ORDER_PARTIALLY_REFUNDED,
                   aggregate_type=AggregateType.ORDER, aggregate_id=order_id,
                   payload={"order_id": order_id, "amount": total,
                            "refunded_total": after.amount_refunded, "reason": reason,
                            "refund_id": refund_id,
                            "lines": [{"sku": c.sku, "quantity": c.units,
                                       "restocked": c.restock} for c in claimed],
                            "restocked": bool(restocked)},
                   now=now)
        return after

    return intent_view(await runtime.db.run(book))


@dataclass(frozen=True, slots=True)
class ClaimedUnits:
    """Units of one line taken as refunded by this refund (given back if the provider
    refuses it)."""

    sku: str
    variant_id: uuid.UUID
    units: int
    restock: bool = False


async def _claim_lines(conn: AsyncConnection, order: OrderRow, wanted: list[RefundLine],
                       claimed: list[ClaimedUnits], *, restock: bool) -> int:
    """Take the lines' units as refunded (refused if more than are left) and price them."""
    total = 0
    for want in wanted:
        line = await order_store.claim_line_refund(conn, order.id, want.sku, want.quantity)
        if line is None:
            raise RefundExceedsCaptured(
                f"Line {want.sku} has fewer than {want.quantity} units left to refund (or is "
                "not in this order).", details={"sku": want.sku, "quantity": want.quantity})
        net = line.line_total - line.discount + (0 if order.prices_include_tax else line.tax)
        total += line_refund_amount(net=net, quantity=line.quantity,
                                    refunded_before=line.refunded_quantity - want.quantity,
                                    units=want.quantity)
        claimed.append(ClaimedUnits(sku=line.sku, variant_id=line.variant_id,
                                    units=want.quantity,
                                    restock=restock if want.restock is None else want.restock))
    if total <= 0:
        raise ValidationFailed("These lines come to nothing to refund.",
                               details={"lines": [w.sku for w in wanted]})
    return total


async def _restock(conn: AsyncConnection, order: OrderRow, claimed: list[ClaimedUnits], *,
                   actor: str, now: datetime) -> None:
    sold = {d.variant_id: d for d in await stock_store.consumed_of_order(conn, order.id)}
    # Units a return already put back on hand (returns/) are not put back a second time.
    left = await stock_store.net_sold_by_variant(conn, order.id)
    back = [LevelDelta(sold[c.variant_id].stock_level_id, c.variant_id,
                       sold[c.variant_id].location_id,
                       min(c.units, left.get(c.variant_id, 0)))
            for c in claimed if c.variant_id in sold]
    back = [d for d in back if d.quantity > 0]
    await stock_store.put_back(conn, back, business_id=order.business_id,
                               order_id=order.id, actor=actor, now=now,
                               note=f"order {order.number} refunded",
                               reason=MovementReason.RETURN)


def _refund_changes(refund_id: uuid.UUID, amount: int, currency: str,
                    claimed: list[ClaimedUnits], reason: str, *,
                    by_hand: bool) -> dict[str, Any]:
    """A refund as the order's history keeps it (the reason is the merchant's own words:
    the buyer's view of the history shows no changes)."""
    changes: dict[str, Any] = {"refund_id": str(refund_id), "amount": amount,
                               "currency": currency, "by_hand": by_hand}
    if claimed:
        changes["lines"] = [{"sku": c.sku, "quantity": c.units, "restocked": c.restock}
                            for c in claimed]
    if reason.strip():
        changes["reason"] = reason.strip()
    return changes


async def _give_back_refund(conn: AsyncConnection, intent: IntentRow, amount: int,
                            claimed: list[ClaimedUnits], now: datetime, *,
                            refund_id: uuid.UUID, actor: str, order_id: uuid.UUID,
                            chain: tuple[uuid.UUID, ...] = ()) -> None:
    # The order first (an order split off, then its original), as every refund takes its
    # rows, so two never wait on each other.
    order = await _lock_order(conn, intent.business_id, order_id)
    if intent.order_id != order_id:
        await _lock_order(conn, intent.business_id, intent.order_id)
    await payment_store.give_back_refund(conn, intent.id, amount, now)
    await shares.give_back_to_chain(conn, chain, amount)
    for line in claimed:
        await order_store.unclaim_line_refund(conn, order_id, line.sku, line.units)
    await note_change(conn, order, actor=actor, action="refund_failed",
                      changes={"refund_id": str(refund_id), "amount": amount}, now=now)


async def payments_of_order(runtime: Runtime, principal: Principal,
                            order_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if await order_store.load_order(conn, principal.business_id, order_id) is None:
            raise NotFound("order", order_id)
        intents = await payment_store.intents_of_order(conn, principal.business_id, order_id)
        ledger = await payment_store.movements_of_order(conn, order_id)
    return {"data": [intent_view(i) for i in intents], "ledger": [m.as_dict() for m in ledger]}


# --- the saga: cancel at the provider what will not be paid ---------------------------------

async def cancel_at_provider(ctx: HandlerContext, conn: AsyncConnection,
                             event: StoredEvent) -> None:
    """Run by the relay for ``payment.cancel_requested``: void (or cancel) each live attempt;
    if the provider had already captured it, refund what it holds. Every call carries an
    idempotency key, so a retry after a crash or a provider outage moves no money twice; a
    provider that does not answer makes the handler fail, and the relay retries it."""
    runtime = ctx.runtime
    for raw in event.payload["intent_ids"]:
        intent = await payment_store.load_intent(conn, uuid.UUID(str(raw)))
        if intent is None:
            continue
        gateway = provider_named(runtime, intent.provider)
        if intent.status in LIVE_INTENTS:
            if intent.provider_ref is None:  # never reached the provider
                reported = ProviderIntent(reference="", status=ProviderStatus.CANCELLED,
                                          amount=intent.amount, currency=intent.currency)
            else:
                reported = await _cancel_or_read(gateway, intent)
            intent = await _apply_on(runtime, conn, intent.id, reported,
                                     source=f"cancel:{intent.id}", actor=SAGA_ACTOR,
                                     settle=False)
        left = _ledger(intent).refundable
        if left > 0 and intent.provider_ref:
            await gateway.refund(intent.provider_ref, amount=left,
                                 idempotency_key=f"refund-unpaid:{intent.id}")
            now = ctx.now
            taken = await payment_store.take_refund(conn, intent.id, left, now)
            if taken is not None:
                await _book(conn, intent, MovementKind.REFUND, left,
                            source=f"refund-unpaid:{intent.id}", actor=SAGA_ACTOR, now=now)
                await emit(conn, business_id=intent.business_id,
                           type=EventType.ORDER_REFUNDED, aggregate_type=AggregateType.ORDER,
                           aggregate_id=intent.order_id,
                           payload={"order_id": intent.order_id, "amount": left,
                                    "refunded_total": taken.amount_refunded,
                                    "reason": "order not paid in time"}, now=now)


def _reference(intent: IntentRow) -> str:
    """The provider's reference of an intent that reached it (authorised, captured or being
    cancelled after its creation was answered); passed on as stored, as before the rows were
    typed."""
    return cast(str, intent.provider_ref)


async def _cancel_or_read(gateway: PaymentProvider, intent: IntentRow) -> ProviderIntent:
    try:
        return await gateway.cancel(_reference(intent),
                                    idempotency_key=f"cancel:{intent.id}")
    except ProviderError as error:
        if error.retryable:
            raise
        # Too late to cancel (captured meanwhile): read what the provider holds instead.
        return await gateway.retrieve_intent(_reference(intent))


SAGA_ACTOR = "worker:payment_saga"
PAYMENT_SAGA = Handler("payment_saga", frozenset({EventType.PAYMENT_CANCEL_REQUESTED}),
                       cancel_at_provider)
