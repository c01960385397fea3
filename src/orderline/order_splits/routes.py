"""/v1/orders/{id}/splits, /merge and /links: split an order in two, merge two unpaid ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from orderline.core.http import RuntimeDep, VersionDep, bind_order_id, etag, parse_id, refusals
from orderline.order_splits import service
from orderline.order_splits.schemas import (
    MergeOut,
    MergePreview,
    MergePreviewRequest,
    MergeRequest,
    OrderLinksOut,
    SplitOut,
    SplitPreview,
    SplitRequest,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


@router.post("/{order_id}/splits/preview", response_model=SplitPreview,
             responses=refusals(401, 403, 409))
async def preview_split(order_id: str, body: SplitRequest, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """What moving these units to a new order would do, changing nothing: each line's
    shares, this order's figures after and the new order's (which add up to now's)."""
    return await service.preview_split(runtime, principal, parse_id("order", order_id),
                                       body.units())


@router.post("/{order_id}/splits", status_code=status.HTTP_201_CREATED,
             response_model=SplitOut, responses=refusals(401, 403, 409, 412))
async def split_order(order_id: str, body: SplitRequest, runtime: RuntimeDep,
                      principal: PrincipalDep, version: VersionDep,
                      response: Response) -> dict[str, Any]:
    """Move some units (not yet shipped) to a new order of the same buyer, with its own
    number: lines, discounts, taxes and a paid order's money divided exactly, stock moved
    with them, both orders linked. Refused: shipped or missing units (409
    ``split_exceeds_remaining``), every unit (409 ``split_takes_everything``), a payment
    under way, a partly refunded order or a status that does not allow it (409), an order
    changed since the If-Match version (412)."""
    done = await service.split_order(runtime, principal, parse_id("order", order_id),
                                     body.units(), note=body.note, expected_version=version)
    response.headers["ETag"] = etag(done["order"]["version"])
    return done


@router.post("/{order_id}/merge/preview", response_model=MergePreview,
             responses=refusals(401, 403, 409))
async def preview_merge(order_id: str, body: MergePreviewRequest, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """What merging the other order into this one would do, changing nothing."""
    return await service.preview_merge(runtime, principal, parse_id("order", order_id),
                                       body.other_order_id)


@router.post("/{order_id}/merge", response_model=MergeOut,
             responses=refusals(401, 403, 409, 412))
async def merge_orders(order_id: str, body: MergeRequest, runtime: RuntimeDep,
                       principal: PrincipalDep, version: VersionDep,
                       response: Response) -> dict[str, Any]:
    """Merge another unpaid order of the same customer into this one: its lines join (priced
    again with both orders' coupons), its held stock joins this order's hold, it is
    cancelled (reason ``merged``) and linked, and the payment deadline becomes the earlier
    of the two. Refused (409 ``orders_not_mergeable``) unless both await payment, belong to
    the same customer and currency; 412 if either changed since its version."""
    done = await service.merge_orders(runtime, principal, parse_id("order", order_id),
                                      body.other_order_id, expected_version=version,
                                      other_version=body.other_version, note=body.note)
    response.headers["ETag"] = etag(done["order"]["version"])
    return done


@router.get("/{order_id}/links", response_model=OrderLinksOut, responses=refusals(401, 403))
async def order_links(order_id: str, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    """The orders this one was split from or into, merged from or into."""
    return await service.order_links(runtime, principal, parse_id("order", order_id))
