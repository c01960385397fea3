"""/v1/orders/{id}/returns: returns (RMA) of shipped units.

Asking, reading and photos take the merchant's API key or the order's buyer token
(``Bearer oat_...``); approving, rejecting, receiving and refunding are the merchant's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status

from orderline.core.errors import ValidationFailed
from orderline.core.http import RuntimeDep, bind_order_id, parse_id, refusals
from orderline.orders.deps import OrderCallerDep
from orderline.returns import service
from orderline.returns.schemas import (
    PhotoOut,
    ReceiveIn,
    RefundPreview,
    RejectionIn,
    ReturnList,
    ReturnOptions,
    ReturnOut,
    ReturnRequest,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["returns"], dependencies=[Depends(bind_order_id)])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
PHOTO_BODY: dict[str, Any] = {"required": True, "content": {
    "image/jpeg": _BINARY, "image/png": _BINARY, "image/webp": _BINARY,
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}}}}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}, "application/pdf": {}},
    "description": "The photo as stored (cleaned of metadata)."}}


@router.get("/{order_id}/returns", response_model=ReturnList,
            response_model_exclude_none=False, responses=refusals(401, 403))
async def list_returns(runtime: RuntimeDep, caller: OrderCallerDep) -> dict[str, Any]:
    """The order's returns, first one first: the merchant's key or the order's buyer."""
    return {"data": await service.list_returns(runtime, caller)}


@router.get("/{order_id}/return-options", response_model=ReturnOptions,
            responses=refusals(401, 403))
async def return_options(runtime: RuntimeDep, caller: OrderCallerDep) -> dict[str, Any]:
    """Units of each line that may be returned now, and until when the buyer may ask."""
    return await service.return_options(runtime, caller)


@router.post("/{order_id}/returns", status_code=status.HTTP_201_CREATED,
             response_model=ReturnOut, responses=refusals(401, 403, 409))
async def request_return(body: ReturnRequest, runtime: RuntimeDep,
                         caller: OrderCallerDep) -> dict[str, Any]:
    """Ask to return shipped units: the merchant at any time, the buyer (order token) within
    the business's return window. Refused: more units than shipped and not already returned
    (409 ``return_exceeds_shipped``), the buyer outside the window or with returns off (409
    ``return_window_closed``)."""
    return await service.request_return(runtime, caller, body.units(),
                                        reason=body.return_reason(), note=body.note)


@router.get("/{order_id}/returns/{return_id}", response_model=ReturnOut,
            responses=refusals(401, 403))
async def get_return(return_id: str, runtime: RuntimeDep,
                     caller: OrderCallerDep) -> dict[str, Any]:
    return await service.get_return(runtime, caller, parse_id("return", return_id))


async def _photo_of(request: Request, limit: int) -> bytes:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=5, max_part_size=limit + 1) as form:
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise ValidationFailed("Send the photo as the form field 'file'.",
                                       details={"field": "file"})
            data = await part.read()
    else:
        data = await request.body()
    if not data:
        raise ValidationFailed("The request has no photo; send a JPEG, PNG or WebP image.",
                               details={"field": "body"})
    return data


@router.post("/{order_id}/returns/{return_id}/photos", status_code=status.HTTP_201_CREATED,
             response_model=PhotoOut, responses=refusals(400, 401, 403, 409, 413, 415, 503),
             openapi_extra={"requestBody": PHOTO_BODY})
async def add_photo(return_id: str, request: Request, runtime: RuntimeDep,
                    caller: OrderCallerDep) -> dict[str, Any]:
    """A photo of the returned items (JPEG, PNG or WebP), cleaned of its metadata and stored
    sealed; at most 5 per return, while it is requested or approved."""
    data = await _photo_of(request, runtime.settings.proof_upload_max_bytes)
    return await service.add_photo(runtime, caller, parse_id("return", return_id), data)


@router.get("/{order_id}/returns/{return_id}/photos/{photo_id}", response_class=Response,
            responses={**FILE_RESPONSES, **refusals(401, 403, 503)})
async def photo_file(return_id: str, photo_id: str, runtime: RuntimeDep,
                     caller: OrderCallerDep) -> Response:
    """The photo: the merchant's staff or the order's buyer only."""
    content, media_type = await service.photo_file(runtime, caller,
                                                   parse_id("return", return_id),
                                                   parse_id("return photo", photo_id))
    extension = media_type.split("/")[-1].replace("jpeg", "jpg")
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'inline; filename="return-photo-{photo_id}.{extension}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.post("/{order_id}/returns/{return_id}/approve", response_model=ReturnOut,
             responses=refusals(401, 403, 409))
async def approve_return(order_id: str, return_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """Accept a requested return: the buyer is told to send the items back. Refused (409
    ``invalid_transition``) unless it is ``requested``."""
    return await service.approve_return(runtime, principal, parse_id("order", order_id),
                                        parse_id("return", return_id))


@router.post("/{order_id}/returns/{return_id}/reject", response_model=ReturnOut,
             responses=refusals(401, 403, 409))
async def reject_return(order_id: str, return_id: str, body: RejectionIn,
                        runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Refuse a requested return, saying why (the buyer is told); its units may be asked
    for again."""
    return await service.reject_return(runtime, principal, parse_id("order", order_id),
                                       parse_id("return", return_id), reason=body.reason)


@router.post("/{order_id}/returns/{return_id}/cancel", response_model=ReturnOut,
             responses=refusals(401, 403, 409))
async def cancel_return(order_id: str, return_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """Close a return whose items never came back (requested or approved)."""
    return await service.cancel_return(runtime, principal, parse_id("order", order_id),
                                       parse_id("return", return_id))


@router.post("/{order_id}/returns/{return_id}/receive", response_model=ReturnOut,
             responses=refusals(401, 403, 409))
async def receive_return(order_id: str, return_id: str, body: ReceiveIn,
                         runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """The items are back: each line restocked at a location (a ``return`` stock movement)
    or written off as damaged (a ``return``/``damage`` ledger pair, on_hand unchanged).
    Refused (409 ``invalid_transition``) unless the return is ``approved``."""
    return await service.receive_return(runtime, principal, parse_id("order", order_id),
                                        parse_id("return", return_id), body.receipts())


@router.get("/{order_id}/returns/{return_id}/refund", response_model=RefundPreview,
            responses=refusals(401, 403, 409))
async def refund_preview(order_id: str, return_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """What refunding the return would give back, changing nothing: the units' value, the
    restocking fee and the refund."""
    return await service.refund_preview(runtime, principal, parse_id("order", order_id),
                                        parse_id("return", return_id))


@router.post("/{order_id}/returns/{return_id}/refund", response_model=ReturnOut,
             responses=refusals(401, 403, 409, 503))
async def refund_return(order_id: str, return_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """Refund a received return: the units' exact line shares less the restocking fee, by
    the card's provider or booked as given back by hand. Refused: a return not ``received``
    (409 ``invalid_transition``), units refunded already or more than the payment has left
    (409 ``refund_exceeds_captured``), more than the order's own share of a payment shared
    with a split (409 ``refund_exceeds_order_share``); the provider down (503: nothing
    refunded)."""
    return await service.refund_return(runtime, principal, parse_id("order", order_id),
                                       parse_id("return", return_id))
