"""The raw ceiling of ``orderline bench``: an order's writes as plain SQL through asyncpg.

One transaction per order runs the statements ``checkout.direct_orders.create_order`` writes
with, in its order and with its shape: the order number (the business's sequence), the
conditional stock hold, then the order, its line, its reservation, its history entry and its
``order.created`` outbox event (with its stream counter). SKU, stock level, location and
customer ids are resolved before the clock starts, so the reads the service does first
(channel, location, catalog, customer) and its read-back of the new order are left out: this is
what order creation costs the database at the least, through the same driver the application
uses.

asyncpg ships without type information, hence the ``type: ignore`` on its import.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from orderline.catalog.rules import ReservationStatus
from orderline.core.config import driver_free_url
from orderline.orders.rules import OrderStatus, format_order_number, line_total
from orderline.tenancy.rules import order_number_sequence_name

HOLD = ("UPDATE stock_levels SET reserved = stock_levels.reserved + $1, updated_at = $2 "
        "WHERE stock_levels.id = $3 AND stock_levels.on_hand - stock_levels.reserved >= $1 "
        "RETURNING stock_levels.id")
# As orders.store.next_order_sequence on PostgreSQL: the business's own sequence ($1 its name,
# tenancy.rules.order_number_sequence_name), which holds no lock through the transaction.
NEXT_NUMBER = "SELECT nextval(to_regclass($1::varchar))"
INSERT_ORDER = (
    "INSERT INTO orders (id, business_id, number, status, channel, customer_id, customer_name, "
    "customer_phone, customer_email, payment_method, note, currency, subtotal, total, "
    "location_id, version, payment_deadline, created_at, updated_at) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)")
INSERT_LINE = (
    "INSERT INTO order_lines (id, business_id, order_id, position, variant_id, sku, name, "
    "unit_price, quantity, line_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
INSERT_RESERVATION = (
    "INSERT INTO reservations (id, business_id, order_id, stock_level_id, variant_id, quantity, "
    "status, expires_at, created_at, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
INSERT_EVENT = (
    "INSERT INTO order_events (business_id, order_id, actor, action, from_status, to_status, "
    "changes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8) "
    "RETURNING order_events.id")
INSERT_STREAM = "INSERT INTO event_streams (aggregate_id, last_sequence) VALUES ($1, 1)"
INSERT_OUTBOX = (
    "INSERT INTO outbox_events (event_id, business_id, type, aggregate_type, aggregate_id, "
    "sequence, payload, created_at, status, attempts) VALUES "
    "($1, $2, 'order.created', 'order', $3, 1, $4::json, $5, 'pending', 0) "
    "RETURNING outbox_events.id")
STATEMENTS = (NEXT_NUMBER, HOLD, INSERT_ORDER, INSERT_LINE, INSERT_RESERVATION, INSERT_EVENT,
              INSERT_STREAM, INSERT_OUTBOX)


class StockNotHeld(Exception):
    """The conditional hold matched no row: the SKU had no free unit."""


@dataclass(frozen=True, slots=True)
class SkuTarget:
    sku: str
    variant_id: uuid.UUID
    stock_level_id: uuid.UUID
    name: str
    unit_price: int


@dataclass(frozen=True, slots=True)
class Buyer:
    customer_id: uuid.UUID
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class RawOrder:
    target: SkuTarget
    buyer: Buyer


@dataclass(frozen=True, slots=True)
class Seller:
    """The business side of every raw order: what the service reads from the principal."""

    business_id: uuid.UUID
    location_id: uuid.UUID
    currency: str
    actor: str
    reservation_ttl_seconds: int
    channel: str = "web"
    payment_method: str = "card"


async def open_pool(database_url: str, *, connections: int) -> Any:
    """An asyncpg pool holding exactly ``connections`` connections, all opened up front."""
    return await asyncpg.create_pool(driver_free_url(database_url), min_size=connections,
                                     max_size=connections)


async def load_targets(pool: Any, business_id: uuid.UUID) -> dict[str, SkuTarget]:
    rows = await pool.fetch(
        "SELECT variants.sku, variants.id, variants.name, variants.price_minor, "
        "stock_levels.id AS stock_level_id FROM variants JOIN stock_levels "
        "ON stock_levels.variant_id = variants.id WHERE variants.business_id = $1", business_id)
    return {r["sku"]: SkuTarget(sku=r["sku"], variant_id=r["id"],
                                stock_level_id=r["stock_level_id"], name=r["name"],
                                unit_price=int(r["price_minor"])) for r in rows}


async def load_buyers(pool: Any, business_id: uuid.UUID) -> dict[str, Buyer]:
    """The business's customers by phone."""
    rows = await pool.fetch("SELECT id, name, phone FROM customers WHERE business_id = $1 "
                            "AND phone IS NOT NULL", business_id)
    return {r["phone"]: Buyer(customer_id=r["id"], name=r["name"], phone=r["phone"])
            for r in rows}


class RawOrderWriter:
    """Places one-line orders of one unit with the service's write statements."""

    def __init__(self, pool: Any, seller: Seller) -> None:
        self.pool = pool
        self.seller = seller

    async def place(self, order: RawOrder) -> None:
        s, target, buyer = self.seller, order.target, order.buyer
        now = datetime.now(UTC)
        deadline = now + timedelta(seconds=s.reservation_ttl_seconds)
        order_id = uuid.uuid4()
        quantity = 1
        total = line_total(target.unit_price, quantity)
        status = OrderStatus.PENDING_PAYMENT.value
        changes = json.dumps({"lines": [{"sku": target.sku, "quantity": quantity}],
                              "total": total})
        async with self.pool.acquire() as conn, conn.transaction():
            sequence = await conn.fetchval(NEXT_NUMBER, order_number_sequence_name(s.business_id))
            held = await conn.fetchval(HOLD, quantity, now, target.stock_level_id)
            if held is None:
                raise StockNotHeld(f"no free unit of {target.sku}")
            await conn.execute(
                INSERT_ORDER, order_id, s.business_id, format_order_number(int(sequence)),
                status, s.channel, buyer.customer_id, buyer.name, buyer.phone, None,
                s.payment_method, "", s.currency, total, total, s.location_id, 1, deadline, now,
                now)
            await conn.execute(INSERT_LINE, uuid.uuid4(), s.business_id, order_id, 0,
                               target.variant_id, target.sku, target.name, target.unit_price,
                               quantity, total)
            await conn.execute(INSERT_RESERVATION, uuid.uuid4(), s.business_id, order_id,
                               target.stock_level_id, target.variant_id, quantity,
                               ReservationStatus.ACTIVE.value, deadline, now, None)
            await conn.fetchval(INSERT_EVENT, s.business_id, order_id, s.actor, "created", None,
                                status, changes, now)
            await conn.execute(INSERT_STREAM, order_id)
            await conn.fetchval(INSERT_OUTBOX, uuid.uuid4(), s.business_id, order_id, json.dumps({
                "order": {"id": str(order_id), "number": format_order_number(int(sequence)),
                          "status": status, "channel": s.channel, "currency": s.currency,
                          "total": total, "subtotal": total, "version": 1,
                          "customer": {"id": str(buyer.customer_id), "name": buyer.name,
                                       "phone": buyer.phone, "email": None},
                          "lines": [{"sku": target.sku, "name": target.name,
                                     "unit_price": target.unit_price, "quantity": quantity,
                                     "line_total": total}],
                          "payment_deadline": deadline.isoformat(),
                          "created_at": now.isoformat()},
                "previous_status": None, "action": "created", "actor": s.actor,
                "changes": json.loads(changes)}), now)
