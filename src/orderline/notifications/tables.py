"""The notifications tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import BigIntPK, UTCDateTime


class Notification(Base):
    """A message to a buyer or a merchant, queued by a handler for one event and sent by the
    worker (queued -> sent, or failed after its retries). A message sent by SMS or WhatsApp
    also keeps its provider's message id, the template it used, and what the provider said
    since: delivered, read, failed or undeliverable (``messaging_rules.STATUS_RANK``)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_business_created", "business_id", "created_at"),
                      Index("ix_notifications_order", "order_id"),
                      Index("ix_notifications_due", "status", "next_attempt_at"),
                      Index("ix_notifications_provider_message", "provider_message_id"))
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
    # SMS and WhatsApp (the business's sender): which provider, its id for the message, the
    # template and its parameters (WhatsApp Cloud API), and the provider's delivery reports.
    provider: Mapped[str | None] = mapped_column(String(20), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    template: Mapped[str | None] = mapped_column(String(100), nullable=True)
    params: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MessagingSender(Base):
    """A business's SMS or WhatsApp sender: the provider and its account. Secrets (Twilio's
    auth token, the Cloud API's access token and app secret) are sealed with the master keys
    (AES-GCM, bound to the business and the field) and never shown; the Cloud API's webhook
    verify token is kept only as its SHA-256."""

    __tablename__ = "messaging_senders"
    __table_args__ = (Index("ix_messaging_senders_phone_number", "cloud_phone_number_id"),
                      Index("ix_messaging_senders_verify_token", "cloud_verify_token_hash"))
    business_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    twilio_auth_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    twilio_from_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    twilio_messaging_service_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cloud_phone_number_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cloud_access_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    cloud_app_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    cloud_verify_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cloud_api_version: Mapped[str] = mapped_column(String(10))
    cloud_language: Mapped[str] = mapped_column(String(20))
    cloud_templates: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
