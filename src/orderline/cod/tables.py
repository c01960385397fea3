"""The cod tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class CodOtp(Base):
    """A one-time code sent to a cash-on-delivery buyer for one checkout: stored hashed,
    expiring, locked after too many wrong tries, and consumed by the confirm it unlocked."""

    __tablename__ = "cod_otps"
    __table_args__ = (Index("ix_cod_otps_checkout", "checkout_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    checkout_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("checkouts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(40))
    code_hash: Mapped[str] = mapped_column(String(128))
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
