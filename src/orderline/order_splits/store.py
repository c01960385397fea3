"""SQL for splits and merges: the links between orders, and the few statements that move
units from one order to another.

Moving a line's units, an unpaid order's hold and a paid order's sale from one order to
another is what only a split or a merge does, so those statements live here, on the orders'
and the stock's tables, rather than as one-caller functions in those capabilities' stores:
each is one conditional statement inside the caller's transaction, with the orders' rows
locked (``orders.service.lock_for_change``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.rules import MovementReason, ReservationStatus
from orderline.catalog.stock_store import LevelDelta
from orderline.catalog.tables import Reservation, StockMovement
from orderline.core.db.tables import table_of
from orderline.order_splits.tables import OrderLink
from orderline.orders.tables import Order, OrderLine

links = table_of(OrderLink)
orders = table_of(Order)
lines = table_of(OrderLine)
reservations = table_of(Reservation)
movements = table_of(StockMovement)

ACTIVE = ReservationStatus.ACTIVE.value


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A link of an order to another, with the other's number and status."""

    order_id: uuid.UUID
    other_order_id: uuid.UUID
    other_number: str
    other_status: str
    kind: str
    change_id: uuid.UUID
    amount: int
    lines: list[dict[str, Any]]
    actor: str
    created_at: datetime


async def add_link_pair(conn: AsyncConnection, *, business_id: uuid.UUID,
                        change_id: uuid.UUID, first: uuid.UUID, first_kind: str,
                        second: uuid.UUID, second_kind: str, amount: int,
                        moved: list[dict[str, Any]], actor: str, now: datetime) -> None:
    common = {"business_id": business_id, "change_id": change_id, "amount": amount,
              "lines": moved, "actor": actor, "created_at": now}
    await conn.execute(insert(links), [
        {"id": uuid.uuid4(), "order_id": first, "other_order_id": second, "kind": first_kind,
         **common},
        {"id": uuid.uuid4(), "order_id": second, "other_order_id": first, "kind": second_kind,
         **common}])


async def links_of(conn: AsyncConnection, business_id: uuid.UUID,
                   order_id: uuid.UUID) -> list[LinkRow]:
    stmt = (select(links.c.order_id, links.c.other_order_id, orders.c.number.label("number"),
                   orders.c.status.label("status"), links.c.kind, links.c.change_id,
                   links.c.amount, links.c.lines, links.c.actor, links.c.created_at)
            .join(orders, orders.c.id == links.c.other_order_id)
            .where(links.c.business_id == business_id, links.c.order_id == order_id)
            .order_by(links.c.created_at, links.c.kind))
    return [LinkRow(order_id=r.order_id, other_order_id=r.other_order_id,
                    other_number=r.number, other_status=r.status, kind=r.kind,
                    change_id=r.change_id, amount=int(r.amount), lines=list(r.lines or []),
                    actor=r.actor, created_at=r.created_at)
            for r in await conn.execute(stmt)]


async def moved_out_amount(conn: AsyncConnection, order_id: uuid.UUID) -> int:
    """Money of this order's payments that belongs to orders split from it."""
    stmt = select(func.coalesce(func.sum(links.c.amount), 0)).where(
        links.c.order_id == order_id, links.c.kind == "split_into")
    return int((await conn.execute(stmt)).scalar_one())


async def take_line_units(conn: AsyncConnection, *, order_id: uuid.UUID, sku: str, units: int,
                          line_total: int, discount: int, tax: int) -> bool:
    """The line gives up ``units`` and their shares, only if it still has that many (one
    conditional UPDATE); a line left with nothing (and nothing cancelled or refunded) goes."""
    stmt = (update(lines)
            .where(lines.c.order_id == order_id, lines.c.sku == sku, lines.c.quantity >= units)
            .values(quantity=lines.c.quantity - units, line_total=lines.c.line_total - line_total,
                    discount=lines.c.discount - discount, tax=lines.c.tax - tax)
            .returning(lines.c.id, lines.c.quantity, lines.c.cancelled_quantity,
                       lines.c.refunded_quantity))
    row = (await conn.execute(stmt)).first()
    if row is None:
        return False
    if row.quantity == 0 and row.cancelled_quantity == 0 and row.refunded_quantity == 0:
        await conn.execute(lines.delete().where(lines.c.id == row.id))
    return True


async def set_merged_lines(conn: AsyncConnection, *, business_id: uuid.UUID,
                           order_id: uuid.UUID, planned: Sequence[Any],
                           variant_of: dict[str, uuid.UUID]) -> None:
    """The survivor's lines as planned (``rules.MergedLine``): its own updated, the joining
    SKUs it lacked added after them."""
    have = {r.sku: r.position for r in await conn.execute(
        select(lines.c.sku, lines.c.position).where(lines.c.order_id == order_id))}
    position = max(have.values(), default=-1) + 1
    for line in planned:
        values = {"quantity": line.quantity, "line_total": line.line_total,
                  "discount": line.discount, "tax": line.tax}
        if line.sku in have:
            await conn.execute(update(lines).where(lines.c.order_id == order_id,
                                                   lines.c.sku == line.sku).values(**values))
            continue
        await conn.execute(insert(lines).values(
            id=uuid.uuid4(), business_id=business_id, order_id=order_id, position=position,
            variant_id=variant_of[line.sku], sku=line.sku, name=line.name,
            unit_price=line.unit_price, **values))
        position += 1


async def hand_over_hold(conn: AsyncConnection, *, business_id: uuid.UUID,
                         from_order: uuid.UUID, to_order: uuid.UUID, variant_id: uuid.UUID,
                         units: int, expires_at: datetime, now: datetime) -> bool:
    """``units`` of an unpaid order's live hold of a variant now hold stock for another order:
    the first's reservation shrinks (or, left with nothing, is closed) and the second gets
    one of ``units`` at the same level. The level's ``reserved`` counter does not move, so
    no other buyer can take the units in between. False if no live hold had that many."""
    live = and_(reservations.c.order_id == from_order, reservations.c.variant_id == variant_id,
                reservations.c.status == ACTIVE, reservations.c.expires_at > now,
                reservations.c.quantity >= units)
    # One reservation (an order holds one per variant and level), still checked as it is
    # written: the caller holds the order's row lock, a lapse sweep may still close it.
    one = select(reservations.c.id).where(live).order_by(reservations.c.id).limit(1)
    found = (await conn.execute(one)).scalar()
    if found is None:
        return False
    mine = and_(reservations.c.id == found, live)
    whole = (await conn.execute(
        update(reservations).where(mine, reservations.c.quantity == units)
        .values(order_id=to_order, expires_at=expires_at)
        .returning(reservations.c.id))).first()
    if whole is not None:  # the whole reservation changes hands
        return True
    shrunk = (await conn.execute(
        update(reservations).where(mine, reservations.c.quantity > units)
        .values(quantity=reservations.c.quantity - units)
        .returning(reservations.c.stock_level_id))).first()
    if shrunk is None:
        return False
    await conn.execute(insert(reservations).values(
        id=uuid.uuid4(), business_id=business_id, order_id=to_order, checkout_id=None,
        stock_level_id=shrunk.stock_level_id, variant_id=variant_id, quantity=units,
        status=ACTIVE, expires_at=expires_at, created_at=now, closed_at=None))
    return True


async def join_holds(conn: AsyncConnection, *, from_order: uuid.UUID, to_order: uuid.UUID,
                     expires_at: datetime, now: datetime) -> int:
    """Every live hold of ``from_order`` now holds for ``to_order``: added to its hold of the
    same variant at the same level when it has one (the joining row closed as released, its
    units now counted in the other), else changing hands. ``reserved`` never moves. Every
    live hold of ``to_order`` then lasts until ``expires_at``. Returns the units handed over."""
    joining = list(await conn.execute(
        select(reservations.c.id, reservations.c.stock_level_id, reservations.c.variant_id,
               reservations.c.quantity)
        .where(reservations.c.order_id == from_order, reservations.c.status == ACTIVE,
               reservations.c.expires_at > now)
        .order_by(reservations.c.stock_level_id)))
    units = 0
    for row in joining:
        units += row.quantity
        grown = (await conn.execute(
            update(reservations)
            .where(reservations.c.id == select(reservations.c.id).where(
                reservations.c.order_id == to_order,
                reservations.c.variant_id == row.variant_id,
                reservations.c.stock_level_id == row.stock_level_id,
                reservations.c.status == ACTIVE).order_by(reservations.c.id).limit(1)
                .scalar_subquery())
            .values(quantity=reservations.c.quantity + row.quantity)
            .returning(reservations.c.id))).first()
        if grown is not None:
            await conn.execute(update(reservations).where(reservations.c.id == row.id)
                               .values(status=ReservationStatus.RELEASED.value, closed_at=now))
        else:
            await conn.execute(update(reservations).where(reservations.c.id == row.id)
                               .values(order_id=to_order))
    await conn.execute(update(reservations)
                       .where(reservations.c.order_id == to_order,
                              reservations.c.status == ACTIVE)
                       .values(expires_at=expires_at))
    return units


async def hand_over_sold(conn: AsyncConnection, *, business_id: uuid.UUID,
                         from_order: uuid.UUID, to_order: uuid.UUID,
                         taken: Sequence[LevelDelta], actor: str, note: str,
                         now: datetime) -> None:
    """Units a paid (or cash) order took from stock now belong to the order split from it:
    a ledger pair per level, ``split`` +units naming the original and -units naming the new
    order, so each order's own rows say what it still has out and on_hand does not move.
    The new order gets a consumed reservation per level too, as a paid order has (a refund
    that restocks finds the level there)."""
    rows: list[dict[str, Any]] = []
    for d in taken:
        for order_id, delta in ((from_order, d.quantity), (to_order, -d.quantity)):
            rows.append({"business_id": business_id, "stock_level_id": d.stock_level_id,
                         "variant_id": d.variant_id, "location_id": d.location_id,
                         "delta": delta, "reason": MovementReason.SPLIT.value, "actor": actor,
                         "order_id": order_id, "note": note, "created_at": now})
    if not rows:
        return
    await conn.execute(insert(movements), rows)
    await conn.execute(insert(reservations), [
        {"id": uuid.uuid4(), "business_id": business_id, "order_id": to_order,
         "checkout_id": None, "stock_level_id": d.stock_level_id, "variant_id": d.variant_id,
         "quantity": d.quantity, "status": ReservationStatus.CONSUMED.value,
         "expires_at": now, "created_at": now, "closed_at": now} for d in taken])


async def return_split_money(conn: AsyncConnection, *, change_id: uuid.UUID,
                             kinds: tuple[str, str] = ("split_into", "split_from")) -> None:
    """The order split off was cancelled while its original was paid outside the ledger (or
    an exchange's replacement was cancelled unpaid): its share is the original's again (both
    rows of the link pair; an exchange names its kinds)."""
    await conn.execute(update(links).where(links.c.change_id == change_id,
                                           links.c.kind.in_(kinds))
                       .values(amount=0))
