"""The Returns section of the console's order page: what it shows (``return_pages`` has
its forms' routes). Kept apart so the order page can build it without importing the routes
that build on the order page."""

from __future__ import annotations

from typing import Any

from orderline.catalog import products as catalog_products
from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.orders.callers import OrderCaller
from orderline.returns import service as returns
from orderline.returns.rules import ReturnReason, ReturnStatus
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff


async def returns_section(runtime: Runtime, staff: ConsoleStaff,
                          order: dict[str, Any]) -> dict[str, Any]:
    """The Returns section's context: the order's returns, each received one's refund
    preview, the locations to restock at, and what may still be returned."""
    caller = OrderCaller(business_id=staff.principal.business_id, order_id=order["id"],
                         principal=staff.principal)
    found = await returns.list_returns(runtime, caller)
    may_write = Scope.WRITE in staff.principal.scopes
    previews: dict[str, Any] = {}
    if may_write:
        for r in found:
            if r["status"] == ReturnStatus.RECEIVED:
                try:
                    previews[str(r["id"])] = await returns.refund_preview(
                        runtime, staff.principal, order["id"], r["id"])
                except DomainError as refused:
                    previews[str(r["id"])] = {"refused": refused.message}
    options = await returns.return_options(runtime, caller)
    return {"returns": found, "refund_previews": previews, "return_options": options,
            "return_reasons": [r.value for r in ReturnReason],
            "may_handle_returns": may_write,
            "return_locations": await catalog_products.list_locations(runtime, staff.principal)
            if may_write and any(r["status"] == ReturnStatus.APPROVED for r in found) else []}
