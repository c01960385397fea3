"""The exports: each reads through a capability's own list use case (the same filters, the
same scope, the read replica when one is set), one keyset page of ``batch`` rows at a time, and
yields the CSV text of each page as it comes, so an export of a year of orders holds one page
in memory and one database connection per page, never the whole table.

Every export reads its first page before it answers (``Export.open``): a missing scope or an
unknown filter value is a 4xx with its code, not a broken download. Pages read later see the
rows as they are then (a row changed between two pages shows as it was when its page was read;
keyset pages never repeat or skip a row that stayed put).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from orderline.catalog import inventory
from orderline.core.runtime import Runtime
from orderline.exports import rules
from orderline.orders import customers
from orderline.orders import service as orders
from orderline.orders.store import OrderFilter
from orderline.payments import ledger
from orderline.payments.ledger import LedgerFilter
from orderline.tenancy.rules import Principal, Scope

# Rows read per page. Big enough that a page's query costs little per row, small enough that
# a page of orders with their lines stays a few megabytes at most.
EXPORT_BATCH = 500

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Export(Generic[T, C]):
    """How one export reads and writes: ``fetch(cursor, limit)`` reads a page after
    ``cursor`` (None for the first), ``cursor_of`` is the cursor a page's last item leaves,
    ``rows_of`` turns an item into its CSV rows."""

    header: Sequence[str]
    fetch: Callable[[C | None, int], Awaitable[list[T]]]
    cursor_of: Callable[[T], C]
    rows_of: Callable[[T], Iterable[Sequence[rules.Cell]]]

    async def open(self, batch: int) -> AsyncIterator[bytes]:
        """Read the first page now (refusals are raised here), and answer the file's chunks:
        the byte-order mark and header, then one chunk per page."""
        first = await self.fetch(None, batch + 1)
        return self._chunks(first, batch)

    async def _chunks(self, page: list[T], batch: int) -> AsyncIterator[bytes]:
        yield (rules.BOM + rules.csv_text([self.header])).encode()
        while True:
            items = page[:batch]
            if items:
                yield rules.csv_text(row for item in items for row in self.rows_of(item)).encode()
            if len(page) <= batch:
                return
            page = await self.fetch(self.cursor_of(items[-1]), batch + 1)


def _order_cursor(order: dict[str, Any]) -> tuple[datetime, uuid.UUID]:
    return order["created_at"], order["id"]


async def orders_csv(runtime: Runtime, principal: Principal, f: OrderFilter, *,
                     lines: bool = False, batch: int = EXPORT_BATCH) -> AsyncIterator[bytes]:
    """The orders the order list shows with these filters, newest first: one row per order,
    or (``lines``) one row per order line."""
    principal.require(Scope.READ)

    async def fetch(before: tuple[datetime, uuid.UUID] | None,
                    limit: int) -> list[dict[str, Any]]:
        return await orders.list_orders(runtime, principal, f, limit=limit, before=before)

    if lines:
        return await Export(rules.LINE_HEADER, fetch, _order_cursor,
                            rules.line_rows).open(batch)
    return await Export(rules.ORDER_HEADER, fetch, _order_cursor,
                        lambda o: [rules.order_row(o)]).open(batch)


async def customers_csv(runtime: Runtime, principal: Principal, *, search: str | None,
                        phone: str | None, email: str | None,
                        batch: int = EXPORT_BATCH) -> AsyncIterator[bytes]:
    """The customers the customer list finds with these filters, oldest first."""
    principal.require(Scope.READ)

    async def fetch(after: tuple[datetime, uuid.UUID] | None,
                    limit: int) -> list[dict[str, Any]]:
        return await customers.find_customers(runtime, principal, phone=phone, email=email,
                                              search=search, limit=limit, after=after)

    return await Export(rules.CUSTOMER_HEADER, fetch, _order_cursor,
                        lambda c: rules.customer_rows(c, principal.currency)).open(batch)


async def payments_csv(runtime: Runtime, principal: Principal, f: LedgerFilter, *,
                       batch: int = EXPORT_BATCH) -> AsyncIterator[bytes]:
    """The money ledger, newest entry first."""
    principal.require(Scope.READ)

    async def fetch(before: int | None, limit: int) -> list[dict[str, Any]]:
        return [dataclasses.asdict(e) for e in await ledger.ledger_page(
            runtime, principal, f, before_id=before, limit=limit)]

    return await Export(rules.PAYMENT_HEADER, fetch, lambda e: int(e["id"]),
                        lambda e: [rules.payment_row(e)]).open(batch)


async def stock_movements_csv(runtime: Runtime, principal: Principal, *, sku: str | None,
                              batch: int = EXPORT_BATCH) -> AsyncIterator[bytes]:
    """The stock ledger, newest movement first, of the business or of one SKU."""
    principal.require(Scope.READ)

    async def fetch(before: int | None, limit: int) -> list[dict[str, Any]]:
        return await inventory.list_movements(runtime, principal, sku=sku, before_id=before,
                                              limit=limit)

    return await Export(rules.MOVEMENT_HEADER, fetch, lambda m: int(m["id"]),
                        lambda m: [rules.movement_row(m)]).open(batch)
