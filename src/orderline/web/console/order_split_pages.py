"""The console's "Split order" and "Merge with…" actions: choose units (or the other order),
see what that does (the preview: lines and totals of both orders), then confirm it.

As thin as the API's routes: the forms are read with the API's own request models, the
previews and the changes are the same use cases (``order_splits.service``), the
confirmation sends the versions the preview was made at, and the order page's own handling
shows a refusal next to the form or the 412 page naming who changed the order first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep, parse_id
from orderline.order_splits import service as order_splits
from orderline.order_splits.schemas import MergeRequest, SplitRequest
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

SPLIT_FIELD = "split-lines"
MERGE_FIELD = "merge-other"


def _split_request(request: Request, form: FormData) -> SplitRequest:
    """The units chosen per line (``move_<sku>``) and the note."""
    chosen = units_chosen(form, "move")
    if not chosen:
        raise ValidationFailedOnField(_words(request)(
            "Choose how many units of at least one line to move to the new order."),
            SPLIT_FIELD)
    return SplitRequest.model_validate({
        "lines": chosen, "note": str(form.get("note", "")).strip()[:2000] or None})


def _merge_request(request: Request, form: FormData) -> MergeRequest:
    other = str(form.get("other_order_id", "")).strip()
    if not other:
        raise ValidationFailedOnField(_words(request)(
            "Choose the order to merge into this one."), MERGE_FIELD)
    version = str(form.get("other_version", "")).strip()
    return MergeRequest.model_validate({
        "other_order_id": other, "other_version": int(version) if version.isdigit() else None,
        "note": str(form.get("note", "")).strip()[:2000] or None})


async def _refused(request: Request, staff: Any, runtime: RuntimeDep, order_id: str,
                   field: str, error: Exception) -> Response:
    if isinstance(error, ValidationFailedOnField):
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(error.message, field=error.field)], 422)
    if isinstance(error, ValidationError):
        words = _words(request)
        message = (words("Choose the order to merge into this one.") if field == MERGE_FIELD
                   else words("Each quantity must be a whole number, at most what the line "
                              "has left to ship."))
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(message, field=field)], 422)
    assert isinstance(error, DomainError)
    _raise_page_error(error)
    problems = [FieldError(p.message, field=field) for p in _plain(request, error)]
    return await _show_problems(request, staff, runtime, order_id, problems, 409)


@router.post("/orders/{order_id}/split/preview", response_class=HTMLResponse)
async def split_preview(order_id: str, request: Request, staff: ConsoleStaffDep,
                        runtime: RuntimeDep) -> Response:
    """What moving the chosen units to a new order would do; nothing changes yet."""
    oid = parse_id("order", order_id)
    form = await request.form()
    try:
        body = _split_request(request, form)
        shown = await order_splits.preview_split(runtime, staff.principal, oid, body.units())
    except (ValidationFailedOnField, ValidationError, DomainError) as error:
        return await _refused(request, staff, runtime, order_id, SPLIT_FIELD, error)
    return console_page(request, staff, "console/orders/split.html", preview=shown,
                        chosen=body, order_id=str(oid))


@router.post("/orders/{order_id}/split", response_class=HTMLResponse)
async def split(order_id: str, request: Request, staff: ConsoleStaffDep,
                runtime: RuntimeDep) -> Response:
    """Move the units the preview showed, if the order is still at the previewed version;
    then to the new order's page."""
    made: dict[str, Any] = {}

    async def work(form: FormData, version: int | None) -> Any:
        body = _split_request(request, form)
        made.update(await order_splits.split_order(
            runtime, staff.principal, parse_id("order", order_id), body.units(),
            note=body.note, expected_version=version))
        return made
    answer = await _act(request, staff, runtime, order_id, "split", work)
    if made and isinstance(answer, RedirectResponse):
        return RedirectResponse(f"/console/orders/{made['new_order']['id']}?done=split_from",
                                status_code=303)
    return answer


@router.post("/orders/{order_id}/merge/preview", response_class=HTMLResponse)
async def merge_preview(order_id: str, request: Request, staff: ConsoleStaffDep,
                        runtime: RuntimeDep) -> Response:
    """What merging the chosen order into this one would do; nothing changes yet."""
    oid = parse_id("order", order_id)
    form = await request.form()
    try:
        body = _merge_request(request, form)
        shown = await order_splits.preview_merge(runtime, staff.principal, oid,
                                                 body.other_order_id)
    except (ValidationFailedOnField, ValidationError, DomainError) as error:
        return await _refused(request, staff, runtime, order_id, MERGE_FIELD, error)
    return console_page(request, staff, "console/orders/merge.html", preview=shown,
                        chosen=body, order_id=str(oid))


@router.post("/orders/{order_id}/merge", response_class=HTMLResponse)
async def merge(order_id: str, request: Request, staff: ConsoleStaffDep,
                runtime: RuntimeDep) -> Response:
    """Merge the order the preview showed, if both are still at the previewed versions."""
    async def work(form: FormData, version: int | None) -> Any:
        body = _merge_request(request, form)
        return await order_splits.merge_orders(
            runtime, staff.principal, parse_id("order", order_id), body.other_order_id,
            expected_version=version, other_version=body.other_version, note=body.note)
    return await _act(request, staff, runtime, order_id, "merged", work)
