"""The tenancy tables."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class Business(Base):
    __tablename__ = "businesses"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    reservation_ttl_seconds: Mapped[int] = mapped_column(Integer)
    # Development mode lets webhooks point at loopback and private addresses (a local receiver).
    development_mode: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    # Signs the business's cart tokens (checkout/cart_tokens.py): 32 random bytes, as hex.
    cart_token_key: Mapped[str | None] = mapped_column(
        String(64), nullable=True, default=lambda: secrets.token_hex(32))
    # Where low-stock alerts and webhook notices go (the log when unset).
    alert_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # The business's address (and tax number) as its invoices print it, one line a line.
    invoice_address: Mapped[str | None] = mapped_column(Text, nullable=True)
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
    # Returns (orderline.returns): days after delivery (or shipment) a buyer may ask for a
    # return (0: buyers may not; the merchant still can), and the restocking fee kept from a
    # return's refund: basis points of the returned units' value plus a fixed amount.
    return_window_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    restocking_fee_bp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    restocking_fee_fixed: Mapped[int] = mapped_column(BigInteger, default=0,
                                                      server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderCounter(Base):
    """A business's numbering counters, kept apart from ``businesses`` so that taking a number
    locks only this small row.

    ``last_number``: the last order number on SQLite, whose write transactions run one at a
    time anyway. On PostgreSQL order numbers come from the business's sequence
    (``orders.store.next_order_sequence``) and this column stays where migration 0018 left it.
    ``last_invoice_number``: the last invoice number, gapless, taken by the worker in the
    transaction that invoices a paid order (``orders/invoices.py``), off the buyer's path."""

    __tablename__ = "order_counters"
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)
    last_invoice_number: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the key was last used, to five minutes (``key_use``): null until first used.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("business_id", "code"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("business_id", "code"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AllowedOrigin(Base):
    """A browser origin whose pages may call the API with this business's credentials
    (``api/cors.py``). The index on ``origin`` answers a preflight, which names no business."""

    __tablename__ = "allowed_origins"
    __table_args__ = (Index("ix_allowed_origins_origin", "origin"),)
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
