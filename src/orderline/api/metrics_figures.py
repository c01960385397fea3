"""The stored-state figures a metrics scrape shows: the outbox backlog and the webhook
deliveries by status, over every business (operators' figures, not a merchant's)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.core.metrics import StoredFigures
from orderline.core.runtime import Runtime
from orderline.webhooks.tables import WebhookDelivery
from orderline.worker import outbox_admin


async def _deliveries_by_status(conn: AsyncConnection) -> dict[str, int]:
    # A query of its own here until the webhook store has one: one GROUP BY over the
    # (status, next_attempt_at) index.
    deliveries = table_of(WebhookDelivery)
    rows = await conn.execute(select(deliveries.c.status, func.count())
                              .group_by(deliveries.c.status))
    return {str(status): int(count) for status, count in rows}


async def stored_figures(runtime: Runtime) -> StoredFigures:
    """Read the figures now; raises if the database does not answer."""
    backlog = await outbox_admin.backlog(runtime)
    async with runtime.db.read() as conn:
        deliveries = await _deliveries_by_status(conn)
    return StoredFigures(outbox_pending=int(backlog["pending"]),
                         outbox_dead=int(backlog["dead"]),
                         outbox_lag_seconds=float(backlog["lag_seconds"]),
                         webhook_deliveries=deliveries)
