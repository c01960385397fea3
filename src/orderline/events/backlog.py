"""A business's own outbox backlog: its events still waiting for the relay, the oldest one's
age, and those the relay gave up on (dead), for the merchant's overview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_pending_seconds: float | None  # None when nothing waits
    dead: int


async def business_backlog(runtime: Runtime, principal: Principal) -> Backlog:
    """The caller's business's events pending and dead, and how long the oldest pending one
    has waited (by the runtime's clock)."""
    principal.require(Scope.READ)
    async def read(conn: AsyncConnection) -> dict[str, Any]:
        return await outbox_store.backlog(conn, principal.business_id)
    figures = await runtime.db.read_from_replica(principal.business_id, read)
    oldest = figures["oldest_pending_at"]
    age = (max(0.0, (runtime.clock.now() - oldest).total_seconds())
           if oldest is not None else None)
    return Backlog(pending=figures["pending"], oldest_pending_seconds=age, dead=figures["dead"])
