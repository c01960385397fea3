"""Editing and reading orders, and the steps every way of placing one shares: pricing lines
from the catalog, holding their stock, and the buyer's access token.

Holding stock is one conditional UPDATE per line (lines in a fixed order so concurrent orders
never dead-lock); if any line is short, the caller's transaction rolls back and nothing stays
held. The ways of placing an order (checkout confirm, ``POST /v1/orders``) live in ``checkout``,
which builds on the payment capabilities; they write through ``orders.placing``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.archiving import refuse_archived
from orderline.catalog.rules import (
    LevelStock,
    ReservationStatus,
    ShortLine,
    choose_level,
    shortage_message,
)
from orderline.catalog.stock_events import announce_expired, announce_if_low
from orderline.catalog.stock_store import ExpiredReservation
from orderline.core import metrics
from orderline.core.errors import (
    NotFound,
    OrderNotEditable,
    OutOfStock,
    PaymentDeadlinePassed,
    UnknownSku,
    ValidationFailed,
    VersionConflict,
)
from orderline.core.runtime import Part, Runtime
from orderline.events.event_types import AggregateType
from orderline.events.outbox import OpenedEvents, emit
from orderline.events.outbox_store import note_written
from orderline.orders import hooks, rollups
from orderline.orders import store as order_store
from orderline.orders.conflicts import conflict_sentence, latest_change_details
from orderline.orders.hooks import OrderChange, hooks_of
from orderline.orders.rules import (
    OrderStatus,
    RequestedLine,
    check_order_total,
    check_requested_lines,
    conversion_rate,
    line_total,
    order_event_type,
)
from orderline.orders.store import NewOrderLine, OrderRow
from orderline.orders.views import shaped
from orderline.tenancy.rules import Principal, Scope, hash_api_key

_PAYMENT_METHOD = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def new_order_access_token() -> str:
    """The buyer's key to one order (live updates, and later the order page): random, shown
    once when the order is placed, stored as a hash."""
    return "oat_" + secrets.token_urlsafe(24)


def hash_access_token(token: str) -> str:
    return hash_api_key(token)


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str | None = None
    email: str | None = None

    def check(self) -> Contact:
        if not self.name.strip():
            raise ValidationFailed("The customer needs a name.", details={"field": "customer.name"})
        if not (self.phone or self.email):
            raise ValidationFailed("Give the customer's phone or email, so the order can be "
                                   "matched to them.", details={"field": "customer"})
        return self


@dataclass(frozen=True, slots=True)
class OrderEdit:
    note: str | None = None
    customer: Contact | None = None
    lines: list[RequestedLine] | None = None
    changed: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class PricedLine:
    variant_id: uuid.UUID
    stock_level_id: uuid.UUID | None
    sku: str
    name: str
    unit_price: int
    quantity: int
    low_stock_threshold: int | None = None
    free_seen: int | None = None  # free units by the level's counters when priced, unlocked


async def price_lines(conn: AsyncConnection, business_id: uuid.UUID, location_id: uuid.UUID,
                       requested: list[RequestedLine],
                       kept_prices: dict[str, int] | None = None) -> list[PricedLine]:
    """Snapshot name and unit price per line (``kept_prices`` keeps an earlier snapshot)."""
    return priced_from(await catalog_store.sellable_lines(
        conn, business_id, location_id, [line.sku for line in requested]), requested,
        kept_prices)


def priced_from(sellable: Sequence[Mapping[Any, Any]], requested: list[RequestedLine],
                kept_prices: dict[str, int] | None = None) -> list[PricedLine]:
    """``price_lines`` from variants already read (``catalog_store.sellable_lines``' rows):
    ``UnknownSku`` names every requested SKU not among them."""
    found = {r["sku"]: r for r in sellable}
    unknown = [line.sku for line in requested if line.sku not in found]
    if unknown:
        raise UnknownSku("These SKUs are not in this business's catalog: " + ", ".join(unknown),
                         details={"unknown_skus": unknown})
    kept = kept_prices or {}
    return [PricedLine(variant_id=found[line.sku]["id"],
                       stock_level_id=found[line.sku]["stock_level_id"], sku=line.sku,
                       name=found[line.sku]["name"],
                       unit_price=kept.get(line.sku, found[line.sku]["price_minor"]),
                       quantity=line.quantity,
                       low_stock_threshold=found[line.sku]["low_stock_threshold"],
                       free_seen=found[line.sku]["free_seen"])
            for line in requested]


async def allocate_lines(conn: AsyncConnection, business_id: uuid.UUID,
                         priced: list[PricedLine], now: datetime) -> list[PricedLine]:
    """For an order placed without a location (priced at the default one): each line the
    default location is short of takes its units from the location ``choose_level`` names
    (the most free units). Lines the default location can serve cost no query. The choice
    reads free units (lapsed holds not counted, see ``levels_of_variants``) without a lock;
    the conditional UPDATE that takes the units is what keeps each location from overselling
    (a line that lost a race there is refused, as any)."""
    short = [p for p in priced if p.free_seen is None or p.free_seen < p.quantity]
    if not short:
        return priced
    candidates: dict[uuid.UUID, list[LevelStock]] = {}
    for r in await catalog_store.levels_of_variants(conn, business_id,
                                                    [p.variant_id for p in short], now):
        candidates.setdefault(r["variant_id"], []).append(LevelStock(
            stock_level_id=r["stock_level_id"], location_code=r["code"],
            is_default=bool(r["is_default"]), free=int(r["free"])))
    allocated: list[PricedLine] = []
    for p in priced:
        chosen = (choose_level(p.quantity, candidates.get(p.variant_id, []))
                  if p in short else None)
        if chosen is None or chosen.stock_level_id == p.stock_level_id:
            allocated.append(p)
            continue
        allocated.append(replace(p, stock_level_id=chosen.stock_level_id,
                                 free_seen=chosen.free))
    return allocated


async def refuse_short(conn: AsyncConnection, priced: list[PricedLine],
                       now: datetime) -> None:
    """Raise ``OutOfStock`` now, before an order writes anything, for the lines its stock
    was already short of when priced; what ``take_all`` would say, without its work.

    A read without a lock decides only refusals: a line whose counters looked short is
    counted again with lapsed reservations as free (``free_units``), and refused if still
    short, a refusal as of that read, as a refusal racing with a restock always was. A line
    that looks available is taken, or refused, by ``take_all``'s conditional UPDATE. So
    when a hot SKU has sold out, its late buyers are refused without waiting for its row (or
    anything else), and do not queue behind the buyers still taking it."""
    short: list[ShortLine] = []
    for line in sorted(priced, key=lambda p: str(p.stock_level_id)):
        if line.stock_level_id is None:
            short.append(ShortLine(line.sku, line.quantity, 0))
        elif line.free_seen is not None and line.free_seen < line.quantity:
            free = await stock_store.free_units(conn, line.stock_level_id, now)
            if free < line.quantity:
                short.append(ShortLine(line.sku, line.quantity, max(free, 0)))
    if short:
        raise OutOfStock(shortage_message(short),
                         details={"lines": [s.as_dict() for s in short]})


async def hold_all(runtime: Runtime, conn: AsyncConnection, *, business_id: uuid.UUID,
                   holder: dict[str, uuid.UUID | None], priced: list[PricedLine],
                   expires_at: datetime, now: datetime) -> list[dict[str, object]]:
    """All-or-nothing: hold every line or raise ``OutOfStock`` naming each short line.

    ``holder`` names who holds the stock: ``{"order_id": ..., "checkout_id": None}`` or the
    other way round. Returns the reservation rows to insert once the holder's row exists."""
    held, _ = await _hold_lines(runtime, conn, business_id=business_id, holder=holder,
                                priced=priced, expires_at=expires_at, now=now, insert=False)
    return held


async def take_all(runtime: Runtime, conn: AsyncConnection, *, business_id: uuid.UUID,
                   holder: dict[str, uuid.UUID | None], priced: list[PricedLine],
                   expires_at: datetime, now: datetime,
                   announcing: OpenedEvents | None = None) -> bool:
    """``hold_all`` for a holder whose row is already written, with its reservations: each
    line's conditional UPDATE and its reservation in one statement
    (``stock_store.take_units``). The stock rows stay locked from there to COMMIT, so a
    caller writes everything else first and takes the stock last.

    ``announcing``, the holder's first events (their streams open), go into the outbox with
    the last line's stock, in its statement, when nothing can come between them: on
    PostgreSQL, when no line has a low-stock threshold (whose ``stock.low`` comes before
    them) and the last line is taken at the first try (not after expiring lapsed
    reservations, whose events come before them too). Returns whether they went in; if not,
    the caller appends them after."""
    _, announced = await _hold_lines(runtime, conn, business_id=business_id, holder=holder,
                                     priced=priced, expires_at=expires_at, now=now,
                                     insert=True, announcing=announcing)
    return announced


async def _hold_lines(runtime: Runtime, conn: AsyncConnection, *, business_id: uuid.UUID,
                      holder: dict[str, uuid.UUID | None], priced: list[PricedLine],
                      expires_at: datetime, now: datetime, insert: bool,
                      announcing: OpenedEvents | None = None
                      ) -> tuple[list[dict[str, object]], bool]:
    short: list[ShortLine] = []
    held: list[dict[str, object]] = []
    lines = sorted(priced, key=lambda p: str(p.stock_level_id))
    rides = (announcing is not None and insert and conn.dialect.name == "postgresql"
             and all(p.low_stock_threshold is None for p in lines))
    announced = False
    for n, line in enumerate(lines):
        left: int | None = None
        if line.stock_level_id is not None:
            reservation: dict[str, object] = {
                "id": uuid.uuid4(), "business_id": business_id, **holder,
                "stock_level_id": line.stock_level_id, "variant_id": line.variant_id,
                "quantity": line.quantity, "status": ReservationStatus.ACTIVE.value,
                "expires_at": expires_at, "created_at": now, "closed_at": None}
            expired: list[ExpiredReservation] = []
            if insert:
                # The holder's first events ride with the last line's stock (``take_all``).
                rows = (announcing.rows if rides and announcing is not None
                        and n == len(lines) - 1 else None)
                left, expired, announced = await stock_store.take_units_counting_lapsed(
                    conn, reservation, now, rows)
            else:
                left, expired = await stock_store.hold_units_counting_lapsed(
                    conn, line.stock_level_id, line.quantity, now)
            await announce_expired(conn, expired, now)
        if line.stock_level_id is not None and left is not None:
            await announce_if_low(conn, business_id=business_id,
                                  stock_level_id=line.stock_level_id, variant_id=line.variant_id,
                                  sku=line.sku, before=left + line.quantity, after=left,
                                  threshold=line.low_stock_threshold, now=now)
            held.append(reservation)
            continue
        free = 0 if line.stock_level_id is None else await stock_store.free_units(
            conn, line.stock_level_id, now)
        short.append(ShortLine(line.sku, line.quantity, max(free, 0)))
    if short:
        raise OutOfStock(shortage_message(short),
                         details={"lines": [s.as_dict() for s in short]})
    if announced and announcing is not None:
        note_written(conn, announcing.rows)
    await runtime.checkpoints.reach("reserve.held")
    return held, announced


def new_line_rows(business_id: uuid.UUID, order_id: uuid.UUID,
               priced: list[PricedLine]) -> list[NewOrderLine]:
    return [NewOrderLine(id=uuid.uuid4(), business_id=business_id, order_id=order_id,
                         position=i, variant_id=p.variant_id, sku=p.sku, name=p.name,
                         unit_price=p.unit_price, quantity=p.quantity,
                         line_total=line_total(p.unit_price, p.quantity), discount=0, tax=0)
            for i, p in enumerate(priced)]


def check_payment_method(method: str) -> None:
    if not _PAYMENT_METHOD.match(method):
        raise ValidationFailed("payment_method is a lowercase code such as 'card', 'cod' or "
                               "'bank_transfer'.", details={"payment_method": method})


async def run_counting_refusals(runtime: Runtime, work: Callable[[AsyncConnection],
                                 Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run the transaction; an out-of-stock refusal is counted once it has rolled back."""
    try:
        return await runtime.db.run(work)
    except OutOfStock:
        metrics.reservation_refused()
        raise


async def get_order(runtime: Runtime, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await order_store.load_order(conn, principal.business_id, order_id)
        if row is None:
            raise NotFound("order", order_id)
        return (await shaped(conn, [row]))[0]


async def list_orders(runtime: Runtime, principal: Principal, f: order_store.OrderFilter, *,
                      limit: int, before: tuple[datetime, uuid.UUID] | None,
                      after: tuple[datetime, uuid.UUID] | None = None
                      ) -> list[dict[str, Any]]:
    """Newest first: older than ``before``, or the ``limit`` just newer than ``after`` (a
    page back; what arrived since a list was shown)."""
    principal.require(Scope.READ)

    async def page(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = await order_store.list_orders(conn, principal.business_id, f, limit=limit,
                                             before=before, after=after)
        return await shaped(conn, rows)
    return await runtime.db.read_from_replica(principal.business_id, page)


async def order_history(runtime: Runtime, principal: Principal,
                        order_id: uuid.UUID) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if await order_store.load_order(conn, principal.business_id, order_id) is None:
            raise NotFound("order", order_id)
        return [dict(r) for r in await order_store.history(conn, principal.business_id,
                                                           order_id)]


@dataclass(frozen=True, slots=True)
class ChannelFunnel:
    """Of one channel's carts that started a checkout in a period, how many became orders."""

    checkouts_started: int
    orders_placed: int


# The checkout funnel by channel, for order stats: checkouts are the checkout capability's,
# which sits above orders, so orderline.wiring hands its query over.
CheckoutFunnel = Callable[[AsyncConnection, uuid.UUID, datetime | None, datetime | None],
                          Awaitable[dict[str, ChannelFunnel]]]
CHECKOUT_FUNNEL: Part[CheckoutFunnel] = Part("checkout funnel")


async def order_stats(runtime: Runtime, principal: Principal, *, created_from: datetime | None,
                      created_to: datetime | None) -> dict[str, Any]:
    """Revenue and counts of the orders created in the period, and the conversion of each
    channel's checkouts started in it (carts that started one against those that became an
    order; orders typed in by the merchant start no checkout and are not in it)."""
    principal.require(Scope.READ)
    funnel = runtime.get(CHECKOUT_FUNNEL)

    async def read(conn: AsyncConnection) -> tuple[dict[str, Any], dict[str, ChannelFunnel]]:
        return (await order_store.stats(conn, principal.business_id,
                                        created_from=created_from, created_to=created_to),
                await funnel(conn, principal.business_id, created_from, created_to))
    figures, by_channel = await runtime.db.read_from_replica(principal.business_id, read)
    figures["conversion_by_channel"] = {
        channel: {"checkouts_started": f.checkouts_started, "orders_placed": f.orders_placed,
                  "conversion_rate": conversion_rate(f.checkouts_started, f.orders_placed)}
        for channel, f in sorted(by_channel.items())}
    paid = figures["paid_orders"]
    # Average order value over paid orders, rounded half up to a whole minor unit.
    figures["average_order_value"] = (2 * figures["revenue"] + paid) // (2 * paid) if paid else 0
    figures["currency"] = principal.currency
    return figures


async def lock_for_change(runtime: Runtime, conn: AsyncConnection, principal: Principal,
                          order_id: uuid.UUID, expected_version: int | None,
                          operation: str) -> OrderRow:
    """Lock the order row for this transaction and check the caller's If-Match version."""
    order = await order_store.load_order(conn, principal.business_id, order_id, lock=True)
    if order is None:
        raise NotFound("order", order_id)
    if expected_version is not None and expected_version != order.version:
        raise await stale_version(conn, order, expected_version)
    await runtime.checkpoints.reach(f"{operation}.locked")
    return order


async def stale_version(conn: AsyncConnection, order: OrderRow,
                        expected_version: int) -> VersionConflict:
    """The refusal of a change sent with an older version: who changed the order since, what
    and when, read from its history in the caller's transaction (with the order row locked,
    or in the read that found the version stale), so it names the change that made it so."""
    entry, count = await order_store.changes_since(conn, order.business_id, order.id,
                                                   expected_version)
    details: dict[str, Any] = {"expected_version": expected_version,
                               "current_version": order.version, "order_number": order.number,
                               "changes_since": count, "latest_change": None}
    if entry is None:
        message = conflict_sentence(number=order.number, expected_version=expected_version,
                                    current_version=order.version, actor=None, done=None,
                                    at=None, later_changes=0)
    else:
        latest = latest_change_details(
            actor=entry.actor, action=entry.action, from_status=entry.from_status,
            to_status=entry.to_status, changes=entry.changes or {}, at=entry.created_at,
            version=entry.order_version)
        details["latest_change"] = latest
        message = conflict_sentence(number=order.number, expected_version=expected_version,
                                    current_version=order.version, actor=entry.actor,
                                    done=latest["description"], at=entry.created_at,
                                    later_changes=count)
    return VersionConflict(message, details=details)


async def _announce(conn: AsyncConnection, business_id: uuid.UUID, shown: dict[str, Any], *,
                    previous_status: str | None, action: str, actor: str,
                    changes: dict[str, Any], now: datetime) -> None:
    """The order's event (created, paid, shipped, ... or updated) with the order as it now is."""
    await emit(conn, business_id=business_id,
               type=order_event_type(OrderStatus(previous_status) if previous_status else None,
                                     OrderStatus(shown["status"])),
               aggregate_type=AggregateType.ORDER, aggregate_id=shown["id"],
               payload={"order": shown,
                        "previous_status": previous_status, "action": action, "actor": actor,
                        "changes": changes},
               now=now, new_aggregate=previous_status is None)


async def save_change(conn: AsyncConnection, order: OrderRow, *, actor: str, action: str,
                      values: dict[str, Any], changes: dict[str, Any],
                      now: datetime) -> dict[str, Any]:
    """Write the change, its history entry and its event; returns the order as it now is,
    read in the same transaction."""
    written = await _write_with_history(conn, order, actor=actor, action=action,
                                        values=values, changes=changes, now=now)
    shown = (await shaped(conn, [written]))[0]
    await _announce(conn, order.business_id, shown, previous_status=order.status,
                    action=action, actor=actor, changes=changes, now=now)
    return shown


save_and_show = save_change


async def note_change(conn: AsyncConnection, order: OrderRow, *, actor: str, action: str,
                      changes: dict[str, Any], now: datetime) -> OrderRow:
    """A change another capability made to the order's money (a refund): the order's version
    moves on, so a page read before it is told (412) who refunded what, and the history says
    who did it; the capability emits its own event (``order.refunded``), so none here."""
    return await _write_with_history(conn, order, actor=actor, action=action, values={},
                                     changes=changes, now=now)


async def _write_with_history(conn: AsyncConnection, order: OrderRow, *, actor: str,
                              action: str, values: dict[str, Any], changes: dict[str, Any],
                              now: datetime) -> OrderRow:
    """The order's row written at its next version (under the caller's row lock) and the
    history entry naming that version."""
    written = await order_store.write_order(conn, order.id, expected_version=order.version,
                                            values={**values, "updated_at": now})
    if written is None:  # only possible if the row lock was not honoured
        raise VersionConflict("The order changed while it was being updated; retry.")
    await rollups.note_change(conn, order.business_id, order, written, now=now)
    await order_store.add_event(conn, business_id=order.business_id, order_id=order.id,
                                actor=actor, action=action, from_status=order.status,
                                to_status=written.status, changes=changes, created_at=now,
                                order_version=written.version)
    return written


async def edit_order(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                     edit: OrderEdit, *, expected_version: int | None) -> dict[str, Any]:
    """Change note and contact at any time; lines only while the order awaits payment, moving
    its reservations atomically (all old holds released, all new ones taken, or nothing)."""
    principal.require(Scope.WRITE)
    if edit.lines is not None:
        check_requested_lines(edit.lines)
    if edit.customer is not None:
        edit.customer.check()
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "edit")
        values: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        if edit.note is not None and edit.note != order.note:
            values["note"] = edit.note
            changes["note"] = {"from": order.note, "to": edit.note}
        if edit.customer is not None:
            for key, old_value, new_value in (
                    ("customer_name", order.customer_name, edit.customer.name),
                    ("customer_phone", order.customer_phone, edit.customer.phone),
                    ("customer_email", order.customer_email, edit.customer.email)):
                if new_value != old_value:
                    values[key] = new_value
                    changes[key] = {"from": old_value, "to": new_value}
        if edit.lines is not None:
            values.update(await _move_lines(runtime, conn, principal, order, edit.lines, changes,
                                            now))
        if not values:
            return (await shaped(conn, [order]))[0]
        return await save_and_show(conn, order, actor=principal.actor, action="updated",
                                   values=values, changes=changes, now=now)

    return await run_counting_refusals(runtime, work)


async def _move_lines(runtime: Runtime, conn: AsyncConnection, principal: Principal,
                      order: OrderRow, requested: list[RequestedLine], changes: dict[str, Any],
                      now: datetime) -> dict[str, Any]:
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise OrderNotEditable(
            f"Lines can only change while the order awaits payment; it is '{order.status}'.",
            details={"current_status": order.status})
    if order.checkout_id is not None:
        # Its shipping, discounts and tax were priced with these lines and confirmed by the
        # buyer; other lines need a new checkout, not a silent re-pricing.
        raise OrderNotEditable(
            "The lines of an order placed through checkout cannot change; cancel it and check "
            "out again.", details={"checkout_id": str(order.checkout_id)})
    # Another capability may refuse (a manual payment's buyer was told the exact total).
    await hooks.run(hooks_of(runtime).editing_lines, conn,
                    OrderChange(order=order, actor=principal.actor, now=now))
    if order.payment_deadline <= now:
        raise PaymentDeadlinePassed("The payment deadline has passed; the stock is no longer "
                                    "held. Place a new order.",
                                    details={"payment_deadline": order.payment_deadline})
    old_lines = await order_store.load_lines(conn, [order.id])
    kept = {line.sku: line.unit_price for line in old_lines}
    priced = await price_lines(conn, principal.business_id, order.location_id, requested,
                                kept_prices=kept)
    # A line the order already has may stay though its variant was archived since; a new one
    # may not.
    await refuse_archived(conn, principal.business_id,
                          [p.variant_id for p in priced if p.sku not in kept])
    released = await stock_store.close_order_reservations(
        conn, order_id=order.id, status=ReservationStatus.RELEASED, now=now)
    await stock_store.unhold(conn, released, now)
    held = await hold_all(runtime, conn, business_id=principal.business_id,
                          holder={"order_id": order.id, "checkout_id": None}, priced=priced,
                          expires_at=order.payment_deadline, now=now)
    await stock_store.insert_reservations(conn, held)
    line_rows = new_line_rows(principal.business_id, order.id, priced)
    subtotal = check_order_total(sum(r.line_total for r in line_rows))
    await order_store.replace_lines(conn, order.id, line_rows)
    changes["lines"] = {
        "from": [{"sku": line.sku, "quantity": line.quantity} for line in old_lines],
        "to": [{"sku": p.sku, "quantity": p.quantity} for p in priced]}
    changes["total"] = {"from": order.total, "to": subtotal}
    return {"subtotal": subtotal, "total": subtotal}
