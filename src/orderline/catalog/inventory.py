"""Stock levels, manual adjustments, the movement ledger and its reconciliation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.rules import MANUAL_REASONS, Drift, MovementReason, whole_skus_page
from orderline.catalog.stock_events import announce_expired, announce_if_low
from orderline.core.errors import InsufficientStock, NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.idempotency.service import NO_KEY, Claim
from orderline.tenancy.rules import Principal, Scope

MAX_ADJUSTMENT = 1_000_000_000


async def stock_of(runtime: Runtime, principal: Principal, sku: str) -> dict[str, Any]:
    """On hand, held and available for one SKU, per location and in total."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if await catalog_store.get_variant_by_sku(conn, principal.business_id, sku) is None:
            raise NotFound("variant", sku)
        return await stock_view(conn, principal.business_id, sku, runtime.clock.now())


async def stock_view(conn: AsyncConnection, business_id: uuid.UUID, sku: str,
                      now: datetime) -> dict[str, Any]:
    rows = await stock_store.level_views(conn, business_id=business_id, now=now, skus=[sku])
    per_location = [{"location": r["location"], "on_hand": r["on_hand"],
                     "reserved": int(r["reserved"]), "available": int(r["available"])}
                    for r in rows]
    return {"sku": sku,
            "on_hand": sum(p["on_hand"] for p in per_location),
            "reserved": sum(p["reserved"] for p in per_location),
            "available": sum(p["available"] for p in per_location),
            "locations": per_location}


async def list_stock(runtime: Runtime, principal: Principal, *, limit: int,
                     after_sku: str | None, location: str | None = None,
                     low_stock: bool | None = None,
                     include_archived: bool = False) -> tuple[list[dict[str, Any]], str | None]:
    """Stock per SKU and location, by SKU, in pages that end where a SKU ends: one location
    (by its code), only SKUs at or below their low-stock threshold (``low_stock=True``) or
    only those above it, archived SKUs only with ``include_archived``. Returns the page and
    the SKU to page after (None on the last page)."""
    principal.require(Scope.READ)

    async def levels(conn: AsyncConnection) -> list[RowMapping]:
        location_id = None
        if location is not None:
            loc = await catalog_store.find_location(conn, principal.business_id, location)
            if loc is None:
                raise NotFound("location", location)
            location_id = loc["id"]
        return await stock_store.level_views(
            conn, business_id=principal.business_id, now=runtime.clock.now(), limit=limit + 1,
            after_sku=after_sku, where=stock_store.StockFilter(
                location_id=location_id, low_stock=low_stock,
                include_archived=include_archived))
    rows = await runtime.db.read_from_replica(principal.business_id, levels)
    page, next_after = whole_skus_page(rows, limit, lambda r: str(r["sku"]))
    return [{**dict(r), "reserved": int(r["reserved"]), "available": int(r["available"]),
             "low_stock": r["low_stock_threshold"] is not None
             and int(r["available"]) <= r["low_stock_threshold"],
             "archived": r["archived_at"] is not None
             or r["product_archived_at"] is not None} for r in page], next_after


async def adjust_stock(runtime: Runtime, principal: Principal, *, sku: str,
                       location: str | None, reason: MovementReason, note: str,
                       delta: int | None = None, set_on_hand: int | None = None,
                       claim: Claim = NO_KEY) -> dict[str, Any]:
    """Receive, correct or write off stock by hand; every change is a ledger row.

    Either ``delta`` (signed) or ``set_on_hand`` (a stock take) is given. A change that would
    leave fewer units on hand than are held for orders is refused with ``insufficient_stock``.
    Answers the SKU's stock as the change left it, kept under ``claim`` in the same
    transaction (so a retry with its ``Idempotency-Key`` replays it, never adjusting twice).
    """
    principal.require(Scope.WRITE)
    if reason not in MANUAL_REASONS:
        raise ValidationFailed(
            f"Reason must be one of {', '.join(sorted(MANUAL_REASONS))} for a manual adjustment.",
            details={"reason": str(reason)})
    if (delta is None) == (set_on_hand is None):
        raise ValidationFailed("Give exactly one of 'delta' or 'set_on_hand'.")
    if delta is not None and (delta == 0 or abs(delta) > MAX_ADJUSTMENT):
        raise ValidationFailed(f"Delta must be non-zero and at most {MAX_ADJUSTMENT} in size.")
    if set_on_hand is not None and not 0 <= set_on_hand <= MAX_ADJUSTMENT:
        raise ValidationFailed(f"set_on_hand must be 0 to {MAX_ADJUSTMENT}.")
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        variant = await catalog_store.get_variant_by_sku(conn, principal.business_id, sku)
        if variant is None:
            raise NotFound("variant", sku)
        loc = await catalog_store.find_location(conn, principal.business_id, location)
        if loc is None:
            raise NotFound("location", location)
        level_id = await stock_store.ensure_level(
            conn, business_id=principal.business_id, variant_id=variant["id"],
            location_id=loc["id"], now=now)
        change = delta
        if set_on_hand is not None:
            # A stock take names the end count; the row lock makes the delta exact.
            change = set_on_hand - (await stock_store.lock_level(conn, level_id))["on_hand"]
        assert change is not None
        expired: list[stock_store.ExpiredReservation] = []
        row = await stock_store.change_on_hand(
            conn, level=stock_store.LevelDelta(level_id, variant["id"], loc["id"], change),
            business_id=principal.business_id, reason=reason, actor=principal.actor,
            note=note, now=now, expired=expired)
        await announce_expired(conn, expired, now)
        if row is not None:
            after = row["on_hand"] - row["reserved"]
            await announce_if_low(conn, business_id=principal.business_id,
                                  stock_level_id=level_id, variant_id=variant["id"], sku=sku,
                                  before=after - change, after=after,
                                  threshold=variant["low_stock_threshold"], now=now)
        if row is None:
            held = await stock_store.free_units(conn, level_id, now)
            raise InsufficientStock(
                f"Cannot remove {-change} units of {sku}: only {held} are not held for orders.",
                details={"sku": sku, "requested_delta": change, "available": held})
        return await claim.keep(conn, await stock_view(conn, principal.business_id, sku, now))

    return await runtime.db.run(work)


async def list_movements(runtime: Runtime, principal: Principal, *, sku: str | None,
                         before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The ledger, newest first, of the business or of one SKU (404 for a SKU it lacks)."""
    principal.require(Scope.READ)

    async def movements(conn: AsyncConnection) -> list[dict[str, Any]]:
        if sku is not None and await catalog_store.get_variant_by_sku(
                conn, principal.business_id, sku) is None:
            raise NotFound("variant", sku)
        return [dict(r) for r in await stock_store.movement_rows(
            conn, business_id=principal.business_id, sku=sku, before_id=before_id,
            limit=limit)]
    return await runtime.db.read_from_replica(principal.business_id, movements)


def _drift_of(r: RowMapping) -> Drift:
    return Drift(sku=r["sku"], location=r["location"], on_hand=r["on_hand"],
                 ledger_sum=int(r["ledger_sum"]), reserved=r["reserved"],
                 active_reservations=int(r["active_reservations"]))


async def reconcile(runtime: Runtime, business_id: uuid.UUID | None = None) -> list[Drift]:
    """Every stock level whose on_hand differs from its ledger, or whose reserved counter
    differs from its active reservations. An empty list means the books balance."""
    async with runtime.db.read() as conn:
        rows = await stock_store.reconciliation_rows(conn, business_id)
    return [d for d in map(_drift_of, rows) if d.is_drift]


async def reconcile_and_announce(runtime: Runtime) -> list[Drift]:
    """Reconcile every business and write a ``stock.reconciliation_drift`` event for each
    drifting level (the worker does this on a schedule).

    However many workers reconcile, a level's drift is announced at most once per
    reconciliation interval: announcers take turns (a lock on PostgreSQL; SQLite has one
    writer) and skip a level announced less than an interval ago."""
    async with runtime.db.read() as conn:
        rows = [r for r in await stock_store.reconciliation_rows(conn, None)
                if _drift_of(r).is_drift]
    if not rows:
        return []
    now = runtime.clock.now()
    recent = now - timedelta(seconds=0.9 * runtime.settings.reconcile_interval_seconds)

    async def work(conn: AsyncConnection) -> None:
        await outbox_store.take_turn(conn, "stock.reconciliation_drift")
        for r in rows:
            last = await outbox_store.last_event_at(
                conn, r["stock_level_id"], EventType.STOCK_RECONCILIATION_DRIFT.value)
            if last is not None and last > recent:
                continue
            await emit(conn, business_id=r["business_id"],
                       type=EventType.STOCK_RECONCILIATION_DRIFT,
                       aggregate_type=AggregateType.STOCK_LEVEL,
                       aggregate_id=r["stock_level_id"],
                       payload={**_drift_of(r).as_dict(), "variant_id": r["variant_id"],
                                "stock_level_id": r["stock_level_id"]}, now=now)

    await runtime.db.run(work)
    return [_drift_of(r) for r in rows]




async def low_stock(runtime: Runtime, principal: Principal, *,
                    first: int) -> stock_store.LowStock:
    """The business's stock levels at or below their SKU's low-stock threshold: how many,
    and the ``first`` few (fewest free units first)."""
    principal.require(Scope.READ)

    async def read(conn: AsyncConnection) -> stock_store.LowStock:
        return await stock_store.low_stock(conn, principal.business_id,
                                           now=runtime.clock.now(), first=first)
    return await runtime.db.read_from_replica(principal.business_id, read)
