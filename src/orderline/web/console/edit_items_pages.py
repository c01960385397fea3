"""The console's "Edit items" action (edits after payment): choose the new quantity of each
line of a paid, unshipped order and products to add, see the difference (the preview: lines
and totals before and after, refunded or asked of the buyer), then confirm it; and the
order's open payment requests: cancel the change, or record its payment received by hand.

As thin as the API's routes: the form is read into the API's own request model, the preview,
the change, the cancel and the payment by hand are the same use cases
(``order_changes.service``); the confirmation sends the version the preview was made at, and
the order page's own handling shows a refusal next to the form or the 412 page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep, parse_id
from orderline.order_changes import paying
from orderline.order_changes import service as order_changes
from orderline.order_changes.schemas import ChangeLinesIn
from orderline.web.console.access import ConsoleStaffDep
from orderline.web.console.order_pages import (
    ValidationFailedOnField,
    _act,
    _plain,
    _raise_page_error,
    _show_problems,
    _words,
)
from orderline.web.console.pages import console_page
from orderline.web.pages import FieldError

router = APIRouter()

FIELD = "edit-lines"


def _request(request: Request, form: FormData) -> tuple[ChangeLinesIn, str | None]:
    """The new quantity per line (``edit_<sku>``, against ``was_<sku>``), the product to add
    (``add_sku``, ``add_quantity``) and the note."""
    words = _words(request)
    change: list[dict[str, Any]] = []
    remove: list[dict[str, Any]] = []
    add: list[dict[str, Any]] = []
    for sku in form.getlist("line_sku"):
        text = str(form.get(f"edit_{sku}", "")).strip()
        was = str(form.get(f"was_{sku}", "")).strip()
        if not text or text == was:
            continue
        if not text.isdigit():
            raise ValidationFailedOnField(words("Each new quantity must be a whole number, "
                                                "0 to remove the line."), FIELD)
        if int(text) == 0:
            remove.append({"sku": str(sku)})
        else:
            change.append({"sku": str(sku), "quantity": int(text)})
    new_sku = str(form.get("add_sku", "")).strip()
    if new_sku:
        units = str(form.get("add_quantity", "1")).strip() or "1"
        add.append({"sku": new_sku, "quantity": int(units) if units.isdigit() else units})
    if not (change or remove or add):
        raise ValidationFailedOnField(words("Change the quantity of a line, or add a "
                                            "product."), FIELD)
    note = str(form.get("note", "")).strip()[:2000] or None
    return ChangeLinesIn.model_validate({"add": add, "change": change, "remove": remove}), note


@router.post("/orders/{order_id}/edit-items/preview", response_class=HTMLResponse)
async def preview(order_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    """The difference the chosen quantities would make; nothing changes until confirmed."""
    oid = parse_id("order", order_id)
    form = await request.form()
    try:
        body, note = _request(request, form)
        shown = await order_changes.preview_change(runtime, staff.principal, oid, body.edits())
    except ValidationFailedOnField as unreadable:
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(unreadable.message, field=unreadable.field)],
                                    422)
    except ValidationError:
        return await _show_problems(request, staff, runtime, order_id, [FieldError(
            _words(request)("Each quantity must be a whole number from 1 to 10,000."),
            field=FIELD)], 422)
    except DomainError as refused:
        _raise_page_error(refused)
        problems = [FieldError(p.message, field=FIELD) for p in _plain(request, refused)]
        return await _show_problems(request, staff, runtime, order_id, problems,
                                    422 if refused.code in ("validation_error", "unknown_sku")
                                    else 409)
    return console_page(request, staff, "console/orders/edit_items.html", preview=shown,
                        chosen=body, note=note, order_id=str(oid))


@router.post("/orders/{order_id}/edit-items", response_class=HTMLResponse)
async def confirm(order_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    """Make the change the preview showed, if the order is still at the previewed version;
    back on the order page, which says whether it applied or waits for the buyer."""
    outcome: list[str] = []

    async def work(form: FormData, version: int | None) -> Any:
        body, note = _request(request, form)
        made = await order_changes.make_change(runtime, staff.principal,
                                               parse_id("order", order_id), body.edits(),
                                               note=note, expected_version=version)
        outcome.append(str(made["status"]))
        return made

    answer = await _act(request, staff, runtime, order_id, "items_changed", work)
    if outcome and outcome[0] == "awaiting_payment":
        answer.headers["location"] = answer.headers["location"].replace(
            "done=items_changed", "done=change_requested")
    return answer


@router.post("/orders/{order_id}/changes/{change_id}/cancel", response_class=HTMLResponse)
async def cancel_change(order_id: str, change_id: str, request: Request,
                        staff: ConsoleStaffDep, runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        return await order_changes.cancel_change(runtime, staff.principal,
                                                 parse_id("order", order_id),
                                                 parse_id("order change", change_id))
    return await _act(request, staff, runtime, order_id, "change_cancelled", work)


@router.post("/orders/{order_id}/changes/{change_id}/paid-by-hand",
             response_class=HTMLResponse)
async def paid_by_hand(order_id: str, change_id: str, request: Request,
                       staff: ConsoleStaffDep, runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        return await paying.record_paid_by_hand(runtime, staff.principal,
                                                       parse_id("order", order_id),
                                                       parse_id("order change", change_id))
    return await _act(request, staff, runtime, order_id, "change_paid", work)
