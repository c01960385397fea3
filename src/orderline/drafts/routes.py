"""/v1/draft-orders: the merchant's draft orders (write scope to change, read to look), their
lines, and their link (``send``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from orderline.core.http import (
    RuntimeDep,
    VersionDep,
    decode_cursor,
    encode_cursor,
    etag,
    parse_id,
    refusals,
)
from orderline.drafts import links
from orderline.drafts import service as drafts
from orderline.drafts.rules import whatsapp_share_url
from orderline.drafts.schemas import (
    DraftCreate,
    DraftLineIn,
    DraftLineSet,
    DraftOut,
    DraftPage,
    DraftSend,
    DraftSent,
    DraftUpdate,
)
from orderline.drafts.service import DraftLineInput, NewDraft
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["draft orders"])

Limit = Annotated[int, Query(ge=1, le=200)]


def _with_etag(response: Response, draft: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = etag(draft["version"])
    return draft


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/d/{token}"


@router.post("/draft-orders", status_code=status.HTTP_201_CREATED, response_model=DraftOut,
             responses=refusals(401, 403, 404, 409))
async def create_draft(body: DraftCreate, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response) -> dict[str, Any]:
    """A draft order (status ``draft``): no stock is held and no order number is taken until
    the buyer opens its link and confirms."""
    draft = await drafts.create_draft(runtime, principal, NewDraft(
        channel=body.channel,
        lines=[DraftLineInput(sku=line.sku, quantity=line.quantity) for line in body.lines],
        customer=body.customer.to_contact() if body.customer else None,
        customer_id=body.customer_id,
        address=body.address.to_address() if body.address else None,
        shipping_method_id=body.shipping_method_id, coupon_codes=body.coupon_codes,
        payment_method=body.payment_method, note=body.note))
    response.headers["Location"] = f"/v1/draft-orders/{draft['id']}"
    return _with_etag(response, draft)


@router.get("/draft-orders", response_model=DraftPage, responses=refusals(401, 403))
async def list_drafts(runtime: RuntimeDep, principal: PrincipalDep,
                      status: Annotated[list[str] | None, Query(max_length=5)] = None,
                      limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """Newest first; ``?status=draft&status=sent`` for some statuses only."""
    rows = await drafts.list_drafts(runtime, principal, statuses=status or [],
                                    limit=limit + 1, before=decode_cursor(cursor))
    page, more = rows[:limit], len(rows) > limit
    return {"data": page, "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"])
            if more else None}


@router.get("/draft-orders/{draft_id}", response_model=DraftOut, responses=refusals(401, 403))
async def get_draft(draft_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                    response: Response) -> dict[str, Any]:
    return _with_etag(response, await drafts.get_draft(
        runtime, principal, parse_id("draft_order", draft_id)))


@router.patch("/draft-orders/{draft_id}", response_model=DraftOut,
              responses=refusals(401, 403, 409, 412))
async def update_draft(draft_id: str, body: DraftUpdate, runtime: RuntimeDep,
                       principal: PrincipalDep, response: Response,
                       expected: VersionDep) -> dict[str, Any]:
    """Change the buyer, the address, the shipping method, the coupons, the way to pay or the
    note, while the draft is ``draft`` or ``sent``."""
    return _with_etag(response, await drafts.update_draft(
        runtime, principal, parse_id("draft_order", draft_id), body.changes(),
        expected_version=expected))


@router.post("/draft-orders/{draft_id}/lines", response_model=DraftOut,
             responses=refusals(401, 403, 409, 412))
async def add_draft_line(draft_id: str, body: DraftLineIn, runtime: RuntimeDep,
                         principal: PrincipalDep, response: Response,
                         expected: VersionDep) -> dict[str, Any]:
    """Add units of a SKU: a new line, or more of the draft's line of that SKU."""
    return _with_etag(response, await drafts.add_line(
        runtime, principal, parse_id("draft_order", draft_id), sku=body.sku,
        quantity=body.quantity, expected_version=expected))


@router.patch("/draft-orders/{draft_id}/lines/{sku:path}", response_model=DraftOut,
              responses=refusals(401, 403, 409, 412))
async def set_draft_line(draft_id: str, sku: str, body: DraftLineSet, runtime: RuntimeDep,
                         principal: PrincipalDep, response: Response,
                         expected: VersionDep) -> dict[str, Any]:
    """Set the quantity of the draft's line of this SKU."""
    return _with_etag(response, await drafts.set_line(
        runtime, principal, parse_id("draft_order", draft_id), sku=sku,
        quantity=body.quantity, expected_version=expected))


@router.delete("/draft-orders/{draft_id}/lines/{sku:path}", response_model=DraftOut,
               responses=refusals(401, 403, 409, 412))
async def remove_draft_line(draft_id: str, sku: str, runtime: RuntimeDep,
                            principal: PrincipalDep, response: Response,
                            expected: VersionDep) -> dict[str, Any]:
    return _with_etag(response, await drafts.remove_line(
        runtime, principal, parse_id("draft_order", draft_id), sku=sku,
        expected_version=expected))


@router.post("/draft-orders/{draft_id}/send", response_model=DraftSent,
             responses=refusals(401, 403, 409, 412))
async def send_draft(draft_id: str, body: DraftSend, runtime: RuntimeDep,
                     principal: PrincipalDep, response: Response,
                     expected: VersionDep) -> dict[str, Any]:
    """A new link for the buyer (status ``sent``); an earlier link stops opening. Opening it
    holds the stock in a checkout and offers the business's ways to pay."""
    sent = await links.send_draft(runtime, principal, parse_id("draft_order", draft_id),
                                  expires_in_hours=body.expires_in_hours,
                                  expected_version=expected)
    url = link_url(runtime.settings.console_base_url, sent["link_token"])
    return _with_etag(response, {**sent, "link_url": url,
                                 "whatsapp_url": whatsapp_share_url(url)})


@router.post("/draft-orders/{draft_id}/cancel", response_model=DraftOut,
             responses=refusals(401, 403, 409, 412))
async def cancel_draft(draft_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response, expected: VersionDep) -> dict[str, Any]:
    """Cancel the draft: its link stops opening, and a checkout it opened ends (its stock
    goes back). A completed draft refuses: cancel its order instead."""
    return _with_etag(response, await links.cancel_draft(
        runtime, principal, parse_id("draft_order", draft_id), expected_version=expected))
