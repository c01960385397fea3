"""The catalog tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_business_created", "business_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # Set while the product is archived: none of its variants can be sold anew.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
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
    business_id: Mapped[uuid.UUID] = business_fk()
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # For shipping priced by weight bands; 0 when the merchant does not say.
    weight_grams: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set while the variant is archived: it cannot be added to a cart, a checkout or an order
    # typed in by the merchant; what it already holds (orders, reservations, stock) stays.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
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
    business_id: Mapped[uuid.UUID] = business_fk()
    variant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("variants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("locations.id", ondelete="CASCADE"))
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
    business_id: Mapped[uuid.UUID] = business_fk()
    stock_level_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("stock_levels.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    location_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    business_id: Mapped[uuid.UUID] = business_fk()
    # A reservation is held for a checkout until it is confirmed, then for its order.
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=True)
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("checkouts.id", ondelete="CASCADE"), nullable=True)
    stock_level_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stock_levels.id"))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
