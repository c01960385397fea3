"""Cash on delivery: offered only where the business's policy allows it, with a one-time code
for risky orders; the courier's collection records the money, a refused or failed delivery
brings the stock back and lowers the buyer's trust.

A cash order is created by the checkout's confirm (``checkout/confirm.py``), synchronously:
the buyer gets the real order (status ``confirmed``, its stock sold) or a clear refusal. The
merchant may also type one in (``checkout/direct_orders.py``): the same policy applies
(``refusals``), without the buyer's one-time code, and the merchant may override a refusal
with a reason kept in the order's history.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.catalog import stock_store
from orderline.catalog.rules import MovementReason
from orderline.cod import store as cod_store
from orderline.cod.rules import (
    CodBuyer,
    CodDecision,
    CodOutcome,
    CodPolicy,
    check_cod,
    check_collected,
    cod_refusals,
    trust_after,
)
from orderline.core.db.tables import table_of
from orderline.core.errors import CodUnavailable, InvalidTransition, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.rules import CancelReason, OrderStatus
from orderline.orders.service import lock_for_change, save_change
from orderline.orders.store import OrderRow
from orderline.payments import store as payment_store
from orderline.payments.rules import IntentStatus, MovementKind
from orderline.shipping import store as shipping_store
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope
from orderline.tenancy.store import BusinessSettings
from orderline.tenancy.tables import Business

COD = cod_store.COD
businesses = table_of(Business)


def policy_of(settings: BusinessSettings) -> CodPolicy:
    return CodPolicy(enabled=settings.cod_enabled,
                     zone_ids=frozenset(uuid.UUID(str(z)) for z in settings.cod_zone_ids),
                     max_order_total=settings.cod_max_order_total,
                     max_open_orders_per_customer=settings.cod_max_open_orders,
                     min_trust_score=settings.cod_min_trust_score,
                     otp_above_total=settings.cod_otp_above_total,
                     otp_for_first_order=settings.cod_otp_first_order)


async def decide(conn: AsyncConnection, settings: BusinessSettings, *, business_id: uuid.UUID,
                 customer_id: uuid.UUID, zone_id: uuid.UUID, total: int) -> CodDecision:
    """May this buyer pay this order in cash? Raises the policy's first refusal."""
    record = await cod_store.buyer_record(conn, business_id, customer_id)
    buyer = CodBuyer(customer_id=customer_id, trust_score=record.cod_trust_score,
                     open_cod_orders=record.open_cod_orders,
                     delivered_cod_orders=record.cod_delivered)
    return check_cod(policy_of(settings), zone_id=zone_id, total=total, buyer=buyer)


async def refusals(conn: AsyncConnection, settings: BusinessSettings, *,
                   business_id: uuid.UUID, customer_id: uuid.UUID, zone_id: uuid.UUID | None,
                   total: int) -> list[CodUnavailable]:
    """Every refusal of the business's policy for this cash order (empty: accepted), with the
    customer's row locked to COMMIT so concurrent cash orders count each other. For an order
    the merchant types in (``POST /v1/orders``), who may place it anyway with a reason."""
    record = await cod_store.buyer_record(conn, business_id, customer_id, lock=True)
    buyer = CodBuyer(customer_id=customer_id, trust_score=record.cod_trust_score,
                     open_cod_orders=record.open_cod_orders,
                     delivered_cod_orders=record.cod_delivered)
    return cod_refusals(policy_of(settings), zone_id=zone_id, total=total, buyer=buyer)


async def collect(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                  amount: int, expected_version: int | None = None) -> dict[str, Any]:
    """The courier (or the counter) collected ``amount`` in cash: the money is recorded in the
    ledger, the order is paid (``delivered`` if it was shipped), and the buyer's trust rises.
    An amount other than the total is refused, or recorded as a discrepancy, by setting."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await _cash_order(runtime, conn, principal, order_id, "collect",
                                  allowed=(OrderStatus.CONFIRMED, OrderStatus.SHIPPED),
                                  expected_version=expected_version)
        settings = await tenancy_store.business_settings(conn, principal.business_id)
        result = check_collected(order.total, amount,
                                 allow_discrepancy=settings.cod_allow_discrepancy)
        if amount > 0:
            intent_id = uuid.uuid4()
            await payment_store.insert_intent(conn, {
                "id": intent_id, "business_id": order.business_id, "order_id": order_id,
                "provider": COD, "provider_ref": None, "status": IntentStatus.CAPTURED.value,
                "capture_mode": "automatic", "currency": order.currency,
                "amount": order.total, "amount_authorized": 0, "amount_captured": 0,
                "amount_voided": 0, "amount_refunded": 0, "amount_collected": amount,
                "version": 1, "created_at": now, "updated_at": now})
            await payment_store.add_movement(conn, {
                "business_id": order.business_id, "order_id": order_id,
                "intent_id": intent_id, "kind": MovementKind.COLLECT.value, "amount": amount,
                "source": f"collect:{order_id}", "actor": principal.actor, "created_at": now})
        await _change_trust(conn, settings, order, CodOutcome.DELIVERED)
        shipped = order.status == OrderStatus.SHIPPED
        values: dict[str, Any] = {
            "status": (OrderStatus.DELIVERED if shipped else OrderStatus.PAID).value,
            "paid_at": now, "payment_reference": "cash on delivery"}
        if shipped:
            values["delivered_at"] = now
            # Delivered at the door as a whole: so was each of its parcels.
            await shipment_store.mark_delivered(conn, order.id, None, now)
        return await save_change(conn, order, actor=principal.actor, action="cash_collected",
                                 values=values, changes={
                                     "collected": amount, "discrepancy": result.discrepancy},
                                 now=now)

    return await runtime.db.run(work)


async def delivery_failed(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                          outcome: CodOutcome, note: str = "",
                          expected_version: int | None = None) -> dict[str, Any]:
    """The buyer refused the parcel, or it could not be delivered: the stock comes back (a
    ``return`` movement), the order ends ``returned`` (or ``cancelled`` if it never left), and
    the buyer's trust falls."""
    principal.require(Scope.WRITE)
    if outcome == CodOutcome.DELIVERED:
        raise ValidationFailed("Record a delivery by collecting the cash.",
                               details={"outcome": str(outcome)})
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await _cash_order(runtime, conn, principal, order_id, "delivery_failed",
                                  allowed=(OrderStatus.CONFIRMED, OrderStatus.PROCESSING,
                                           OrderStatus.SHIPPED),
                                  expected_version=expected_version)
        # What the order still holds, where it holds it (a shipment from another location
        # moved its sale there).
        sold = await stock_store.still_sold_of_order(conn, order_id)
        await stock_store.put_back(conn, sold, business_id=order.business_id,
                                   order_id=order_id, actor=principal.actor, now=now,
                                   note=f"order {order.number} {outcome}",
                                   reason=MovementReason.RETURN)
        settings = await tenancy_store.business_settings(conn, principal.business_id)
        await _change_trust(conn, settings, order, outcome)
        shipped = order.status == OrderStatus.SHIPPED
        values: dict[str, Any] = {
            "status": (OrderStatus.RETURNED if shipped else OrderStatus.CANCELLED).value,
            "cancelled_at": now, "cancel_reason": CancelReason.DELIVERY_FAILED.value}
        return await save_change(conn, order, actor=principal.actor, action=str(outcome),
                                 values=values, changes={"outcome": str(outcome), "note": note},
                                 now=now)

    return await runtime.db.run(work)


async def _cash_order(runtime: Runtime, conn: AsyncConnection, principal: Principal,
                      order_id: uuid.UUID, operation: str,
                      allowed: tuple[OrderStatus, ...],
                      expected_version: int | None) -> OrderRow:
    order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                  operation)
    if order.payment_method != COD:
        raise InvalidTransition("This order is not paid in cash on delivery.",
                                details={"payment_method": order.payment_method})
    if order.status not in allowed or order.paid_at is not None:
        raise InvalidTransition(
            f"A cash order in status '{order.status}' cannot be {operation.replace('_', ' ')}"
            "; allowed while " + ", ".join(allowed) + " and not yet collected.",
            details={"current_status": order.status})
    return order


async def _change_trust(conn: AsyncConnection, settings: BusinessSettings, order: OrderRow,
                        outcome: CodOutcome) -> None:
    record = await cod_store.buyer_record(conn, order.business_id, order.customer_id)
    score = trust_after(policy_of(settings), record.cod_trust_score, outcome)
    await cod_store.set_trust(conn, order.customer_id, score,
                              delivered=outcome == CodOutcome.DELIVERED)


# --- the business's policy ------------------------------------------------------------------

SETTING_NAMES = ("cod_enabled", "cod_zone_ids", "cod_max_order_total", "cod_max_open_orders",
                 "cod_min_trust_score", "cod_otp_above_total", "cod_otp_first_order",
                 "cod_allow_discrepancy")


async def get_settings(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        settings = await tenancy_store.business_settings(conn, principal.business_id)
    return {name.removeprefix("cod_"): getattr(settings, name) for name in SETTING_NAMES}


async def update_settings(runtime: Runtime, principal: Principal,
                          changes: dict[str, Any]) -> dict[str, Any]:
    """Change the given COD settings; the result must be a valid policy, and every zone one
    of this business's shipping zones."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        # Held for the transaction, so the audit's "before" is what this change replaces.
        await tenancy_store.get_business(conn, principal.business_id, lock=True)
        current = await tenancy_store.business_settings(conn, principal.business_id)
        merged = {**{n: getattr(current, n) for n in SETTING_NAMES},
                  **{f"cod_{k}": v for k, v in changes.items()}}
        merged["cod_zone_ids"] = [str(z) for z in merged["cod_zone_ids"]]
        policy_of(replace(current, **merged))  # raises ValidationFailed naming the setting
        known = {str(z.id) for z in await shipping_store.zone_terms(conn, principal.business_id)}
        unknown = sorted(set(merged["cod_zone_ids"]) - known)
        if unknown:
            raise ValidationFailed("These are not shipping zones of this business: "
                                   + ", ".join(unknown), details={"zone_ids": unknown})
        await conn.execute(update(businesses).where(businesses.c.id == principal.business_id)
                           .values(**merged))
        await audit.record(
            conn, principal, business_id=principal.business_id,
            entity_type=EntityType.COD_SETTINGS, entity_id=principal.business_id,
            action=Action.UPDATED, now=now,
            before={n.removeprefix("cod_"): getattr(current, n) for n in SETTING_NAMES},
            after={n.removeprefix("cod_"): merged[n] for n in SETTING_NAMES})

    await runtime.db.run(work)
    return await get_settings(runtime, principal)
