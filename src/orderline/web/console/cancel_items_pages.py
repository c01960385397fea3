"""The console's "Cancel items" action: choose units of an unshipped order, see what that
does (the preview: lines, totals and refund before and after), then confirm it.

As thin as the API's routes: the form is read with the API's own request model, the preview
and the cancellation are the same use cases (``cancellations.service``), the confirmation
sends the version the preview was made at (If-Match), and the order page's own handling shows
a refusal next to the form or the 412 page naming who changed the order first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from orderline.cancellations import service as cancellations
from orderline.cancellations.schemas import CancellationRequest
from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep, parse_id
from orderline.orders.rules import CancelReason
from orderline.web.console.access import ConsoleStaffDep
from orderline.web.console.order_pages import (
    ValidationFailedOnField,
    _act,
    _plain,
    _raise_page_error,
    _show_problems,
    _words,
    units_chosen,
)
from orderline.web.console.pages import console_page
from orderline.web.pages import FieldError

router = APIRouter()

FIELD = "cancel-lines"


def _request(request: Request, form: FormData) -> CancellationRequest:
    """The units chosen per line (``cancel_<sku>``), the reason and the note."""
    chosen = units_chosen(form, "cancel")
    if not chosen:
        raise ValidationFailedOnField(_words(request)(
            "Choose how many units of at least one line to cancel."), FIELD)
    reason = str(form.get("reason", CancelReason.MERCHANT.value))
    return CancellationRequest.model_validate({
        "lines": chosen,
        "reason": reason if reason in set(CancelReason) else CancelReason.OTHER.value,
        "note": str(form.get("note", "")).strip()[:2000] or None})


@router.post("/orders/{order_id}/cancel-items/preview", response_class=HTMLResponse)
async def preview(order_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    """What cancelling the chosen units would do; nothing changes until it is confirmed."""
    oid = parse_id("order", order_id)
    form = await request.form()
    try:
        body = _request(request, form)
        shown = await cancellations.preview_cancellation(runtime, staff.principal, oid,
                                                         body.units())
    except ValidationFailedOnField as unreadable:
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(unreadable.message, field=unreadable.field)],
                                    422)
    except ValidationError:
        return await _show_problems(request, staff, runtime, order_id, [FieldError(
            _words(request)("Each quantity to cancel must be a whole number, at most what "
                            "the line has left."), field=FIELD)], 422)
    except DomainError as refused:
        _raise_page_error(refused)
        problems = [FieldError(p.message, field=FIELD) for p in _plain(request, refused)]
        return await _show_problems(request, staff, runtime, order_id, problems, 409)
    return console_page(request, staff, "console/orders/cancel_items.html", preview=shown,
                        chosen=body, order_id=str(oid))


@router.post("/orders/{order_id}/cancel-items", response_class=HTMLResponse)
async def confirm(order_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    """Cancel the units the preview showed, if the order is still at the previewed version."""
    async def work(form: FormData, version: int | None) -> Any:
        body = _request(request, form)
        return await cancellations.cancel_units(
            runtime, staff.principal, parse_id("order", order_id), body.units(),
            reason=body.cancel_reason(), note=body.note, expected_version=version)
    return await _act(request, staff, runtime, order_id, "items_cancelled", work)
