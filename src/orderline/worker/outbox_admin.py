"""Looking after the outbox: its backlog, dead events, and pruning what was relayed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.idempotency import store as idempotency_store
from orderline.webhooks import store as webhook_store


async def backlog(runtime: Runtime) -> dict[str, Any]:
    """Pending and dead events, and the age in seconds of the oldest pending one (the lag)."""
    async with runtime.db.read() as conn:
        figures = await outbox_store.backlog(conn)
    oldest = figures.pop("oldest_pending_at")
    figures["lag_seconds"] = (max(0.0, (runtime.clock.now() - oldest).total_seconds())
                              if oldest else 0.0)
    return figures


async def prune_relayed(runtime: Runtime) -> int:
    """Delete relayed events and their handler-inbox rows older than the outbox retention
    window, finished webhook deliveries (with their attempts) older than theirs, and expired
    idempotency keys; a batch at a time. Returns how many rows went."""
    now = runtime.clock.now()
    events_before = now - timedelta(days=runtime.settings.outbox_retention_days)
    deliveries_before = now - timedelta(days=runtime.settings.webhook_delivery_retention_days)

    async def work(conn: AsyncConnection) -> int:
        return (await outbox_store.prune(conn, older_than=events_before)
                + await outbox_store.prune_inbox(conn, older_than=events_before)
                + await webhook_store.prune_finished(conn, older_than=deliveries_before)
                + await idempotency_store.prune(conn, now))

    return await runtime.db.run(work)


async def retry_dead(runtime: Runtime, event_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Put dead events back in the queue (all when no ids are given)."""
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> int:
        return await outbox_store.retry_dead(conn, event_ids=event_ids, now=now)

    return await runtime.db.run(work)
