"""The draft order tables.

A draft is its own row, not an order with status ``draft``: it holds no stock, takes no order
number and may never become an order, so it stays out of the order list, the order numbers,
the overview's figures and every query over ``orders``. Opening its link turns it into a cart
and a checkout (which hold the stock); confirming that checkout places the order, and the
draft points at it (``docs/guides/draft-orders.md``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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


class DraftOrder(Base):
    """An order being agreed with a buyer. ``status``: draft -> sent (a link is out) -> open
    (the buyer opened it: a cart and a checkout exist) -> completed (an order was placed), or
    cancelled. The link is a token stored as its SHA-256 (``link_token_hash``)."""

    __tablename__ = "draft_orders"
    __table_args__ = (Index("ix_draft_orders_business_created", "business_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    status: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="SET NULL"), nullable=True)
    customer_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shipping_method_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    coupon_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    payment_method: Mapped[str | None] = mapped_column(String(40), nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    link_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cart_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("carts.id", ondelete="SET NULL"), nullable=True, unique=True)
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DraftOrderLine(Base):
    __tablename__ = "draft_order_lines"
    __table_args__ = (UniqueConstraint("draft_id", "variant_id"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    draft_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("draft_orders.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("variants.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
