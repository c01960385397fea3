"""The notifications tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class Notification(Base):
    """A message to a buyer or a merchant, queued by a handler for one event and sent by the
    worker (queued -> sent, or failed after its retries)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_business_created", "business_id", "created_at"),
                      Index("ix_notifications_order", "order_id"),
                      Index("ix_notifications_due", "status", "next_attempt_at"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = business_fk()
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
