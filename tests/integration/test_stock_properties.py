"""Property: no interleaving of orders, payments, cancellations, expiry, stock adjustments
and the after-sale operations can oversell a SKU, ship a unit twice or unbalance the stock or
the money books.

Hypothesis draws a scenario: initial stock for three SKUs at the default location (``main``;
the shop has a second one, ``depot``), then up to 8 groups of 1-4 operations. The operations
of one group run at once (``asyncio.gather``), each service call in its own transaction on
its own (already open) connection; groups run one after the other. Refusals (a
``DomainError``) are expected outcomes; any other exception fails the example. Besides
create, pay (marked paid, or a card through the sandbox gateway), cancel, expire, edit and
stock adjustments, a group may ship some units (from where they were sold, or from a chosen
location), cancel some units, transfer stock between the two locations, and refund a paid
order (all the money it holds, or lines, putting their units back or not).

After every group the books are checked through the services and directly on the tables
(this test is about the tables, so it reads them): at every location available and on_hand
never negative, ``reserved`` equal to the active reservations, ``reconcile`` empty (each
level's ledger sums to its on_hand), each order's reservations and stock movements consistent
with its status and lines (units still sold = the line's quantity after cancellations; a
cancelled order gave back everything), shipped <= the line's quantity and never more from a
level than the order took there, transfers and reallocations in balanced pairs, on_hand
equal to the initial stock plus the test's own adjustments plus the orders' movements, and
each order's money (received less refunded, from the payments ledger) what its state says:
a paid order holds its total less what was refunded (never below nothing; nothing, if it
was marked paid without a payment), a cancelled or unpaid order nothing (unless the money
arrived late and the saga is asked to give it back). Two more checks target "a lapsed hold
never counts", whose violations roll back instead of leaving drift: every refusal must be
explained by the stock it saw, and every unit shown as available must be holdable and
removable right now (probed in transactions that are rolled back).

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

from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cancellations import service as cancellations
from orderline.cancellations.rules import UnitsToCancel
from orderline.catalog import inventory, products, stock_store, transfers
from orderline.catalog.rules import MovementReason, ReservationStatus
from orderline.catalog.tables import Reservation, StockLevel, StockMovement, Variant
from orderline.core.clock import ManualClock
from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.db.tables import table_of
from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.events.event_types import EventType
from orderline.events.tables import OutboxEvent
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.callers import OrderCaller
from orderline.orders.fulfilment import service as fulfilment
from orderline.orders.rules import REVENUE_STATUSES, CancelReason, OrderStatus, RequestedLine
from orderline.orders.service import OrderEdit
from orderline.orders.tables import Order, OrderEvent, OrderLine, ShipmentLine
from orderline.payments import service as payments
from orderline.payments import store as payment_store
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.payments.rules import MovementKind
from orderline.payments.tables import PaymentIntent, PaymentMovement
from orderline.returns import service as returns
from orderline.returns.rules import Condition, Receipt, ReturnReason, UnitsToReturn
from orderline.returns.tables import Return as ReturnRow
from orderline.returns.tables import ReturnLine
from orderline.tenancy.tables import Location
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock, stock_sku

SKUS = ("A", "B", "C")
LOCATIONS = ("main", "depot")  # main: the default location, where the initial stock is
TTL_SECONDS = 60
MAX_GROUP = 4  # operations run at once

levels = table_of(StockLevel)
locations = table_of(Location)
reservations = table_of(Reservation)
movements = table_of(StockMovement)
variants = table_of(Variant)
order_rows = table_of(Order)
line_rows = table_of(OrderLine)
history = table_of(OrderEvent)
shipped_rows = table_of(ShipmentLine)
intent_rows = table_of(PaymentIntent)
money_rows = table_of(PaymentMovement)
return_rows = table_of(ReturnRow)
return_lines = table_of(ReturnLine)
outbox = table_of(OutboxEvent)

Lines = tuple[tuple[str, int], ...]
# Movements naming an order: what its sale took, what came back, what moved between levels.
ORDER_REASONS = (MovementReason.SALE, MovementReason.CANCELLATION, MovementReason.RETURN,
                 MovementReason.REALLOCATION, MovementReason.DAMAGE)


# --- Operations: small values with readable reprs, so a shrunk failure reads as a script. ---
# ``order`` picks one of the orders placed before the group started (index modulo their count).

@dataclass(frozen=True)
class Create:
    lines: Lines


@dataclass(frozen=True)
class BuyAll:
    """Order every unit of the SKU that the last check saw available at the default location
    (lapsed holds included, since they no longer count), so that lapsed holds must really
    give their units up."""

    sku: str


@dataclass(frozen=True)
class Edit:
    order: int
    lines: Lines


@dataclass(frozen=True)
class Pay:
    """Marked paid by the merchant (no payment recorded)."""

    order: int


@dataclass(frozen=True)
class CardPay:
    """A card payment through the sandbox gateway: captured at once, the order paid."""

    order: int


@dataclass(frozen=True)
class Cancel:
    order: int


# The after-sale operations name one of the order's lines by its position (modulo their
# count) and ask for at most as many units as the line has left when they start, so that most
# of them act instead of being refused for asking the impossible.

@dataclass(frozen=True)
class CancelUnits:
    """Cancel some units of one line (every unit left: the whole order)."""

    order: int
    line: int
    quantity: int


@dataclass(frozen=True)
class Ship:
    """A shipment of some units of one line (``line`` None: all units not yet shipped),
    from where they were sold (``location`` None) or from a chosen location."""

    order: int
    line: int | None
    quantity: int
    location: str | None


@dataclass(frozen=True)
class RefundAll:
    """Refund all the money the order holds."""

    order: int


@dataclass(frozen=True)
class RefundLines:
    """Refund some units of one line, putting them back in stock or not."""

    order: int
    line: int
    quantity: int
    restock: bool


@dataclass(frozen=True)
class ReturnUnits:
    """The merchant takes back some shipped units of one line: the return is asked for,
    approved, received (back on hand where they shipped from, or written off as damaged:
    a returned and a damaged row in the ledger) and refunded, each its own transaction."""

    order: int
    line: int
    quantity: int
    damaged: bool


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
    location: str | None = None


@dataclass(frozen=True)
class Correct:
    sku: str
    delta: int


@dataclass(frozen=True)
class StockTake:
    sku: str
    count: int


@dataclass(frozen=True)
class Transfer:
    sku: str
    source: str
    quantity: int

    @property
    def target(self) -> str:
        return next(code for code in LOCATIONS if code != self.source)


Operation = (Create | BuyAll | Edit | Pay | CardPay | Cancel | CancelUnits | Ship | RefundAll
             | RefundLines | ReturnUnits | Advance | Sweep | Receive | Correct | StockTake
             | Transfer)

order_lines = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1,
                       max_size=3, unique_by=lambda line: line[0]).map(tuple)
line_ref = st.integers(0, 2)
order_ref = st.integers(0, 7)
creates = st.builds(Create, order_lines)
payments_by_hand = st.builds(Pay, order_ref)
card_payments = st.builds(CardPay, order_ref)
expiries = st.builds(Advance, st.sampled_from([TTL_SECONDS + 1, 20]))
location_code = st.sampled_from(LOCATIONS)
# Repeated alternatives weigh the draw: towards orders, so most groups have orders to act on,
# towards payments, so that the after-sale operations have paid orders to act on, and towards
# the clock, so that holds often lapse before someone needs their units.
operations: st.SearchStrategy[Operation] = st.one_of(
    creates,
    payments_by_hand,
    card_payments,
    expiries,
    creates,
    st.builds(Cancel, order_ref),
    expiries,
    card_payments,
    st.builds(Edit, order_ref, order_lines),
    st.builds(Sweep),
    st.builds(BuyAll, st.sampled_from(SKUS)),
    st.builds(Receive, st.sampled_from(SKUS), st.integers(1, 5),
              st.one_of(st.none(), location_code)),
    st.builds(Correct, st.sampled_from(SKUS), st.sampled_from((-4, -3, -2, -1, 1, 2, 3, 4))),
    st.builds(StockTake, st.sampled_from(SKUS), st.integers(0, 8)),
    st.builds(Ship, order_ref, st.one_of(st.none(), line_ref), st.integers(1, 3),
              st.one_of(st.none(), location_code)),
    st.builds(Ship, order_ref, st.one_of(st.none(), line_ref), st.integers(1, 3),
              st.one_of(st.none(), location_code)),
    st.builds(CancelUnits, order_ref, line_ref, st.integers(1, 3)),
    st.builds(Transfer, st.sampled_from(SKUS), location_code, st.integers(1, 4)),
    st.builds(RefundAll, order_ref),
    st.builds(RefundLines, order_ref, line_ref, st.integers(1, 3), st.booleans()),
    st.builds(ReturnUnits, order_ref, line_ref, st.integers(1, 3), st.booleans()),
)
Group = tuple[Operation, ...]
# (initial stock, first group, second group, later groups): the first group only places
# orders, so that later payments, edits and cancellations have something to act on; the
# second pays some of them (by hand or by card), so that the
# after-sale operations have paid orders to act on.
Scenario = tuple[dict[str, int], Group, Group, list[Group]]
scenarios: st.SearchStrategy[Scenario] = st.tuples(
    # A and B start with enough for a few orders, C with little or none (the contended one).
    st.fixed_dictionaries({"A": st.integers(3, 10), "B": st.integers(2, 8),
                           "C": st.integers(0, 6)}),
    st.lists(creates, min_size=1, max_size=MAX_GROUP).map(tuple),
    st.lists(st.one_of(card_payments, payments_by_hand), min_size=1, max_size=3).map(tuple),
    st.lists(st.lists(operations, min_size=1, max_size=MAX_GROUP).map(tuple), min_size=2,
             max_size=6),
)


class RolledBack(Exception):
    """Raised inside a probing transaction so that it rolls back."""


@dataclass
class Outcome:
    """What one operation did, as the test's model counts it (nothing, if refused)."""

    text: str
    refusal: str | None = None  # the DomainError code, if the domain said no
    details: dict[str, Any] = field(default_factory=dict)  # ...and the refusal's details
    takes_stock: bool = False  # may have lowered some SKU's available units somewhere
    gives_stock: bool = False  # may have raised some SKU's available units somewhere
    created: uuid.UUID | None = None
    paid: uuid.UUID | None = None
    sold: Counter[str] = field(default_factory=Counter)  # a payment by hand: its lines
    cancelled: uuid.UUID | None = None
    adjusted: Counter[tuple[str, str]] = field(default_factory=Counter)  # (sku, location)
    moved: Counter[str] = field(default_factory=Counter)  # units transferred
    counted: tuple[str, int] | None = None  # a stock take at the default location
    touched: frozenset[str] = frozenset()  # SKUs whose on_hand somewhere it may have changed

    def touches(self, sku: str) -> bool:
        return sku in self.touched


@dataclass
class Books:
    """The test's own account of what must be true, built only from successful operations."""

    initial: dict[str, int]
    adjusted: Counter[tuple[str, str]] = field(default_factory=Counter)
    moved: Counter[str] = field(default_factory=Counter)
    orders: list[uuid.UUID] = field(default_factory=list)
    paid: set[uuid.UUID] = field(default_factory=set)
    sold_by_hand: dict[uuid.UUID, Counter[str]] = field(default_factory=dict)
    cancelled: set[uuid.UUID] = field(default_factory=set)

    def on_hand(self, sku: str, location: str) -> int:
        """On hand from the stock and the adjustments alone (orders' movements aside)."""
        start = self.initial[sku] if location == LOCATIONS[0] else 0
        return start + self.adjusted[sku, location]

    def record(self, outcome: Outcome) -> None:
        if outcome.created is not None:
            self.orders.append(outcome.created)
        if outcome.paid is not None:
            self.paid.add(outcome.paid)
            if outcome.sold:
                self.sold_by_hand[outcome.paid] = outcome.sold
        if outcome.cancelled is not None:
            self.cancelled.add(outcome.cancelled)
        self.adjusted.update(outcome.adjusted)
        self.moved.update(outcome.moved)


def _units(lines: list[dict[str, Any]]) -> Counter[str]:
    return Counter({line["sku"]: line["quantity"] for line in lines})


def _requested(lines: Lines) -> list[RequestedLine]:
    return [RequestedLine(sku, quantity) for sku, quantity in lines]


def _per_location(view: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {p["location"]: p for p in view["locations"]}


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
        # What the operations came to, for ``pytest --hypothesis-show-statistics``.
        self.tally: set[str] = set()
        # Units of returns received and not refunded yet (from the last check of the tables).
        self.back_unrefunded: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()

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
            self.tally.add(f"{type(op).__name__}: {result.refusal or 'done'}")
            self.books.record(result)
        if failures:
            raise failures[0]
        outcomes = [r for r in results if isinstance(r, Outcome)]
        self.check_refusals(list(zip(group, outcomes, strict=True)))
        await self.check_books(outcomes)

    def free(self, sku: str, location: str) -> int:
        found = _per_location(self.seen[sku]).get(location)
        return 0 if found is None else int(found["available"])

    def check_refusals(self, done: list[tuple[Operation, Outcome]]) -> None:
        """A stock refusal must be explained by the stock it saw.

        These checks catch lapsed holds that still count: such a bug shows up as a refusal
        that rolls back, never as a committed drift. First, the refusal's own numbers (taken in
        its transaction, at its ``now``) must show the shortage, unless another operation of
        the group could have freed stock between its two statements (PostgreSQL runs READ
        COMMITTED). Second, it must be explained by the stock seen before the group whenever
        nothing else in the group could lower availability (payments, the sweeper, receipts and
        the clock only raise or keep it; a refused operation changes nothing). An order line
        is never split between locations, so it is short when no location has its units.
        """
        for op, outcome in done:
            if outcome.refusal is None:
                continue
            others = [other for _, other in done if other is not outcome]
            if not any(other.gives_stock for other in others):
                self.check_refusal_details(op, outcome)
            if any(other.takes_stock for other in others):
                continue
            best = {sku: max(self.free(sku, code) for code in LOCATIONS) for sku in SKUS}
            main = {sku: self.free(sku, LOCATIONS[0]) for sku in SKUS}
            if isinstance(op, Create | BuyAll) and outcome.refusal == "out_of_stock":
                lines = self.lines_of(op)
                assert any(quantity > best[sku] for sku, quantity in lines), (
                    f"{op!r} refused as out of stock, but available before it: {best}")
            if isinstance(op, Correct) and outcome.refusal == "insufficient_stock":
                assert -op.delta > main[op.sku], (
                    f"{op!r} refused, but available before it: {main}")
            if isinstance(op, StockTake) and outcome.refusal == "insufficient_stock":
                here = _per_location(self.seen[op.sku])[LOCATIONS[0]]
                held = here["on_hand"] - here["available"]
                assert op.count < held, f"{op!r} refused, but {held} were held before it"
            if isinstance(op, Transfer) and outcome.refusal == "insufficient_stock":
                free = self.free(op.sku, op.source)
                assert op.quantity > free, f"{op!r} refused, but {free} were free before it"

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
        units = self.free(op.sku, LOCATIONS[0])
        return ((op.sku, units),) if units > 0 else ()

    @staticmethod
    def check_refusal_details(op: Operation, outcome: Outcome) -> None:
        if outcome.refusal == "out_of_stock":
            short = outcome.details["lines"]
            assert short and all(line["requested"] > line["available"] for line in short), (
                f"{op!r} refused as out of stock, reporting {short}")
        if outcome.refusal == "insufficient_stock" and "requested_delta" in outcome.details:
            removed, free = -outcome.details["requested_delta"], outcome.details["available"]
            assert removed > free, f"{op!r} refused: remove {removed} with {free} free"
        if outcome.refusal == "insufficient_stock" and "requested" in outcome.details:
            wanted, free = outcome.details["requested"], outcome.details["available"]
            assert wanted > free, f"{op!r} refused: take {wanted} with {free} free"

    async def attempt(self, op: Operation, known: list[uuid.UUID]) -> Outcome:
        try:
            return await self.perform(op, known)
        except DomainError as refusal:
            return Outcome(f"refused: {refusal.code}", refusal=refusal.code,
                           details=refusal.details)

    async def perform(self, op: Operation, known: list[uuid.UUID]) -> Outcome:
        runtime = self.runtime
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
        if isinstance(op, Transfer):
            await transfers.transfer_stock(runtime, self.merchant.principal, sku=op.sku,
                                           from_location=op.source, to_location=op.target,
                                           quantity=op.quantity)
            return Outcome(f"moved {op.quantity} {op.source} -> {op.target}",
                           moved=Counter({op.sku: op.quantity}), takes_stock=True,
                           gives_stock=True, touched=frozenset({op.sku}))
        if isinstance(op, Ship | RefundAll | RefundLines | ReturnUnits):
            # After-sale operations pick among the orders paid (as far as the books know)
            # when there are any, so that most of them have something to act on.
            paid = [o for o in known if o in self.books.paid and o not in self.books.cancelled]
            known = paid or known
        if not known:
            return Outcome("skipped: no order placed yet")
        return await self.act_on(op, known[op.order % len(known)])

    async def act_on(self, op: Operation, order_id: uuid.UUID) -> Outcome:
        runtime, principal = self.runtime, self.merchant.principal
        everything = frozenset(SKUS)
        if isinstance(op, Pay):
            paid = await order_status.confirm_payment(runtime, principal, order_id)
            return Outcome(f"paid {paid['number']} by hand", paid=order_id,
                           sold=_units(paid["lines"]), touched=everything)
        if isinstance(op, CardPay):
            intent = await payments.start_payment(runtime, principal, order_id,
                                                  provider="sandbox",
                                                  payment_method="pm_card_visa")
            after = await orders.get_order(runtime, principal, order_id)
            is_paid = after["paid_at"] is not None
            return Outcome(f"card {intent['status']}, order {after['status']}",
                           paid=order_id if is_paid else None, touched=everything)
        if isinstance(op, Cancel):
            cancelled = await order_status.cancel_order(runtime, principal, order_id)
            return Outcome(f"cancelled {cancelled['number']}", cancelled=order_id,
                           gives_stock=True, touched=everything)
        if isinstance(op, CancelUnits):
            sku, units = await self.pick(order_id, op.line, op.quantity)
            done = await cancellations.cancel_units(
                runtime, principal, order_id, [UnitsToCancel(sku, units)],
                reason=CancelReason.MERCHANT, note=None, expected_version=None)
            full = done["full_cancellation"]
            return Outcome(f"cancelled units ({'all' if full else 'some'}, refund "
                           f"{done['refund']['amount']})",
                           cancelled=order_id if full else None, gives_stock=True,
                           touched=everything)
        if isinstance(op, Ship):
            chosen = (None if op.line is None
                      else dict([await self.pick(order_id, op.line, op.quantity)]))
            sent = await fulfilment.create_shipment(
                runtime, principal, order_id, fulfilment.Parcel(
                    carrier="post", tracking_number=f"T{uuid.uuid4().hex[:8]}",
                    units=chosen, location=op.location))
            shipment = sent["shipment"]
            return Outcome(f"shipment {shipment['number']}: "
                           f"{[(x['sku'], x['quantity']) for x in shipment['lines']]}",
                           takes_stock=op.location is not None,
                           gives_stock=op.location is not None,
                           touched=everything if op.location is not None else frozenset())
        if isinstance(op, RefundAll):
            async with runtime.db.read() as conn:
                intents = await payment_store.intents_of_order(conn, self.business_id,
                                                               order_id)
            held = sum(i.amount_captured + i.amount_collected - i.amount_refunded
                       for i in intents)
            if held <= 0:
                return Outcome("skipped: no money held")
            await payments.refund_payment(runtime, principal, order_id, amount=held,
                                          reason="property test")
            return Outcome(f"refunded {held}")
        if isinstance(op, RefundLines):
            sku, units = await self.pick(order_id, op.line, op.quantity)
            refunded = await payments.refund_payment(
                runtime, principal, order_id, restock=op.restock, reason="property test",
                lines=[payments.RefundLine(sku, units)])
            return Outcome(f"refunded {units} of {sku}, {refunded['amount_refunded']} in all",
                           gives_stock=op.restock,
                           touched=frozenset({sku}) if op.restock else frozenset())
        if isinstance(op, ReturnUnits):
            return await self.take_back(op, order_id)
        assert isinstance(op, Edit)
        edited = await orders.edit_order(runtime, principal, order_id,
                                         OrderEdit(lines=_requested(op.lines)),
                                         expected_version=None)
        return Outcome(f"edited {edited['number']}", takes_stock=True, gives_stock=True)

    async def take_back(self, op: ReturnUnits, order_id: uuid.UUID) -> Outcome:
        """``ReturnUnits``: refused as a whole only when the return cannot be asked for (units
        not shipped, or returned already); later steps act on what the earlier ones did."""
        runtime, principal = self.runtime, self.merchant.principal
        sku, units = await self.pick(order_id, op.line, op.quantity)
        caller = OrderCaller(business_id=self.business_id, order_id=order_id,
                             principal=principal)
        made = await returns.request_return(runtime, caller, [UnitsToReturn(sku, units)],
                                            reason=ReturnReason.NO_LONGER_NEEDED, note=None)
        return_id = uuid.UUID(str(made["id"]))
        await returns.approve_return(runtime, principal, order_id, return_id)
        condition = Condition.DAMAGED if op.damaged else Condition.RESTOCK
        await returns.receive_return(runtime, principal, order_id, return_id,
                                     [Receipt(sku, condition)])
        try:
            refunded = await returns.refund_return(runtime, principal, order_id, return_id)
            done = f"refund {refunded['refund_amount']} {refunded['refund_method']}"
        except DomainError as refused:
            done = f"refund refused: {refused.code}"
        return Outcome(f"returned {units} of {sku} ({condition.value}), {done}",
                       gives_stock=not op.damaged,
                       touched=frozenset() if op.damaged else frozenset({sku}))

    async def pick(self, order_id: uuid.UUID, line: int, quantity: int) -> tuple[str, int]:
        """The order's line at ``line`` (modulo their count) and at most ``quantity`` units,
        no more than it had left (not refunded) when read; at least one."""
        lines = (await orders.get_order(self.runtime, self.merchant.principal,
                                        order_id))["lines"]
        chosen = lines[line % len(lines)]
        left = chosen["quantity"] - chosen["refunded_quantity"]
        return chosen["sku"], max(1, min(quantity, left))

    async def adjust(self, op: Receive | Correct | StockTake) -> Outcome:
        tag = f"property-test {uuid.uuid4()}"
        where = op.location if isinstance(op, Receive) and op.location else LOCATIONS[0]
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
                           adjusted=Counter({(op.sku, where): delta}),
                           counted=(op.sku, op.count), takes_stock=delta < 0,
                           gives_stock=delta > 0, touched=frozenset({op.sku}))
        delta = op.units if isinstance(op, Receive) else op.delta
        reason = MovementReason.RECEIPT if isinstance(op, Receive) else MovementReason.CORRECTION
        await inventory.adjust_stock(self.runtime, self.merchant.principal, sku=op.sku,
                                     location=op.location if isinstance(op, Receive) else None,
                                     reason=reason, note=tag, delta=delta)
        return Outcome(f"on_hand {delta:+d} at {where}",
                       adjusted=Counter({(op.sku, where): delta}), takes_stock=delta < 0,
                       gives_stock=delta > 0, touched=frozenset({op.sku}))

    async def check_books(self, outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        views = {sku: await stock(self.runtime, self.merchant, sku) for sku in SKUS}
        self.seen = views
        state = {sku: {p["location"]: (p["on_hand"], p["reserved"], p["available"])
                       for p in v["locations"]} for sku, v in views.items()}
        self.log.append(f"  stock (on_hand, reserved, available): {state}")
        for sku, view in views.items():
            for here in view["locations"]:
                assert here["available"] >= 0, f"{sku} oversold: {view}"
                assert here["on_hand"] >= 0, f"{sku} below zero on hand: {view}"
        # A stock take that was the only change of its SKU's on_hand in the group is exact.
        for outcome in outcomes:
            if outcome.counted is None:
                continue
            sku, count = outcome.counted
            if not any(o.touches(sku) for o in outcomes if o is not outcome):
                counted = _per_location(views[sku])[LOCATIONS[0]]["on_hand"]
                assert counted == count, f"stock take of {sku} to {count} left {counted}"
        drift = await inventory.reconcile(self.runtime, self.business_id)
        assert drift == [], f"the books do not balance: {[d.as_dict() for d in drift]}"
        async with self.runtime.db.read() as conn:
            await self.check_tables(conn, views, now)
            await self.check_money(conn)
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
                select(levels.c.id, levels.c.variant_id, levels.c.location_id, variants.c.sku,
                       locations.c.code)
                .join(variants, variants.c.id == levels.c.variant_id)
                .join(locations, locations.c.id == levels.c.location_id)
                .where(levels.c.business_id == self.business_id)))
        for level in found:
            free = int(_per_location(views[level.sku])[level.code]["available"])
            if free <= 0:
                continue

            async def hold(conn: AsyncConnection, level_id: uuid.UUID = level.id,
                           free: int = free) -> object:
                left, _ = await stock_store.hold_units_counting_lapsed(conn, level_id, free,
                                                                       now)
                return left

            async def write_off(conn: AsyncConnection, level: Any = level,
                                free: int = free) -> object:
                return await stock_store.change_on_hand(
                    conn, level=stock_store.LevelDelta(level.id, level.variant_id,
                                                       level.location_id, -free),
                    business_id=self.business_id, reason=MovementReason.CORRECTION,
                    actor="property-test probe", note="", now=now)

            where = f"{level.sku} at {level.code}"
            # (``hold_units_counting_lapsed`` answers (left, expired): left None is "short".)
            assert await self.rolled_back(hold) is not None, (
                f"{where}: cannot hold the {free} units shown as available")
            assert await self.rolled_back(write_off) is not None, (
                f"{where}: cannot write off the {free} units shown as available")

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
        code_of = {r.id: r.code for r in await conn.execute(
            select(locations.c.id, locations.c.code).where(locations.c.business_id == business))}
        level_rows = list(await conn.execute(
            select(levels.c.id, levels.c.variant_id, levels.c.location_id, levels.c.on_hand,
                   levels.c.reserved).where(levels.c.business_id == business)))
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

        # The stock ledger: per level, per order and per reason.
        at_level: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
        of_order: dict[tuple[uuid.UUID, uuid.UUID, str], int] = defaultdict(int)
        order_level: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
        transfer_rows: Counter[str] = Counter()
        for m in await conn.execute(select(movements).where(
                movements.c.business_id == business)):
            at_level[m.stock_level_id, m.reason] += m.delta
            if m.reason in ORDER_REASONS:
                assert m.order_id is not None, f"a {m.reason} movement names no order"
                assert m.order_id in books.paid, f"{m.reason} movement for an unpaid order"
                of_order[m.order_id, m.variant_id, m.reason] += m.delta
                if m.reason != MovementReason.RETURN:
                    order_level[m.order_id, m.stock_level_id] += m.delta
            if m.reason in (MovementReason.TRANSFER_IN, MovementReason.TRANSFER_OUT):
                assert m.order_id is None, "a transfer names an order"
                transfer_rows[m.reason] += 1
        assert transfer_rows[MovementReason.TRANSFER_IN] == \
            transfer_rows[MovementReason.TRANSFER_OUT], f"transfer rows unpaired: {transfer_rows}"

        for level in level_rows:
            sku, code = sku_of[level.variant_id], code_of[level.location_id]
            where = f"{sku} at {code}"
            assert 0 <= level.reserved <= level.on_hand, f"{where}: counters {level}"
            assert level.reserved == active_at[level.id], (
                f"{where}: reserved {level.reserved} but active reservations hold "
                f"{active_at[level.id]}")
            shown = _per_location(views[sku])[code]
            assert shown["available"] == level.on_hand - unexpired_at[level.id], (
                f"{where}: stock_of says {shown} but the tables say on_hand {level.on_hand}"
                f", unexpired holds {unexpired_at[level.id]}")
            by_orders = sum(at_level[level.id, reason] for reason in ORDER_REASONS)
            expected = books.on_hand(sku, code) + by_orders + at_level[
                level.id, MovementReason.TRANSFER_IN] + at_level[
                level.id, MovementReason.TRANSFER_OUT]
            assert level.on_hand == expected, (
                f"{where}: on_hand {level.on_hand} but initial and adjustments "
                f"{books.on_hand(sku, code)} + orders' movements {by_orders} + transfers "
                f"= {expected}")
        for sku in SKUS:
            out = sum(at_level[level.id, MovementReason.TRANSFER_OUT] for level in level_rows
                      if sku_of[level.variant_id] == sku)
            into = sum(at_level[level.id, MovementReason.TRANSFER_IN] for level in level_rows
                       if sku_of[level.variant_id] == sku)
            assert -out == into == books.moved[sku], (
                f"{sku}: transferred out {-out}, in {into}, by the transfers {books.moved[sku]}")

        placed = {r.id: r for r in await conn.execute(select(order_rows).where(
            order_rows.c.business_id == business))}
        assert set(placed) == set(books.orders), "orders differ from the successful creates"
        lines_of: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for line in await conn.execute(select(line_rows).where(
                line_rows.c.business_id == business)):
            lines_of[line.order_id].append(line)
        shipped: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()
        shipped_at: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()
        for s in await conn.execute(select(shipped_rows).where(
                shipped_rows.c.business_id == business)):
            shipped[s.order_id, s.variant_id] += s.quantity
            shipped_at[s.order_id, s.stock_level_id] += s.quantity
        by_state: dict[tuple[uuid.UUID, str], Counter[uuid.UUID]] = defaultdict(Counter)
        taken: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()
        for r in held:
            by_state[r.order_id, r.status][r.variant_id] += r.quantity
            if r.status != ReservationStatus.RELEASED:
                taken[r.order_id, r.variant_id] += 1
        assert all(n == 1 for n in taken.values()), (
            "a line is held, sold or expired by more than one reservation")
        # Returns: never more units asked back (returns not rejected nor closed) than shipped.
        returned: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()
        back_unrefunded: Counter[tuple[uuid.UUID, uuid.UUID]] = Counter()
        for r in await conn.execute(
                select(return_lines.c.order_id, return_lines.c.variant_id,
                       return_lines.c.quantity, return_rows.c.status)
                .join(return_rows, return_rows.c.id == return_lines.c.return_id)
                .where(return_lines.c.business_id == business)):
            if r.status not in ("rejected", "cancelled"):
                returned[r.order_id, r.variant_id] += r.quantity
            if r.status == "received":
                back_unrefunded[r.order_id, r.variant_id] += r.quantity
        for (order_id, variant_id), units in returned.items():
            assert units <= shipped[order_id, variant_id], (
                f"order {placed[order_id].number}: {units} of {sku_of[variant_id]} returned, "
                f"{shipped[order_id, variant_id]} shipped")
        self.back_unrefunded = back_unrefunded
        for (order_id, level_id), units in shipped_at.items():
            took = -order_level[order_id, level_id]
            assert units <= took, (
                f"order {placed[order_id].number}: {units} units shipped from a level where "
                f"it took {took}")
        for order_id, order in placed.items():
            self.check_order(order, lines_of[order_id], by_state, of_order, shipped, now)

    def check_order(self, order: Any, lines: list[Any],
                    by_state: dict[tuple[uuid.UUID, str], Counter[uuid.UUID]],
                    of_order: dict[tuple[uuid.UUID, uuid.UUID, str], int],
                    shipped: Counter[tuple[uuid.UUID, uuid.UUID]], now: datetime) -> None:
        books, status = self.books, OrderStatus(order.status)
        wanted = Counter({line.variant_id: line.quantity for line in lines})
        active = by_state[order.id, ReservationStatus.ACTIVE]
        consumed = by_state[order.id, ReservationStatus.CONSUMED]
        expired = by_state[order.id, ReservationStatus.EXPIRED]
        where = f"order {order.number} ({status}, lines {dict(wanted)})"

        def moved(variant_id: uuid.UUID, *reasons: str) -> int:
            return sum(of_order[order.id, variant_id, reason] for reason in reasons)

        for line in lines:
            units = shipped[order.id, line.variant_id]
            assert line.quantity >= 0 and line.cancelled_quantity >= 0, f"{where}: {line}"
            assert 0 <= line.refunded_quantity <= line.quantity, (
                f"{where}: {line.refunded_quantity} of {line.sku} refunded of {line.quantity}")
            assert units <= line.quantity, (
                f"{where}: {units} of {line.sku} shipped, {line.quantity} ordered after "
                f"{line.cancelled_quantity} cancelled")
            assert moved(line.variant_id, MovementReason.REALLOCATION) == 0, (
                f"{where}: reallocations of {line.sku} do not pair up")
            # Back in the ledger: refunded with a restock, or received by a return whose
            # refund is still to come.
            back = line.refunded_quantity + self.back_unrefunded[order.id, line.variant_id]
            assert moved(line.variant_id, MovementReason.RETURN) <= back, (
                f"{where}: more of {line.sku} came back than was refunded or is on a return "
                "received")
            sold = -moved(line.variant_id, MovementReason.SALE)
            assert sold == consumed[line.variant_id], (
                f"{where}: sold {sold} of {line.sku}, consumed {consumed[line.variant_id]}")
        if order.id in books.sold_by_hand:
            sold_skus = Counter({line.sku: -moved(line.variant_id, MovementReason.SALE)
                                 for line in lines})
            assert sold_skus == books.sold_by_hand[order.id], (
                f"{where}: sold {dict(sold_skus)}, paid for {dict(books.sold_by_hand[order.id])}")
        if order.id in books.paid:
            assert status in REVENUE_STATUSES or order.paid_at is not None, (
                f"{where}: payment succeeded but the order is not paid")
        if order.id in books.cancelled:
            assert status == OrderStatus.CANCELLED, f"{where}: cancel succeeded"
        if status in REVENUE_STATUSES or status == OrderStatus.RETURNED:
            # Sold and kept sold (a returned order's units came back through its returns).
            assert not active, f"{where}: still holds {dict(active)}"
            for line in lines:
                still = -moved(line.variant_id, MovementReason.SALE,
                               MovementReason.CANCELLATION)
                assert still == line.quantity, (
                    f"{where}: {still} of {line.sku} still sold, the line has {line.quantity}")
        elif status == OrderStatus.CANCELLED:
            assert not active, f"{where}: still holds {dict(active)}"
            if order.paid_at is None:
                assert not consumed, f"{where}: consumed {dict(consumed)}"
            for line in lines:
                net = moved(line.variant_id, *ORDER_REASONS)
                assert net == 0, f"{where}: {-net} of {line.sku} not put back"
        else:
            assert not consumed, f"{where}: consumed {dict(consumed)} before payment"
            if order.payment_deadline > now:
                assert active == wanted and not expired, (
                    f"{where}: holds {dict(active)}, expired {dict(expired)}")
            else:
                assert active + expired == wanted, (
                    f"{where}: holds {dict(active)}, expired {dict(expired)}")

    async def check_money(self, conn: AsyncConnection) -> None:
        """Each order's money (the payments ledger) is what its state says, and every
        payment's counters agree with its ledger rows."""
        business = self.business_id
        by_kind: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
        of_intent: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
        for m in await conn.execute(select(money_rows).where(
                money_rows.c.business_id == business)):
            by_kind[m.order_id, m.kind] += m.amount
            of_intent[m.intent_id, m.kind] += m.amount
        for i in await conn.execute(select(intent_rows).where(
                intent_rows.c.business_id == business)):
            booked = (of_intent[i.id, MovementKind.CAPTURE], of_intent[i.id, MovementKind.REFUND])
            assert booked == (i.amount_captured, i.amount_refunded), (
                f"payment {i.id}: captured/refunded {i.amount_captured}/{i.amount_refunded}, "
                f"its ledger says {booked}")
        # What refunds asked of the order by the merchant (a cancellation's refund is the
        # difference its total fell by, so it is not counted here).
        asked: Counter[uuid.UUID] = Counter()
        # What cancellations of units said goes back (through the provider or by hand).
        promised: Counter[uuid.UUID] = Counter()
        # What returns' refunds gave back (through the ledger when the money came through it).
        by_return: Counter[uuid.UUID] = Counter()
        entries = list(await conn.execute(
            select(history.c.order_id, history.c.action, history.c.changes).where(
                history.c.business_id == business,
                history.c.action.in_(("refunded", "refund_failed", "lines_cancelled",
                                      "return_refunded")))))
        failed = {str(h.changes["refund_id"]) for h in entries if h.action == "refund_failed"}
        for h in entries:
            if h.action == "refunded" and str(h.changes["refund_id"]) not in failed:
                asked[h.order_id] += int(h.changes["amount"])
            if h.action == "lines_cancelled":
                promised[h.order_id] += int(h.changes["refund"]["amount"])
            if h.action == "return_refunded":
                by_return[h.order_id] += int(h.changes["amount"])
        given_back = {r.aggregate_id for r in await conn.execute(
            select(outbox.c.aggregate_id).where(
                outbox.c.business_id == business,
                outbox.c.type == EventType.PAYMENT_CANCEL_REQUESTED.value))}
        for order in await conn.execute(select(order_rows).where(
                order_rows.c.business_id == business)):
            received = (by_kind[order.id, MovementKind.CAPTURE]
                        + by_kind[order.id, MovementKind.COLLECT])
            refunded = by_kind[order.id, MovementKind.REFUND]
            holds = received - refunded
            if received:
                asked[order.id] += by_return[order.id]
            status = OrderStatus(order.status)
            where = (f"order {order.number} ({status}, total {order.total}): received "
                     f"{received}, refunded {refunded}")
            assert 0 <= holds <= received, f"{where}: refunded more than received"
            if received:
                # Never more given back, or promised back by hand, than was received.
                back = asked[order.id] + promised[order.id]
                assert back <= received, (
                    f"{where}: refunds asked {asked[order.id]} and promised by cancellations "
                    f"{promised[order.id]} come to more")
            if status in REVENUE_STATUSES:
                if received:
                    # Cancelled units are refunded as far as the money left allows.
                    assert holds == max(0, order.total - asked[order.id]), (
                        f"{where}, but it should hold its total less the refunds asked "
                        f"({asked[order.id]})")
                else:
                    assert refunded == 0 and asked[order.id] == 0, (
                        f"{where}: marked paid without a payment, yet refunded")
            else:
                assert holds == 0 or order.id in given_back, (
                    f"{where}: holds money, and no one is asked to give it back")


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
               log: list[str], tally: set[str]) -> None:
    db = Database(async_url(url), pool_size=8)
    try:
        clock = ManualClock()
        runtime = provide_parts(Runtime(settings=Settings(database_url=url), db=db, clock=clock))
        # Card payments through an in-memory sandbox gateway: captured at once; its webhooks
        # are queued, never delivered (the payments are applied from the calls' answers).
        providers_of(runtime)["sandbox"] = SandboxGateway(secret="whsec_property_test")
        merchant = await new_merchant(runtime, name="Property shop",
                                      reservation_ttl_seconds=TTL_SECONDS)
        await products.create_location(runtime, merchant.principal, code=LOCATIONS[1],
                                       name="Depot")
        for sku, units in initial.items():
            await stock_sku(runtime, merchant, sku, units)
        await warm_up(db)
        shop = Shop(runtime, clock, merchant, Books(initial=dict(initial)), log)
        shop.tally = tally
        await shop.check_books([])
        for number, group in enumerate(groups, start=1):
            await shop.run_group(number, group)
        await shop.close()
    finally:
        await db.dispose()


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios)
# A lapsed hold is released (cancel; the sweeper does the same) while another order needs its
# units. On PostgreSQL the new order used to be refused as out of stock although the units are
# free in either serial order: the lazy expiry found the reservation already released, freed
# nothing, and the hold was not tried again. Found by this test; kept so it stays covered.
@example(scenario=({"A": 0, "B": 0, "C": 3}, (Create((("C", 3),)),), (Advance(TTL_SECONDS + 1),),
                   [(Cancel(0), Create((("C", 3),)))]))
# Units cancelled after all the money was refunded: nothing more goes back. (The refund was
# the difference in total, promised "by hand" as no payment held it.) Found by this test.
@example(scenario=({"A": 5, "B": 0, "C": 0}, (Create((("A", 5),)),), (CardPay(0),),
                   [(RefundAll(0),), (CancelUnits(0, 0, 2),)]))
# A hold at a location other than the default lapses while another order needs its units.
@example(scenario=({"A": 0, "B": 0, "C": 0}, (Receive("A", 3, LOCATIONS[1]),),
                   (Create((("A", 3),)),), [(Advance(TTL_SECONDS + 1),), (Create((("A", 3),)),)]))
# A unit returned after the whole card payment was refunded: nothing more goes back (it was
# refunded "by hand" again, as if paid outside the ledger). Found by this test.
@example(scenario=({"A": 5, "B": 0, "C": 0}, (Create((("A", 2),)),), (CardPay(0),),
                   [(Ship(0, None, 1, None),), (RefundAll(0),),
                    (ReturnUnits(0, 0, 1, False),)]))
# Every shipped unit returned and refunded: the order is returned, its units sold and back.
@example(scenario=({"A": 5, "B": 0, "C": 0}, (Create((("A", 1),)),), (CardPay(0),),
                   [(Ship(0, None, 1, None),), (ReturnUnits(0, 0, 1, False),)]))
def test_no_interleaving_oversells_or_unbalances_the_books(
        shared_db: Database, database_url: str,
        scenario: Scenario) -> None:
    # shared_db is asked for only so that the backend's schema is migrated before we start.
    initial, opening, paying, later = scenario
    log: list[str] = []
    tally: set[str] = set()
    try:
        with ThreadPoolExecutor(max_workers=1) as worker:
            worker.submit(asyncio.run, play(database_url, initial, [opening, paying, *later], log,
                                            tally)).result()
    finally:
        for line in log:
            note(line)
        for outcome in sorted(tally):
            event(outcome)
