"""Stock levels set from a CSV file (``sku,on_hand[,location][,note]``): one transaction for the
whole file, or nothing.

Each row names the count a level should have (a stock take), so sending a file twice changes
nothing the second time. Under the level's row lock the change is worked out and made by the
same conditional statement a manual adjustment uses (never below what is held for orders); a
row that names an unknown SKU or location, or a count below what is held, is reported with the
others and the whole transaction rolls back. Each changed level gets one ledger movement with
the reason ``import``; unchanged rows write nothing. A dry run does all of it and rolls back,
answering what would have changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
        changes: list[StockChange] = []
        for line in lines:
            change = await _set_level(conn, principal, line, now, problems)
            if change is not None:
                changes.append(change)
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


async def _set_level(conn: AsyncConnection, principal: Principal, line: StockLine,
                     now: datetime, problems: list[RowProblem]) -> StockChange | None:
    business_id = principal.business_id
    variant = await catalog_store.get_variant_by_sku(conn, business_id, line.sku)
    if variant is None:
        problems.append(RowProblem(line.row, "sku", "unknown_sku",
                                   f"This business has no SKU {line.sku}."))
    location = await catalog_store.find_location(conn, business_id, line.location)
    if location is None:
        problems.append(RowProblem(line.row, "location", "unknown_location",
                                   f"This business has no location {line.location}."))
    if variant is None or location is None:
        return None
    level_id = await stock_store.ensure_level(conn, business_id=business_id,
                                              variant_id=variant["id"],
                                              location_id=location["id"], now=now)
    before = await stock_store.lock_level(conn, level_id)
    delta = line.on_hand - before["on_hand"]
    expired: list[stock_store.ExpiredReservation] = []
    row = await stock_store.change_on_hand(
        conn, level=stock_store.LevelDelta(level_id, variant["id"], location["id"], delta),
        business_id=business_id, reason=MovementReason.IMPORT, actor=principal.actor,
        note=line.note or "CSV import", now=now, expired=expired)
    await announce_expired(conn, expired, now)
    if row is None:
        held = before["on_hand"] - await stock_store.free_units(conn, level_id, now)
        problems.append(RowProblem(
            line.row, "on_hand", "below_reserved",
            f"{line.sku} has {held} units held for orders at {location['code']}: on_hand "
            f"cannot be set below that."))
        return None
    after_free = row["on_hand"] - row["reserved"]
    await announce_if_low(conn, business_id=business_id, stock_level_id=level_id,
                          variant_id=variant["id"], sku=line.sku, before=after_free - delta,
                          after=after_free, threshold=variant["low_stock_threshold"], now=now)
    return StockChange(line.row, line.sku, str(location["code"]), int(before["on_hand"]),
                       int(row["on_hand"]), int(row["reserved"]))
