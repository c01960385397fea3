"""Shipments, the pure part: which units a shipment may carry, where its units are taken
from, and the order status its shipments make.

A unit is shipped at most once: the units of a line over all its shipments never exceed the
line's quantity. The order's status follows its shipments: some units out makes it
``partially_shipped``, all of them ``shipped``, all of them delivered ``delivered``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from orderline.core.errors import ShipmentExceedsOrder, ValidationFailed
from orderline.orders.rules import OrderStatus

MAX_SHIPMENTS_PER_ORDER = 100

# The statuses in which units may still leave.
SHIPPABLE = frozenset({OrderStatus.CONFIRMED, OrderStatus.PAID, OrderStatus.PROCESSING,
                       OrderStatus.PARTIALLY_SHIPPED})


class ShipmentStatus(StrEnum):
    SHIPPED = "shipped"
    DELIVERED = "delivered"


def units_to_ship(requested: Mapping[str, int], ordered: Mapping[str, int],
                  shipped: Mapping[str, int]) -> dict[str, int]:
    """The units per SKU a shipment carries, checked against the order: each SKU one of the
    order's lines, each quantity at least 1, and never more than the line still has to send.
    An empty request means every unit not yet shipped (the whole rest of the order)."""
    if not requested:
        rest = {sku: qty - shipped.get(sku, 0) for sku, qty in ordered.items()}
        chosen = {sku: qty for sku, qty in rest.items() if qty > 0}
        if not chosen:
            raise ShipmentExceedsOrder("Every unit of this order has already shipped.",
                                       details={"remaining": {}})
        return chosen
    unknown = sorted(sku for sku in requested if sku not in ordered)
    if unknown:
        raise ValidationFailed("These SKUs are not lines of this order: " + ", ".join(unknown),
                               details={"field": "lines", "unknown_skus": unknown})
    for sku, qty in requested.items():
        if qty < 1:
            raise ValidationFailed(f"Ship at least one unit of {sku}.",
                                   details={"field": "lines", "sku": sku, "quantity": qty})
    over = {sku: {"requested": qty, "remaining": ordered[sku] - shipped.get(sku, 0)}
            for sku, qty in sorted(requested.items())
            if shipped.get(sku, 0) + qty > ordered[sku]}
    if over:
        parts = [f"{sku}: {o['remaining']} left to ship, {o['requested']} asked"
                 for sku, o in over.items()]
        raise ShipmentExceedsOrder("A shipment cannot carry more units than the order has "
                                   "left to ship (" + "; ".join(parts) + ").",
                                   details={"lines": over})
    return dict(requested)


def derived_status(current: OrderStatus, *, ordered: Mapping[str, int],
                   shipped: Mapping[str, int], all_delivered: bool) -> OrderStatus:
    """The order's status its shipments make: unchanged while nothing has shipped,
    ``partially_shipped`` while some units wait, ``shipped`` once every unit left, and
    ``delivered`` once every unit left and every shipment is delivered."""
    sent = sum(min(shipped.get(sku, 0), qty) for sku, qty in ordered.items())
    if sent == 0:
        return current
    if sent < sum(ordered.values()):
        return OrderStatus.PARTIALLY_SHIPPED
    return OrderStatus.DELIVERED if all_delivered else OrderStatus.SHIPPED


@dataclass(frozen=True, slots=True)
class SoldUnits:
    """Units of one SKU the order took from one stock level and has not shipped yet."""

    stock_level_id: uuid.UUID
    location_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class Pick:
    """Where a shipment's units of one SKU come from. ``from_sold`` units leave from stock
    the order already took at that level; ``moved`` units were taken at another level
    (``from_level``) and are taken at this one instead: put back there, taken here."""

    stock_level_id: uuid.UUID | None
    location_id: uuid.UUID
    quantity: int
    from_level: uuid.UUID | None = None


def pick_units(quantity: int, sold: Sequence[SoldUnits],
               location_id: uuid.UUID | None) -> list[Pick]:
    """Where ``quantity`` units of a SKU leave from.

    Without a location, from where the order took them (levels in id order). From a chosen
    location, first the units the order took there, then units it took elsewhere, moved to
    that location (their sale is put back where it was and taken at the location instead, so
    the location's ledger gives the units that leave). ``stock_level_id`` is None for units
    moved to a location the SKU was never stocked at (its level is made when they are
    taken). Raises when the order has fewer unshipped units than asked (stock given back by
    a refund)."""
    ordered_sold = sorted((s for s in sold if s.quantity > 0), key=lambda s: str(s.stock_level_id))
    if sum(s.quantity for s in ordered_sold) < quantity:
        raise ShipmentExceedsOrder(
            "The order holds fewer unshipped units than asked (some were given back).",
            details={"requested": quantity,
                     "unshipped": sum(s.quantity for s in ordered_sold)})
    picks: list[Pick] = []
    left = quantity
    if location_id is None:
        for s in ordered_sold:
            take = min(left, s.quantity)
            if take:
                picks.append(Pick(s.stock_level_id, s.location_id, take))
                left -= take
        return picks
    here = [s for s in ordered_sold if s.location_id == location_id]
    elsewhere = [s for s in ordered_sold if s.location_id != location_id]
    level_here = here[0].stock_level_id if here else None
    for s in here:
        take = min(left, s.quantity)
        if take:
            picks.append(Pick(s.stock_level_id, location_id, take))
            left -= take
    for s in elsewhere:
        take = min(left, s.quantity)
        if take:
            picks.append(Pick(level_here, location_id, take, from_level=s.stock_level_id))
            left -= take
    return picks
