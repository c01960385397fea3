"""The console's Returns section of an order page: the requests with their photos, approve or
reject, receive (each line restocked at a location or written off as damaged), and refund
(the amount and the restocking fee shown before confirming); the merchant may also ask for a
return on the buyer's behalf.

As thin as the API's routes: each form calls the use case ``POST /v1/orders/{id}/returns/...``
calls (``returns.service``), as the logged-in member, whose role's scopes it checks (write,
as refunds and cancellations); the order page's own handling (``order_pages._act``) shows a
refusal next to the section, and another business's order is the 404 page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from orderline.core.http import RuntimeDep, parse_id
from orderline.orders.callers import OrderCaller
from orderline.returns import service as returns
from orderline.returns.rules import (
    Condition,
    Receipt,
    ReturnReason,
    UnitsToReturn,
)
from orderline.web.console.access import ConsoleStaffDep
from orderline.web.console.order_pages import (
    ValidationFailedOnField,
    _act,
    _call,
    _parsed,
    _words,
)

router = APIRouter()

FIELD = "returns"


def _units(request: Request, form: FormData) -> list[UnitsToReturn]:
    chosen: list[UnitsToReturn] = []
    for sku in form.getlist("line_sku"):
        text = str(form.get(f"return_{sku}", "")).strip()
        if text and text != "0":
            if not text.isdigit():
                raise ValidationFailedOnField(_words(request)(
                    "Each quantity to return must be a whole number."), FIELD)
            chosen.append(UnitsToReturn(sku=str(sku), quantity=int(text)))
    if not chosen:
        raise ValidationFailedOnField(_words(request)(
            "Choose how many units of at least one line to return."), FIELD)
    return chosen


@router.post("/orders/{order_id}/returns", response_class=HTMLResponse)
async def ask(order_id: str, request: Request, staff: ConsoleStaffDep,
              runtime: RuntimeDep) -> Response:
    """The merchant asks for a return on the buyer's behalf (any time, no window)."""
    async def work(form: FormData, _version: int | None) -> Any:
        reason = str(form.get("reason", ""))
        caller = OrderCaller(business_id=staff.principal.business_id,
                             order_id=parse_id("order", order_id), principal=staff.principal)
        return await returns.request_return(
            runtime, caller, _units(request, form),
            reason=ReturnReason(reason) if reason in set(ReturnReason) else ReturnReason.OTHER,
            note=str(form.get("note", "")).strip()[:2000] or None)
    return await _act(request, staff, runtime, order_id, "return_requested", work)


@router.post("/orders/{order_id}/returns/{return_id}/approve", response_class=HTMLResponse)
async def approve(order_id: str, return_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    async def work(_form: FormData, _version: int | None) -> Any:
        return await returns.approve_return(runtime, staff.principal,
                                            parse_id("order", order_id),
                                            parse_id("return", return_id))
    return await _act(request, staff, runtime, order_id, "return_approved", work)


@router.post("/orders/{order_id}/returns/{return_id}/reject", response_class=HTMLResponse)
async def reject(order_id: str, return_id: str, request: Request, staff: ConsoleStaffDep,
                 runtime: RuntimeDep) -> Response:
    async def work(form: FormData, _version: int | None) -> Any:
        reason = str(form.get("reason", "")).strip()[:2000]
        if not reason:
            raise ValidationFailedOnField(_words(request)(
                "Say why the return is not accepted; the buyer is told."), FIELD)
        return await returns.reject_return(runtime, staff.principal,
                                           parse_id("order", order_id),
                                           parse_id("return", return_id), reason=reason)
    return await _act(request, staff, runtime, order_id, "return_rejected", work)


@router.post("/orders/{order_id}/returns/{return_id}/receive", response_class=HTMLResponse)
async def receive(order_id: str, return_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    """Each line: ``outcome_<sku>`` is ``damaged`` or a location code to restock at."""
    async def work(form: FormData, _version: int | None) -> Any:
        receipts: list[Receipt] = []
        for sku in form.getlist("line_sku"):
            outcome = str(form.get(f"outcome_{sku}", "")).strip()
            if outcome == Condition.DAMAGED:
                receipts.append(Receipt(sku=str(sku), condition=Condition.DAMAGED))
            else:
                receipts.append(Receipt(sku=str(sku), condition=Condition.RESTOCK,
                                        location=outcome or None))
        return await returns.receive_return(runtime, staff.principal,
                                            parse_id("order", order_id),
                                            parse_id("return", return_id), receipts)
    return await _act(request, staff, runtime, order_id, "return_received", work)


@router.post("/orders/{order_id}/returns/{return_id}/refund", response_class=HTMLResponse)
async def refund(order_id: str, return_id: str, request: Request, staff: ConsoleStaffDep,
                 runtime: RuntimeDep) -> Response:
    async def work(_form: FormData, _version: int | None) -> Any:
        return await returns.refund_return(runtime, staff.principal,
                                           parse_id("order", order_id),
                                           parse_id("return", return_id))
    return await _act(request, staff, runtime, order_id, "return_refunded", work)


@router.get("/orders/{order_id}/returns/{return_id}/photos/{photo_id}", response_model=None)
async def photo(order_id: str, return_id: str, photo_id: str, staff: ConsoleStaffDep,
                runtime: RuntimeDep) -> Response:
    """A return's photo, for the business's staff (the read scope, like the order page)."""
    oid = await _call(_parsed(order_id))
    caller = OrderCaller(business_id=staff.principal.business_id, order_id=oid,
                         principal=staff.principal)
    content, media_type = await _call(returns.photo_file(
        runtime, caller, parse_id("return", return_id), parse_id("return photo", photo_id)))
    return Response(content, media_type=media_type, headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'; sandbox"})
