"""The payments tables."""

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
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class PaymentIntent(Base):
    """One attempt to pay an order through a provider. Money totals move only by conditional
    UPDATEs that check the ledger's invariants in SQL, and every move is also a row of
    ``payment_movements``; the CHECKs are the last line of defence."""

    __tablename__ = "payment_intents"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        Index("ix_payment_intents_order", "order_id", "created_at"),
        CheckConstraint("amount_captured <= amount_authorized", name="captured_within_auth"),
        CheckConstraint("amount_refunded <= amount_captured + amount_collected",
                        name="refunded_within_received"),
        CheckConstraint("amount_voided <= amount_authorized - amount_captured",
                        name="voided_within_capturable"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    capture_mode: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_authorized: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_voided: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_collected: Mapped[int] = mapped_column(BigInteger, default=0)
    client_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentMovement(Base):
    """The money ledger: authorize, capture, void, refund, collect. ``source`` names what
    caused it (a provider event id, a refund id, a capture call) and is unique per intent and
    kind, so the same cause can never be booked twice."""

    __tablename__ = "payment_movements"
    __table_args__ = (UniqueConstraint("intent_id", "kind", "source"),
                      Index("ix_payment_movements_order", "order_id", "id"),
                      CheckConstraint("amount > 0", name="amount_positive"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    intent_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("payment_intents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderEventRecord(Base):
    """Each verified provider webhook, once (``provider`` + ``event_id``): a redelivery finds
    its row and changes nothing."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),
                      Index("ix_provider_events_intent", "intent_id"))
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(80))
    business_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    intent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # applied | duplicate | stale | anomaly
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxIntentRecord(Base):
    """The sandbox provider's own payment intents: its side of the money, kept in the database
    (not in a process's memory) so every server process and the worker see one provider, across
    restarts, as they would a real one. Orderline's books never read this table."""

    __tablename__ = "sandbox_payment_intents"
    __table_args__ = (
        CheckConstraint("amount_captured <= amount_authorized",
                        name="captured_within_auth"),
        CheckConstraint("amount_refunded <= amount_captured", name="refunded_within_captured"),
    )
    reference: Mapped[str] = mapped_column(String(60), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    capture_mode: Mapped[str] = mapped_column(String(10))
    intent_metadata: Mapped[dict[str, str]] = mapped_column(JSON)
    payment_method: Mapped[str | None] = mapped_column(String(60), nullable=True)
    client_secret: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20))
    amount_authorized: Mapped[int] = mapped_column(BigInteger)
    amount_captured: Mapped[int] = mapped_column(BigInteger)
    amount_refunded: Mapped[int] = mapped_column(BigInteger)
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxIdempotencyKey(Base):
    """What each idempotency key sent to the sandbox gave the first time (its answer or its
    error), with the call's arguments: the same key again gives the same answer, in any
    process; with other arguments it is refused."""

    __tablename__ = "sandbox_idempotency_keys"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
