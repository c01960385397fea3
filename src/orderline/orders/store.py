"""SQL for orders, their lines, their history, customers and order numbering."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.tables import Reservation
from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.events.tables import EventStream
from orderline.orders.rules import ORDER_NUMBER_PREFIX, REVENUE_STATUSES, OrderStatus
from orderline.orders.tables import Customer, Order, OrderEvent, OrderLine
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import order_number_sequence_name
from orderline.tenancy.tables import Business, OrderCounter

orders = table_of(Order)
lines = table_of(OrderLine)
events = table_of(OrderEvent)
customers = table_of(Customer)
counters = table_of(OrderCounter)
businesses = table_of(Business)
reservations = table_of(Reservation)


@dataclass(frozen=True, slots=True)
class OrderRow(StoredRow):
    """An order as stored: every column of ``orders``, in table order (the order shown to
    callers keeps that order of keys)."""

    id: uuid.UUID
    business_id: uuid.UUID
    number: str
    status: str
    channel: str
    customer_id: uuid.UUID
    customer_name: str
    customer_phone: str | None
    customer_email: str | None
    payment_method: str
    note: str
    currency: str
    subtotal: int
    total: int
    location_id: uuid.UUID
    version: int
    payment_deadline: datetime
    access_token_hash: str | None
    paid_at: datetime | None
    payment_reference: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    prices_include_tax: bool
    pricing: dict[str, Any] | None
    shipping_method: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    checkout_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    invoice_number: str | None
    invoiced_at: datetime | None


ORDER_COLUMNS = OrderRow.columns()


@dataclass(frozen=True, slots=True)
class OrderLineRow(StoredRow):
    """An order line as read back with its order (``load_lines``)."""

    order_id: uuid.UUID
    variant_id: uuid.UUID
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int
    discount: int
    tax: int
    refunded_quantity: int
    cancelled_quantity: int


LINE_COLUMNS = OrderLineRow.columns()


@dataclass(frozen=True, slots=True)
class NewOrderLine(StoredRow):
    """One line of a new order, priced; ``refunded_quantity`` and ``cancelled_quantity``
    start at their columns' 0."""

    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    position: int
    variant_id: uuid.UUID
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int
    discount: int
    tax: int


NEW_LINE_COLUMNS = NewOrderLine.columns()


@dataclass(frozen=True, slots=True)
class PriceSnapshot:
    """What a checkout priced and the buyer confirmed; an order placed without checkout has
    none (its columns keep their defaults, the JSON ones SQL NULL)."""

    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    prices_include_tax: bool
    pricing: dict[str, Any]
    shipping_method: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    checkout_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class NewOrderRow:
    """An order about to be written (version 1, updated when created)."""

    id: uuid.UUID
    business_id: uuid.UUID
    number: str
    status: str
    channel: str
    customer_id: uuid.UUID
    customer_name: str
    customer_phone: str | None
    customer_email: str | None
    payment_method: str
    note: str
    currency: str
    subtotal: int
    total: int
    location_id: uuid.UUID
    payment_deadline: datetime
    access_token_hash: str
    created_at: datetime
    # An order typed in by the merchant may name where it goes; a checkout's comes in ``priced``.
    shipping_address: dict[str, Any] | None = None
    priced: PriceSnapshot | None = None

    def values(self) -> dict[str, Any]:
        """The INSERT's values: the snapshot's columns only when there is one."""
        values = {name: getattr(self, name) for name in _NEW_ORDER_COLUMNS}
        values.update(version=1, updated_at=self.created_at)
        if self.priced is not None:
            values.update({name: getattr(self.priced, name) for name in _SNAPSHOT_COLUMNS})
        return values


_NEW_ORDER_COLUMNS = tuple(f.name for f in fields(NewOrderRow) if f.name != "priced")
_SNAPSHOT_COLUMNS = tuple(f.name for f in fields(PriceSnapshot))


@dataclass(frozen=True, slots=True)
class OrderAccess:
    """Who may follow an order's events, and where a new live stream of them starts."""

    id: uuid.UUID
    business_id: uuid.UUID
    access_token_hash: str | None
    last_sequence: int


@dataclass(frozen=True, slots=True)
class LapsedOrder:
    id: uuid.UUID
    business_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class RefundedLine:
    """A line after more of its units were counted as refunded."""

    sku: str
    variant_id: uuid.UUID
    quantity: int
    line_total: int
    discount: int
    tax: int
    refunded_quantity: int


async def next_order_sequence(conn: AsyncConnection, business_id: uuid.UUID) -> int:
    """The business's next order number: unique and increasing, not gapless.

    PostgreSQL takes it from the business's own sequence (``nextval``), which locks nothing
    that lasts: concurrent orders of one shop never wait on each other for it, and a number
    taken by a transaction that then rolls back is not given again (a gap). SQLite, whose
    write transactions run one at a time anyway, keeps the ``order_counters`` row (gapless
    there). A business whose sequence is missing gets it made here (``_make_sequence``)."""
    if conn.dialect.name != "postgresql":
        stmt = (update(counters).where(counters.c.business_id == business_id)
                .values(last_number=counters.c.last_number + 1)
                .returning(counters.c.last_number))
        return int((await conn.execute(stmt)).scalar_one())
    name = order_number_sequence_name(business_id)
    # nextval is strict: a missing sequence (to_regclass is null) gives null, not an error
    # that would abort the order's transaction.
    taken = (await conn.execute(_NEXTVAL, {"name": name})).scalar()
    if taken is None:
        taken = await _make_sequence(conn, business_id)
    return int(taken)


_NEXTVAL = select(func.nextval(func.to_regclass(bindparam("name", type_=String))))


async def _make_sequence(conn: AsyncConnection, business_id: uuid.UUID) -> int:
    """A business without its sequence (created by a process older than migration 0018 while
    the migration ran, or its sequence dropped by hand) gets one here, in the order's
    transaction, starting after every number the business has used: the counter row's and the
    highest of its orders'. An advisory lock makes concurrent first orders make it once."""
    name = order_number_sequence_name(business_id)
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))
    if not await tenancy_store.order_number_sequence_exists(conn, business_id):
        counted = (await conn.execute(select(counters.c.last_number).where(
            counters.c.business_id == business_id))).scalar()
        prefix = len(ORDER_NUMBER_PREFIX)
        highest = (await conn.execute(
            select(func.max(cast(func.substr(orders.c.number, prefix + 1), BigInteger)))
            .where(orders.c.business_id == business_id,
                   orders.c.number.regexp_match(f"^{ORDER_NUMBER_PREFIX}[0-9]{{1,18}}$")))
                   ).scalar()
        await tenancy_store.create_order_number_sequence(
            conn, business_id, start=max(counted or 0, highest or 0) + 1)
    return int((await conn.execute(_NEXTVAL, {"name": name})).scalar_one())


async def next_invoice_sequence(conn: AsyncConnection, business_id: uuid.UUID) -> int:
    """The business's next invoice number, gapless: the counter row stays locked until the
    caller's transaction ends, and a rollback gives the number back. Only the worker takes
    it (``orders/invoices.py``), off the buyer's path."""
    stmt = (update(counters).where(counters.c.business_id == business_id)
            .values(last_invoice_number=counters.c.last_invoice_number + 1)
            .returning(counters.c.last_invoice_number))
    return int((await conn.execute(stmt)).scalar_one())


def _find_customer(by_phone: bool, by_email: bool) -> Select[Any]:
    matches = []
    if by_phone:
        matches.append(customers.c.phone == bindparam("phone"))
    if by_email:
        matches.append(customers.c.email == bindparam("email"))
    return (select(customers.c.id, customers.c.phone)
            .where(customers.c.business_id == bindparam("business_id"), or_(*matches)))


# The customer of a phone, of an email, or of either (a contact has at least one of them).
_FIND_CUSTOMER = {(p, e): _find_customer(p, e) for p in (True, False) for e in (True, False)
                  if p or e}


async def find_or_create_customer(conn: AsyncConnection, *, business_id: uuid.UUID, name: str,
                                  phone: str | None, email: str | None,
                                  now: datetime) -> uuid.UUID:
    """The business's customer with this phone (else this email); created if new."""
    existing = await find_customer(conn, business_id=business_id, phone=phone, email=email)
    if existing is not None:
        return existing
    return await create_customer(conn, business_id=business_id, name=name, phone=phone,
                                 email=email, now=now)


async def find_customer(conn: AsyncConnection, *, business_id: uuid.UUID, phone: str | None,
                        email: str | None) -> uuid.UUID | None:
    """The business's customer with this phone, else with this email, else None."""
    stmt = _FIND_CUSTOMER[(bool(phone), bool(email))]
    found = list(await conn.execute(stmt, {"business_id": business_id, "phone": phone,
                                           "email": email}))
    found.sort(key=lambda r: r.phone != phone)  # a phone match wins over an email match
    return found[0].id if found else None


async def create_customer(conn: AsyncConnection, *, business_id: uuid.UUID, name: str,
                          phone: str | None, email: str | None, now: datetime) -> uuid.UUID:
    """A new customer of the business, or the one a concurrent transaction just made with
    this phone or email (the insert ignores the conflict, then finds it)."""
    await insert_ignoring_conflict(conn, customers, {
        "id": uuid.uuid4(), "business_id": business_id, "name": name, "phone": phone,
        "email": email, "total_orders": 0, "total_spent": 0, "created_at": now})
    created = await find_customer(conn, business_id=business_id, phone=phone, email=email)
    assert created is not None
    return created


async def bump_customer_totals(conn: AsyncConnection, customer_id: uuid.UUID, *, orders_delta: int,
                               spent_delta: int) -> None:
    await conn.execute(update(customers).where(customers.c.id == customer_id).values(
        total_orders=customers.c.total_orders + orders_delta,
        total_spent=customers.c.total_spent + spent_delta))


async def get_customer(conn: AsyncConnection, business_id: uuid.UUID,
                       customer_id: uuid.UUID) -> RowMapping | None:
    stmt = select(customers).where(customers.c.id == customer_id,
                                   customers.c.business_id == business_id)
    return (await conn.execute(stmt)).mappings().first()


async def find_customers(conn: AsyncConnection, business_id: uuid.UUID, *, phone: str | None,
                         email: str | None, limit: int, search: str | None = None,
                         after: tuple[datetime, uuid.UUID] | None = None) -> list[RowMapping]:
    """Customers by creation: ``phone`` and ``email`` match exactly, ``search`` matches part
    of the name, phone or email in any case."""
    stmt = (select(customers).where(customers.c.business_id == business_id)
            .order_by(customers.c.created_at, customers.c.id).limit(limit))
    if phone:
        stmt = stmt.where(customers.c.phone == phone)
    if email:
        stmt = stmt.where(customers.c.email == email)
    if search:
        pattern = f"%{_escape_like(search.lower())}%"
        stmt = stmt.where(or_(func.lower(customers.c.name).like(pattern, escape="\\"),
                              func.lower(customers.c.email).like(pattern, escape="\\"),
                              customers.c.phone.like(pattern, escape="\\")))
    if after is not None:
        stmt = stmt.where(tuple_(customers.c.created_at, customers.c.id) > after)
    return list((await conn.execute(stmt)).mappings())


def money_received() -> ColumnElement[bool]:
    """An order whose money came in: a paid status, and for cash on delivery, cash collected
    (a shipped cash order is not revenue until the courier brings the money)."""
    return and_(orders.c.status.in_([s.value for s in REVENUE_STATUSES]),
                or_(orders.c.payment_method != "cod", orders.c.paid_at.is_not(None)))


@dataclass(frozen=True, slots=True)
class CustomerSpend:
    """What one customer's orders in one currency add up to, read from the orders."""

    customer_id: uuid.UUID
    currency: str
    orders: int
    paid_orders: int
    spent: int
    last_order_at: datetime


async def spend_of_customers(conn: AsyncConnection, business_id: uuid.UUID,
                             customer_ids: Sequence[uuid.UUID]) -> list[CustomerSpend]:
    """Per customer and currency: orders placed, orders whose money came in, the money that
    came in (less nothing: refunds are the payments' business), and the last order's time."""
    if not customer_ids:
        return []
    received = money_received()
    stmt = (select(orders.c.customer_id, orders.c.currency, func.count().label("orders"),
                   func.coalesce(func.sum(case((received, 1), else_=0)), 0).label("paid"),
                   func.coalesce(func.sum(case((received, orders.c.total), else_=0)),
                                 0).label("spent"),
                   func.max(orders.c.created_at).label("last_order_at"))
            .where(orders.c.business_id == business_id,
                   orders.c.customer_id.in_(set(customer_ids)))
            .group_by(orders.c.customer_id, orders.c.currency)
            .order_by(orders.c.customer_id, orders.c.currency))
    return [CustomerSpend(customer_id=r.customer_id, currency=r.currency, orders=int(r.orders),
                          paid_orders=int(r.paid), spent=int(r.spent),
                          last_order_at=r.last_order_at)
            for r in await conn.execute(stmt)]


async def insert_order(conn: AsyncConnection, new: NewOrderRow,
                       line_rows: Sequence[NewOrderLine]) -> OrderRow:
    """Insert the order and its lines; returns the order row as stored."""
    row = (await conn.execute(_INSERT_ORDER, new.values())).mappings().one()
    await conn.execute(_INSERT_LINES, [line.as_dict() for line in line_rows])
    return OrderRow.from_row(row)


# Built once (their SQL is cached by the statement, not rebuilt per order): the order path's
# statements take their values as execution parameters.
_INSERT_ORDER = insert(orders).returning(*orders.c)
_INSERT_LINES = insert(lines)
_INSERT_HISTORY = insert(events)


async def replace_lines(conn: AsyncConnection, order_id: uuid.UUID,
                        line_rows: Sequence[NewOrderLine]) -> None:
    await conn.execute(lines.delete().where(lines.c.order_id == order_id))
    await conn.execute(insert(lines), [line.as_dict() for line in line_rows])


async def load_order(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID, *,
                     lock: bool = False) -> OrderRow | None:
    stmt = select(orders).where(orders.c.id == order_id, orders.c.business_id == business_id)
    if lock:
        stmt = stmt.with_for_update()
    return OrderRow.from_optional((await conn.execute(stmt)).mappings().first())


async def load_lines(conn: AsyncConnection,
                     order_ids: Sequence[uuid.UUID]) -> list[OrderLineRow]:
    stmt = (select(*(lines.c[name] for name in LINE_COLUMNS))
            .where(lines.c.order_id.in_(order_ids)).order_by(lines.c.order_id, lines.c.position))
    return [OrderLineRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def order_access(conn: AsyncConnection, order_id: uuid.UUID) -> OrderAccess | None:
    """Who may follow an order's events: its business, the buyer's access token hash, and the
    sequence of its last committed event (0 if none), where a new live stream starts."""
    return await _access(conn, orders.c.id == order_id)


async def order_access_by_token_hash(conn: AsyncConnection,
                                     token_hash: str) -> OrderAccess | None:
    """The order whose buyer's access token hashes to ``token_hash`` (the unique index
    ``ux_orders_access_token_hash``), as ``order_access`` reads it."""
    return await _access(conn, orders.c.access_token_hash == token_hash)


async def _access(conn: AsyncConnection, which: ColumnElement[bool]) -> OrderAccess | None:
    streams = table_of(EventStream)
    stmt = (select(orders.c.id, orders.c.business_id, orders.c.access_token_hash,
                   func.coalesce(streams.c.last_sequence, 0).label("last_sequence"))
            .select_from(orders.outerjoin(streams, streams.c.aggregate_id == orders.c.id))
            .where(which))
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else OrderAccess(**row)


async def write_order(conn: AsyncConnection, order_id: uuid.UUID, *, expected_version: int,
                      values: dict[str, Any]) -> OrderRow | None:
    """Apply ``values`` and bump the version, only if nobody changed the order meanwhile."""
    stmt = (update(orders)
            .where(orders.c.id == order_id, orders.c.version == expected_version)
            .values(**values, version=orders.c.version + 1)
            .returning(*orders.c))
    return OrderRow.from_optional((await conn.execute(stmt)).mappings().first())


async def add_event(conn: AsyncConnection, *, business_id: uuid.UUID, order_id: uuid.UUID,
                    actor: str, action: str, from_status: str | None, to_status: str | None,
                    changes: dict[str, Any], created_at: datetime,
                    order_version: int | None = None) -> None:
    """One entry of the order's history; ``order_version`` is the version the change wrote
    (None when it left the order row as it was)."""
    await conn.execute(_INSERT_HISTORY, {
        "business_id": business_id, "order_id": order_id, "actor": actor, "action": action,
        "from_status": from_status, "to_status": to_status, "changes": changes,
        "created_at": created_at, "order_version": order_version})


@dataclass(frozen=True, slots=True)
class ChangeEntry(StoredRow):
    """One entry of an order's history, as a stale version is told about it."""

    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    changes: dict[str, Any]
    created_at: datetime
    order_version: int | None


async def changes_since(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                        version: int) -> tuple[ChangeEntry | None, int]:
    """The latest change that wrote a version after ``version``, and how many did; for
    entries written before versions were kept, the order's latest entry (count 0)."""
    mine = and_(events.c.order_id == order_id, events.c.business_id == business_id)
    newer = and_(mine, events.c.order_version > version)
    picked = [*ChangeEntry.columns()]
    latest = (await conn.execute(select(*(events.c[c] for c in picked)).where(newer)
                                 .order_by(events.c.id.desc()).limit(1))).mappings().first()
    if latest is not None:
        count = (await conn.execute(select(func.count()).select_from(events)
                                    .where(newer))).scalar_one()
        return ChangeEntry.from_row(latest), int(count)
    last = (await conn.execute(select(*(events.c[c] for c in picked)).where(mine)
                               .order_by(events.c.id.desc()).limit(1))).mappings().first()
    return ChangeEntry.from_optional(last), 0


async def history(conn: AsyncConnection, business_id: uuid.UUID,
                  order_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(events.c.id, events.c.actor, events.c.action, events.c.from_status,
                   events.c.to_status, events.c.changes, events.c.created_at)
            .where(events.c.order_id == order_id, events.c.business_id == business_id)
            .order_by(events.c.id))
    return list((await conn.execute(stmt)).mappings())


async def lapsed_unpaid_orders(conn: AsyncConnection, now: datetime,
                               limit: int) -> list[LapsedOrder]:
    """Unpaid orders past their deadline, across all businesses (the sweeper's work list)."""
    stmt = (select(orders.c.id, orders.c.business_id)
            .where(orders.c.status == OrderStatus.PENDING_PAYMENT.value,
                   orders.c.payment_deadline <= now)
            .order_by(orders.c.payment_deadline).limit(limit))
    return [LapsedOrder(**r) for r in (await conn.execute(stmt)).mappings()]


async def lock_lapsed_unpaid_order(conn: AsyncConnection, order_id: uuid.UUID,
                                   now: datetime) -> OrderRow | None:
    """Lock the order if it is still unpaid and past its deadline; skip it if another
    transaction holds it (that one is paying or cancelling it)."""
    stmt = (select(orders).where(orders.c.id == order_id,
                                 orders.c.status == OrderStatus.PENDING_PAYMENT.value,
                                 orders.c.payment_deadline <= now)
            .with_for_update(skip_locked=True))
    return OrderRow.from_optional((await conn.execute(stmt)).mappings().first())


@dataclass(frozen=True, slots=True)
class OrderFilter:
    status: str | None = None
    channel: str | None = None
    customer_id: uuid.UUID | None = None
    customer: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    total_min: int | None = None
    total_max: int | None = None
    number: str | None = None
    payment_method: str | None = None
    # One search box: part of the number, or of the customer's name, phone or email.
    search: str | None = None


def search_text() -> ColumnElement[str]:
    """What the order list's search box looks in: the number, the customer's name, email and
    phone, lower-cased, in one text (``|`` between them). On PostgreSQL a trigram index on
    exactly this expression (migration 0015) finds a few matches among a year of orders."""
    bar, empty = literal_column("'|'", String), literal_column("''", String)
    return func.lower(orders.c.number + bar + orders.c.customer_name + bar
                      + func.coalesce(orders.c.customer_email, empty) + bar
                      + func.coalesce(orders.c.customer_phone, empty))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_orders(conn: AsyncConnection, business_id: uuid.UUID, f: OrderFilter, *,
                      limit: int, before: tuple[datetime, uuid.UUID] | None,
                      after: tuple[datetime, uuid.UUID] | None = None) -> list[OrderRow]:
    """Newest first, older than ``before``; or, with ``after``, the ``limit`` orders just
    newer than it (a page back, or what arrived since), still answered newest first."""
    stmt = select(orders).where(orders.c.business_id == business_id)
    if f.payment_method:
        stmt = stmt.where(orders.c.payment_method == f.payment_method)
    if f.search:
        stmt = stmt.where(search_text().like(f"%{_escape_like(f.search.lower())}%",
                                             escape="\\"))
    if f.status:
        stmt = stmt.where(orders.c.status == f.status)
    if f.channel:
        stmt = stmt.where(orders.c.channel == f.channel)
    if f.customer_id:
        stmt = stmt.where(orders.c.customer_id == f.customer_id)
    if f.customer:
        pattern = f"%{_escape_like(f.customer.lower())}%"
        stmt = stmt.where(or_(func.lower(orders.c.customer_name).like(pattern, escape="\\"),
                              func.lower(orders.c.customer_email).like(pattern, escape="\\"),
                              orders.c.customer_phone.like(pattern, escape="\\")))
    if f.created_from:
        stmt = stmt.where(orders.c.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(orders.c.created_at < f.created_to)
    if f.total_min is not None:
        stmt = stmt.where(orders.c.total >= f.total_min)
    if f.total_max is not None:
        stmt = stmt.where(orders.c.total <= f.total_max)
    if f.number:
        pattern = f"%{_escape_like(f.number.upper())}%"
        stmt = stmt.where(orders.c.number.like(pattern, escape="\\"))
    if before is not None:
        stmt = stmt.where(tuple_(orders.c.created_at, orders.c.id) < before)
    if after is not None:
        stmt = stmt.where(tuple_(orders.c.created_at, orders.c.id) > after)
        stmt = stmt.order_by(orders.c.created_at.asc(), orders.c.id.asc()).limit(limit)
        found = [OrderRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]
        return found[::-1]
    stmt = stmt.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
    return [OrderRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def stats(conn: AsyncConnection, business_id: uuid.UUID, *, created_from: datetime | None,
                created_to: datetime | None) -> dict[str, Any]:
    received = money_received()
    revenue_case = case((received, orders.c.total), else_=0)
    paid_case = case((received, 1), else_=0)
    base = select().select_from(orders).where(orders.c.business_id == business_id)
    if created_from:
        base = base.where(orders.c.created_at >= created_from)
    if created_to:
        base = base.where(orders.c.created_at < created_to)
    totals = (await conn.execute(base.add_columns(
        func.count().label("orders"), func.coalesce(func.sum(revenue_case), 0).label("revenue"),
        func.coalesce(func.sum(paid_case), 0).label("paid_orders")))).mappings().one()
    by_status = {r.status: r.n for r in await conn.execute(
        base.add_columns(orders.c.status, func.count().label("n")).group_by(orders.c.status))}
    by_channel = {r.channel: {"orders": r.n, "revenue": int(r.revenue)}
                  for r in await conn.execute(base.add_columns(
                      orders.c.channel, func.count().label("n"),
                      func.coalesce(func.sum(revenue_case), 0).label("revenue"))
                      .group_by(orders.c.channel))}
    return {"orders": int(totals["orders"]), "revenue": int(totals["revenue"]),
            "paid_orders": int(totals["paid_orders"]), "by_status": by_status,
            "by_channel": by_channel}


async def card_provider_of(conn: AsyncConnection, business_id: uuid.UUID) -> str:
    """The provider that takes the business's card payments."""
    stmt = select(businesses.c.card_provider).where(businesses.c.id == business_id)
    return str((await conn.execute(stmt)).scalar_one())


async def capture_mode_of(conn: AsyncConnection, business_id: uuid.UUID) -> str:
    """How the business captures card payments: "automatic" or "manual"."""
    stmt = select(businesses.c.capture_mode).where(businesses.c.id == business_id)
    return str((await conn.execute(stmt)).scalar_one())


async def set_hold(conn: AsyncConnection, order_id: uuid.UUID, until: datetime, *,
                   only_longer: bool = False) -> None:
    """The unpaid order's deadline and its active stock reservations last until ``until``:
    longer while a payment is secured (an authorisation, ``only_longer``) or a proof awaits
    review, and back to the proof deadline when a proof is rejected."""
    order_rows = [orders.c.id == order_id]
    held = [reservations.c.order_id == order_id, reservations.c.status == "active"]
    if only_longer:
        order_rows.append(orders.c.payment_deadline < until)
        held.append(reservations.c.expires_at < until)
    await conn.execute(update(orders).where(*order_rows).values(payment_deadline=until))
    await conn.execute(update(reservations).where(*held).values(expires_at=until))


async def claim_line_refund(conn: AsyncConnection, order_id: uuid.UUID, sku: str,
                            units: int) -> RefundedLine | None:
    """Count ``units`` more units of the line as refunded, only if that many are left; one
    statement. Returns the line after (None: not that many left, or no such line)."""
    stmt = (update(lines)
            .where(lines.c.order_id == order_id, lines.c.sku == sku,
                   lines.c.refunded_quantity + units <= lines.c.quantity)
            .values(refunded_quantity=lines.c.refunded_quantity + units)
            .returning(lines.c.sku, lines.c.variant_id, lines.c.quantity, lines.c.line_total,
                       lines.c.discount, lines.c.tax, lines.c.refunded_quantity))
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else RefundedLine(**row)


async def unclaim_line_refund(conn: AsyncConnection, order_id: uuid.UUID, sku: str,
                              units: int) -> None:
    await conn.execute(update(lines).where(lines.c.order_id == order_id, lines.c.sku == sku)
                       .values(refunded_quantity=lines.c.refunded_quantity - units))


async def cancel_line_units(conn: AsyncConnection, order_id: uuid.UUID, sku: str,
                            units: int) -> OrderLineRow | None:
    """Take ``units`` off the line as cancelled, only if that many are still ordered and not
    refunded; one statement. The line's quantity and amount fall, ``cancelled_quantity``
    rises. Returns the line after (None: not that many left, or no such line)."""
    stmt = (update(lines)
            .where(lines.c.order_id == order_id, lines.c.sku == sku,
                   lines.c.quantity - lines.c.refunded_quantity >= units)
            .values(quantity=lines.c.quantity - units,
                    cancelled_quantity=lines.c.cancelled_quantity + units,
                    line_total=lines.c.unit_price * (lines.c.quantity - units))
            .returning(*(lines.c[name] for name in LINE_COLUMNS)))
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else OrderLineRow.from_row(row)


async def set_line_shares(conn: AsyncConnection, order_id: uuid.UUID, sku: str, *,
                          discount: int, tax: int) -> None:
    """The line's share of the discounts and of the tax, as the pricing engine re-priced it."""
    await conn.execute(update(lines).where(lines.c.order_id == order_id, lines.c.sku == sku)
                       .values(discount=discount, tax=tax))


async def resize_line(conn: AsyncConnection, order_id: uuid.UUID, sku: str, *,
                      quantity_before: int, quantity_after: int, discount: int,
                      tax: int) -> OrderLineRow | None:
    """Give the line ``quantity_after`` units (an edit after payment), only if it still has
    ``quantity_before`` and none refunded; one statement. Returns the line after (None: the
    line moved on meanwhile, or has no such SKU)."""
    stmt = (update(lines)
            .where(lines.c.order_id == order_id, lines.c.sku == sku,
                   lines.c.quantity == quantity_before, lines.c.refunded_quantity == 0)
            .values(quantity=quantity_after, line_total=lines.c.unit_price * quantity_after,
                    discount=discount, tax=tax)
            .returning(*(lines.c[name] for name in LINE_COLUMNS)))
    row = (await conn.execute(stmt)).mappings().first()
    return None if row is None else OrderLineRow.from_row(row)


async def add_line(conn: AsyncConnection, line: NewOrderLine) -> None:
    """A line the order did not have (an edit after payment), after its last one."""
    last = (await conn.execute(select(func.coalesce(func.max(lines.c.position), -1))
                               .where(lines.c.order_id == line.order_id))).scalar_one()
    await conn.execute(insert(lines), [{**line.as_dict(), "position": int(last) + 1}])
