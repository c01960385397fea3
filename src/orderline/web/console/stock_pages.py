"""The console's Stock pages: levels per SKU and location (low stock highlighted, filtered by
location and by low stock, in pages that never cut a SKU apart), a SKU's page with its levels,
an adjustment, a stock-take and a transfer form and its movement ledger, and the
reconciliation status.

Thin handlers: each parses the query or the form, calls the use case the API calls
(``catalog.inventory``) as the staff member, and renders. A refused change re-renders the SKU's
page with the refusal next to its field; a change made redirects (303) back to it.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from orderline.catalog import inventory, transfers
from orderline.catalog import products as catalog
from orderline.catalog.inventory import MAX_ADJUSTMENT
from orderline.catalog.rules import MANUAL_REASONS, MovementReason
from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep
from orderline.idempotency.service import KeyedRequest, run_once
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.form_input import (
    FormProblem,
    form_text,
    refusal_errors,
    whole_number,
)
from orderline.web.console.pages import console_page
from orderline.web.pages import FieldError

router = APIRouter()

PAGE_SIZE = 50
LEDGER_PAGE = 50
# The order the reasons are offered in: the common ones first.
REASONS = [MovementReason.RECEIPT, MovementReason.CORRECTION, MovementReason.DAMAGE,
           MovementReason.RETURN]
assert set(REASONS) == MANUAL_REASONS
FORM_FIELDS = ("kind", "location", "delta", "counted", "reason", "note", "request_key",
               "from_location", "to_location", "quantity")


def stock_url(sku: str) -> str:
    return "/console/stock/" + quote(sku, safe="/")


@router.get("/stock")
async def stock_list(
    request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
    location: Annotated[str | None, Query(max_length=40)] = None,
    low: Annotated[bool, Query()] = False,
    archived: Annotated[bool, Query()] = False,
    after: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    location = location or None
    rows, next_after = await inventory.list_stock(
        runtime, staff.principal, limit=PAGE_SIZE, after_sku=after or None, location=location,
        low_stock=True if low else None, include_archived=archived)
    locations = await catalog.list_locations(runtime, staff.principal)
    return console_page(request, staff, "console/stock/list.html", rows=rows,
                        next_after=next_after, locations=locations, location=location,
                        low=low, archived=archived, after=after, stock_url=stock_url,
                        may_change=staff.may(Scope.WRITE))


@router.get("/stock-reconciliation")
async def reconciliation(request: Request, runtime: RuntimeDep,
                         staff: ConsoleStaffDep) -> Response:
    """Whether the ledger explains every stock level: a fragment for the stock page's htmx
    request, a page of its own otherwise."""
    staff.principal.require(Scope.READ)
    drift = await inventory.reconcile(runtime, staff.principal.business_id)
    template = ("console/stock/_reconciliation.html"
                if request.headers.get("HX-Request") == "true"
                else "console/stock/reconciliation.html")
    return console_page(request, staff, template, drift=drift, stock_url=stock_url)


async def _sku_page(request: Request, runtime: RuntimeDep, staff: ConsoleStaff, sku: str, *,
                    before: int | None = None, errors: list[FieldError] | None = None,
                    form: dict[str, str] | None = None, done: str | None = None,
                    status_code: int = 200) -> Response:
    stock = await inventory.stock_of(runtime, staff.principal, sku)
    movements = await inventory.list_movements(runtime, staff.principal, sku=sku,
                                               before_id=before, limit=LEDGER_PAGE + 1)
    more = len(movements) > LEDGER_PAGE
    movements = movements[:LEDGER_PAGE]
    locations = await catalog.list_locations(runtime, staff.principal)
    return console_page(
        request, staff, "console/stock/sku.html", status_code=status_code,
        errors=errors or [], stock=stock, movements=movements, locations=locations,
        next_before=movements[-1]["id"] if more else None, before=before,
        reasons=REASONS, form={**dict.fromkeys(FORM_FIELDS, ""), **(form or {})}, done=done,
        stock_url=stock_url, may_change=staff.may(Scope.WRITE),
        # A new key for each form shown: pressing its button twice adjusts once (as an
        # Idempotency-Key does for the API); a refused form keeps its key for the retry.
        request_key=(form or {}).get("request_key") or uuid.uuid4().hex)


@router.get("/stock/{sku:path}")
async def sku_page(sku: str, request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                   before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
                   done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    return await _sku_page(request, runtime, staff, sku, before=before, done=done)


@router.post("/stock/{sku:path}/adjust")
async def adjust(sku: str, request: Request, runtime: RuntimeDep,
                 staff: ConsoleStaffDep) -> Response:
    """Add or remove units (a signed delta) with a reason, or record a stock-take (the
    counted quantity: ``kind=count``)."""
    staff.principal.require(Scope.WRITE)
    form = await request.form()
    fields = {k: form_text(form, k) for k in FORM_FIELDS}
    counting = fields["kind"] == "count"
    try:
        if counting:
            counted = whole_number(fields["counted"], field="counted", minimum=0,
                                   maximum=MAX_ADJUSTMENT)
            delta = None
            reason = MovementReason.CORRECTION
        else:
            delta = whole_number(fields["delta"], field="delta", minimum=-MAX_ADJUSTMENT,
                                 maximum=MAX_ADJUSTMENT, signed=True, nonzero=True)
            counted = None
            try:
                reason = MovementReason(fields["reason"])
            except ValueError:
                raise FormProblem("reason", "choose_reason") from None
        location, note = fields["location"] or None, fields["note"][:1000]
        await run_once(runtime, KeyedRequest(
            business_id=staff.principal.business_id, operation="console.inventory.adjust",
            key=fields["request_key"] or None, status_code=200, request={
                "sku": sku, "location": location, "reason": reason.value, "note": note,
                "delta": delta, "set_on_hand": counted}),
            lambda claim: inventory.adjust_stock(
                runtime, staff.principal, sku=sku, location=location, reason=reason,
                note=note, delta=delta, set_on_hand=counted, claim=claim))
    except FormProblem as problem:
        return await _sku_page(request, runtime, staff, sku, form=fields, status_code=422,
                               errors=refusal_errors(request, problem, field=problem.field))
    except DomainError as refused:
        if refused.code == "not_found" and refused.details.get("resource") == "variant":
            raise
        field = "counted" if counting else "delta"
        return await _sku_page(request, runtime, staff, sku, form=fields, status_code=422,
                               errors=refusal_errors(request, refused, field=field))
    done = "counted" if counting else "adjusted"
    return RedirectResponse(f"{stock_url(sku)}?done={done}", status_code=303)



@router.post("/stock/{sku:path}/transfer")
async def transfer(sku: str, request: Request, runtime: RuntimeDep,
                   staff: ConsoleStaffDep) -> Response:
    """Move free units of the SKU from one location to another (a ledger pair)."""
    staff.principal.require(Scope.WRITE)
    form = await request.form()
    fields = {k: form_text(form, k) for k in FORM_FIELDS}
    fields["kind"] = "transfer"
    try:
        quantity = whole_number(fields["quantity"], field="quantity", minimum=1,
                                maximum=MAX_ADJUSTMENT)
        source, target, note = fields["from_location"], fields["to_location"], \
            fields["note"][:1000]
        await run_once(runtime, KeyedRequest(
            business_id=staff.principal.business_id, operation="console.inventory.transfer",
            key=fields["request_key"] or None, status_code=201, request={
                "sku": sku, "from_location": source, "to_location": target,
                "quantity": quantity, "note": note}),
            lambda claim: transfers.transfer_stock(
                runtime, staff.principal, sku=sku, from_location=source, to_location=target,
                quantity=quantity, note=note, claim=claim))
    except FormProblem as problem:
        return await _sku_page(request, runtime, staff, sku, form=fields, status_code=422,
                               errors=refusal_errors(request, problem, field=problem.field))
    except DomainError as refused:
        if refused.code == "not_found" and refused.details.get("resource") == "variant":
            raise
        return await _sku_page(request, runtime, staff, sku, form=fields, status_code=422,
                               errors=refusal_errors(request, refused, field="quantity"))
    return RedirectResponse(f"{stock_url(sku)}?done=transferred", status_code=303)
