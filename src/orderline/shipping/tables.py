"""The shipping tables."""

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
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class ShippingZone(Base):
    """Where a business delivers. An address matches when its country is listed and, if the
    zone names regions or postal-code prefixes, its region or postal code matches one."""

    __tablename__ = "shipping_zones"
    __table_args__ = (Index("ix_shipping_zones_business", "business_id", "position"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
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
    business_id: Mapped[uuid.UUID] = business_fk()
    zone_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shipping_zones.id", ondelete="CASCADE"))
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
    business_id: Mapped[uuid.UUID] = business_fk()
    zone_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shipping_zones.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    rate: Mapped[str] = mapped_column(String(20))
    applies_to_shipping: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
