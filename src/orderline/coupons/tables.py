"""The coupons tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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
    business_id: Mapped[uuid.UUID] = business_fk()
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
        Uuid, ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)


class OrderCoupon(Base):
    """A coupon as it was applied to an order; ``returned_at`` once its use was given back."""

    __tablename__ = "order_coupons"
    __table_args__ = (Index("ix_order_coupons_order", "order_id"),
                      Index("ix_order_coupons_coupon", "coupon_id"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("coupons.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    code: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    discount: Mapped[int] = mapped_column(BigInteger)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
