"""Every table of the product. Each row belongs to a business (``business_id``).

Typed declarative models are used for the schema and migrations; services query them with
SQLAlchemy Core statements so that every SQL statement is visible where it runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orderline.core.db.types import BigIntPK, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _business_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False)


class Business(Base):
    __tablename__ = "businesses"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    reservation_ttl_seconds: Mapped[int] = mapped_column(Integer)
    # Development mode lets webhooks point at loopback and private addresses (a local receiver).
    development_mode: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    # Where low-stock alerts and webhook notices go (the log when unset).
    alert_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # Checkout settings (see checkout/rules.py for their meaning and defaults).
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=false())
    min_order_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    max_order_total: Mapped[int] = mapped_column(BigInteger, default=10**10,
                                                 server_default=str(10**10))
    max_line_quantity: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    allow_free_orders: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())
    price_max_age_seconds: Mapped[int] = mapped_column(Integer, default=600,
                                                       server_default="600")
    return_coupon_on_cancel: Mapped[bool] = mapped_column(Boolean, default=True,
                                                          server_default=true())
    confirms_per_minute: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # Card payments: captured when authorised ("automatic") or on fulfilment ("manual").
    capture_mode: Mapped[str] = mapped_column(String(10), default="automatic",
                                              server_default="automatic")
    # Which provider takes this business's card payments ("sandbox", "stripe", ...).
    card_provider: Mapped[str] = mapped_column(String(20), default="sandbox",
                                               server_default="sandbox")
    # Cash on delivery (cod/rules.py CodPolicy): off until the merchant turns it on.
    cod_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cod_zone_ids: Mapped[list[str]] = mapped_column(JSON, default=list,
                                                    server_default=text("'[]'"))
    cod_max_order_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cod_max_open_orders: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    cod_min_trust_score: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cod_otp_above_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cod_otp_first_order: Mapped[bool] = mapped_column(Boolean, default=True,
                                                      server_default=true())
    cod_allow_discrepancy: Mapped[bool] = mapped_column(Boolean, default=False,
                                                        server_default=false())
    # Manual payments (bank transfer, e-wallet): how long a buyer has to send a proof, how
    # long an order stays held while its proof awaits review, the largest file accepted, how
    # many days after the order is final its proof files are deleted, and the score (basis
    # points, 10000 = 1.0) at or above which the worker approves a proof itself (None: never).
    proof_deadline_minutes: Mapped[int] = mapped_column(Integer, default=1440,
                                                        server_default="1440")
    proof_review_hours: Mapped[int] = mapped_column(Integer, default=72, server_default="72")
    proof_max_bytes: Mapped[int] = mapped_column(Integer, default=10 * 1024 * 1024,
                                                 server_default=str(10 * 1024 * 1024))
    proof_retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    proof_auto_approve_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderCounter(Base):
    """Kept apart from ``businesses`` so that numbering an order locks only this small row,
    and only for the last statements of the order's transaction."""

    __tablename__ = "order_counters"
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("business_id", "code"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("business_id", "code"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_business_created", "business_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Variant(Base):
    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("business_id", "sku"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        Index("ix_variants_product", "product_id"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # For shipping priced by weight bands; 0 when the merchant does not say.
    weight_grams: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockLevel(Base):
    """``reserved`` is the sum of this level's reservations in status ``active``.

    The CHECK constraints are the last line of defence: even a bug cannot commit negative stock
    or more reserved than on hand.
    """

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("variant_id", "location_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        Index("ix_stock_levels_business", "business_id"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"))
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockMovement(Base):
    """The ledger: every change of ``on_hand`` is one row; the rows sum to ``on_hand``."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_level", "stock_level_id", "id"),
        Index("ix_stock_movements_business_created", "business_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    stock_level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stock_levels.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    location_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("business_id", "phone"),
        UniqueConstraint("business_id", "email"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
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
        Index("ix_orders_business_created", "business_id", "created_at", "id"),
        Index("ix_orders_status_deadline", "status", "payment_deadline"),
        Index("ix_orders_customer", "customer_id"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
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


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_order", "order_id"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
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


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_reservations_level_status", "stock_level_id", "status", "expires_at"),
        Index("ix_reservations_order", "order_id", "status"),
        Index("ix_reservations_checkout", "checkout_id", "status"),
        CheckConstraint("order_id IS NOT NULL OR checkout_id IS NOT NULL", name="has_holder"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    # A reservation is held for a checkout until it is confirmed, then for its order.
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=True)
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkouts.id", ondelete="CASCADE"), nullable=True)
    stock_level_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_levels.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrderEvent(Base):
    """The audit history of an order: who changed what, when, from which status to which."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """Every domain event, written in the transaction of the change it describes.

    ``id`` is the global position; ``sequence`` numbers the events of one aggregate. ``txid`` is
    the writing transaction's id on PostgreSQL (0 on SQLite, whose writers run one at a time):
    a reader that only takes events of transactions older than every running one, in
    ``(txid, id)`` order, never skips an event that commits late.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("aggregate_id", "sequence"),
        Index("ix_outbox_events_pending", "status", "id",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        # "Is an earlier event of this aggregate still pending?" - asked for every candidate
        # a relay claims; cheap with this index whatever the table's statistics say.
        Index("ix_outbox_events_pending_aggregate", "aggregate_id", "sequence",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_events_business_position", "business_id", "txid", "id"),
        Index("ix_outbox_events_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    type: Mapped[str] = mapped_column(String(60))
    aggregate_type: Mapped[str] = mapped_column(String(30))
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sequence: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Relay state: pending -> done, or dead once its handlers failed too often.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EventStream(Base):
    """The last sequence number given to an aggregate's events; its row lock orders them."""

    __tablename__ = "event_streams"
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)


class HandlerInbox(Base):
    """One row per (handler, event) applied: a redelivered event finds its row and is skipped.

    The row is written in the transaction of the handler's effect, so both happen or neither."""

    __tablename__ = "handler_inbox"
    __table_args__ = (UniqueConstraint("handler", "event_id"),
                      Index("ix_handler_inbox_aggregate", "aggregate_id", "id"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    handler: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sequence: Mapped[int] = mapped_column(BigInteger)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_business", "business_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)
    # The signing secret (``whsec_`` + base64); needed in clear to sign each delivery.
    secret: Mapped[str] = mapped_column(String(100))
    # While a secret is rotated, the one before it also signs deliveries until this moment.
    previous_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime,
                                                                        nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event to one endpoint: pending -> succeeded, or retrying ... -> dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(60))
    # The exact body signed and sent, the same on every attempt.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class Notification(Base):
    """A message to a buyer or a merchant, queued by a handler for one event and sent by the
    worker (queued -> sent, or failed after its retries)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_business_created", "business_id", "created_at"),
                      Index("ix_notifications_order", "order_id"),
                      Index("ix_notifications_due", "status", "next_attempt_at"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    kind: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShippingZone(Base):
    """Where a business delivers. An address matches when its country is listed and, if the
    zone names regions or postal-code prefixes, its region or postal code matches one."""

    __tablename__ = "shipping_zones"
    __table_args__ = (Index("ix_shipping_zones_business", "business_id", "position"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    name: Mapped[str] = mapped_column(String(200))
    countries: Mapped[list[str]] = mapped_column(JSON)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    postal_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShippingMethod(Base):
    """How a zone's orders travel and what that costs: ``flat`` (``price``), ``weight``
    (``weight_bands``: ``[{"up_to_grams", "price"}]``), or ``free_above`` (``price`` unless the
    discounted subtotal reaches ``free_above``)."""

    __tablename__ = "shipping_methods"
    __table_args__ = (Index("ix_shipping_methods_zone", "zone_id", "position"),
                      CheckConstraint("price >= 0", name="price_not_negative"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shipping_zones.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    price: Mapped[int] = mapped_column(BigInteger, default=0)
    free_above: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    weight_bands: Mapped[list[dict[str, int]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaxRate(Base):
    """A named rate (``rate`` is a percentage as a decimal string, such as "8.25") applied to
    orders shipped into its zone; several may apply at once."""

    __tablename__ = "tax_rates"
    __table_args__ = (Index("ix_tax_rates_zone", "zone_id"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shipping_zones.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    rate: Mapped[str] = mapped_column(String(20))
    applies_to_shipping: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Coupon(Base):
    """``used_count`` only moves by conditional UPDATE; the CHECK is the last line of defence
    against using a coupon past its limit."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("business_id", "code"),
        CheckConstraint("used_count >= 0", name="used_not_negative"),
        CheckConstraint("usage_limit IS NULL OR used_count <= usage_limit", name="within_limit"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    code: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))  # percentage | fixed_amount | free_shipping
    percent_off_bp: Mapped[int] = mapped_column(Integer, default=0)  # basis points, 10000 = 100%
    amount_off: Mapped[int] = mapped_column(BigInteger, default=0)
    min_subtotal: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    usage_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every product
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CouponCustomerUse(Base):
    """Uses of one coupon by one customer, taken by one conditional upsert."""

    __tablename__ = "coupon_customer_uses"
    __table_args__ = (CheckConstraint("uses >= 0", name="uses_not_negative"),)
    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)


class OrderCoupon(Base):
    """A coupon as it was applied to an order; ``returned_at`` once its use was given back."""

    __tablename__ = "order_coupons"
    __table_args__ = (Index("ix_order_coupons_order", "order_id"),
                      Index("ix_order_coupons_coupon", "coupon_id"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    coupon_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coupons.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    code: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    discount: Mapped[int] = mapped_column(BigInteger)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Cart(Base):
    """A buyer's server-side cart. ``version`` moves on every change; the buyer reaches it with
    a token (stored as its SHA-256), the merchant with an API key."""

    __tablename__ = "carts"
    __table_args__ = (Index("ix_carts_business_created", "business_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # open | converted | abandoned
    version: Mapped[int] = mapped_column(Integer, default=1)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (UniqueConstraint("cart_id", "variant_id"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Checkout(Base):
    """A cart on its way to an order: address, shipping, coupons, payment method, and the
    priced totals the buyer reviews. It holds the cart's stock (reservations) until
    ``expires_at``; confirming turns it into an order in one transaction."""

    __tablename__ = "checkouts"
    __table_args__ = (Index("ix_checkouts_cart", "cart_id", "status"),
                      Index("ix_checkouts_status_expires", "status", "expires_at"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    cart_version: Mapped[int] = mapped_column(Integer)
    # open -> converted | expired | superseded (a newer checkout of the same cart)
    status: Mapped[str] = mapped_column(String(20))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # The buyer as a customer of the business (found or created when the checkout starts).
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    zone_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    shipping_method_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    coupon_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    payment_method: Mapped[str] = mapped_column(String(40))
    location_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    currency: Mapped[str] = mapped_column(String(3))
    # The priced quote the buyer reviews (lines, discounts, shipping, taxes, total).
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(BigInteger)
    prices_validated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    """One row per (business, operation, key): ``in_progress`` while the first request runs
    (``locked_until`` bounds a crashed one), then ``completed`` with the answer to replay.
    The answer is written in the same transaction as the work it describes."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("business_id", "operation", "key"),
                      Index("ix_idempotency_keys_expires", "expires_at"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    operation: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentIntent(Base):
    """One attempt to pay an order through a provider. Money totals move only by conditional
    UPDATEs that check the ledger's invariants in SQL, and every move is also a row of
    ``payment_movements``; the CHECKs are the last line of defence."""

    __tablename__ = "payment_intents"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        Index("ix_payment_intents_order", "order_id", "created_at"),
        CheckConstraint("amount_captured <= amount_authorized", name="captured_within_auth"),
        CheckConstraint("amount_refunded <= amount_captured + amount_collected",
                        name="refunded_within_received"),
        CheckConstraint("amount_voided <= amount_authorized - amount_captured",
                        name="voided_within_capturable"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    capture_mode: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_authorized: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_voided: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_collected: Mapped[int] = mapped_column(BigInteger, default=0)
    client_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentMovement(Base):
    """The money ledger: authorize, capture, void, refund, collect. ``source`` names what
    caused it (a provider event id, a refund id, a capture call) and is unique per intent and
    kind, so the same cause can never be booked twice."""

    __tablename__ = "payment_movements"
    __table_args__ = (UniqueConstraint("intent_id", "kind", "source"),
                      Index("ix_payment_movements_order", "order_id", "id"),
                      CheckConstraint("amount > 0", name="amount_positive"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    intent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_intents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderEventRecord(Base):
    """Each verified provider webhook, once (``provider`` + ``event_id``): a redelivery finds
    its row and changes nothing."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),
                      Index("ix_provider_events_intent", "intent_id"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(80))
    business_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    intent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # applied | duplicate | stale | anomaly
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CodOtp(Base):
    """A one-time code sent to a cash-on-delivery buyer for one checkout: stored hashed,
    expiring, locked after too many wrong tries, and consumed by the confirm it unlocked."""

    __tablename__ = "cod_otps"
    __table_args__ = (Index("ix_cod_otps_checkout", "checkout_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    checkout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("checkouts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(40))
    code_hash: Mapped[str] = mapped_column(String(128))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ManualPaymentMethod(Base):
    """A way to pay by hand that a merchant offers (a bank account, a GCash number, a UPI
    id), usually started from a country template; ``channels`` empty means every channel."""

    __tablename__ = "manual_payment_methods"
    __table_args__ = (UniqueConstraint("business_id", "code"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    code: Mapped[str] = mapped_column(String(40))
    template: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # bank_transfer | e_wallet | upi
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    account_name: Mapped[str] = mapped_column(String(200))
    account_number: Mapped[str] = mapped_column(String(100))
    bank_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ifsc, branch, ...
    instructions: Mapped[str] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ManualPayment(Base):
    """An order paid by a manual method: the short reference the buyer writes on the
    transfer, the exact amount, the method's account as it was shown (``method``), and the
    proof deadline. ``status``: awaiting_proof -> in_review -> approved, or rejected (and
    in_review again on a new proof)."""

    __tablename__ = "manual_payments"
    __table_args__ = (UniqueConstraint("business_id", "reference"),
                      Index("ix_manual_payments_deadline", "status", "proof_deadline"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                                unique=True)
    method_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manual_payment_methods.id"))
    method_code: Mapped[str] = mapped_column(String(40))
    method: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    proof_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    proofs_submitted: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentProof(Base):
    """One uploaded proof (version 1, 2, ... of its order). The file lives in proof storage,
    sealed, under ``storage_key`` (None once retention or erasure deleted it; the hash stays).
    ``status`` leaves ``pending`` by one conditional UPDATE, so one decision wins.
    ``ocr_status``: pending -> running (leased by a worker) -> scored, or unscored when OCR is
    missing or failed (the proof still waits in the queue)."""

    __tablename__ = "payment_proofs"
    __table_args__ = (UniqueConstraint("order_id", "version"),
                      Index("ix_payment_proofs_queue", "business_id", "status", "uploaded_at"),
                      Index("ix_payment_proofs_ocr", "ocr_status", "ocr_due_at"),
                      CheckConstraint("score_bp IS NULL OR (score_bp >= 0 AND score_bp <= 10000)",
                                      name="score_in_range"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    manual_payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("manual_payments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # pending|approved|rejected|superseded
    storage_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ocr_status: Mapped[str] = mapped_column(String(20))
    ocr_attempts: Mapped[int] = mapped_column(Integer, default=0)
    ocr_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ocr_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ocr_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    score_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    read: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    auto_decided: Mapped[bool] = mapped_column(Boolean, default=False)
    file_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    file_deleted_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ProofFingerprint(Base):
    """Which order first sent a file with this content (SHA-256 of the cleaned bytes), per
    business. Taken by one INSERT ... ON CONFLICT DO NOTHING, so of two orders sending the
    same receipt at the same instant exactly one keeps it. Outlives the file itself."""

    __tablename__ = "proof_fingerprints"
    business_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    proof_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerificationAudit(Base):
    """Every action on a payment proof: who (actor and API key), when, the proof before and
    after. Never updated or deleted by the product (retention deletes files, not this)."""

    __tablename__ = "verification_audit"
    __table_args__ = (Index("ix_verification_audit_proof", "proof_id", "id"),
                      Index("ix_verification_audit_business", "business_id", "id"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = _business_fk()
    proof_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def table_of(model: type[Base]) -> Table:
    """The model's Core table, typed as a Table (``__table__`` is typed as a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
