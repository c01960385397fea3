"""The events tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class OutboxEvent(Base):
    """Every domain event, written in the transaction of the change it describes.

    ``id`` is the global position; ``sequence`` numbers the events of one aggregate. ``txid`` is
    the writing transaction's id on PostgreSQL (0 on SQLite, whose writers run one at a time):
    a reader that only takes events of transactions older than every running one, in
    ``(txid, id)`` order, never skips an event that commits late.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("aggregate_id", "sequence"),
        Index("ix_outbox_events_pending", "status", "id",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        # "Is an earlier event of this aggregate still pending?" - asked for every candidate
        # a relay claims; cheap with this index whatever the table's statistics say.
        Index("ix_outbox_events_pending_aggregate", "aggregate_id", "sequence",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_events_business_position", "business_id", "txid", "id"),
        # One business's backlog (the overview): its pending and dead events only.
        Index("ix_outbox_events_business_unfinished", "business_id", "status", "created_at",
              postgresql_where=text("status IN ('pending', 'dead')"),
              sqlite_where=text("status IN ('pending', 'dead')")),
        Index("ix_outbox_events_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    type: Mapped[str] = mapped_column(String(60))
    aggregate_type: Mapped[str] = mapped_column(String(30))
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sequence: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Relay state: pending -> done, or dead once its handlers failed too often.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EventStream(Base):
    """The last sequence number given to an aggregate's events; its row lock orders them."""

    __tablename__ = "event_streams"
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)


class HandlerInbox(Base):
    """One row per (handler, event) applied: a redelivered event finds its row and is skipped.

    The row is written in the transaction of the handler's effect, so both happen or neither."""

    __tablename__ = "handler_inbox"
    __table_args__ = (UniqueConstraint("handler", "event_id"),
                      Index("ix_handler_inbox_aggregate", "aggregate_id", "id"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    handler: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    business_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    aggregate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sequence: Mapped[int] = mapped_column(BigInteger)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)
