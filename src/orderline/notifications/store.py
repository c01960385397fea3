"""SQL of the notification queue: queueing a message, claiming due ones for the sender with a
lease, and recording how each try went.

Claiming pushes ``next_attempt_at`` forward by the lease and counts the try in ``attempts``,
in the claiming transaction: another sender skips the row until the lease ends (a sender that
died mid-send leaves it to be taken again then). ``attempts`` doubles as the lease token:
a sender records the outcome only if nobody claimed the row after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.notifications.tables import Notification
from orderline.tenancy.tables import Business

notifications = table_of(Notification)
businesses = table_of(Business)

QUEUED, SENT, FAILED = "queued", "sent", "failed"


async def queue(conn: AsyncConnection, *, business_id: uuid.UUID, event_id: uuid.UUID,
                order_id: uuid.UUID | None, kind: str, recipient: str, channel: str,
                subject: str, body: str, now: datetime, provider: str | None = None,
                template: str | None = None, params: list[str] | None = None) -> int:
    """Queue one message, due at once; returns its id. SMS and WhatsApp messages name their
    provider, and the template and its parameters (the Cloud API's)."""
    stmt = insert(notifications).values(
        business_id=business_id, event_id=event_id, order_id=order_id, kind=kind,
        recipient=recipient[:320], channel=channel, subject=subject[:300], body=body,
        status=QUEUED, attempts=0, next_attempt_at=now, created_at=now, provider=provider,
        template=template, params=params,
    ).returning(notifications.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def claim_due(conn: AsyncConnection, *, now: datetime, lease_until: datetime,
                    channels: Sequence[str], limit: int) -> list[RowMapping]:
    """Take up to ``limit`` queued messages due by ``now`` on ``channels``, oldest first."""
    due = (select(notifications.c.id)
           .where(notifications.c.status == QUEUED, notifications.c.next_attempt_at <= now,
                  notifications.c.channel.in_(channels))
           .order_by(notifications.c.next_attempt_at, notifications.c.id)
           .limit(limit))
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = [row.id for row in await conn.execute(due)]
    if not ids:
        return []
    stmt = (update(notifications)
            .where(notifications.c.id.in_(ids), notifications.c.status == QUEUED)
            .values(attempts=notifications.c.attempts + 1, next_attempt_at=lease_until)
            .returning(*notifications.c))
    rows = list((await conn.execute(stmt)).mappings())
    return sorted(rows, key=lambda r: r["id"])


async def mark_sent(conn: AsyncConnection, notification_id: int, *, attempts: int,
                    now: datetime, provider_message_id: str | None = None) -> bool:
    """Record a delivered message (with the provider's id for it, for SMS and WhatsApp);
    False if another sender claimed it since (lease lost)."""
    stmt = (update(notifications)
            .where(notifications.c.id == notification_id, notifications.c.status == QUEUED,
                   notifications.c.attempts == attempts)
            .values(status=SENT, sent_at=now, last_error=None,
                    provider_message_id=provider_message_id)
            .returning(notifications.c.id))
    return (await conn.execute(stmt)).first() is not None


async def mark_not_sent(conn: AsyncConnection, notification_id: int, *, attempts: int,
                        error: str, retry_at: datetime | None) -> bool:
    """Record a failed try: due again at ``retry_at``, or ``failed`` for good when None."""
    values: dict[str, Any] = {"last_error": error[:2000]}
    if retry_at is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    stmt = (update(notifications)
            .where(notifications.c.id == notification_id, notifications.c.status == QUEUED,
                   notifications.c.attempts == attempts)
            .values(**values)
            .returning(notifications.c.id))
    return (await conn.execute(stmt)).first() is not None


async def of_business(conn: AsyncConnection, business_id: uuid.UUID, *,
                      order_id: uuid.UUID | None = None) -> list[RowMapping]:
    """A business's notifications (one order's when given), oldest first."""
    stmt = select(notifications).where(notifications.c.business_id == business_id)
    if order_id is not None:
        stmt = stmt.where(notifications.c.order_id == order_id)
    return list((await conn.execute(stmt.order_by(notifications.c.id))).mappings())


_CONTACT = select(businesses.c.name, businesses.c.alert_email).where(
    businesses.c.id == bindparam("business_id"))


async def business_contact(conn: AsyncConnection,
                           business_id: uuid.UUID) -> tuple[str, str | None]:
    """The business's name and alert email (who merchant notices go to)."""
    row = (await conn.execute(_CONTACT, {"business_id": business_id})).first()
    if row is None:
        return "", None
    return str(row.name), row.alert_email
