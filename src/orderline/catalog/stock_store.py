"""SQL that takes, gives back and counts stock.

Every statement that changes a counter checks and writes at once (``UPDATE ... WHERE
on_hand - reserved >= :qty``), so no interleaving of transactions can oversell. A reservation
leaves status ``active`` through one conditional UPDATE too, so it is released, expired or
consumed exactly once, and ``reserved`` moves by exactly what that UPDATE returned.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    TextClause,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from orderline.catalog.rules import MovementReason, ReservationStatus
from orderline.catalog.tables import Product, Reservation, StockLevel, StockMovement, Variant
from orderline.core.db import direct
from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.json_rows import insert_from_json, row_json, rows_json
from orderline.core.db.tables import table_of
from orderline.events.tables import OutboxEvent
from orderline.tenancy.tables import Location

levels = table_of(StockLevel)
reservations = table_of(Reservation)
outbox = table_of(OutboxEvent)
movements = table_of(StockMovement)
variants = table_of(Variant)
products = table_of(Product)
locations = table_of(Location)

ACTIVE = ReservationStatus.ACTIVE.value


@dataclass(frozen=True, slots=True)
class LevelDelta:
    stock_level_id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    quantity: int


def held_sum(now: datetime | ColumnElement[Any]) -> ScalarSelect[Any]:
    """Units held at a level by reservations that are active and not past their deadline
    (``now`` a time, or a bound parameter of a statement built once)."""
    return (
        select(func.coalesce(func.sum(reservations.c.quantity), 0))
        .where(reservations.c.stock_level_id == levels.c.id,
               reservations.c.status == ACTIVE, reservations.c.expires_at > now)
        .scalar_subquery()
    )


async def ensure_level(conn: AsyncConnection, *, business_id: uuid.UUID, variant_id: uuid.UUID,
                       location_id: uuid.UUID, now: datetime) -> uuid.UUID:
    await insert_ignoring_conflict(conn, levels, {
        "id": uuid.uuid4(), "business_id": business_id, "variant_id": variant_id,
        "location_id": location_id, "on_hand": 0, "reserved": 0, "updated_at": now})
    stmt = select(levels.c.id).where(levels.c.variant_id == variant_id,
                                     levels.c.location_id == location_id)
    level_id: uuid.UUID = (await conn.execute(stmt)).scalar_one()
    return level_id


async def insert_empty_levels(conn: AsyncConnection, *, business_id: uuid.UUID,
                              pairs: Sequence[tuple[uuid.UUID, uuid.UUID]],
                              now: datetime) -> None:
    """Empty levels for new variants (``(variant_id, location_id)`` pairs none has yet)."""
    if pairs:
        await conn.execute(insert(levels), [
            {"id": uuid.uuid4(), "business_id": business_id, "variant_id": variant_id,
             "location_id": location_id, "on_hand": 0, "reserved": 0, "updated_at": now}
            for variant_id, location_id in pairs])


async def lock_levels_of(conn: AsyncConnection, *, business_id: uuid.UUID,
                         variant_ids: Sequence[uuid.UUID], location_ids: Sequence[uuid.UUID],
                         chunk: int = 500) -> dict[tuple[uuid.UUID, uuid.UUID], RowMapping]:
    """The existing levels of these variants at these locations (``id``, ``on_hand``,
    ``reserved``) by ``(variant_id, location_id)``, each locked until the transaction ends;
    in a few statements, for an import of thousands of rows."""
    found: dict[tuple[uuid.UUID, uuid.UUID], RowMapping] = {}
    ordered = sorted(set(variant_ids))
    for start in range(0, len(ordered), chunk):
        stmt = (select(levels.c.id, levels.c.variant_id, levels.c.location_id,
                       levels.c.on_hand, levels.c.reserved)
                .where(levels.c.business_id == business_id,
                       levels.c.variant_id.in_(ordered[start:start + chunk]),
                       levels.c.location_id.in_(sorted(set(location_ids))))
                .order_by(levels.c.id).with_for_update())
        found.update(((r["variant_id"], r["location_id"]), r)
                     for r in (await conn.execute(stmt)).mappings())
    return found


async def set_on_hand_many(conn: AsyncConnection, targets: Sequence[tuple[uuid.UUID, int]], *,
                           now: datetime, chunk: int = 500) -> dict[uuid.UUID, RowMapping]:
    """Set each level's on_hand to its target where that leaves no fewer units than are
    reserved (one conditional UPDATE, sent for all levels in one round trip); answers every
    level's ``on_hand`` and ``reserved`` after it, so the caller sees which were refused
    (their on_hand is not the target). For levels the caller holds locked (an import), so
    nothing moves them between the two statements."""
    if not targets:
        return {}
    stmt = (update(levels)
            .where(levels.c.id == bindparam("level_id"),
                   bindparam("target", type_=levels.c.on_hand.type) >= levels.c.reserved)
            .values(on_hand=bindparam("target", type_=levels.c.on_hand.type), updated_at=now))
    await conn.execute(stmt, [{"level_id": level_id, "target": target}
                              for level_id, target in targets])
    after: dict[uuid.UUID, RowMapping] = {}
    ids = [level_id for level_id, _ in targets]
    for start in range(0, len(ids), chunk):
        read = select(levels.c.id, levels.c.on_hand, levels.c.reserved).where(
            levels.c.id.in_(ids[start:start + chunk]))
        after.update((r["id"], r) for r in (await conn.execute(read)).mappings())
    return after


async def hold_units(conn: AsyncConnection, stock_level_id: uuid.UUID, quantity: int,
                     now: datetime) -> int | None:
    """Add ``quantity`` to ``reserved`` only if that many units are free; one statement.

    Returns the units left free by the counters afterwards, or None if refused."""
    stmt = (update(levels)
            .where(levels.c.id == stock_level_id,
                   levels.c.on_hand - levels.c.reserved >= quantity)
            .values(reserved=levels.c.reserved + quantity, updated_at=now)
            .returning(levels.c.on_hand - levels.c.reserved))
    left = (await conn.execute(stmt)).scalar_one_or_none()
    return None if left is None else int(left)


@dataclass(frozen=True, slots=True)
class ExpiredReservation:
    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID | None
    checkout_id: uuid.UUID | None
    variant_id: uuid.UUID
    stock_level_id: uuid.UUID
    quantity: int
    expires_at: datetime


# What an expired reservation reports, in ``ExpiredReservation``'s field order.
_EXPIRED_COLUMNS = (reservations.c.id, reservations.c.business_id, reservations.c.order_id,
                    reservations.c.checkout_id, reservations.c.variant_id,
                    reservations.c.stock_level_id, reservations.c.quantity,
                    reservations.c.expires_at)


async def expire_lapsed_at_level(conn: AsyncConnection, stock_level_id: uuid.UUID,
                                 now: datetime) -> list[ExpiredReservation]:
    """Close the reservations at one level whose deadline has passed; returns them."""
    stmt = (update(reservations)
            .where(reservations.c.stock_level_id == stock_level_id,
                   reservations.c.status == ACTIVE, reservations.c.expires_at <= now)
            .values(status=ReservationStatus.EXPIRED.value, closed_at=now)
            .returning(*_EXPIRED_COLUMNS))
    expired = [ExpiredReservation(*row) for row in await conn.execute(stmt)]
    freed = sum(r.quantity for r in expired)
    if freed:
        await conn.execute(update(levels).where(levels.c.id == stock_level_id)
                           .values(reserved=levels.c.reserved - freed, updated_at=now))
    return expired


async def expire_order_reservations(conn: AsyncConnection, order_id: uuid.UUID,
                                    now: datetime) -> list[ExpiredReservation]:
    """Expire all of an order's active reservations (its payment deadline passed) and take
    them out of ``reserved``, level by level in a fixed order."""
    return await _expire_held_by(conn, reservations.c.order_id == order_id, now)


async def expire_checkout_reservations(conn: AsyncConnection, checkout_id: uuid.UUID,
                                       now: datetime) -> list[ExpiredReservation]:
    """The same for a checkout that lapsed before it was confirmed."""
    return await _expire_held_by(conn, reservations.c.checkout_id == checkout_id, now)


async def _expire_held_by(conn: AsyncConnection, holder: ColumnElement[bool],
                          now: datetime) -> list[ExpiredReservation]:
    stmt = (update(reservations)
            .where(holder, reservations.c.status == ACTIVE)
            .values(status=ReservationStatus.EXPIRED.value, closed_at=now)
            .returning(*_EXPIRED_COLUMNS))
    expired = [ExpiredReservation(*row) for row in await conn.execute(stmt)]
    freed: dict[uuid.UUID, int] = defaultdict(int)
    for r in expired:
        freed[r.stock_level_id] += r.quantity
    for level_id in sorted(freed, key=str):
        await conn.execute(update(levels).where(levels.c.id == level_id)
                           .values(reserved=levels.c.reserved - freed[level_id], updated_at=now))
    return expired


async def hold_units_counting_lapsed(conn: AsyncConnection, stock_level_id: uuid.UUID,
                                     quantity: int, now: datetime
                                     ) -> tuple[int | None, list[ExpiredReservation]]:
    """Hold units; if short, first expire lapsed reservations at that level, then try once more.

    Returns what ``hold_units`` returns and the reservations expired on the way.
    This is what makes an expired reservation never count, whether or not the sweeper ran.
    The second try happens even if nothing was expired here: the expiry may have waited for
    a concurrent transaction that released those reservations itself (a cancel, the sweeper),
    and the retried UPDATE then sees the counter that transaction left.
    """
    left = await hold_units(conn, stock_level_id, quantity, now)
    if left is not None:
        return left, []
    expired = await expire_lapsed_at_level(conn, stock_level_id, now)
    return await hold_units(conn, stock_level_id, quantity, now), expired


async def take_units(conn: AsyncConnection, reservation: dict[str, object],
                     now: datetime) -> int | None:
    """``hold_units`` and the insert of its ``reservation`` row, for a holder whose row
    already exists: what the level's lock is held for, so a caller does it last.

    On PostgreSQL one statement (the conditional UPDATE and the INSERT of the reservation
    in a CTE, nothing inserted when the UPDATE matched no row), so the row is locked from
    that one round trip to COMMIT. SQLite cannot modify data in a CTE; it has one writer
    anyway, so the two statements follow each other there. Returns what ``hold_units``
    returns."""
    level_id = reservation["stock_level_id"]
    quantity = reservation["quantity"]
    assert isinstance(level_id, uuid.UUID) and isinstance(quantity, int)
    if conn.dialect.name != "postgresql":
        left = await hold_units(conn, level_id, quantity, now)
        if left is not None:
            await insert_reservations(conn, [reservation])
        return left
    values = {f"held_{c.name}": reservation[c.name] for c in _HELD_COLUMNS}
    left = (await direct.execute(conn, _TAKE, {"level_id": level_id, "quantity": quantity,
                                               "now": now, **values})).scalar()
    return None if left is None else int(left)


def _take_statement() -> Select[Any]:
    """``take_units``' statement on PostgreSQL, built once: the conditional UPDATE, and the
    reservation's INSERT from what it returned (nothing when it matched no row). Every value
    is a typed bind parameter (``held_<column>`` for the reservation's), so a NULL keeps its
    column's type."""
    taken = (update(levels)
             .where(levels.c.id == bindparam("level_id"),
                    levels.c.on_hand - levels.c.reserved >= bindparam("quantity", type_=BigInteger))
             .values(reserved=levels.c.reserved + bindparam("quantity", type_=BigInteger),
                     updated_at=bindparam("now"))
             .returning(levels.c.id, (levels.c.on_hand - levels.c.reserved).label("left"))
             .cte("taken"))
    held = (insert(reservations)
            .from_select([*(c.name for c in _HELD_COLUMNS), "stock_level_id"],
                         select(*(bindparam(f"held_{c.name}", type_=c.type)
                                  for c in _HELD_COLUMNS), taken.c.id))
            .returning(reservations.c.id)
            .cte("held"))
    return select(taken.c.left).add_cte(held)


_HELD_COLUMNS = [c for c in reservations.c if c.name != "stock_level_id"]
_TAKE = _take_statement()


async def take_units_announcing(conn: AsyncConnection, reservation: dict[str, object],
                                now: datetime, events: Sequence[Mapping[str, Any]]
                                ) -> int | None:
    """``take_units`` on PostgreSQL, with ``events`` (outbox rows of streams already open)
    inserted in the same statement when the units are taken, and nothing inserted when they
    are not: for the last statement before COMMIT, so a hot SKU's row is locked for that one
    round trip and the COMMIT. Returns what ``take_units`` returns; the events are in the
    outbox exactly when it is not None."""
    level_id, quantity = reservation["stock_level_id"], reservation["quantity"]
    found = (await direct.execute(conn, _TAKE_ANNOUNCING, {
        "level_id": level_id, "quantity": quantity, "now": now,
        "reservation": row_json(reservations, reservation),
        "events": rows_json(outbox, events)})).first()
    if found is None:
        return None
    if (found["held"], found["announced"]) != (1, len(events)):
        raise AssertionError(f"held {found['held']}, announced {found['announced']} of "
                             f"{len(events)}")
    return int(found["left"])


def _take_announcing_statement() -> TextClause:
    names = [c.name for c in _HELD_COLUMNS]
    columns = ", ".join(f'"{n}"' for n in names)
    announced = insert_from_json(outbox, "events", many=True, server_filled=("id", "txid"),
                                 where="EXISTS (SELECT 1 FROM taken)")
    return text(f"""
WITH taken AS (
    UPDATE {levels.name} SET reserved = reserved + :quantity, updated_at = :now
    WHERE id = :level_id AND on_hand - reserved >= :quantity
    RETURNING id, on_hand - reserved AS left),
held AS (
    INSERT INTO {reservations.name} ({columns}, stock_level_id)
    SELECT {", ".join(f'r."{n}"' for n in names)}, taken.id
    FROM taken, jsonb_populate_record(NULL::{reservations.name}, CAST(:reservation AS jsonb)) AS r
    RETURNING id),
announced AS ({announced} RETURNING id)
SELECT taken.left, (SELECT count(*) FROM held) AS held,
       (SELECT count(*) FROM announced) AS announced
FROM taken""")


_TAKE_ANNOUNCING = _take_announcing_statement()


async def take_units_counting_lapsed(conn: AsyncConnection, reservation: dict[str, object],
                                     now: datetime,
                                     events: Sequence[Mapping[str, Any]] | None = None
                                     ) -> tuple[int | None, list[ExpiredReservation], bool]:
    """``take_units``, retried once after expiring lapsed reservations at the level, as
    ``hold_units_counting_lapsed`` does and for the same reasons.

    With ``events`` (outbox rows; PostgreSQL only), the first try is
    ``take_units_announcing``, which appends them in its statement when it takes the units;
    the retry, after the expiry's own events, takes the units without them. Returns what
    ``take_units`` returns, the reservations expired on the way, and whether the events were
    appended (if not, the caller appends them after)."""
    if events is not None:
        left = await take_units_announcing(conn, reservation, now, events)
    else:
        left = await take_units(conn, reservation, now)
    if left is not None:
        return left, [], events is not None
    level_id = reservation["stock_level_id"]
    assert isinstance(level_id, uuid.UUID)
    expired = await expire_lapsed_at_level(conn, level_id, now)
    return await take_units(conn, reservation, now), expired, False


async def free_units(conn: AsyncConnection, stock_level_id: uuid.UUID, now: datetime) -> int:
    stmt = select((levels.c.on_hand - held_sum(now)).label("available")).where(
        levels.c.id == stock_level_id)
    return int((await conn.execute(stmt)).scalar_one())


async def insert_reservations(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    if rows:
        await conn.execute(insert(reservations), rows)


async def close_order_reservations(conn: AsyncConnection, *, order_id: uuid.UUID | None = None,
                                   checkout_id: uuid.UUID | None = None,
                                   status: ReservationStatus, now: datetime,
                                   unexpired_only: bool = False) -> list[LevelDelta]:
    """Move the active reservations of an order (or of a checkout) to ``status``; returns
    what each level held."""
    holder = (reservations.c.order_id == order_id if checkout_id is None
              else reservations.c.checkout_id == checkout_id)
    conditions = [holder, reservations.c.status == ACTIVE]
    if unexpired_only:
        conditions.append(reservations.c.expires_at > now)
    stmt = (update(reservations).where(and_(*conditions))
            .values(status=status.value, closed_at=now)
            .returning(reservations.c.stock_level_id, reservations.c.variant_id,
                       reservations.c.quantity))
    rows = list(await conn.execute(stmt))
    if not rows:
        return []
    location_of = await _locations_of(conn, [r.stock_level_id for r in rows])
    return [LevelDelta(r.stock_level_id, r.variant_id, location_of[r.stock_level_id], r.quantity)
            for r in rows]


_HAND_OVER = (update(reservations)
               .where(reservations.c.checkout_id == bindparam("b_checkout"),
                      reservations.c.status == ACTIVE,
                      reservations.c.expires_at > bindparam("b_now"))
               .values(order_id=bindparam("b_order"))
               .returning(reservations.c.variant_id, reservations.c.quantity))
_HAND_OVER_UNTIL = _HAND_OVER.values(expires_at=bindparam("b_expires_at"))


async def hand_over_to_order(conn: AsyncConnection, *, checkout_id: uuid.UUID,
                             order_id: uuid.UUID, now: datetime,
                             expires_at: datetime | None = None) -> dict[uuid.UUID, int]:
    """The checkout's live reservations now hold stock for its order (until ``expires_at``
    when given, such as a manual payment's proof deadline); returns the units so held per
    variant (what the binding stock check compares with the order's lines)."""
    params = {"b_checkout": checkout_id, "b_now": now, "b_order": order_id,
              "b_expires_at": expires_at}
    held: dict[uuid.UUID, int] = defaultdict(int)
    for row in await direct.execute(conn, _HAND_OVER_UNTIL if expires_at else _HAND_OVER,
                                    params):
        held[row["variant_id"]] += row["quantity"]
    return held


async def _locations_of(conn: AsyncConnection,
                        level_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    stmt = select(levels.c.id, levels.c.location_id).where(levels.c.id.in_(set(level_ids)))
    return {row.id: row.location_id for row in await conn.execute(stmt)}


def _by_level(deltas: Iterable[LevelDelta]) -> list[LevelDelta]:
    """Merge deltas per level and sort by level id, so transactions lock rows in one order."""
    merged: dict[uuid.UUID, LevelDelta] = {}
    totals: dict[uuid.UUID, int] = defaultdict(int)
    for d in deltas:
        merged[d.stock_level_id] = d
        totals[d.stock_level_id] += d.quantity
    return [LevelDelta(lid, merged[lid].variant_id, merged[lid].location_id, totals[lid])
            for lid in sorted(merged, key=str)]


async def unhold(conn: AsyncConnection, deltas: Iterable[LevelDelta], now: datetime) -> None:
    """Take released reservations out of ``reserved``."""
    for d in _by_level(deltas):
        await conn.execute(update(levels).where(levels.c.id == d.stock_level_id)
                           .values(reserved=levels.c.reserved - d.quantity, updated_at=now))


async def ship_out(conn: AsyncConnection, deltas: Iterable[LevelDelta], *, business_id: uuid.UUID,
                   order_id: uuid.UUID, actor: str, now: datetime) -> None:
    """Consumed reservations become sales: on_hand and reserved both go down, one ledger row."""
    merged = _by_level(deltas)
    for d in merged:
        await conn.execute(update(levels).where(levels.c.id == d.stock_level_id)
                           .values(on_hand=levels.c.on_hand - d.quantity,
                                   reserved=levels.c.reserved - d.quantity, updated_at=now))
    await _record(conn, [(d, -d.quantity) for d in merged], business_id=business_id,
                  reason=MovementReason.SALE, actor=actor, order_id=order_id, note="", now=now)


async def put_back(conn: AsyncConnection, deltas: Iterable[LevelDelta], *,
                   business_id: uuid.UUID, order_id: uuid.UUID, actor: str, now: datetime,
                   note: str, reason: MovementReason = MovementReason.CANCELLATION) -> None:
    """Sold units come back on hand (order cancelled after payment, or refunded units
    restocked)."""
    merged = _by_level(deltas)
    for d in merged:
        await conn.execute(update(levels).where(levels.c.id == d.stock_level_id)
                           .values(on_hand=levels.c.on_hand + d.quantity, updated_at=now))
    await _record(conn, [(d, d.quantity) for d in merged], business_id=business_id,
                  reason=reason, actor=actor, order_id=order_id, note=note, now=now)


async def write_off_returned(conn: AsyncConnection, level: LevelDelta, *,
                             business_id: uuid.UUID, order_id: uuid.UUID, actor: str,
                             note: str, now: datetime) -> None:
    """Units of an order that came back damaged: a ledger pair at the level they left from
    (returned +n, written off -n as ``damage``), so the ledger says what happened and still
    sums to on_hand, which does not move."""
    await _record(conn, [(level, level.quantity)], business_id=business_id,
                  reason=MovementReason.RETURN, actor=actor, order_id=order_id, note=note,
                  now=now)
    await _record(conn, [(level, -level.quantity)], business_id=business_id,
                  reason=MovementReason.DAMAGE, actor=actor, order_id=order_id, note=note,
                  now=now)


async def change_on_hand(conn: AsyncConnection, *, level: LevelDelta, business_id: uuid.UUID,
                         reason: MovementReason, actor: str, note: str, now: datetime,
                         expired: list[ExpiredReservation] | None = None) -> RowMapping | None:
    """Move on_hand by ``level.quantity`` (may be negative) unless that would leave fewer units
    than are reserved; returns the new counters, or None if refused. Reservations expired on
    the way are added to ``expired``."""
    row = await move_on_hand(conn, level=level, now=now, expired=expired)
    if row is not None and level.quantity != 0:
        await _record(conn, [(level, level.quantity)], business_id=business_id, reason=reason,
                      actor=actor, order_id=None, note=note, now=now)
    return row


async def move_on_hand(conn: AsyncConnection, *, level: LevelDelta, now: datetime,
                       expired: list[ExpiredReservation] | None = None) -> RowMapping | None:
    """``change_on_hand`` without its ledger row, for a caller that writes the movements of
    many levels at once (``record_movements``) in the same transaction."""
    delta = level.quantity
    stmt = (update(levels)
            .where(levels.c.id == level.stock_level_id,
                   levels.c.on_hand + delta >= levels.c.reserved)
            .values(on_hand=levels.c.on_hand + delta, updated_at=now)
            .returning(levels.c.on_hand, levels.c.reserved))
    row = (await conn.execute(stmt)).mappings().first()
    if row is None and delta < 0:  # retried for the same reason as in hold_units_counting_lapsed
        lapsed = await expire_lapsed_at_level(conn, level.stock_level_id, now)
        if expired is not None:
            expired.extend(lapsed)
        row = (await conn.execute(stmt)).mappings().first()
    return row


async def record_movements(conn: AsyncConnection, moves: Sequence[tuple[LevelDelta, str]], *,
                           business_id: uuid.UUID, reason: MovementReason, actor: str,
                           now: datetime) -> None:
    """One ledger row per ``(level, note)`` (its quantity as the delta), in one statement."""
    if moves:
        await conn.execute(insert(movements), [
            {"business_id": business_id, "stock_level_id": d.stock_level_id,
             "variant_id": d.variant_id, "location_id": d.location_id, "delta": d.quantity,
             "reason": reason.value, "actor": actor, "order_id": None, "note": note,
             "created_at": now} for d, note in moves])


async def move_units(conn: AsyncConnection, *, source: LevelDelta, target: LevelDelta,
                     business_id: uuid.UUID, reasons: tuple[MovementReason, MovementReason],
                     actor: str, order_id: uuid.UUID | None, note: str, now: datetime,
                     expired: list[ExpiredReservation]) -> RowMapping | None:
    """Take ``source.quantity`` units at the source level, only if that many are not held
    (one conditional UPDATE), and add them at the target level: a ledger pair, ``reasons``
    being the source's and the target's. The two rows are updated in level-id order, so two
    moves between the same levels in opposite directions never dead-lock. Returns the
    source's counters afterwards, or None if it has too few free units (the target may have
    been added to already: the caller raises, so its transaction rolls back).
    Reservations expired on the way are added to ``expired``."""
    quantity = source.quantity
    taken = (update(levels)
             .where(levels.c.id == source.stock_level_id,
                    levels.c.on_hand - quantity >= levels.c.reserved)
             .values(on_hand=levels.c.on_hand - quantity, updated_at=now)
             .returning(levels.c.on_hand, levels.c.reserved))
    added = (update(levels).where(levels.c.id == target.stock_level_id)
             .values(on_hand=levels.c.on_hand + quantity, updated_at=now))
    row: RowMapping | None = None
    for level_id in sorted({source.stock_level_id, target.stock_level_id}, key=str):
        if level_id == target.stock_level_id:
            await conn.execute(added)
            continue
        row = (await conn.execute(taken)).mappings().first()
        if row is None:  # retried for the same reason as in hold_units_counting_lapsed
            expired.extend(await expire_lapsed_at_level(conn, level_id, now))
            row = (await conn.execute(taken)).mappings().first()
        if row is None:
            return None
    out_reason, in_reason = reasons
    await _record(conn, [(source, -quantity)], business_id=business_id, reason=out_reason,
                  actor=actor, order_id=order_id, note=note, now=now)
    await _record(conn, [(target, quantity)], business_id=business_id, reason=in_reason,
                  actor=actor, order_id=order_id, note=note, now=now)
    return row


async def lock_level(conn: AsyncConnection, stock_level_id: uuid.UUID) -> RowMapping:
    stmt = select(levels.c.on_hand, levels.c.reserved).where(
        levels.c.id == stock_level_id).with_for_update()
    return (await conn.execute(stmt)).mappings().one()


async def _record(conn: AsyncConnection, rows: list[tuple[LevelDelta, int]], *,
                  business_id: uuid.UUID, reason: MovementReason, actor: str,
                  order_id: uuid.UUID | None, note: str, now: datetime) -> None:
    if not rows:
        return
    await conn.execute(insert(movements), [
        {"business_id": business_id, "stock_level_id": d.stock_level_id,
         "variant_id": d.variant_id, "location_id": d.location_id, "delta": delta,
         "reason": reason.value, "actor": actor, "order_id": order_id, "note": note,
         "created_at": now} for d, delta in rows])


@dataclass(frozen=True, slots=True)
class StockFilter:
    """Which levels ``level_views`` lists: one location, only low ones (free units at or below
    the SKU's threshold), archived SKUs too."""

    location_id: uuid.UUID | None = None
    low_stock: bool | None = None
    include_archived: bool = True


async def level_views(conn: AsyncConnection, *, business_id: uuid.UUID, now: datetime,
                      skus: Sequence[str] | None = None, limit: int = 100,
                      after_sku: str | None = None,
                      where: StockFilter = StockFilter()) -> list[RowMapping]:
    held = held_sum(now)
    available = levels.c.on_hand - held
    product_archived = (select(products.c.archived_at)
                        .where(products.c.id == variants.c.product_id).scalar_subquery())
    stmt = (
        select(variants.c.sku, variants.c.name, variants.c.low_stock_threshold,
               variants.c.archived_at, product_archived.label("product_archived_at"),
               locations.c.code.label("location"), levels.c.on_hand,
               held.label("reserved"), available.label("available"))
        .join(variants, variants.c.id == levels.c.variant_id)
        .join(locations, locations.c.id == levels.c.location_id)
        .where(levels.c.business_id == business_id)
        .order_by(variants.c.sku, locations.c.code)
    )
    if skus is not None:
        stmt = stmt.where(variants.c.sku.in_(skus))
    if after_sku is not None:
        stmt = stmt.where(variants.c.sku > after_sku)
    if where.location_id is not None:
        stmt = stmt.where(levels.c.location_id == where.location_id)
    if where.low_stock is not None:
        low = and_(variants.c.low_stock_threshold.is_not(None),
                   available <= variants.c.low_stock_threshold)
        stmt = stmt.where(low if where.low_stock else ~low)
    if not where.include_archived:
        stmt = stmt.where(variants.c.archived_at.is_(None), product_archived.is_(None))
    return list((await conn.execute(stmt.limit(limit))).mappings())


async def movement_rows(conn: AsyncConnection, *, business_id: uuid.UUID, sku: str | None,
                        before_id: int | None, limit: int) -> list[RowMapping]:
    stmt = (select(movements.c.id, variants.c.sku, locations.c.code.label("location"),
                   movements.c.delta, movements.c.reason, movements.c.actor,
                   movements.c.order_id, movements.c.note, movements.c.created_at)
            .join(variants, variants.c.id == movements.c.variant_id)
            .join(locations, locations.c.id == movements.c.location_id)
            .where(movements.c.business_id == business_id)
            .order_by(movements.c.id.desc()).limit(limit))
    if sku is not None:
        stmt = stmt.where(variants.c.sku == sku)
    if before_id is not None:
        stmt = stmt.where(movements.c.id < before_id)
    return list((await conn.execute(stmt)).mappings())


async def reconciliation_rows(conn: AsyncConnection,
                              business_id: uuid.UUID | None) -> list[RowMapping]:
    """Per level: on_hand beside the ledger sum, reserved beside its active reservations."""
    ledger = (select(func.coalesce(func.sum(movements.c.delta), 0))
              .where(movements.c.stock_level_id == levels.c.id).scalar_subquery())
    active = (select(func.coalesce(func.sum(reservations.c.quantity), 0))
              .where(reservations.c.stock_level_id == levels.c.id,
                     reservations.c.status == ACTIVE).scalar_subquery())
    stmt = (select(levels.c.id.label("stock_level_id"), levels.c.business_id, variants.c.sku,
                   variants.c.id.label("variant_id"), locations.c.code.label("location"),
                   levels.c.on_hand, levels.c.reserved, ledger.label("ledger_sum"),
                   active.label("active_reservations"))
            .join(variants, variants.c.id == levels.c.variant_id)
            .join(locations, locations.c.id == levels.c.location_id)
            .order_by(levels.c.business_id, variants.c.sku))
    if business_id is not None:
        stmt = stmt.where(levels.c.business_id == business_id)
    return list((await conn.execute(stmt)).mappings())


async def consumed_of_order(conn: AsyncConnection, order_id: uuid.UUID) -> list[LevelDelta]:
    """What the order took from stock when it was paid (its consumed reservations)."""
    stmt = (select(reservations.c.stock_level_id, reservations.c.variant_id,
                   reservations.c.quantity, levels.c.location_id)
            .join(levels, levels.c.id == reservations.c.stock_level_id)
            .where(reservations.c.order_id == order_id,
                   reservations.c.status == ReservationStatus.CONSUMED.value))
    return [LevelDelta(r.stock_level_id, r.variant_id, r.location_id, r.quantity)
            for r in await conn.execute(stmt)]


async def still_sold_of_order(conn: AsyncConnection, order_id: uuid.UUID) -> list[LevelDelta]:
    """The units the order took from stock and has not given back (a refund that restocked
    lines already did): by its own ledger rows, whose sales are negative and returns
    positive, so nothing is ever put back twice."""
    net = func.sum(movements.c.delta)
    stmt = (select(movements.c.stock_level_id, movements.c.variant_id,
                   movements.c.location_id, net.label("net"))
            .where(movements.c.order_id == order_id)
            .group_by(movements.c.stock_level_id, movements.c.variant_id,
                      movements.c.location_id)
            .having(net < 0))
    return [LevelDelta(r.stock_level_id, r.variant_id, r.location_id, -int(r.net))
            for r in await conn.execute(stmt)]


async def net_sold_by_variant(conn: AsyncConnection,
                              order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Per variant, the units the order took from stock and has not put back anywhere (its
    own ledger rows summed over every level: a return restocked at another location counts
    as given back)."""
    net = func.sum(movements.c.delta)
    stmt = (select(movements.c.variant_id, net.label("net"))
            .where(movements.c.order_id == order_id).group_by(movements.c.variant_id))
    return {r.variant_id: max(0, -int(r.net)) for r in await conn.execute(stmt)}


@dataclass(frozen=True, slots=True)
class LowStockLevel:
    """A SKU at one location whose free units are at or below the SKU's threshold."""

    sku: str
    name: str
    location: str
    available: int
    threshold: int


@dataclass(frozen=True, slots=True)
class LowStock:
    count: int
    first: list[LowStockLevel]


async def low_stock(conn: AsyncConnection, business_id: uuid.UUID, *, now: datetime,
                    first: int) -> LowStock:
    """How many of the business's stock levels are low (free units, as every read counts
    them, at or below the SKU's threshold; a SKU without a threshold is never low), and the
    ``first`` of them, the fewest free units first."""
    held = held_sum(now)
    available = (levels.c.on_hand - held).label("available")
    low = [levels.c.business_id == business_id, variants.c.low_stock_threshold.is_not(None),
           levels.c.on_hand - held <= variants.c.low_stock_threshold]
    joined = levels.join(variants, variants.c.id == levels.c.variant_id)
    count = (await conn.execute(select(func.count()).select_from(joined).where(*low))
             ).scalar_one()
    stmt = (select(variants.c.sku, variants.c.name, locations.c.code.label("location"),
                   available, variants.c.low_stock_threshold.label("threshold"))
            .select_from(joined.join(locations, locations.c.id == levels.c.location_id))
            .where(*low).order_by(available, variants.c.sku, locations.c.code).limit(first))
    rows = [LowStockLevel(sku=r.sku, name=r.name, location=r.location,
                          available=int(r.available), threshold=int(r.threshold))
            for r in await conn.execute(stmt)]
    return LowStock(count=int(count), first=rows)


async def shrink_order_reservation(conn: AsyncConnection, *, order_id: uuid.UUID,
                                   variant_id: uuid.UUID, units: int,
                                   now: datetime) -> LevelDelta | None:
    """Hold ``units`` fewer of a variant for an unpaid order (some of its units were
    cancelled), only if its active, unexpired reservation holds that many; one statement.
    A reservation left holding nothing is released instead (keeping its quantity, as the
    table wants a positive one). Returns what was let go (to ``unhold``),
    or None if no reservation held that many."""
    left = reservations.c.quantity - units
    stmt = (update(reservations)
            .where(reservations.c.order_id == order_id, reservations.c.variant_id == variant_id,
                   reservations.c.status == ACTIVE, reservations.c.expires_at > now,
                   reservations.c.quantity >= units)
            .values(quantity=case((left == 0, reservations.c.quantity), else_=left),
                    status=case((left == 0, ReservationStatus.RELEASED.value),
                                else_=reservations.c.status),
                    closed_at=case((left == 0, now), else_=reservations.c.closed_at))
            .returning(reservations.c.stock_level_id))
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    location_of = await _locations_of(conn, [row.stock_level_id])
    return LevelDelta(row.stock_level_id, variant_id, location_of[row.stock_level_id], units)


async def close_reservations(conn: AsyncConnection, reservation_ids: Sequence[uuid.UUID], *,
                             status: ReservationStatus, now: datetime,
                             unexpired_only: bool = False) -> list[LevelDelta]:
    """Move these reservations, those still active (and, ``unexpired_only``, not past their
    deadline), to ``status``; returns what each level held (to ``ship_out`` when consumed,
    to ``unhold`` when let go). A reservation expired by another holder's hold is skipped:
    its units are out of ``reserved`` already."""
    if not reservation_ids:
        return []
    conditions = [reservations.c.id.in_(list(reservation_ids)),
                  reservations.c.status == ACTIVE]
    if unexpired_only:
        conditions.append(reservations.c.expires_at > now)
    stmt = (update(reservations).where(and_(*conditions))
            .values(status=status.value, closed_at=now)
            .returning(reservations.c.stock_level_id, reservations.c.variant_id,
                       reservations.c.quantity))
    rows = list(await conn.execute(stmt))
    if not rows:
        return []
    location_of = await _locations_of(conn, [r.stock_level_id for r in rows])
    return [LevelDelta(r.stock_level_id, r.variant_id, location_of[r.stock_level_id], r.quantity)
            for r in rows]
