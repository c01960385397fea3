"""The orders tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("business_id", "phone"),
        UniqueConstraint("business_id", "email"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    total_orders: Mapped[int] = mapped_column(Integer, default=0)
    total_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    # Cash on delivery: trust (raised by delivered cash orders, lowered by refused or failed
    # deliveries) and how many cash orders were delivered.
    cod_trust_score: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cod_delivered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when the customer's personal data was erased (the row stays for the books).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("business_id", "number"),
        # Invoice numbers are gapless per business; two orders never share one.
        UniqueConstraint("business_id", "invoice_number"),
        Index("ix_orders_business_created", "business_id", "created_at", "id"),
        Index("ix_orders_status_deadline", "status", "payment_deadline"),
        # One business's orders in a status (the overview's waiting lists).
        Index("ix_orders_business_status", "business_id", "status", "payment_deadline"),
        Index("ix_orders_customer", "customer_id"),
        # The buyer's order page finds its order by the link's token alone.
        Index("ux_orders_access_token_hash", "access_token_hash", unique=True),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    payment_method: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    location_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer, default=1)
    payment_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    # SHA-256 of the buyer's order access token (shown once, when the order is placed).
    access_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payment_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    carrier: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Price snapshot from the pricing engine (all zero for an order placed without checkout).
    discount_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shipping_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shipping_discount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tax_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=false())
    # {"taxes": [...], "coupons": [...]} as priced; the shipping method and address as chosen.
    pricing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shipping_method: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Given by the worker once the order's money is in (``orders/invoices.py``), from the
    # business's gapless invoice counter; null until then.
    invoice_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    invoiced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_order", "order_id"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(BigInteger)
    # This line's share of the discounts and of the tax (pricing engine, largest remainder).
    discount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tax: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Units refunded so far (refunds by line); never more than ``quantity``.
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Units cancelled before shipment (partial cancellation): ``quantity`` is what is still
    # ordered, so the buyer ordered ``quantity + cancelled_quantity``.
    cancelled_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OrderEvent(Base):
    """The audit history of an order: who changed what, when, from which status to which."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The order's version this change wrote; null for an entry that left the order row as it
    # was (a proof sent or rejected) and for entries written before it was kept. A stale
    # If-Match is answered with the entries after the caller's version (who, what, when).
    order_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OrderRollup(Base):
    """The orders created on one closed UTC day in one channel and currency, summed as the
    overview sums them (``orders/rollups.py``): written by the worker, never on the order
    path. A day has rows only once ``order_rollup_progress`` has passed it."""

    __tablename__ = "order_rollups"
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    paid_orders: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[int] = mapped_column(BigInteger)


class OrderRollupProgress(Base):
    """How far a business's rollups reach: every UTC day up to ``rolled_through`` has its
    rows in ``order_rollups`` (none for a day without orders). One row per business, written
    by the worker alone (its lock serialises two workers rolling the same business up)."""

    __tablename__ = "order_rollup_progress"
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    rolled_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderRollupStale(Base):
    """A change to an order of a closed day that altered its figures (status, total, paid):
    that day's rollup is stale, so the overview reads the day live until the worker sums it
    again and deletes the marks it saw. Insert-only on the order path, each mark its own row
    (no row shared by two changes, so no lock is waited on)."""

    __tablename__ = "order_rollup_stale"
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Shipment(Base):
    """A parcel that left with some of an order's units (``orders/fulfilment``): numbered
    1, 2, ... per order, with its carrier and tracking, ``shipped`` until it is delivered."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "number"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # The location it was sent from; null when each unit left from where the order's stock
    # was sold (the whole order shipped in one go through PATCH /shipping).
    location_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    carrier: Mapped[str] = mapped_column(String(100))
    tracking_number: Mapped[str] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ShipmentLine(Base):
    """Units of one order line in one shipment, taken from one stock level. The units of a
    line over all its shipments never exceed the line's quantity (checked under the order's
    row lock, the CHECK keeps each row positive)."""

    __tablename__ = "shipment_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_shipment_lines_order", "order_id"),
        Index("ix_shipment_lines_shipment", "shipment_id"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    shipment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shipments.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    stock_level_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    location_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)


class OrderLink(Base):
    """The links between orders that a split or a merge leaves (``order_splits``).

    One row per order and link, so each order finds its own links with one index: a split
    writes ``split_into`` on the original and ``split_from`` on the new order; a merge writes
    ``merged_from`` on the order that stays and ``merged_into`` on the one cancelled into it.
    ``amount`` is the money of a paid original's payment that still belongs to the new order
    (it falls as the new order is refunded, ``payments.shares``).
    """

    __tablename__ = "order_links"
    __table_args__ = (
        UniqueConstraint("order_id", "kind", "change_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_order_links_order", "order_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    other_order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # The split or the merge that made the link (both of its rows share it).
    change_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The units that moved: [{"sku": ..., "quantity": ...}].
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
