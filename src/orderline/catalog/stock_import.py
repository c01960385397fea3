"""Stock levels set from a CSV file (``sku,on_hand[,location][,note]``): one transaction for the
whole file, or nothing.

Each row names the count a level should have (a stock take), so sending a file twice changes
nothing the second time. The file's levels are locked first (a few statements for the whole
file); then one conditional UPDATE (``WHERE target >= reserved``), sent for every changed row at
once, sets them, and a row it refused is tried once more alone after lapsed holds expire, as a
manual adjustment does: on_hand never falls below what is held for orders. A row that names an
unknown SKU or location, or a count below what is held, is reported with the others and the
whole transaction rolls back. Each changed level gets one ledger movement with
the reason ``import``; unchanged rows write nothing. A dry run does all of it and rolls back,
answering what would have changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.import_rules import (
    DryRunDone,
    RowProblem,
    StockLine,
    read_stock,
    rejected,
)
from orderline.catalog.rules import MovementReason
from orderline.catalog.stock_events import announce_expired, announce_if_low
from orderline.core.runtime import Runtime
from orderline.idempotency.service import NO_KEY, Claim
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class StockChange:
    row: int
    sku: str
    location: str
    on_hand_before: int
    on_hand_after: int
    reserved: int

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "sku": self.sku, "location": self.location,
                "on_hand_before": self.on_hand_before, "on_hand_after": self.on_hand_after,
                "delta": self.on_hand_after - self.on_hand_before, "reserved": self.reserved}


async def import_stock(runtime: Runtime, principal: Principal, data: bytes, *,
                       dry_run: bool = False, claim: Claim = NO_KEY) -> dict[str, Any]:
    """Set every level the file names; ``ImportRejected`` (nothing changed) when any row is
    wrong. Answers each row's change."""
    principal.require(Scope.WRITE)
    lines, bad_rows = read_stock(data)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        problems: list[RowProblem] = list(bad_rows)
        business_id = principal.business_id
        # Each SKU, location and level is read (and each level locked) once for the whole
        # file, in a few statements, not row by row.
        found = await catalog_store.variants_by_sku(conn, business_id,
                                                    [ln.sku for ln in lines])
        places = {code: await catalog_store.find_location(conn, business_id, code)
                  for code in {ln.location for ln in lines}}
        for line in lines:
            if line.sku not in found:
                problems.append(RowProblem(line.row, "sku", "unknown_sku",
                                           f"This business has no SKU {line.sku}."))
            if places[line.location] is None:
                problems.append(RowProblem(line.row, "location", "unknown_location",
                                           f"This business has no location {line.location}."))
        good = [ln for ln in lines if ln.sku in found and places[ln.location] is not None]
        # An empty location and the default's own code name one level: set it once.
        first: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
        for line in good:
            key = (found[line.sku]["id"], _id(places[line.location]))
            if first.setdefault(key, line.row) != line.row:
                problems.append(RowProblem(line.row, "location", "duplicate",
                                           f"{line.sku} at this location is already set in "
                                           f"row {first[key]}."))
        good = [ln for ln in good
                if first[(found[ln.sku]["id"], _id(places[ln.location]))] == ln.row]
        locked = await stock_store.lock_levels_of(
            conn, business_id=business_id, variant_ids=[found[ln.sku]["id"] for ln in good],
            location_ids=[_id(places[ln.location]) for ln in good])
        planned = [await _plan(conn, business_id, line, found[line.sku],
                               places[line.location], locked, now) for line in good]
        after = await stock_store.set_on_hand_many(
            conn, [(p.level.stock_level_id, p.line.on_hand) for p in planned if p.delta],
            now=now)
        changes: list[StockChange] = []
        moves: list[tuple[stock_store.LevelDelta, str]] = []
        for plan in planned:
            change = await _apply(conn, principal, plan, after.get(plan.level.stock_level_id),
                                  now, problems, moves)
            if change is not None:
                changes.append(change)
        await stock_store.record_movements(conn, moves, business_id=business_id,
                                           reason=MovementReason.IMPORT,
                                           actor=principal.actor, now=now)
        if problems:
            raise rejected(problems)
        answer = {"dry_run": dry_run, "rows": len(lines),
                  "changed": sum(1 for c in changes if c.on_hand_after != c.on_hand_before),
                  "changes": [c.as_dict() for c in changes]}
        if dry_run:
            raise DryRunDone(answer)
        return await claim.keep(conn, answer)

    try:
        return await runtime.db.run(work)
    except DryRunDone as done:
        return done.answer


def _id(row: RowMapping | None) -> uuid.UUID:
    assert row is not None
    found: uuid.UUID = row["id"]
    return found


@dataclass(frozen=True, slots=True)
class _Plan:
    """A row's level, locked, and what it holds before the import."""

    line: StockLine
    variant: RowMapping
    code: str
    level: stock_store.LevelDelta  # its quantity: the change the row asks for
    on_hand: int
    reserved: int

    @property
    def delta(self) -> int:
        return self.level.quantity


async def _plan(conn: AsyncConnection, business_id: uuid.UUID, line: StockLine,
                variant: RowMapping, location: RowMapping | None,
                locked: dict[tuple[uuid.UUID, uuid.UUID], RowMapping], now: datetime) -> _Plan:
    location_id = _id(location)
    assert location is not None
    level = locked.get((variant["id"], location_id))
    if level is None:  # no level here yet: made (and locked) now
        level_id = await stock_store.ensure_level(conn, business_id=business_id,
                                                  variant_id=variant["id"],
                                                  location_id=location_id, now=now)
        level = await stock_store.lock_level(conn, level_id)
    else:
        level_id = level["id"]
    on_hand = int(level["on_hand"])
    return _Plan(line, variant, str(location["code"]),
                 stock_store.LevelDelta(level_id, variant["id"], location_id,
                                        line.on_hand - on_hand),
                 on_hand, int(level["reserved"]))


async def _apply(conn: AsyncConnection, principal: Principal, plan: _Plan,
                 after: RowMapping | None, now: datetime, problems: list[RowProblem],
                 moves: list[tuple[stock_store.LevelDelta, str]]) -> StockChange | None:
    """The row's outcome once ``set_on_hand_many`` ran: set, unchanged, or (a count below
    what is held) tried once more after expiring lapsed holds, then refused."""
    line, move = plan.line, plan.level
    if plan.delta == 0:
        return StockChange(line.row, line.sku, plan.code, plan.on_hand, plan.on_hand,
                           plan.reserved)
    row = after if after is not None and after["on_hand"] == line.on_hand else None
    if row is None:
        expired: list[stock_store.ExpiredReservation] = []
        row = await stock_store.move_on_hand(conn, level=move, now=now, expired=expired)
        await announce_expired(conn, expired, now)
    if row is None:
        held = plan.on_hand - await stock_store.free_units(conn, move.stock_level_id, now)
        problems.append(RowProblem(
            line.row, "on_hand", "below_reserved",
            f"{line.sku} has {held} units held for orders at {plan.code}: on_hand cannot be "
            "set below that."))
        return None
    moves.append((move, line.note or "CSV import"))
    after_free = row["on_hand"] - row["reserved"]
    await announce_if_low(conn, business_id=principal.business_id,
                          stock_level_id=move.stock_level_id, variant_id=move.variant_id,
                          sku=line.sku, before=after_free - plan.delta, after=after_free,
                          threshold=plan.variant["low_stock_threshold"], now=now)
    return StockChange(line.row, line.sku, plan.code, plan.on_hand, int(row["on_hand"]),
                       int(row["reserved"]))
