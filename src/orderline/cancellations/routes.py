"""/v1/orders/{id}/cancellations: cancel some units of an order before it ships."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from orderline.cancellations import service
from orderline.cancellations.schemas import (
    CancellationOut,
    CancellationPreview,
    CancellationRequest,
)
from orderline.core.http import RuntimeDep, VersionDep, bind_order_id, etag, parse_id, refusals
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


@router.post("/{order_id}/cancellations/preview", response_model=CancellationPreview,
             responses=refusals(401, 403, 409))
async def preview_cancellation(order_id: str, body: CancellationRequest, runtime: RuntimeDep,
                               principal: PrincipalDep) -> dict[str, Any]:
    """What cancelling these units would do, changing nothing: the lines and the totals
    before and after, the coupons as re-priced, and the refund (how much, and how)."""
    return await service.preview_cancellation(runtime, principal, parse_id("order", order_id),
                                              body.units())


@router.post("/{order_id}/cancellations", status_code=status.HTTP_201_CREATED,
             response_model=CancellationOut, responses=refusals(401, 403, 409, 412, 503))
async def cancel_units(order_id: str, body: CancellationRequest, runtime: RuntimeDep,
                       principal: PrincipalDep, version: VersionDep,
                       response: Response) -> dict[str, Any]:
    """Cancel some units (or whole lines) before shipment: their stock goes back, the
    remaining lines are re-priced, an unpaid order's total falls and a paid one's difference
    is refunded (by the provider for cards; recorded as given back by hand for cash and
    transfers). Cancelling every unit left cancels the order. Refused: more units than a line
    has left (409 ``cancel_exceeds_remaining``), an order shipped or cancelled (409
    ``invalid_transition``), an order changed since the If-Match version (412)."""
    done = await service.cancel_units(runtime, principal, parse_id("order", order_id),
                                      body.units(), reason=body.cancel_reason(), note=body.note,
                                      expected_version=version)
    response.headers["ETag"] = etag(done["order"]["version"])
    return done
