"""SQL of SMS and WhatsApp: a business's sender settings, and the delivery reports recorded on
its messages (rows of ``notifications``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.notifications.messaging_rules import (
    DELIVERED,
    FAILED,
    READ,
    UNDELIVERABLE,
    statuses_before,
)
from orderline.notifications.tables import MessagingSender, Notification

senders = table_of(MessagingSender)
notifications = table_of(Notification)


@dataclass(frozen=True, slots=True)
class SenderRow(StoredRow):
    business_id: uuid.UUID
    provider: str
    enabled: bool
    twilio_account_sid: str | None
    twilio_auth_token: bytes | None
    twilio_from_number: str | None
    twilio_messaging_service_sid: str | None
    cloud_phone_number_id: str | None
    cloud_access_token: bytes | None
    cloud_app_secret: bytes | None
    cloud_verify_token_hash: str | None
    cloud_api_version: str
    cloud_language: str
    cloud_templates: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SentMessageRow(StoredRow):
    """What a delivery report needs of the message it is about."""

    id: int
    business_id: uuid.UUID
    provider: str | None
    status: str


async def load_sender(conn: AsyncConnection, business_id: uuid.UUID, *,
                      for_update: bool = False) -> SenderRow | None:
    stmt = select(senders).where(senders.c.business_id == business_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return SenderRow.from_optional((await conn.execute(stmt)).mappings().first())


async def save_sender(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert or replace the business's sender (``values`` has every column)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(senders).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[senders.c.business_id],
        set_={k: v for k, v in values.items() if k != "business_id"})
    await conn.execute(stmt)


async def senders_of_phone_numbers(conn: AsyncConnection,
                                   phone_number_ids: list[str]) -> list[SenderRow]:
    stmt = select(senders).where(senders.c.cloud_phone_number_id.in_(phone_number_ids),
                                 senders.c.provider == "whatsapp_cloud")
    return [SenderRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def has_verify_token(conn: AsyncConnection, token_hash: str) -> bool:
    stmt = select(senders.c.business_id).where(senders.c.cloud_verify_token_hash == token_hash)
    return (await conn.execute(stmt.limit(1))).first() is not None


async def message_by_provider_id(conn: AsyncConnection, provider_message_id: str, *,
                                 providers: tuple[str, ...],
                                 business_ids: list[uuid.UUID] | None = None
                                 ) -> SentMessageRow | None:
    stmt = select(*(notifications.c[c] for c in SentMessageRow.columns())).where(
        notifications.c.provider_message_id == provider_message_id,
        notifications.c.provider.in_(providers))
    if business_ids is not None:
        stmt = stmt.where(notifications.c.business_id.in_(business_ids))
    return SentMessageRow.from_optional((await conn.execute(stmt.limit(1))).mappings().first())


async def record_status(conn: AsyncConnection, message_id: int, status: str, *,
                        now: datetime, error: str | None = None) -> bool:
    """Move the message to ``status`` if it is behind it (one conditional UPDATE, so reports
    that arrive together or out of order never move it back); False when it was stale."""
    values: dict[str, Any] = {"status": status}
    if status in (DELIVERED, READ):
        values["delivered_at"] = func.coalesce(
            notifications.c.delivered_at, literal(now, notifications.c.delivered_at.type))
    if status == READ:
        values["read_at"] = now
    if status in (FAILED, UNDELIVERABLE):
        values["last_error"] = (error or f"the provider reported the message {status}")[:2000]
    stmt = (update(notifications)
            .where(notifications.c.id == message_id,
                   notifications.c.status.in_(statuses_before(status)))
            .values(**values)
            .returning(notifications.c.id))
    return (await conn.execute(stmt)).first() is not None


async def insert_message(conn: AsyncConnection, values: dict[str, Any]) -> int:
    """Record a message sent outside the queue (a cash code); returns its id."""
    stmt = insert(notifications).values(**values).returning(notifications.c.id)
    return int((await conn.execute(stmt)).scalar_one())
