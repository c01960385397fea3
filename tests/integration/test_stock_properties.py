"""Property: no interleaving of orders, payments, cancellations, expiry and stock adjustments
can oversell a SKU or unbalance the stock books.

Hypothesis draws a scenario: initial stock for three SKUs, then up to 8 groups of 1-4
operations. The operations of one group run at once (``asyncio.gather``), each service call in
its own transaction on its own (already open) connection; groups run one after the other.
Refusals (a ``DomainError``) are expected outcomes; any other exception fails the example.

After every group the books are checked through the services and directly on the tables (this
test is about the tables, so it reads them): available and on_hand never negative, ``reserved``
equal to the active reservations, ``reconcile`` empty, each order's reservations consistent
with its status and lines, on_hand equal to what the test's own model of the successful
operations says. Two more checks target "a lapsed hold never counts", whose violations roll
back instead of leaving drift: every refusal must be explained by the stock it saw, and every
unit shown as available must be holdable and removable right now (probed in transactions that
are rolled back).

Why a thread per example: hypothesis calls the test body synchronously many times, while
pytest-asyncio owns a session event loop. Each example therefore runs in a worker thread with
its own event loop and its own ``Database`` on the migrated URL of the backend under test, and
disposes of that engine before the thread ends. Each example uses a fresh merchant, so
examples never see each other's stock; the sweeper is global, so each example cancels its
unpaid orders when it ends.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import inventory, stock_store
from orderline.catalog.rules import MovementReason, ReservationStatus
from orderline.catalog.tables import Reservation, StockLevel, StockMovement, Variant
from orderline.core.clock import ManualClock
from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.db.tables import table_of
from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.rules import REVENUE_STATUSES, OrderStatus, RequestedLine
from orderline.orders.service import OrderEdit
from orderline.orders.tables import Order, OrderLine
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock, stock_sku

SKUS = ("A", "B", "C")
TTL_SECONDS = 60
MAX_GROUP = 4  # operations run at once

levels = table_of(StockLevel)
reservations = table_of(Reservation)
movements = table_of(StockMovement)
variants = table_of(Variant)
order_rows = table_of(Order)
line_rows = table_of(OrderLine)

Lines = tuple[tuple[str, int], ...]


# --- Operations: small values with readable reprs, so a shrunk failure reads as a script. ---
# ``order`` picks one of the orders placed before the group started (index modulo their count).

@dataclass(frozen=True)
class Create:
    lines: Lines


@dataclass(frozen=True)
class BuyAll:
    """Order every unit of the SKU that the last check saw available (lapsed holds included,
    since they no longer count), so that lapsed holds must really give their units up."""

    sku: str


@dataclass(frozen=True)
class Edit:
    order: int
    lines: Lines


@dataclass(frozen=True)
class Pay:
    order: int


@dataclass(frozen=True)
class Cancel:
    order: int


@dataclass(frozen=True)
class Advance:
    """Move the shared clock; 61 s takes every open hold past its deadline."""

    seconds: int


@dataclass(frozen=True)
class Sweep:
    """Run the sweeper that cancels unpaid orders past their deadline."""


@dataclass(frozen=True)
class Receive:
    sku: str
    units: int


@dataclass(frozen=True)
class Correct:
    sku: str
    delta: int


@dataclass(frozen=True)
class StockTake:
    sku: str
    count: int


Operation = Create | BuyAll | Edit | Pay | Cancel | Advance | Sweep | Receive | Correct | StockTake

order_lines = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1,
                       max_size=3, unique_by=lambda line: line[0]).map(tuple)
order_ref = st.integers(0, 7)
creates = st.builds(Create, order_lines)
payments = st.builds(Pay, order_ref)
expiries = st.builds(Advance, st.sampled_from([TTL_SECONDS + 1, 20]))
# Repeated alternatives weigh the draw: towards orders, so most groups have orders to act on,
# and towards the clock, so that holds often lapse before someone needs their units.
operations: st.SearchStrategy[Operation] = st.one_of(
    creates,
    payments,
    expiries,
    creates,
    st.builds(Cancel, order_ref),
    expiries,
    payments,
    st.builds(Edit, order_ref, order_lines),
    st.builds(Sweep),
    st.builds(BuyAll, st.sampled_from(SKUS)),
    st.builds(Receive, st.sampled_from(SKUS), st.integers(1, 5)),
    st.builds(Correct, st.sampled_from(SKUS), st.integers(-4, 4).filter(bool)),
    st.builds(StockTake, st.sampled_from(SKUS), st.integers(0, 8)),
)
Group = tuple[Operation, ...]
# (initial stock, first group, later groups): the first group only places orders, so that
# later payments, edits and cancellations have something to act on.
Scenario = tuple[dict[str, int], Group, list[Group]]
scenarios: st.SearchStrategy[Scenario] = st.tuples(
    st.fixed_dictionaries({sku: st.integers(0, 8) for sku in SKUS}),
    st.lists(creates, min_size=1, max_size=MAX_GROUP).map(tuple),
    st.lists(st.lists(operations, min_size=1, max_size=MAX_GROUP).map(tuple), max_size=7),
)


class RolledBack(Exception):
    """Raised inside a probing transaction so that it rolls back."""


@dataclass
class Outcome:
    """What one operation did, as the test's model counts it (nothing, if refused)."""

    text: str
    refusal: str | None = None  # the DomainError code, if the domain said no
    details: dict[str, Any] = field(default_factory=dict)  # ...and the refusal's details
    takes_stock: bool = False  # may have lowered some SKU's available units
    gives_stock: bool = False  # may have raised some SKU's available units
    created: uuid.UUID | None = None
    paid: uuid.UUID | None = None
    cancelled: uuid.UUID | None = None
    sold: Counter[str] = field(default_factory=Counter)
    put_back: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)
    counted: tuple[str, int] | None = None  # a stock take: (sku, count)

    def touches(self, sku: str) -> bool:
        """Whether this operation changed (or set) the SKU's on_hand."""
        return bool(self.sold[sku] or self.put_back[sku] or self.adjusted[sku]
                    or (self.counted and self.counted[0] == sku))


@dataclass
class Books:
    """The test's own account of what must be true, built only from successful operations."""

    initial: dict[str, int]
    adjusted: Counter[str] = field(default_factory=Counter)
    sold: Counter[str] = field(default_factory=Counter)
    put_back: Counter[str] = field(default_factory=Counter)
    orders: list[uuid.UUID] = field(default_factory=list)
    paid: set[uuid.UUID] = field(default_factory=set)
    cancelled: set[uuid.UUID] = field(default_factory=set)

    def on_hand(self, sku: str) -> int:
        return self.initial[sku] + self.adjusted[sku] - self.sold[sku] + self.put_back[sku]

    def record(self, outcome: Outcome) -> None:
        if outcome.created is not None:
            self.orders.append(outcome.created)
        if outcome.paid is not None:
            self.paid.add(outcome.paid)
        if outcome.cancelled is not None:
            self.cancelled.add(outcome.cancelled)
        self.sold.update(outcome.sold)
        self.put_back.update(outcome.put_back)
        self.adjusted.update(outcome.adjusted)


def _units(lines: list[dict[str, Any]]) -> Counter[str]:
    return Counter({line["sku"]: line["quantity"] for line in lines})


def _requested(lines: Lines) -> list[RequestedLine]:
    return [RequestedLine(sku, quantity) for sku, quantity in lines]


class Shop:
    """One merchant's shop under test: runs groups of operations and checks the books."""

    def __init__(self, runtime: Runtime, clock: ManualClock, merchant: Merchant,
                 books: Books, log: list[str]) -> None:
        self.runtime = runtime
        self.clock = clock
        self.merchant = merchant
        self.books = books
        self.log = log  # hypothesis' note() works only in the test's thread; it replays this
        self.seen: dict[str, dict[str, Any]] = {}  # stock_of per SKU after the last group

    @property
    def business_id(self) -> uuid.UUID:
        return self.merchant.principal.business_id

    async def run_group(self, number: int, group: Group) -> None:
        known = list(self.books.orders)
        results = await asyncio.gather(*(self.attempt(op, known) for op in group),
                                       return_exceptions=True)
        failures: list[BaseException] = []
        for op, result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                self.log.append(f"group {number}: {op!r} -> CRASHED {result!r}")
                failures.append(result)
                continue
            self.log.append(f"group {number}: {op!r} -> {result.text}")
            self.books.record(result)
        if failures:
            raise failures[0]
        outcomes = [r for r in results if isinstance(r, Outcome)]
        self.check_refusals(list(zip(group, outcomes, strict=True)))
        await self.check_books(outcomes)

    def check_refusals(self, done: list[tuple[Operation, Outcome]]) -> None:
        """A stock refusal must be explained by the stock it saw.

        These checks catch lapsed holds that still count: such a bug shows up as a refusal
        that rolls back, never as a committed drift. First, the refusal's own numbers (taken in
        its transaction, at its ``now``) must show the shortage, unless another operation of
        the group could have freed stock between its two statements (PostgreSQL runs READ
        COMMITTED). Second, it must be explained by the stock seen before the group whenever
        nothing else in the group could lower availability (payments, the sweeper, receipts and
        the clock only raise or keep it; a refused operation changes nothing).
        """
        for op, outcome in done:
            if outcome.refusal is None:
                continue
            others = [other for _, other in done if other is not outcome]
            if not any(other.gives_stock for other in others):
                self.check_refusal_details(op, outcome)
            if any(other.takes_stock for other in others):
                continue
            seen = self.seen
            free = {sku: seen[sku]["available"] for sku in SKUS}
            if isinstance(op, Create | BuyAll) and outcome.refusal == "out_of_stock":
                lines = self.lines_of(op)
                assert any(quantity > free[sku] for sku, quantity in lines), (
                    f"{op!r} refused as out of stock, but available before it: {free}")
            if isinstance(op, Correct) and outcome.refusal == "insufficient_stock":
                assert -op.delta > free[op.sku], (
                    f"{op!r} refused, but available before it: {free}")
            if isinstance(op, StockTake) and outcome.refusal == "insufficient_stock":
                held = seen[op.sku]["on_hand"] - seen[op.sku]["available"]
                assert op.count < held, f"{op!r} refused, but {held} were held before it"

    async def close(self) -> None:
        """Cancel what is still unpaid: the sweeper works across businesses, so pending orders
        left behind could show up in another test's sweep."""
        async with self.runtime.db.read() as conn:
            pending = list((await conn.execute(select(order_rows.c.id).where(
                order_rows.c.business_id == self.business_id,
                order_rows.c.status == OrderStatus.PENDING_PAYMENT.value))).scalars())
        for order_id in pending:
            await order_status.cancel_order(self.runtime, self.merchant.principal, order_id)

    def lines_of(self, op: Create | BuyAll) -> Lines:
        if isinstance(op, Create):
            return op.lines
        units = self.seen[op.sku]["available"]
        return ((op.sku, units),) if units > 0 else ()

    @staticmethod
    def check_refusal_details(op: Operation, outcome: Outcome) -> None:
        if outcome.refusal == "out_of_stock":
            short = outcome.details["lines"]
            assert short and all(line["requested"] > line["available"] for line in short), (
                f"{op!r} refused as out of stock, reporting {short}")
        if outcome.refusal == "insufficient_stock":
            removed, free = -outcome.details["requested_delta"], outcome.details["available"]
            assert removed > free, f"{op!r} refused: remove {removed} with {free} free"

    async def attempt(self, op: Operation, known: list[uuid.UUID]) -> Outcome:
        try:
            return await self.perform(op, known)
        except DomainError as refusal:
            return Outcome(f"refused: {refusal.code}", refusal=refusal.code,
                           details=refusal.details)

    async def perform(self, op: Operation, known: list[uuid.UUID]) -> Outcome:
        runtime, principal = self.runtime, self.merchant.principal
        if isinstance(op, Advance):
            self.clock.advance(op.seconds)
            return Outcome(f"clock moved {op.seconds}s")
        if isinstance(op, Sweep):
            return Outcome(f"swept {await order_status.cancel_lapsed_orders(runtime)}")
        if isinstance(op, Create | BuyAll):
            lines = self.lines_of(op)
            if not lines:
                return Outcome("skipped: nothing available")
            placed = await place(runtime, self.merchant, *lines)
            return Outcome(f"placed {placed['number']} for {lines}", created=placed["id"],
                           takes_stock=True)
        if isinstance(op, Receive | Correct | StockTake):
            return await self.adjust(op)
        if not known:
            return Outcome("skipped: no order placed yet")
        order_id = known[op.order % len(known)]
        if isinstance(op, Pay):
            paid = await order_status.confirm_payment(runtime, principal, order_id)
            return Outcome(f"paid {paid['number']}", paid=order_id,
                           sold=_units(paid["lines"]))
        if isinstance(op, Cancel):
            cancelled = await order_status.cancel_order(runtime, principal, order_id)
            if cancelled["paid_at"] is None:
                return Outcome(f"cancelled {cancelled['number']} unpaid", cancelled=order_id,
                               gives_stock=True)
            # Paid before (a cancelled order can never be paid afterwards): units come back.
            return Outcome(f"cancelled {cancelled['number']} after payment",
                           cancelled=order_id, put_back=_units(cancelled["lines"]),
                           gives_stock=True)
        edited = await orders.edit_order(runtime, principal, order_id,
                                         OrderEdit(lines=_requested(op.lines)),
                                         expected_version=None)
        return Outcome(f"edited {edited['number']}", takes_stock=True, gives_stock=True)

    async def adjust(self, op: Receive | Correct | StockTake) -> Outcome:
        tag = f"property-test {uuid.uuid4()}"
        if isinstance(op, StockTake):
            await inventory.adjust_stock(self.runtime, self.merchant.principal, sku=op.sku,
                                         location=None, reason=MovementReason.CORRECTION,
                                         note=tag, set_on_hand=op.count)
            # The delta of a stock take depends on what ran before it; the ledger row says.
            async with self.runtime.db.read() as conn:
                deltas = list((await conn.execute(
                    select(movements.c.delta).where(movements.c.business_id == self.business_id,
                                                    movements.c.note == tag))).scalars())
            assert len(deltas) <= 1, f"one stock take wrote {len(deltas)} ledger rows"
            delta = int(deltas[0]) if deltas else 0
            return Outcome(f"counted {op.count} (delta {delta:+d})",
                           adjusted=Counter({op.sku: delta}), counted=(op.sku, op.count),
                           takes_stock=delta < 0, gives_stock=delta > 0)
        delta = op.units if isinstance(op, Receive) else op.delta
        reason = MovementReason.RECEIPT if isinstance(op, Receive) else MovementReason.CORRECTION
        await inventory.adjust_stock(self.runtime, self.merchant.principal, sku=op.sku,
                                     location=None, reason=reason, note=tag, delta=delta)
        return Outcome(f"on_hand {delta:+d}", adjusted=Counter({op.sku: delta}),
                       takes_stock=delta < 0, gives_stock=delta > 0)

    async def check_books(self, outcomes: list[Outcome]) -> None:
        books, now = self.books, self.clock.now()
        views = {sku: await stock(self.runtime, self.merchant, sku) for sku in SKUS}
        self.seen = views
        state = {sku: (v["on_hand"], v["reserved"], v["available"]) for sku, v in views.items()}
        self.log.append(f"  stock (on_hand, reserved, available): {state}")
        for sku, view in views.items():
            assert view["available"] >= 0, f"{sku} oversold: {view}"
            assert view["on_hand"] >= 0, f"{sku} below zero on hand: {view}"
            assert view["on_hand"] == books.on_hand(sku), (
                f"{sku}: on_hand {view['on_hand']} but initial {books.initial[sku]} "
                f"+ adjusted {books.adjusted[sku]} - sold {books.sold[sku]} "
                f"+ put back {books.put_back[sku]} = {books.on_hand(sku)}")
        # A stock take that was the only change of its SKU's on_hand in the group is exact.
        for outcome in outcomes:
            if outcome.counted is None:
                continue
            sku, count = outcome.counted
            if not any(o.touches(sku) for o in outcomes if o is not outcome):
                assert views[sku]["on_hand"] == count, (
                    f"stock take of {sku} to {count} left {views[sku]['on_hand']}")
        drift = await inventory.reconcile(self.runtime, self.business_id)
        assert drift == [], f"the books do not balance: {[d.as_dict() for d in drift]}"
        async with self.runtime.db.read() as conn:
            await self.check_tables(conn, views, now)
        await self.check_lapsed_holds_give_way(views, now)

    async def check_lapsed_holds_give_way(self, views: dict[str, dict[str, Any]],
                                          now: datetime) -> None:
        """Every unit shown as available can be held, or written off, right now.

        Lapsed holds still count in ``reserved`` until something expires them lazily; this
        probes both lazy paths (a new hold, a negative adjustment) in transactions that are
        rolled back, so the scenario is not changed. Random draws alone rarely get there.
        """
        async with self.runtime.db.read() as conn:
            found = list(await conn.execute(
                select(levels.c.id, levels.c.variant_id, levels.c.location_id, variants.c.sku)
                .join(variants, variants.c.id == levels.c.variant_id)
                .where(levels.c.business_id == self.business_id)))
        for level in found:
            free = int(views[level.sku]["available"])
            if free <= 0:
                continue

            async def hold(conn: AsyncConnection, level_id: uuid.UUID = level.id,
                           free: int = free) -> object:
                return await stock_store.hold_units_counting_lapsed(conn, level_id, free, now)

            async def write_off(conn: AsyncConnection, level: Any = level,
                                free: int = free) -> object:
                return await stock_store.change_on_hand(
                    conn, level=stock_store.LevelDelta(level.id, level.variant_id,
                                                       level.location_id, -free),
                    business_id=self.business_id, reason=MovementReason.CORRECTION,
                    actor="property-test probe", note="", now=now)

            assert await self.rolled_back(hold), (
                f"{level.sku}: cannot hold the {free} units shown as available")
            assert await self.rolled_back(write_off) is not None, (
                f"{level.sku}: cannot write off the {free} units shown as available")

    async def rolled_back(self, work: Callable[[AsyncConnection], Awaitable[object]]) -> object:
        """Run ``work`` in a write transaction, then roll it back; returns its result."""
        result: object = None
        try:
            async with self.runtime.db.write() as conn:
                result = await work(conn)
                raise RolledBack
        except RolledBack:
            return result

    async def check_tables(self, conn: AsyncConnection, views: dict[str, dict[str, Any]],
                           now: datetime) -> None:
        books, business = self.books, self.business_id
        sku_of = {r.id: r.sku for r in await conn.execute(
            select(variants.c.id, variants.c.sku).where(variants.c.business_id == business))}
        level_rows = list(await conn.execute(
            select(levels.c.id, levels.c.variant_id, levels.c.on_hand, levels.c.reserved)
            .where(levels.c.business_id == business)))
        held = list(await conn.execute(select(reservations).where(
            reservations.c.business_id == business)))
        statuses = {s.value for s in ReservationStatus}
        active_at: Counter[uuid.UUID] = Counter()
        unexpired_at: Counter[uuid.UUID] = Counter()
        for r in held:
            assert r.status in statuses, f"reservation in unknown state {r.status!r}"
            is_active = r.status == ReservationStatus.ACTIVE
            assert (r.closed_at is None) == is_active, (
                f"reservation {r.status} with closed_at {r.closed_at}")
            if is_active:
                active_at[r.stock_level_id] += r.quantity
                if r.expires_at > now:
                    unexpired_at[r.stock_level_id] += r.quantity
        for level in level_rows:
            sku = sku_of[level.variant_id]
            assert 0 <= level.reserved <= level.on_hand, f"{sku}: counters {level}"
            assert level.reserved == active_at[level.id], (
                f"{sku}: reserved {level.reserved} but active reservations hold "
                f"{active_at[level.id]}")
            assert views[sku]["available"] == level.on_hand - unexpired_at[level.id], (
                f"{sku}: stock_of says {views[sku]} but the tables say on_hand {level.on_hand}"
                f", unexpired holds {unexpired_at[level.id]}")

        placed = {r.id: r for r in await conn.execute(select(order_rows).where(
            order_rows.c.business_id == business))}
        assert set(placed) == set(books.orders), "orders differ from the successful creates"
        wanted: dict[uuid.UUID, Counter[uuid.UUID]] = defaultdict(Counter)
        for line in await conn.execute(select(line_rows).where(
                line_rows.c.business_id == business)):
            wanted[line.order_id][line.variant_id] += line.quantity
        by_state: dict[tuple[uuid.UUID, str], Counter[uuid.UUID]] = defaultdict(Counter)
        taken: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()
        for r in held:
            by_state[r.order_id, r.status][r.variant_id] += r.quantity
            if r.status != ReservationStatus.RELEASED:
                taken[r.order_id, r.variant_id] += 1
        assert all(n == 1 for n in taken.values()), (
            "a line is held, sold or expired by more than one reservation")
        for order_id, order in placed.items():
            status = OrderStatus(order.status)
            lines = wanted[order_id]
            active = by_state[order_id, ReservationStatus.ACTIVE]
            consumed = by_state[order_id, ReservationStatus.CONSUMED]
            expired = by_state[order_id, ReservationStatus.EXPIRED]
            where = f"order {order.number} ({status}, lines {dict(lines)})"
            if order_id in books.paid:
                assert status in REVENUE_STATUSES or order.paid_at is not None, (
                    f"{where}: payment succeeded but the order is not paid")
            if order_id in books.cancelled:
                assert status == OrderStatus.CANCELLED, f"{where}: cancel succeeded"
            if status in REVENUE_STATUSES:
                assert consumed == lines and not active, (
                    f"{where}: consumed {dict(consumed)}, active {dict(active)}")
            elif status == OrderStatus.CANCELLED:
                assert not active, f"{where}: still holds {dict(active)}"
                expected_consumed = lines if order.paid_at is not None else Counter()
                assert consumed == expected_consumed, f"{where}: consumed {dict(consumed)}"
            else:
                assert not consumed, f"{where}: consumed {dict(consumed)} before payment"
                if order.payment_deadline > now:
                    assert active == lines and not expired, (
                        f"{where}: holds {dict(active)}, expired {dict(expired)}")
                else:
                    assert active + expired == lines, (
                        f"{where}: holds {dict(active)}, expired {dict(expired)}")

        ledger: dict[tuple[str, str], int] = defaultdict(int)
        for m in await conn.execute(select(movements.c.variant_id, movements.c.reason,
                                           movements.c.delta, movements.c.order_id)
                                    .where(movements.c.business_id == business)):
            ledger[sku_of[m.variant_id], m.reason] += m.delta
            if m.reason in (MovementReason.SALE, MovementReason.CANCELLATION):
                assert m.order_id in books.paid, f"{m.reason} movement for an unpaid order"
        for sku in SKUS:
            assert -ledger[sku, MovementReason.SALE] == books.sold[sku], (
                f"{sku}: ledger sales {ledger[sku, MovementReason.SALE]}, "
                f"paid orders {books.sold[sku]}")
            assert ledger[sku, MovementReason.CANCELLATION] == books.put_back[sku], (
                f"{sku}: ledger put-backs {ledger[sku, MovementReason.CANCELLATION]}, "
                f"cancelled paid orders {books.put_back[sku]}")


async def warm_up(db: Database) -> None:
    """Open one pooled connection per operation a group can run, so that a group's operations
    overlap in the database instead of queueing behind connection set-up."""
    everyone_connected = asyncio.Barrier(MAX_GROUP)

    async def connect() -> None:
        async with db.read() as conn:
            await conn.execute(select(1))
            await everyone_connected.wait()

    await asyncio.gather(*(connect() for _ in range(MAX_GROUP)))


async def play(url: str, initial: dict[str, int], groups: list[Group],
               log: list[str]) -> None:
    db = Database(async_url(url), pool_size=8)
    try:
        clock = ManualClock()
        runtime = provide_parts(Runtime(settings=Settings(database_url=url), db=db, clock=clock))
        merchant = await new_merchant(runtime, name="Property shop",
                                      reservation_ttl_seconds=TTL_SECONDS)
        for sku, units in initial.items():
            await stock_sku(runtime, merchant, sku, units)
        await warm_up(db)
        shop = Shop(runtime, clock, merchant, Books(initial=dict(initial)), log)
        await shop.check_books([])
        for number, group in enumerate(groups, start=1):
            await shop.run_group(number, group)
        await shop.close()
    finally:
        await db.dispose()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios)
# A lapsed hold is released (cancel; the sweeper does the same) while another order needs its
# units. On PostgreSQL the new order used to be refused as out of stock although the units are
# free in either serial order: the lazy expiry found the reservation already released, freed
# nothing, and the hold was not tried again. Found by this test; kept so it stays covered.
@example(scenario=({"A": 0, "B": 0, "C": 3}, (Create((("C", 3),)),),
                   [(Advance(TTL_SECONDS + 1),), (Cancel(0), Create((("C", 3),)))]))
def test_no_interleaving_oversells_or_unbalances_the_books(
        shared_db: Database, database_url: str,
        scenario: Scenario) -> None:
    # shared_db is asked for only so that the backend's schema is migrated before we start.
    initial, opening, later = scenario
    log: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=1) as worker:
            worker.submit(asyncio.run, play(database_url, initial, [opening, *later], log)).result()
    finally:
        for line in log:
            note(line)
