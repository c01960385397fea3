"""Shipping an order in parcels: each shipment is one transaction under the order's row lock.

Units leave from stock the order already took (its sale, at payment or, for cash on
delivery, when placed). Shipped from a chosen location, units the order took elsewhere are
moved there first: a ledger pair naming the order (put back where sold, taken where they
leave, the taking one conditional UPDATE), so every location's ledger still sums to its
on_hand and the location that ships gives the units. The units of a line over all its
shipments never exceed the line's quantity: checked with the order row locked, so two
shipments of the same units run one after the other and the second is refused.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.rules import MovementReason
from orderline.catalog.stock_events import announce_expired
from orderline.core.errors import InsufficientStock, InvalidTransition, NotFound
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.orders import store as order_store
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.fulfilment.rules import (
    MAX_SHIPMENTS_PER_ORDER,
    SHIPPABLE,
    ShipmentStatus,
    SoldUnits,
    derived_status,
    pick_units,
    units_to_ship,
)
from orderline.orders.fulfilment.store import ShipmentLineRow, ShipmentRow, ShipmentWithLines
from orderline.orders.rules import OrderStatus, ensure_transition
from orderline.orders.service import lock_for_change, save_and_show
from orderline.orders.store import OrderRow
from orderline.orders.views import shaped
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class Parcel:
    """What leaves: units per SKU (none: every unit not yet shipped), from a location (its
    code; None: from where the order's stock was taken), with its tracking."""

    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    units: dict[str, int] | None = None
    location: str | None = None


async def create_shipment(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                          parcel: Parcel, *,
                          expected_version: int | None = None) -> dict[str, Any]:
    """Ship some units of the order (or all it has left); answers ``{"order", "shipment"}``.
    The order becomes ``partially_shipped`` or ``shipped``; the buyer is told."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "shipment")
        current = OrderStatus(order.status)
        if current not in SHIPPABLE:
            raise InvalidTransition(
                f"An order in status '{current}' cannot ship; it must be paid (or confirmed, "
                "for cash on delivery) and not yet fully shipped.",
                details={"current_status": str(current), "requested_status": "shipped"})
        location_id = None
        if parcel.location is not None:
            found = await catalog_store.find_location(conn, principal.business_id,
                                                      parcel.location)
            if found is None:
                raise NotFound("location", parcel.location)
            location_id = found["id"]
        lines = await order_store.load_lines(conn, [order.id])
        ordered = {line.sku: line.quantity for line in lines}
        shipped = await shipment_store.shipped_by_sku(conn, order.id)
        units = units_to_ship(parcel.units or {}, ordered, shipped)
        sent = await _send(runtime, conn, order, units, location_id=location_id, parcel=parcel,
                           actor=principal.actor, now=now)
        after = {sku: shipped.get(sku, 0) + units.get(sku, 0) for sku in ordered}
        status = derived_status(current, ordered=ordered, shipped=after, all_delivered=False)
        values: dict[str, Any] = {"carrier": parcel.carrier,
                                  "tracking_number": parcel.tracking_number,
                                  "tracking_url": parcel.tracking_url}
        if status != current:
            ensure_transition(current, status)
            values["status"] = status.value
            if status == OrderStatus.SHIPPED:
                values["shipped_at"] = now
        return await _save_and_announce(conn, order, sent, actor=principal.actor,
                                        action="shipment_created", values=values, now=now)

    return await runtime.db.run(work)


async def ship_rest(runtime: Runtime, conn: AsyncConnection, order: OrderRow, *,
                    carrier: str, tracking_number: str, tracking_url: str | None, actor: str,
                    now: datetime) -> ShipmentWithLines | None:
    """In the caller's transaction, with the order row locked (the whole order shipped in
    one go, ``PATCH /shipping``): one shipment of every unit not yet shipped that the order
    still holds, each from where it was taken. None when nothing is left to send."""
    lines = await order_store.load_lines(conn, [order.id])
    shipped = await shipment_store.shipped_by_sku(conn, order.id)
    unshipped = await _unshipped_sold(conn, order.id)
    units: dict[str, int] = {}
    for line in lines:
        held = sum(s.quantity for s in unshipped.get(line.variant_id, []))
        rest = min(line.quantity - shipped.get(line.sku, 0), held)
        if rest > 0:
            units[line.sku] = rest
    if not units:
        return None
    return await _send(runtime, conn, order, units, location_id=None,
                       parcel=Parcel(carrier=carrier, tracking_number=tracking_number,
                                     tracking_url=tracking_url), actor=actor, now=now)


async def announce_shipment(conn: AsyncConnection, shown: dict[str, Any],
                            sent: ShipmentWithLines, now: datetime) -> None:
    """``shipment.created``: the parcel and the order as it now is (the buyer is told)."""
    codes = await _location_codes(conn, sent.shipment.business_id)
    await emit(conn, business_id=sent.shipment.business_id, type=EventType.SHIPMENT_CREATED,
               aggregate_type=AggregateType.SHIPMENT, aggregate_id=sent.shipment.id,
               payload={"order": shown, "shipment": shipment_view(sent, codes)}, now=now,
               new_aggregate=True)


async def _save_and_announce(conn: AsyncConnection, order: OrderRow, sent: ShipmentWithLines,
                             *, actor: str, action: str, values: dict[str, Any],
                             now: datetime) -> dict[str, Any]:
    codes = await _location_codes(conn, order.business_id)
    view = shipment_view(sent, codes)
    shown = await save_and_show(conn, order, actor=actor, action=action, values=values,
                                changes=_history_of(view), now=now)
    await announce_shipment(conn, shown, sent, now)
    return {"order": shown, "shipment": view}


def _history_of(view: dict[str, Any]) -> dict[str, Any]:
    return {"shipment": view["number"], "carrier": view["carrier"],
            "tracking_number": view["tracking_number"], "location": view["location"],
            "lines": [{"sku": line["sku"], "quantity": line["quantity"]}
                      for line in view["lines"]]}


async def _unshipped_sold(conn: AsyncConnection,
                          order_id: uuid.UUID) -> dict[uuid.UUID, list[SoldUnits]]:
    """Per variant, the units the order took at each level and has not shipped from it."""
    shipped = await shipment_store.shipped_by_level(conn, order_id)
    by_variant: dict[uuid.UUID, list[SoldUnits]] = defaultdict(list)
    for d in await stock_store.still_sold_of_order(conn, order_id):
        left = d.quantity - shipped.get(d.stock_level_id, 0)
        if left > 0:
            by_variant[d.variant_id].append(SoldUnits(d.stock_level_id, d.location_id, left))
    return by_variant


async def _send(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                units: dict[str, int], *, location_id: uuid.UUID | None, parcel: Parcel,
                actor: str, now: datetime) -> ShipmentWithLines:
    number = await shipment_store.next_number(conn, order.id)
    if number > MAX_SHIPMENTS_PER_ORDER:
        raise InvalidTransition(f"An order may have at most {MAX_SHIPMENTS_PER_ORDER} "
                                "shipments.", details={"max": MAX_SHIPMENTS_PER_ORDER})
    variant_of = {line.sku: line.variant_id
                  for line in await order_store.load_lines(conn, [order.id])}
    unshipped = await _unshipped_sold(conn, order.id)
    shipment_id = uuid.uuid4()
    rows: list[ShipmentLineRow] = []
    expired: list[stock_store.ExpiredReservation] = []
    for sku in sorted(units):
        variant_id = variant_of[sku]
        sold = unshipped.get(variant_id, [])
        location_of = {s.stock_level_id: s.location_id for s in sold}
        for pick in pick_units(units[sku], sold, location_id):
            level_id = pick.stock_level_id
            if pick.from_level is not None:
                if level_id is None:
                    level_id = await stock_store.ensure_level(
                        conn, business_id=order.business_id, variant_id=variant_id,
                        location_id=pick.location_id, now=now)
                moved = await stock_store.move_units(
                    conn, source=stock_store.LevelDelta(level_id, variant_id, pick.location_id,
                                                        pick.quantity),
                    target=stock_store.LevelDelta(pick.from_level, variant_id,
                                                  location_of[pick.from_level], pick.quantity),
                    business_id=order.business_id,
                    reasons=(MovementReason.REALLOCATION, MovementReason.REALLOCATION),
                    actor=actor, order_id=order.id,
                    note=f"order {order.number} shipment {number}", now=now, expired=expired)
                if moved is None:
                    free = await stock_store.free_units(conn, level_id, now)
                    raise InsufficientStock(
                        f"Only {max(free, 0)} units of {sku} are free at that location; "
                        f"{pick.quantity} must be taken there for this shipment.",
                        details={"sku": sku, "requested": pick.quantity,
                                 "available": max(free, 0)})
            assert level_id is not None
            rows.append(ShipmentLineRow(shipment_id=shipment_id, sku=sku,
                                        variant_id=variant_id, stock_level_id=level_id,
                                        location_id=pick.location_id, quantity=pick.quantity))
    await announce_expired(conn, expired, now)
    await runtime.checkpoints.reach("shipment.taken")
    shipment = ShipmentRow(id=shipment_id, business_id=order.business_id, order_id=order.id,
                           number=number, status=ShipmentStatus.SHIPPED.value,
                           location_id=location_id, carrier=parcel.carrier,
                           tracking_number=parcel.tracking_number,
                           tracking_url=parcel.tracking_url, actor=actor, shipped_at=now,
                           delivered_at=None)
    await shipment_store.insert_shipment(conn, shipment, rows)
    return ShipmentWithLines(shipment, rows)


async def mark_delivered(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                         shipment_id: uuid.UUID, *,
                         expected_version: int | None = None) -> dict[str, Any]:
    """One shipment arrived; once every unit has shipped and every shipment arrived, the
    order is ``delivered``. Marking a delivered shipment again changes nothing."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "delivery")
        parcels = await shipment_store.shipments_of(conn, principal.business_id, order.id)
        target = next((p for p in parcels if p.shipment.id == shipment_id), None)
        if target is None:
            raise NotFound("shipment", shipment_id)
        codes = await _location_codes(conn, order.business_id)
        if target.shipment.status == ShipmentStatus.DELIVERED:
            return {"order": (await shaped(conn, [order]))[0],
                    "shipment": shipment_view(target, codes)}
        current = OrderStatus(order.status)
        ordered = {line.sku: line.quantity
                   for line in await order_store.load_lines(conn, [order.id])}
        shipped = await shipment_store.shipped_by_sku(conn, order.id)
        all_delivered = all(p.shipment.status == ShipmentStatus.DELIVERED
                            or p.shipment.id == shipment_id for p in parcels)
        status = derived_status(current, ordered=ordered, shipped=shipped,
                                all_delivered=all_delivered)
        values: dict[str, Any] = {}
        if status != current:
            ensure_transition(current, status)
            if order.payment_method == "cod" and order.paid_at is None:
                raise InvalidTransition(
                    "A cash-on-delivery order is delivered by collecting its cash (POST "
                    "/v1/orders/{id}/cod/collect), which also books the money.",
                    details={"current_status": str(current), "requested_status": str(status)})
            values = {"status": status.value, "delivered_at": now}
        await shipment_store.mark_delivered(conn, order.id, shipment_id, now)
        delivered = ShipmentWithLines(
            ShipmentRow(**{**target.shipment.as_dict(),
                           "status": ShipmentStatus.DELIVERED.value, "delivered_at": now}),
            target.lines)
        view = shipment_view(delivered, codes)
        shown = await save_and_show(conn, order, actor=principal.actor,
                                    action="shipment_delivered", values=values,
                                    changes={"shipment": view["number"]}, now=now)
        await emit(conn, business_id=order.business_id, type=EventType.SHIPMENT_DELIVERED,
                   aggregate_type=AggregateType.SHIPMENT, aggregate_id=shipment_id,
                   payload={"order": shown, "shipment": view}, now=now)
        return {"order": shown, "shipment": view}

    return await runtime.db.run(work)


async def list_shipments(runtime: Runtime, principal: Principal,
                         order_id: uuid.UUID) -> list[dict[str, Any]]:
    """The order's shipments, first one first (404 for another business's order)."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if await order_store.load_order(conn, principal.business_id, order_id) is None:
            raise NotFound("order", order_id)
        return await shipments_shown(conn, principal.business_id, order_id)


async def shipments_shown(conn: AsyncConnection, business_id: uuid.UUID,
                          order_id: uuid.UUID) -> list[dict[str, Any]]:
    """The order's shipments as callers see them (the console and the buyer's page too)."""
    parcels = await shipment_store.shipments_of(conn, business_id, order_id)
    if not parcels:
        return []
    codes = await _location_codes(conn, business_id)
    return [shipment_view(p, codes) for p in parcels]


async def _location_codes(conn: AsyncConnection,
                          business_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {r["id"]: r["code"] for r in await catalog_store.list_locations(conn, business_id)}


def shipment_view(sent: ShipmentWithLines, codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    """A shipment as callers see it: its units per SKU and location."""
    s = sent.shipment
    merged: dict[tuple[str, uuid.UUID], int] = defaultdict(int)
    for line in sent.lines:
        merged[(line.sku, line.location_id)] += line.quantity
    return {"id": s.id, "number": s.number, "status": s.status,
            "location": codes.get(s.location_id) if s.location_id else None,
            "carrier": s.carrier, "tracking_number": s.tracking_number,
            "tracking_url": s.tracking_url, "shipped_at": s.shipped_at,
            "delivered_at": s.delivered_at,
            "lines": [{"sku": sku, "quantity": qty, "location": codes.get(loc)}
                      for (sku, loc), qty in merged.items()]}
