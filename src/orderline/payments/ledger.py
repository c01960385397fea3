"""The business's money ledger as a whole (every order's authorisations, captures, voids,
refunds and collections), newest first: what the payment ledger export reads, page by page,
from the read replica as lists do."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.payments.ledger_store import LedgerEntry, LedgerFilter, ledger_entries
from orderline.tenancy.rules import Principal, Scope

__all__ = ["LedgerEntry", "LedgerFilter", "ledger_page"]


async def ledger_page(runtime: Runtime, principal: Principal, f: LedgerFilter, *,
                      before_id: int | None, limit: int) -> list[LedgerEntry]:
    """Up to ``limit`` entries older than ``before_id`` (the newest without it)."""
    principal.require(Scope.READ)

    async def page(conn: AsyncConnection) -> list[LedgerEntry]:
        return await ledger_entries(conn, principal.business_id, f, before_id=before_id,
                                    limit=limit)
    return await runtime.db.read_from_replica(principal.business_id, page)
