"""The order change tables: each change of a paid order's lines, its lines, and the payment
request a change the buyer owes money for waits on.

A change is numbered per order (``number`` 1, 2, 3, ...), keeps the order's figures before
and after and the difference, and is one of: ``applied`` (at once: nothing owed by the
buyer), ``awaiting_payment`` (its payment request is open; the added units are held by
reservations until its deadline), then ``applied`` (paid), ``lapsed`` (deadline passed) or
``cancelled`` (by the merchant). Its lines keep the quantity of each SKU before and after,
and, while it waits, the reservation that holds the added units.
"""

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


class OrderChange(Base):
    __tablename__ = "order_changes"
    __table_args__ = (
        UniqueConstraint("order_id", "number"),
        Index("ix_order_changes_business_order", "business_id", "order_id"),
        Index("ix_order_changes_status_deadline", "status", "deadline"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    # The order's figures (subtotal, discount_total, shipping_total, shipping_discount,
    # tax_total, total) before and after, and its price snapshot after (coupons, taxes).
    totals_before: Mapped[dict[str, Any]] = mapped_column(JSON)
    totals_after: Mapped[dict[str, Any]] = mapped_column(JSON)
    pricing_after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # after.total - before.total: positive, the buyer owes it; negative, it is refunded.
    difference: Mapped[int] = mapped_column(BigInteger)
    refund_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    order_version_before: Mapped[int] = mapped_column(Integer)
    order_version_after: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrderChangeLine(Base):
    """One SKU the change touches: ``kind`` added (a line the order did not have), removed
    (to 0), or changed (another quantity)."""

    __tablename__ = "order_change_lines"
    __table_args__ = (
        UniqueConstraint("change_id", "sku"),
        CheckConstraint("quantity_before >= 0 AND quantity_after >= 0",
                        name="quantities_not_negative"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    change_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("order_changes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity_before: Mapped[int] = mapped_column(Integer)
    quantity_after: Mapped[int] = mapped_column(Integer)
    # The reservation holding the added units while the change waits for payment.
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class PaymentRequest(Base):
    """Money the buyer owes for a change: ``open`` until paid (by card, or a payment received
    by hand), or lapsed at its deadline, or cancelled with its change."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payment_requests_order", "order_id", "status"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    change_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("order_changes.id", ondelete="CASCADE"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    # What paid it: a card payment's intent, or "by_hand" (recorded by the merchant).
    paid_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    intent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
