"""The idempotency keys table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class IdempotencyKey(Base):
    """One row per (business, key): ``in_progress`` while the first request runs
    (``locked_until`` bounds a crashed one), then ``completed`` with the answer to replay.
    ``operation`` names the endpoint that took the key, so the same key sent to another one is
    refused, never replayed. The answer is written in the same transaction as the work it
    describes wherever the work is one transaction."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("business_id", "key"),
                      Index("ix_idempotency_keys_expires", "expires_at"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    operation: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
