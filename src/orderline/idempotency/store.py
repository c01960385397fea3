"""Idempotency keys: claim a key, replay its stored answer, or take over a lapsed claim.

A claim is its own short transaction (so a concurrent request with the same key sees it at
once and is told ``request_in_progress``); the answer is written by the work's transaction,
so the key says ``completed`` exactly when the work committed. A claim taken over (its
request outlived ``locked_until``) gets a new id, so the late first request can no longer
complete it: its work rolls back and only the new request's takes effect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db import direct
from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.core.errors import RequestInProgress
from orderline.idempotency.tables import IdempotencyKey

keys = table_of(IdempotencyKey)

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class IdempotencyKeyRow(StoredRow):
    """An idempotency key as stored: every column of ``idempotency_keys``, in table order."""

    id: uuid.UUID
    business_id: uuid.UUID
    operation: str
    key: str
    fingerprint: str
    status: str
    response_status: int | None
    response_body: dict[str, Any] | None
    locked_until: datetime
    created_at: datetime
    expires_at: datetime


IDEMPOTENCY_KEY_COLUMNS = IdempotencyKeyRow.columns()


async def claim(conn: AsyncConnection, *, business_id: uuid.UUID, operation: str, key: str,
                fingerprint: str, now: datetime, lock_for: timedelta,
                keep_for: timedelta) -> tuple[uuid.UUID | None, IdempotencyKeyRow | None]:
    """``(id, None)`` when this request now holds the key; ``(None, row)`` with the row that
    already holds it otherwise. A lapsed claim of the same request (its request died) or an
    expired key is taken over by this request, under a new id."""
    ident = uuid.uuid4()
    if await insert_ignoring_conflict(conn, keys, {
            "id": ident, "business_id": business_id, "operation": operation, "key": key,
            "fingerprint": fingerprint, "status": IN_PROGRESS, "locked_until": now + lock_for,
            "created_at": now, "expires_at": now + keep_for}):
        return ident, None
    taken = (await conn.execute(
        update(keys)
        .where(keys.c.business_id == business_id, keys.c.key == key,
               or_(keys.c.expires_at <= now,
                   and_(keys.c.status == IN_PROGRESS, keys.c.locked_until <= now,
                        keys.c.operation == operation, keys.c.fingerprint == fingerprint)))
        .values(id=ident, operation=operation, fingerprint=fingerprint, status=IN_PROGRESS,
                locked_until=now + lock_for, response_status=None, response_body=None,
                created_at=now, expires_at=now + keep_for)
        .returning(keys.c.id))).scalar_one_or_none()
    if taken is not None:
        return taken, None
    row = (await conn.execute(select(keys).where(
        keys.c.business_id == business_id, keys.c.key == key))).mappings().one()
    return None, IdempotencyKeyRow.from_row(row)


async def complete(conn: AsyncConnection, ident: uuid.UUID, *, status_code: int,
                   body: dict[str, Any]) -> None:
    """Keep the answer under the claim this request holds; refuses (so the caller's
    transaction rolls back) when the claim lapsed and another request took the key over."""
    kept = await direct.execute(conn, _COMPLETE, {
        "b_id": ident, "b_status": status_code, "b_body": body})
    if kept.first() is None:
        raise _taken_over()


_COMPLETE = (update(keys).where(keys.c.id == bindparam("b_id"), keys.c.status == IN_PROGRESS)
             .values(status=COMPLETED, response_status=bindparam("b_status"),
                     response_body=bindparam("b_body"))
             .returning(keys.c.id))


async def pin(conn: AsyncConnection, ident: uuid.UUID) -> None:
    """The work is about to take effect in several transactions: from the caller's on, the
    claim never lapses (a retry after a crash is ``request_in_progress`` until the key
    expires, never a second effect). Refuses when the claim was already taken over."""
    await _update_held_claim(conn, ident, locked_until=keys.c.expires_at)


async def _update_held_claim(conn: AsyncConnection, ident: uuid.UUID, **values: Any) -> None:
    """Update the claim only while this request still holds it (its id, still in progress)."""
    changed = await conn.execute(
        update(keys).where(keys.c.id == ident, keys.c.status == IN_PROGRESS).values(**values))
    if not changed.rowcount:
        raise _taken_over()


def _taken_over() -> RequestInProgress:
    """The refusal when this request's claim lapsed and a retry took the key over."""
    return RequestInProgress(
        "This request ran past its Idempotency-Key's lock and a retry took the key over; "
        "nothing of this request was kept. Retry to get the retry's answer.", details={})


async def release(conn: AsyncConnection, ident: uuid.UUID) -> None:
    """Give the key up after a refusal: the caller may fix the cause and retry with it."""
    await conn.execute(delete(keys).where(keys.c.id == ident, keys.c.status == IN_PROGRESS))


async def prune(conn: AsyncConnection, now: datetime) -> int:
    """Forget every key past its ``expires_at``, whatever endpoint took it."""
    result = await conn.execute(delete(keys).where(keys.c.expires_at <= now))
    return int(result.rowcount or 0)
