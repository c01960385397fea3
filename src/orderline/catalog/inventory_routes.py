"""/v1/inventory: stock levels, adjustments, the movement ledger, reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from orderline.catalog import inventory, transfers
from orderline.catalog.schemas import (
    MovementPage,
    Reconciliation,
    StockAdjustment,
    StockOut,
    StockPage,
    StockTransferIn,
    StockTransferOut,
)
from orderline.core.http import RuntimeDep, refusals
from orderline.core.schemas import STORED_INT_MAX
from orderline.idempotency.headers import IdempotencyKeyHeader, send
from orderline.idempotency.service import KeyedRequest, run_once
from orderline.tenancy.deps import PrincipalDep
from orderline.tenancy.rules import Scope

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])


@router.get("", response_model=StockPage, responses=refusals(401, 403, 404))
async def list_stock(
    runtime: RuntimeDep, principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after_sku: Annotated[str | None, Query(max_length=100)] = None,
    location: Annotated[str | None, Query(max_length=40, description="a location's code")] = None,
    low_stock: Annotated[bool | None, Query(
        description="true: only SKUs at or below their low-stock threshold; false: the "
                    "others")] = None,
    include_archived: Annotated[bool, Query(description="also archived SKUs")] = False,
) -> dict[str, Any]:
    """Stock per SKU and location, by SKU; a page never cuts a SKU's locations apart."""
    rows, next_after = await inventory.list_stock(
        runtime, principal, limit=limit, after_sku=after_sku, location=location,
        low_stock=low_stock, include_archived=include_archived)
    return {"data": rows, "next_after_sku": next_after}


@router.post("/adjustments", response_model=StockOut, responses=refusals(401, 403, 404, 409))
async def adjust_stock(body: StockAdjustment, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response,
                       idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """Receive stock, correct a count (delta or stock-take), or write off damage. With an
    ``Idempotency-Key``, a retry returns the first answer and adjusts nothing more."""
    answer = await run_once(runtime, KeyedRequest(
        business_id=principal.business_id, operation="inventory.adjust", key=idempotency_key,
        request=body.model_dump(mode="json"), status_code=200),
        lambda claim: inventory.adjust_stock(runtime, principal, sku=body.sku,
                                             location=body.location, reason=body.reason,
                                             note=body.note, delta=body.delta,
                                             set_on_hand=body.set_on_hand, claim=claim))
    stock: dict[str, Any] = send(response, answer)
    return stock


@router.post("/transfers", response_model=StockTransferOut, status_code=201,
             responses=refusals(401, 403, 404, 409))
async def transfer_stock(body: StockTransferIn, runtime: RuntimeDep, principal: PrincipalDep,
                         response: Response,
                         idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """Move free units of a SKU from one location to another: a ``transfer_out`` and a
    ``transfer_in`` row in the ledger, in one transaction. Refused with
    ``insufficient_stock`` when the source has fewer units not held for orders. With an
    ``Idempotency-Key``, a retry returns the first answer and moves nothing more."""
    answer = await run_once(runtime, KeyedRequest(
        business_id=principal.business_id, operation="inventory.transfer", key=idempotency_key,
        request=body.model_dump(mode="json"), status_code=201),
        lambda claim: transfers.transfer_stock(
            runtime, principal, sku=body.sku, from_location=body.from_location,
            to_location=body.to_location, quantity=body.quantity, note=body.note, claim=claim))
    transfer: dict[str, Any] = send(response, answer)
    return transfer


@router.get("/movements", response_model=MovementPage, responses=refusals(401, 403, 404))
async def list_movements(runtime: RuntimeDep, principal: PrincipalDep,
                         sku: Annotated[str | None, Query(max_length=100)] = None,
                         before_id: Annotated[int | None, Query(ge=0, le=STORED_INT_MAX)] = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """The stock ledger, newest first; ``sku`` reads one SKU's, ``before_id`` the next page."""
    rows = await inventory.list_movements(runtime, principal, sku=sku, before_id=before_id,
                                          limit=limit)
    return {"data": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}


@router.get("/reconciliation", response_model=Reconciliation, responses=refusals(401, 403))
async def reconciliation(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Proof that the ledger sums to on_hand (and reservations to reserved) for every SKU."""
    principal.require(Scope.READ)
    drift = await inventory.reconcile(runtime, principal.business_id)
    return {"balanced": not drift, "drift": [d.as_dict() for d in drift]}


# A SKU may contain '/'; the fixed paths above match first.
@router.get("/{sku:path}", response_model=StockOut, responses=refusals(401, 403))
async def stock_of(sku: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await inventory.stock_of(runtime, principal, sku)
