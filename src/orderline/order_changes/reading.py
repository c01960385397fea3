"""Reading order changes: one change, an order's changes, and what the buyer's order page
shows of them (the changes waiting for the buyer's payment)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import NotFound
from orderline.core.runtime import Runtime
from orderline.order_changes import store
from orderline.order_changes.rules import ChangeStatus
from orderline.order_changes.store import ChangeLineRow, ChangeRow, RequestRow
from orderline.orders import store as order_store
from orderline.tenancy.rules import Principal, Scope


def _view(change: ChangeRow, lines: list[ChangeLineRow],
          request: RequestRow | None) -> dict[str, Any]:
    return {
        "id": change.id, "order_id": change.order_id, "number": change.number,
        "status": change.status, "currency": change.currency,
        "lines": [{"sku": line.sku, "name": line.name, "kind": line.kind,
                   "unit_price": line.unit_price, "quantity_before": line.quantity_before,
                   "quantity_after": line.quantity_after,
                   "held": line.reservation_id is not None
                   and change.status == ChangeStatus.AWAITING_PAYMENT} for line in lines],
        "before": change.totals_before, "after": change.totals_after,
        "difference": change.difference,
        "refund": ({"amount": change.refund_amount, "method": change.refund_method}
                   if change.refund_amount else None),
        "payment_request": None if request is None else {
            "id": request.id, "amount": request.amount, "currency": request.currency,
            "deadline": request.deadline, "status": request.status,
            "paid_by": request.paid_by, "paid_at": request.paid_at},
        "note": change.note, "deadline": change.deadline,
        "order_version_before": change.order_version_before,
        "order_version_after": change.order_version_after,
        "created_by": change.created_by, "created_at": change.created_at,
        "applied_at": change.applied_at, "closed_at": change.closed_at,
    }


async def _views(conn: AsyncConnection, rows: list[ChangeRow]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    lines = await store.lines_of(conn, ids)
    requests = {r.change_id: r for r in await store.requests_of(conn, ids)}
    return [_view(r, [line for line in lines if line.change_id == r.id], requests.get(r.id))
            for r in rows]


async def change_view(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                       change_id: uuid.UUID) -> dict[str, Any]:
    change = await store.load_change(conn, business_id, order_id, change_id)
    if change is None:
        raise NotFound("order change", change_id)
    return (await _views(conn, [change]))[0]


async def get_change(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                     change_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return await change_view(conn, principal.business_id, order_id, change_id)


async def list_changes(runtime: Runtime, principal: Principal,
                       order_id: uuid.UUID) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if await order_store.load_order(conn, principal.business_id, order_id) is None:
            raise NotFound("order", order_id)
        return await _views(conn, await store.changes_of_order(conn, principal.business_id,
                                                                order_id))


@dataclass(frozen=True, slots=True)
class BuyerRequests:
    """What the buyer's order page shows of the order's changes: those waiting for the
    buyer's payment, and the card provider that would take it."""

    provider: str
    waiting: list[dict[str, Any]]


async def requests_for_buyer(runtime: Runtime, business_id: uuid.UUID,
                             order_id: uuid.UUID) -> BuyerRequests:
    async with runtime.db.read() as conn:
        rows = [r for r in await store.changes_of_order(conn, business_id, order_id)
                if r.status == ChangeStatus.AWAITING_PAYMENT]
        return BuyerRequests(provider=await order_store.card_provider_of(conn, business_id),
                             waiting=await _views(conn, rows))
