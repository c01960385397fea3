"""What placing an order directly reads before it writes: the channel, the location, the
variants with their stock levels (under a share lock against archiving), the returning
customer, and on PostgreSQL the order's number.

Read one at a time these are six round trips, each waking the database and the event loop once
more for a few microseconds of work. On PostgreSQL they go in one statement: a one-row head
(the channel's existence, the location, the customer, the number) left-joined to the variants
read ``FOR SHARE`` and their level at that location. It reads what the separate statements read
and takes the same locks, in the same order (variant ids ascending, then their products):

- the channel, the location and the customer as ``tenancy_store.channel_exists``,
  ``catalog_store.find_location`` and ``order_store.find_customer``;
- the variants as ``catalog_store.sellable_lines`` (``free_seen`` unlocked, a snapshot), with
  ``catalog_store.archived_skus_locked``'s share lock on each variant row and its product's;
- the number from the business's sequence, taken only when nothing read refuses the order:
  the channel and the location are there, and every SKU is found, not archived, and had
  enough free units by its counters (``free_seen``). So the refusals decided on these reads
  (the late buyers of a sold-out SKU among them) leave no gap in the numbers, as before; an
  order refused later (its stock taken meanwhile) leaves one, as any rolled-back order does.
  When no number is taken here (a missing sequence, or a line that looked short but may be
  freed by lapsed reservations), ``order_store.next_order_sequence`` takes it after
  ``orders.service.refuse_short``, as before.

SQLite runs the separate statements (no round trips there, one writer), and takes its gapless
number later from the counter row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import store as catalog_store
from orderline.core.db import direct
from orderline.orders import store as order_store
from orderline.orders.rules import RequestedLine
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import order_number_sequence_name

# The columns of ``catalog_store.sellable_lines`` each variant row carries.
SELLABLE_COLUMNS = ("id", "sku", "name", "price_minor", "currency", "low_stock_threshold",
                    "stock_level_id", "free_seen")


@dataclass(frozen=True, slots=True)
class OrderGrounds:
    """What the order is built on, read before anything is written."""

    channel_known: bool
    location_id: uuid.UUID | None  # None: no such location (or no default one)
    sellable: list[dict[str, Any]]  # the requested variants found, as ``sellable_lines`` rows
    archived: list[str]  # SKUs among them archived, or whose product is; sorted
    customer_id: uuid.UUID | None  # the returning customer; None for a new one
    number: int | None  # the order's number when taken here (PostgreSQL), else None


_READ = text("""
WITH head AS MATERIALIZED (
    SELECT known.channel_known, place.id AS location_id, who.id AS customer_id
    FROM (SELECT EXISTS (SELECT 1 FROM channels
                         WHERE business_id = :business_id AND code = :channel)
                 AS channel_known) AS known
    LEFT JOIN LATERAL (
        SELECT id FROM locations
        WHERE business_id = :business_id
          AND CASE WHEN CAST(:location AS varchar) IS NULL THEN is_default
                   ELSE code = CAST(:location AS varchar) END
        LIMIT 1) AS place ON true
    LEFT JOIN LATERAL (
        SELECT id FROM customers
        WHERE business_id = :business_id
          AND (phone = CAST(:phone AS varchar) OR email = CAST(:email AS varchar))
        ORDER BY (phone = CAST(:phone AS varchar)) IS TRUE DESC
        LIMIT 1) AS who ON true
),
sold AS MATERIALIZED (
    SELECT v.id, v.sku, v.name, v.price_minor, v.currency, v.low_stock_threshold,
           (v.archived_at IS NOT NULL OR p.archived_at IS NOT NULL) AS archived
    FROM variants AS v JOIN products AS p ON p.id = v.product_id
    WHERE v.business_id = :business_id AND v.sku = ANY(CAST(:skus AS varchar[]))
    ORDER BY v.id
    FOR SHARE OF v, p
),
found AS MATERIALIZED (
    SELECT sold.*, level.id AS stock_level_id, level.on_hand - level.reserved AS free_seen
    FROM head JOIN sold ON head.location_id IS NOT NULL
    LEFT JOIN stock_levels AS level
           ON level.variant_id = sold.id AND level.location_id = head.location_id
),
wanted AS (
    SELECT sku, sum(quantity) AS quantity
    FROM unnest(CAST(:skus AS varchar[]), CAST(:quantities AS bigint[])) AS w(sku, quantity)
    GROUP BY sku
),
numbered AS MATERIALIZED (
    SELECT CASE WHEN head.channel_known AND head.location_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM wanted LEFT JOIN found ON found.sku = wanted.sku
                    WHERE found.id IS NULL OR found.archived OR found.free_seen IS NULL
                       OR found.free_seen < wanted.quantity)
                THEN nextval(to_regclass(CAST(:sequence AS text))) END AS number
    FROM head
)
SELECT head.channel_known, head.location_id, head.customer_id, numbered.number,
       found.id, found.sku, found.name, found.price_minor, found.currency,
       found.low_stock_threshold, found.archived, found.stock_level_id, found.free_seen
FROM head CROSS JOIN numbered LEFT JOIN found ON true
""")


async def read_grounds(conn: AsyncConnection, *, business_id: uuid.UUID, channel: str,
                       location: str | None, lines: Sequence[RequestedLine], phone: str | None,
                       email: str | None) -> OrderGrounds:
    """Everything the order reads before writing (see the module's docstring)."""
    skus = [line.sku for line in lines]
    if conn.dialect.name != "postgresql":
        return await _read_one_by_one(conn, business_id=business_id, channel=channel,
                                      location=location, skus=skus, phone=phone, email=email)
    rows = (await direct.execute(conn, _READ, {
        "business_id": business_id, "channel": channel, "location": location or None,
        "skus": skus, "quantities": [line.quantity for line in lines],
        "phone": phone or None, "email": email or None,
        "sequence": order_number_sequence_name(business_id)})).all()
    head = rows[0]  # the head row is always there, with no variant if none was found
    found = [r for r in rows if r["id"] is not None]
    return OrderGrounds(
        channel_known=bool(head["channel_known"]), location_id=head["location_id"],
        sellable=[{c: r[c] for c in SELLABLE_COLUMNS} for r in found],
        archived=sorted(r["sku"] for r in found if r["archived"]),
        customer_id=head["customer_id"],
        number=None if head["number"] is None else int(head["number"]))


async def _read_one_by_one(conn: AsyncConnection, *, business_id: uuid.UUID, channel: str,
                           location: str | None, skus: Sequence[str], phone: str | None,
                           email: str | None) -> OrderGrounds:
    known = await tenancy_store.channel_exists(conn, business_id, channel)
    place = await catalog_store.find_location(conn, business_id, location)
    location_id = None if place is None else place["id"]
    sellable = ([] if location_id is None else
                [dict(r) for r in await catalog_store.sellable_lines(
                    conn, business_id, location_id, skus)])
    archived = await catalog_store.archived_skus_locked(
        conn, business_id, [r["id"] for r in sellable])
    customer_id = await order_store.find_customer(conn, business_id=business_id, phone=phone,
                                                  email=email)
    return OrderGrounds(channel_known=known, location_id=location_id, sellable=sellable,
                        archived=archived, customer_id=customer_id, number=None)
