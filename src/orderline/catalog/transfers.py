"""Stock transfers between two locations of a business: one transaction, a ledger pair.

The source gives the units only if that many are free there (one conditional UPDATE, the
same check a manual write-off makes: units held for orders stay), the destination receives
them; ``transfer_out`` and ``transfer_in`` rows keep each location's ledger equal to its
on_hand. Two transfers draining one location cannot both take its last units: the second
UPDATE sees what the first left and is refused with ``insufficient_stock``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.inventory import MAX_ADJUSTMENT, stock_view
from orderline.catalog.rules import MovementReason
from orderline.catalog.stock_events import announce_expired, announce_if_low
from orderline.core.errors import InsufficientStock, NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.idempotency.service import NO_KEY, Claim
from orderline.tenancy.rules import Principal, Scope


async def transfer_stock(runtime: Runtime, principal: Principal, *, sku: str,
                         from_location: str, to_location: str, quantity: int, note: str = "",
                         claim: Claim = NO_KEY) -> dict[str, Any]:
    """Move ``quantity`` free units of ``sku`` from one location (by code) to another.
    Answers the transfer and the SKU's stock as it left it."""
    principal.require(Scope.WRITE)
    if not 1 <= quantity <= MAX_ADJUSTMENT:
        raise ValidationFailed(f"Transfer 1 to {MAX_ADJUSTMENT} units.",
                               details={"field": "quantity", "quantity": quantity})
    if from_location == to_location:
        raise ValidationFailed("A transfer needs two different locations.",
                               details={"field": "to_location"})
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        variant = await catalog_store.get_variant_by_sku(conn, principal.business_id, sku)
        if variant is None:
            raise NotFound("variant", sku)
        source = await catalog_store.find_location(conn, principal.business_id, from_location)
        if source is None:
            raise NotFound("location", from_location)
        target = await catalog_store.find_location(conn, principal.business_id, to_location)
        if target is None:
            raise NotFound("location", to_location)
        levels = {}
        for loc in sorted((source, target), key=lambda r: str(r["id"])):
            levels[loc["id"]] = await stock_store.ensure_level(
                conn, business_id=principal.business_id, variant_id=variant["id"],
                location_id=loc["id"], now=now)
        expired: list[stock_store.ExpiredReservation] = []
        row = await stock_store.move_units(
            conn, source=stock_store.LevelDelta(levels[source["id"]], variant["id"],
                                                source["id"], quantity),
            target=stock_store.LevelDelta(levels[target["id"]], variant["id"], target["id"],
                                          quantity),
            business_id=principal.business_id,
            reasons=(MovementReason.TRANSFER_OUT, MovementReason.TRANSFER_IN),
            actor=principal.actor, order_id=None,
            note=note or f"transfer {from_location} -> {to_location}", now=now,
            expired=expired)
        await announce_expired(conn, expired, now)
        if row is None:
            free = await stock_store.free_units(conn, levels[source["id"]], now)
            raise InsufficientStock(
                f"Cannot move {quantity} units of {sku} from {from_location}: only "
                f"{max(free, 0)} there are not held for orders.",
                details={"sku": sku, "location": from_location, "requested": quantity,
                         "available": max(free, 0)})
        after = row["on_hand"] - row["reserved"]
        await announce_if_low(conn, business_id=principal.business_id,
                              stock_level_id=levels[source["id"]], variant_id=variant["id"],
                              sku=sku, before=after + quantity, after=after,
                              threshold=variant["low_stock_threshold"], now=now)
        transfer_id = uuid.uuid4()
        transfer = {"id": transfer_id, "sku": sku, "from_location": from_location,
                    "to_location": to_location, "quantity": quantity, "note": note,
                    "actor": principal.actor, "created_at": now}
        await emit(conn, business_id=principal.business_id, type=EventType.STOCK_TRANSFERRED,
                   aggregate_type=AggregateType.STOCK_TRANSFER, aggregate_id=transfer_id,
                   payload={"transfer": transfer}, now=now, new_aggregate=True)
        stock = await stock_view(conn, principal.business_id, sku, now)
        return await claim.keep(conn, {**transfer, "stock": stock})

    return await runtime.db.run(work)
