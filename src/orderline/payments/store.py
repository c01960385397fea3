"""SQL for payment intents, the money ledger and verified provider events.

The provider's cumulative amounts (authorised, captured) are the truth; an intent's columns only
ever move forward to them, under the intent's row lock, and each step forward is one ledger row.
A webhook delivered five times, or a capture call and its webhook, therefore book one capture.
Refunds are taken with one conditional UPDATE that checks the limit in SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.orders.tables import Order, OrderLink
from orderline.payments.tables import PaymentIntent, PaymentMovement, ProviderEventRecord

intents = table_of(PaymentIntent)
movements = table_of(PaymentMovement)
provider_events = table_of(ProviderEventRecord)
orders = table_of(Order)
links = table_of(OrderLink)


@dataclass(frozen=True, slots=True)
class IntentRow(StoredRow):
    """A payment intent as stored: every column of ``payment_intents``, in table order."""

    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    provider_ref: str | None
    status: str
    capture_mode: str
    currency: str
    amount: int
    amount_authorized: int
    amount_captured: int
    amount_voided: int
    amount_refunded: int
    amount_collected: int
    client_secret: str | None
    next_action: dict[str, Any] | None
    failure_code: str | None
    failure_message: str | None
    version: int
    created_at: datetime
    updated_at: datetime


INTENT_COLUMNS = IntentRow.columns()


@dataclass(frozen=True, slots=True)
class MovementRow(StoredRow):
    """A ledger row as an order's payments show it: every column of ``payment_movements``
    but the business and the order, in table order."""

    id: int
    intent_id: uuid.UUID
    kind: str
    amount: int
    source: str
    actor: str
    created_at: datetime


MOVEMENT_COLUMNS = MovementRow.columns()


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """An intent's amounts beside the sums of its ledger rows by kind, and its order's
    status, total and number (what ``orderline payments reconcile`` compares)."""

    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    status: str
    provider: str
    amount_authorized: int
    amount_captured: int
    amount_voided: int
    amount_refunded: int
    amount_collected: int
    order_status: str
    order_total: int
    number: str
    ledger_authorize: int
    ledger_capture: int
    ledger_void: int
    ledger_refund: int
    ledger_collect: int

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        # A sum comes back as PostgreSQL's numeric (a Decimal): the amounts are minor units.
        values: dict[str, Any] = {name: int(value) if name in LEDGER_SUMS else value
                                  for name, value in row.items()}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class OrderMoneyRow:
    """An order with payments beside what its ledger says it received (captured or collected)
    and refunded, and whether it was paid in cash on delivery."""

    order_id: uuid.UUID
    business_id: uuid.UUID
    number: str
    status: str
    total: int
    currency: str
    received: int
    refunded: int
    cash: bool

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        values = dict(row)
        values.update(received=int(row["received"]), refunded=int(row["refunded"]),
                      cash=bool(row["cash"]))
        return cls(**values)


LEDGER_KINDS = ("authorize", "capture", "void", "refund", "collect")
LEDGER_SUMS = frozenset(f"ledger_{kind}" for kind in LEDGER_KINDS)


async def insert_intent(conn: AsyncConnection, values: dict[str, Any]) -> IntentRow:
    return IntentRow.from_row((await conn.execute(
        insert(intents).values(**values).returning(*intents.c))).mappings().one())


async def load_intent(conn: AsyncConnection, intent_id: uuid.UUID, *,
                      business_id: uuid.UUID | None = None,
                      lock: bool = False) -> IntentRow | None:
    stmt = select(intents).where(intents.c.id == intent_id)
    if business_id is not None:
        stmt = stmt.where(intents.c.business_id == business_id)
    if lock:
        stmt = stmt.with_for_update()
    return IntentRow.from_optional((await conn.execute(stmt)).mappings().first())


async def find_by_reference(conn: AsyncConnection, provider: str, reference: str, *,
                            lock: bool = False) -> IntentRow | None:
    stmt = select(intents).where(intents.c.provider == provider,
                                 intents.c.provider_ref == reference)
    if lock:
        stmt = stmt.with_for_update()
    return IntentRow.from_optional((await conn.execute(stmt)).mappings().first())


async def intents_of_order(conn: AsyncConnection, business_id: uuid.UUID,
                           order_id: uuid.UUID) -> list[IntentRow]:
    stmt = (select(intents).where(intents.c.business_id == business_id,
                                  intents.c.order_id == order_id)
            .order_by(intents.c.created_at))
    return [IntentRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def write_intent(conn: AsyncConnection, intent_id: uuid.UUID,
                       values: dict[str, Any]) -> IntentRow:
    stmt = (update(intents).where(intents.c.id == intent_id)
            .values(**values, version=intents.c.version + 1).returning(*intents.c))
    return IntentRow.from_row((await conn.execute(stmt)).mappings().one())


async def record_event(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Keep a verified provider event; False when it was already kept (a redelivery)."""
    return await insert_ignoring_conflict(conn, provider_events, values)


async def add_movement(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """One ledger row; False when this intent already booked this kind from this source."""
    return await insert_ignoring_conflict(conn, movements, values)


async def take_refund(conn: AsyncConnection, intent_id: uuid.UUID, amount: int,
                      now: datetime) -> IntentRow | None:
    """Add ``amount`` to what was refunded only if it stays within what was received."""
    stmt = (update(intents)
            .where(intents.c.id == intent_id,
                   intents.c.amount_refunded + amount
                   <= intents.c.amount_captured + intents.c.amount_collected)
            .values(amount_refunded=intents.c.amount_refunded + amount, updated_at=now,
                    version=intents.c.version + 1)
            .returning(*intents.c))
    return IntentRow.from_optional((await conn.execute(stmt)).mappings().first())


async def give_back_refund(conn: AsyncConnection, intent_id: uuid.UUID, amount: int,
                           now: datetime) -> None:
    """The provider refused a refund taken by ``take_refund``: the amount is refundable again."""
    await conn.execute(update(intents).where(intents.c.id == intent_id).values(
        amount_refunded=intents.c.amount_refunded - amount, updated_at=now,
        version=intents.c.version + 1))


async def movements_of_order(conn: AsyncConnection,
                             order_id: uuid.UUID) -> list[MovementRow]:
    stmt = (select(*(movements.c[name] for name in MOVEMENT_COLUMNS))
            .where(movements.c.order_id == order_id).order_by(movements.c.id))
    return [MovementRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def booked_refunds_of_order(conn: AsyncConnection,
                                  order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Per intent of the order, the refunds its ledger booked (the provider agreed to them;
    a refund still being asked is taken on the intent but not booked yet), including those
    of orders split from it, refunded from its intents (``payments.shares``)."""
    mine = select(intents.c.id).where(intents.c.order_id == order_id)
    stmt = (select(movements.c.intent_id, func.sum(movements.c.amount))
            .where(movements.c.intent_id.in_(mine), movements.c.kind == "refund")
            .group_by(movements.c.intent_id))
    return {intent_id: int(total) for intent_id, total in await conn.execute(stmt)}


async def ledger_rows(conn: AsyncConnection, business_id: uuid.UUID | None) -> list[LedgerRow]:
    """Per intent: its amount columns beside the sums of its ledger rows by kind, and its
    order's status and total (what ``orderline payments reconcile`` compares)."""
    sums = {kind: (select(func.coalesce(func.sum(movements.c.amount), 0))
                   .where(movements.c.intent_id == intents.c.id, movements.c.kind == kind)
                   .scalar_subquery().label(f"ledger_{kind}"))
            for kind in LEDGER_KINDS}
    stmt = (select(intents.c.id, intents.c.business_id, intents.c.order_id, intents.c.status,
                   intents.c.provider,
                   intents.c.amount_authorized, intents.c.amount_captured,
                   intents.c.amount_voided, intents.c.amount_refunded,
                   intents.c.amount_collected, orders.c.status.label("order_status"),
                   orders.c.total.label("order_total"), orders.c.number, *sums.values())
            .join(orders, orders.c.id == intents.c.order_id)
            .order_by(intents.c.business_id, intents.c.created_at))
    if business_id is not None:
        stmt = stmt.where(intents.c.business_id == business_id)
    return [LedgerRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def order_money_rows(conn: AsyncConnection,
                           business_id: uuid.UUID | None) -> list[OrderMoneyRow]:
    """Every order with a payment attempt, or split from a paid one: its status and total
    beside the money it received and refunded (what ``orderline payments reconcile`` holds
    the status to).

    An order split from a paid one (``payments.shares``) received its share: what its link
    still says plus what it refunded; the original received what its intents took less what
    the orders split from it received. For any other order these are its ledger's sums."""
    def booked(*kinds: str) -> Any:
        return (select(func.coalesce(func.sum(movements.c.amount), 0))
                .where(movements.c.order_id == orders.c.id, movements.c.kind.in_(kinds))
                .scalar_subquery())

    def linked(kind: str) -> Any:
        return (select(func.coalesce(func.sum(links.c.amount), 0))
                .where(links.c.order_id == orders.c.id, links.c.kind == kind)
                .scalar_subquery())

    mine = select(intents.c.id).where(intents.c.order_id == orders.c.id)
    refunds_on_mine = (select(func.coalesce(func.sum(movements.c.amount), 0))
                       .select_from(movements.join(intents,
                                                   intents.c.id == movements.c.intent_id))
                       .where(intents.c.order_id == orders.c.id,
                              movements.c.kind == "refund").scalar_subquery())
    # What the order holds, refunded added back: for an order of its own, what it received.
    received = (booked("capture", "collect") - refunds_on_mine + linked("split_from")
                - linked("split_into") + booked("refund"))
    has_intent = mine.exists()
    split_off = select(links.c.id).where(links.c.order_id == orders.c.id,
                                         links.c.kind == "split_from").exists()
    cash = select(intents.c.id).where(intents.c.order_id == orders.c.id,
                                      intents.c.provider == "cod").exists()
    stmt = (select(orders.c.id.label("order_id"), orders.c.business_id, orders.c.number,
                   orders.c.status, orders.c.total, orders.c.currency,
                   received.label("received"),
                   booked("refund").label("refunded"), cash.label("cash"))
            .where(has_intent | split_off)
            .order_by(orders.c.business_id, orders.c.created_at))
    if business_id is not None:
        stmt = stmt.where(orders.c.business_id == business_id)
    return [OrderMoneyRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]
