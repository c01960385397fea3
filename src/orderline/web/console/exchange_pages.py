"""The console's "Exchange items" action in an order's Returns section: choose the shipped
units coming back and the replacement (SKU and quantity), see what that does (the preview:
the replacement priced, the units' value, who owes whom), then confirm it.

As thin as the API's routes: the forms are read with the API's own request model, the
preview and the exchange are the same use cases (``exchanges.service``), as the logged-in
member, whose role's scopes they check (write, as returns); the confirmation sends the
version the preview was made at, and the order page's own handling shows a refusal next to
the form, the 412 page naming who changed the order first, or the 404 page for another
business's order.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep, parse_id
from orderline.exchanges import service as exchanges
from orderline.exchanges.schemas import ExchangeRequest
from orderline.returns.rules import ReturnReason
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

FIELD = "exchange"


def _whole(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _exchange_request(request: Request, form: FormData) -> ExchangeRequest:
    """The units coming back per line (``back_<sku>``), the reason, the replacement
    (``replacement_sku`` / ``replacement_quantity``) and the note."""
    say = _words(request)
    back: list[dict[str, Any]] = []
    for sku in form.getlist("line_sku"):
        text = str(form.get(f"back_{sku}", "")).strip()
        if text and text != "0":
            back.append({"sku": str(sku), "quantity": _whole(text)})
    if not back:
        raise ValidationFailedOnField(say(
            "Choose how many units of at least one line come back."), FIELD)
    sku = str(form.get("replacement_sku", "")).strip()
    if not sku:
        raise ValidationFailedOnField(say("Name the SKU to send instead."), FIELD)
    reason = str(form.get("reason", ""))
    return ExchangeRequest.model_validate({
        "lines": back,
        "reason": reason if reason in set(ReturnReason) else ReturnReason.OTHER.value,
        "replacement": [{"sku": sku, "quantity": _whole(
            str(form.get("replacement_quantity", "1")).strip() or "1")}],
        "note": str(form.get("note", "")).strip()[:2000] or None})


@router.post("/orders/{order_id}/exchange/preview", response_class=HTMLResponse)
async def preview(order_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    """What the exchange would do; nothing changes yet."""
    oid = parse_id("order", order_id)
    form = await request.form()
    try:
        body = _exchange_request(request, form)
        shown = await exchanges.preview_exchange(runtime, staff.principal, oid, body.units(),
                                                 body.replacement_lines())
    except ValidationFailedOnField as unreadable:
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(unreadable.message, field=FIELD)], 422)
    except ValidationError:
        message = _words(request)("Each quantity must be a whole number of at least 1, and "
                                  "a SKU has no spaces.")
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(message, field=FIELD)], 422)
    except DomainError as refused:
        _raise_page_error(refused)
        problems = [FieldError(p.message, field=FIELD) for p in _plain(request, refused)]
        return await _show_problems(request, staff, runtime, order_id, problems, 409)
    return console_page(request, staff, "console/orders/exchange.html", preview=shown,
                        chosen=body, order_id=str(oid))


@router.post("/orders/{order_id}/exchange", response_class=HTMLResponse)
async def exchange(order_id: str, request: Request, staff: ConsoleStaffDep,
                   runtime: RuntimeDep) -> Response:
    """Make the exchange the preview showed, if the order is still at the previewed
    version; then back to the order, its return and its replacement order listed."""
    async def work(form: FormData, version: int | None) -> Any:
        body = _exchange_request(request, form)
        return await exchanges.make_exchange(
            runtime, staff.principal, parse_id("order", order_id), body.units(),
            body.replacement_lines(), reason=body.return_reason(), note=body.note,
            expected_version=version)
    return await _act(request, staff, runtime, order_id, "exchanged", work)
