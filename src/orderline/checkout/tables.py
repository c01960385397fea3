"""The checkout tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class Cart(Base):
    """A buyer's server-side cart. ``version`` moves on every change; the buyer reaches it with
    a token (stored as its SHA-256), the merchant with an API key."""

    __tablename__ = "carts"
    __table_args__ = (Index("ix_carts_business_created", "business_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # open | converted | abandoned
    version: Mapped[int] = mapped_column(Integer, default=1)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The capability that made the cart (``draft_order``: a draft order's link), whose steps
    # its confirm runs (hooks.py); None for a cart made through /v1/carts.
    made_by: Mapped[str | None] = mapped_column(String(20), nullable=True)


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (UniqueConstraint("cart_id", "variant_id"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    cart_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("variants.id", ondelete="CASCADE"))
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
                      Index("ix_checkouts_status_expires", "status", "expires_at"),
                      # the overview's funnel reads a business's checkouts of a period: on
                      # PostgreSQL from the index alone (migration 0015)
                      Index("ix_checkouts_business_created", "business_id", "created_at",
                            postgresql_include=["channel", "status"]))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    cart_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("carts.id", ondelete="CASCADE"))
    cart_version: Mapped[int] = mapped_column(Integer)
    # open -> converted | expired | superseded (a newer checkout of the same cart)
    status: Mapped[str] = mapped_column(String(20))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # The buyer as a customer of the business (found or created when the checkout starts).
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
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
    # The cart's channel, kept on the checkout so the funnel counts one table.
    channel: Mapped[str] = mapped_column(String(40))

