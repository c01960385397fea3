"""The returns tables: a return (RMA) of an order, its lines and its photos."""

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
from orderline.core.db.types import UTCDateTime


class Return(Base):
    """A return of some of an order's shipped units: numbered 1, 2, ... per order (shown as
    ``<order number>-R<n>``), ``requested`` -> ``approved`` -> ``received`` -> ``refunded``,
    or ``rejected`` / ``cancelled``. Written under the order's row lock."""

    __tablename__ = "returns"
    __table_args__ = (UniqueConstraint("order_id", "number"),
                      Index("ix_returns_business_status", "business_id", "status"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(100))
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The fee kept and the refund given, set when the return is refunded.
    restocking_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    refund_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Set by an exchange (``exchanges/``): its id, the units' value when it was made and the
    # part of it that paid the replacement order (the refund gives back only the rest).
    exchange_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    exchange_value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    exchange_credit: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ReturnLine(Base):
    """Units of one order line in a return; on receipt, restocked at a location or written
    off as damaged (``condition``)."""

    __tablename__ = "return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),
                      Index("ix_return_lines_return", "return_id"),
                      Index("ix_return_lines_order", "order_id"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    return_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("returns.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    condition: Mapped[str | None] = mapped_column(String(10), nullable=True)
    location_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class ReturnPhoto(Base):
    """A photo sent with a return, cleaned as payment proofs are and stored sealed."""

    __tablename__ = "return_photos"
    __table_args__ = (Index("ix_return_photos_return", "return_id"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    return_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("returns.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
