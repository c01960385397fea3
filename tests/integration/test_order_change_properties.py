"""Property: no interleaving of edits after payment (changes applied at once or waiting for
payment, payments of their requests, cancels, lapses at the deadline) with stock receipts can
oversell a SKU or unbalance the stock books.

Hypothesis draws a scenario: initial stock for three SKUs, two paid orders, then up to 6
groups of 1-4 operations run at once (``asyncio.gather``), each service call in its own
transaction. Refusals (a ``DomainError``) are expected outcomes; anything else fails.

After every group: ``reconcile`` finds no drift (the stock ledger sums to on hand), each
level's ``reserved`` equals its active reservations, available and on hand are never
negative, on hand equals the test's own model (initial + receipts - units the applied changes
added + units they removed), each order's lines are what its applied changes made them, at
most one change per order waits, and a waiting change's held units are exactly its
reservations. Runs in a thread with its own loop and engine, as ``test_stock_properties``."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from orderline.catalog import inventory
from orderline.catalog.rules import MovementReason, ReservationStatus
from orderline.catalog.tables import Reservation, StockLevel, Variant
from orderline.core.clock import ManualClock
from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.db.tables import table_of
from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.order_changes import paying, reading
from orderline.order_changes import service as order_changes
from orderline.order_changes.rules import LineEdit
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.integration.test_stock_properties import warm_up
from tests.support.catalog import place, stock, stock_sku

SKUS = ("A", "B", "C")
levels = table_of(StockLevel)
reservations = table_of(Reservation)
variants = table_of(Variant)


@dataclass(frozen=True)
class Change:
    order: int
    sku: str
    quantity: int
    add: bool


@dataclass(frozen=True)
class PayByHand:
    order: int


@dataclass(frozen=True)
class CancelChange:
    order: int


@dataclass(frozen=True)
class Advance:
    """Past the one-hour deadline the scenario's changes are given."""


@dataclass(frozen=True)
class Sweep:
    """The worker's sweep: lapse the requests past their deadline."""


@dataclass(frozen=True)
class Receive:
    sku: str
    units: int


Operation = Change | PayByHand | CancelChange | Advance | Sweep | Receive
operations: st.SearchStrategy[Operation] = st.one_of(
    st.builds(Change, st.integers(0, 1), st.sampled_from(SKUS), st.integers(0, 4),
              st.booleans()),
    st.builds(Change, st.integers(0, 1), st.sampled_from(SKUS), st.integers(1, 3),
              st.just(True)),
    st.builds(PayByHand, st.integers(0, 1)),
    st.builds(PayByHand, st.integers(0, 1)),
    st.builds(CancelChange, st.integers(0, 1)),
    st.builds(Advance),
    st.builds(Sweep),
    st.builds(Receive, st.sampled_from(SKUS), st.integers(1, 3)),
)
Group = tuple[Operation, ...]
scenarios = st.tuples(
    st.fixed_dictionaries({sku: st.integers(2, 6) for sku in SKUS}),
    st.lists(st.lists(operations, min_size=1, max_size=4).map(tuple), min_size=1,
             max_size=6))


@dataclass
class Books:
    initial: dict[str, int]
    received: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)  # units applied changes took
    removed: Counter[str] = field(default_factory=Counter)  # units they gave back

    def on_hand(self, sku: str) -> int:
        return (self.initial[sku] + self.received[sku] - self.added[sku]
                + self.removed[sku])

    def applied(self, change: dict[str, Any]) -> None:
        for line in change["lines"]:
            delta = line["quantity_after"] - line["quantity_before"]
            if delta > 0:
                self.added[line["sku"]] += delta
            else:
                self.removed[line["sku"]] -= delta


class Shop:
    def __init__(self, runtime: Runtime, clock: ManualClock, merchant: Merchant,
                 orders: list[uuid.UUID], books: Books, log: list[str]) -> None:
        self.runtime, self.clock, self.merchant = runtime, clock, merchant
        self.orders, self.books, self.log = orders, books, log

    async def waiting(self, order_id: uuid.UUID) -> dict[str, Any] | None:
        changes = await reading.list_changes(self.runtime, self.merchant.principal,
                                                   order_id)
        found = [c for c in changes if c["status"] == "awaiting_payment"]
        return found[0] if found else None

    async def perform(self, op: Operation) -> str:
        runtime, principal = self.runtime, self.merchant.principal
        if isinstance(op, Advance):
            self.clock.advance(3601)
            return "clock moved past the deadline"
        if isinstance(op, Sweep):
            return f"lapsed {await order_changes.lapse_due_requests(runtime)}"
        if isinstance(op, Receive):
            await inventory.adjust_stock(runtime, principal, sku=op.sku, location=None,
                                         reason=MovementReason.RECEIPT, note="property",
                                         delta=op.units)
            self.books.received[op.sku] += op.units
            return f"received {op.units} {op.sku}"
        order_id = self.orders[op.order]
        if isinstance(op, Change):
            made = await order_changes.make_change(
                runtime, principal, order_id, [LineEdit(op.sku, op.quantity, add=op.add)],
                note=None, expected_version=None, pay_within_hours=1)
            if made["status"] == "applied":
                self.books.applied(made)
            return f"change {made['number']}: {made['status']} {made['difference']:+d}"
        waiting = await self.waiting(order_id)
        if waiting is None:
            return "skipped: no change waiting"
        if isinstance(op, PayByHand):
            paid = await paying.record_paid_by_hand(runtime, principal, order_id,
                                                           waiting["id"])
            self.books.applied(paid)
            return f"paid change {paid['number']}"
        cancelled = await order_changes.cancel_change(runtime, principal, order_id,
                                                      waiting["id"])
        return f"cancelled change {cancelled['number']}"

    async def attempt(self, op: Operation) -> str:
        try:
            return await self.perform(op)
        except DomainError as refusal:
            return f"refused: {refusal.code}"

    async def run_group(self, number: int, group: Group) -> None:
        results = await asyncio.gather(*(self.attempt(op) for op in group))
        for op, result in zip(group, results, strict=True):
            self.log.append(f"group {number}: {op!r} -> {result}")
        await self.check()

    async def check(self) -> None:
        runtime, business = self.runtime, self.merchant.principal.business_id
        drift = await inventory.reconcile(runtime, business)
        assert drift == [], f"the books do not balance: {[d.as_dict() for d in drift]}"
        views = {sku: await stock(runtime, self.merchant, sku) for sku in SKUS}
        self.log.append("  stock: " + str({s: (v["on_hand"], v["reserved"], v["available"])
                                          for s, v in views.items()}))
        for sku, view in views.items():
            assert view["available"] >= 0 and view["on_hand"] >= 0, f"{sku}: {view}"
            assert view["on_hand"] == self.books.on_hand(sku), (
                f"{sku}: on_hand {view['on_hand']}, the model says {self.books.on_hand(sku)}")
        async with runtime.db.read() as conn:
            active: Counter[uuid.UUID] = Counter()
            held_by: dict[uuid.UUID, int] = {}
            for r in await conn.execute(select(reservations).where(
                    reservations.c.business_id == business,
                    reservations.c.status == ReservationStatus.ACTIVE.value)):
                active[r.stock_level_id] += r.quantity
                held_by[r.id] = r.quantity
            for level in await conn.execute(select(levels).where(
                    levels.c.business_id == business)):
                assert level.reserved == active[level.id], (
                    f"reserved {level.reserved}, active reservations {active[level.id]}")
        for order_id in self.orders:
            changes = await reading.list_changes(runtime, self.merchant.principal,
                                                       order_id)
            assert sum(1 for c in changes if c["status"] == "awaiting_payment") <= 1
            order = await orders.get_order(runtime, self.merchant.principal, order_id)
            assert order["total"] == sum(line["line_total"] for line in order["lines"])
            for c in changes:
                if c["status"] == "applied":
                    assert c["order_version_after"] is not None
                if c["status"] != "awaiting_payment":
                    continue
                # Its added units, held while unexpired (a lapsed hold may be expired by
                # another holder before the sweep; then it holds nothing).
                held = [line for line in c["lines"] if line["held"]]
                assert all(line["quantity_after"] > line["quantity_before"] for line in held)


async def play(url: str, initial: dict[str, int], groups: list[Group],
               log: list[str]) -> None:
    db = Database(async_url(url), pool_size=8)
    try:
        clock = ManualClock()
        runtime = provide_parts(Runtime(settings=Settings(database_url=url), db=db,
                                        clock=clock))
        merchant = await new_merchant(runtime, name="Change property shop")
        for sku, units in initial.items():
            await stock_sku(runtime, merchant, sku, units, price=100 * (SKUS.index(sku) + 1))
        paid = []
        for lines in ((("A", 1), ("B", 1)), (("C", 1),)):  # one unit of each SKU sold
            placed = await place(runtime, merchant, *lines)
            await order_status.confirm_payment(runtime, merchant.principal, placed["id"])
            paid.append(placed["id"])
        books = Books(initial={sku: units - 1 for sku, units in initial.items()})
        await warm_up(db)
        shop = Shop(runtime, clock, merchant, paid, books, log)
        await shop.check()
        for number, group in enumerate(groups, start=1):
            await shop.run_group(number, group)
        # Leave nothing waiting for the next example's sweep.
        clock.advance(3601)
        await order_changes.lapse_due_requests(runtime)
    finally:
        await db.dispose()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios)
def test_no_interleaving_of_changes_and_their_payments_unbalances_the_books(
        shared_db: Database, database_url: str, scenario: tuple[dict[str, int], list[Group]]
        ) -> None:
    initial, groups = scenario
    log: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=1) as worker:
            worker.submit(asyncio.run, play(database_url, initial, groups, log)).result()
    finally:
        for line in log:
            note(line)
