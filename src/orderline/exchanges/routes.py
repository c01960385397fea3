"""/v1/orders/{id}/exchanges: shipped units traded back for a replacement order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from orderline.core.http import RuntimeDep, VersionDep, bind_order_id, etag, parse_id, refusals
from orderline.exchanges import service
from orderline.exchanges.schemas import ExchangeOut, ExchangePreview, ExchangeRequest
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["returns"], dependencies=[Depends(bind_order_id)])


@router.post("/{order_id}/exchanges/preview", response_model=ExchangePreview,
             responses=refusals(401, 403, 409, 422))
async def preview_exchange(order_id: str, body: ExchangeRequest, runtime: RuntimeDep,
                           principal: PrincipalDep) -> dict[str, Any]:
    """What trading these shipped units for the replacement lines would do, changing
    nothing: the replacement priced, the units' value and who owes whom."""
    return await service.preview_exchange(runtime, principal, parse_id("order", order_id),
                                          body.units(), body.replacement_lines())


@router.post("/{order_id}/exchanges", status_code=status.HTTP_201_CREATED,
             response_model=ExchangeOut, response_model_by_alias=True,
             responses=refusals(401, 403, 409, 412, 422))
async def make_exchange(order_id: str, body: ExchangeRequest, runtime: RuntimeDep,
                        principal: PrincipalDep, version: VersionDep,
                        response: Response) -> dict[str, Any]:
    """Trade shipped units for a replacement order, in one transaction: a return of the units
    (already approved; receive it as any return), a replacement order linked both ways,
    priced by the pricing engine, its stock held; the units' value pays it (the buyer pays
    the difference by card, or gets the rest back when the return is refunded). Refused:
    units not shipped or already returned (409 ``return_exceeds_shipped``) or refunded (409
    ``refund_exceeds_captured``), an unknown SKU (422 ``unknown_sku``), stock short (409
    ``out_of_stock``), an order never paid in the ledger (409 ``exchange_not_allowed``), an
    order changed since the If-Match version (412)."""
    done = await service.make_exchange(runtime, principal, parse_id("order", order_id),
                                       body.units(), body.replacement_lines(),
                                       reason=body.return_reason(), note=body.note,
                                       expected_version=version)
    response.headers["ETag"] = etag(done["order"]["version"])
    return done
