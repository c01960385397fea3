"""/v1/exports: CSV files of orders, order lines, customers, the money ledger and the stock
ledger, streamed as they are read, with the filters of the matching lists."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from orderline.core.http import RuntimeDep, refusals
from orderline.core.schemas import STORED_INT_MAX
from orderline.exports import service as exports
from orderline.orders.rules import OrderStatus
from orderline.orders.store import OrderFilter
from orderline.payments.ledger import LedgerFilter
from orderline.payments.rules import MovementKind
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/exports", tags=["exports"])


def _csv_answer(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": f"{what} as CSV: UTF-8 with a byte-order mark, a header row, "
                                "money as minor units beside the decimal amount and its "
                                "currency; text cells that start like a formula are prefixed "
                                "with `'`. Streamed as it is read.",
                  "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _download(chunks: AsyncIterator[bytes], name: str) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


OrderStatusQuery = Annotated[OrderStatus | None, Query(alias="status")]
CustomerQuery = Annotated[str | None, Query(max_length=200,
                                            description="part of name, phone or email")]
Amount = Annotated[int | None, Query(ge=0, le=STORED_INT_MAX)]
Number = Annotated[str | None, Query(max_length=20, description="part of the number")]
Method = Annotated[str | None, Query(max_length=40)]
Search = Annotated[str | None, Query(max_length=200, description=(
    "one search box: part of the number, or of the customer's name, phone or email"))]


async def _order_filter(
    status_: OrderStatusQuery = None, channel: Annotated[str | None, Query(max_length=40)] = None,
    customer_id: uuid.UUID | None = None, customer: CustomerQuery = None,
    created_from: AwareDatetime | None = None, created_to: AwareDatetime | None = None,
    total_min: Amount = None, total_max: Amount = None, number: Number = None,
    payment_method: Method = None, q: Search = None,
) -> OrderFilter:
    """The order list's filters (``GET /v1/orders``), as query parameters (a coroutine, so
    FastAPI does not hand it to its thread pool)."""
    return OrderFilter(status=status_.value if status_ else None, channel=channel,
                       customer_id=customer_id, customer=customer, created_from=created_from,
                       created_to=created_to, total_min=total_min, total_max=total_max,
                       number=number, payment_method=payment_method, search=q)


OrderFilterQuery = Annotated[OrderFilter, Depends(_order_filter)]


@router.get("/orders.csv", response_class=StreamingResponse,
            responses={**_csv_answer("The orders, one row each"), **refusals(401, 403)})
async def export_orders(
    runtime: RuntimeDep, principal: PrincipalDep, f: OrderFilterQuery,
) -> StreamingResponse:
    """The orders ``GET /v1/orders`` lists with the same filters, newest first (read scope)."""
    return _download(await exports.orders_csv(runtime, principal, f,
                                              batch=exports.EXPORT_BATCH), "orders.csv")


@router.get("/order-lines.csv", response_class=StreamingResponse,
            responses={**_csv_answer("The lines of the orders, one row each"),
                       **refusals(401, 403)})
async def export_order_lines(
    runtime: RuntimeDep, principal: PrincipalDep, f: OrderFilterQuery,
) -> StreamingResponse:
    """Every line of the orders ``GET /v1/orders`` lists with the same filters (read scope)."""
    return _download(await exports.orders_csv(runtime, principal, f, lines=True,
                                              batch=exports.EXPORT_BATCH), "order-lines.csv")


@router.get("/customers.csv", response_class=StreamingResponse,
            responses={**_csv_answer("The customers, one row per currency they paid in"),
                       **refusals(401, 403)})
async def export_customers(
    runtime: RuntimeDep, principal: PrincipalDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="part of the name, phone or email")] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> StreamingResponse:
    """The customers ``GET /v1/customers`` finds with the same filters (read scope)."""
    return _download(await exports.customers_csv(runtime, principal, search=q, phone=phone,
                                                 email=email, batch=exports.EXPORT_BATCH),
                     "customers.csv")


@router.get("/payments.csv", response_class=StreamingResponse,
            responses={**_csv_answer("The money ledger, one row per entry"),
                       **refusals(401, 403)})
async def export_payments(
    runtime: RuntimeDep, principal: PrincipalDep, kind: MovementKind | None = None,
    order_id: uuid.UUID | None = None,
    created_from: AwareDatetime | None = None, created_to: AwareDatetime | None = None,
) -> StreamingResponse:
    """Every authorisation, capture, void, refund and cash collection, newest first (read
    scope); filtered by kind, order and time."""
    f = LedgerFilter(kind=kind.value if kind else None, order_id=order_id,
                     created_from=created_from, created_to=created_to)
    return _download(await exports.payments_csv(runtime, principal, f,
                                                batch=exports.EXPORT_BATCH), "payments.csv")


@router.get("/stock-movements.csv", response_class=StreamingResponse,
            responses={**_csv_answer("The stock ledger, one row per movement"),
                       **refusals(401, 403, 404)})
async def export_stock_movements(
    runtime: RuntimeDep, principal: PrincipalDep,
    sku: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    """The stock ledger ``GET /v1/inventory/movements`` pages through, newest first, of the
    business or of one SKU (404 for a SKU it lacks; read scope)."""
    return _download(await exports.stock_movements_csv(runtime, principal, sku=sku,
                                                       batch=exports.EXPORT_BATCH),
                     "stock-movements.csv")
