"""The console's CSV downloads and uploads.

- Downloads: the order list's "Download CSV" (with the filters shown), the customers', and a
  SKU's or the whole stock ledger, through the same export use cases as ``/v1/exports`` (read
  scope, the read replica, streamed page by page) as the staff member.
- Uploads: stock levels (Stock page) and variants (Catalog page) from a CSV file, with "Check
  only" (a dry run). A refused file is shown back as a table of every bad row and why; a
  whole-file refusal (not UTF-8, too large, wrong columns) in the error summary. Write scope
  (owners, admins, operations); others do not see the form and get the 403 page if they post.

Thin handlers: parse, call the use case, render; the forms carry the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile
from starlette.responses import Response

from orderline.catalog import stock_import, variant_import
from orderline.catalog.import_rules import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from orderline.core.errors import DomainError, ImportRejected, ImportTooLarge, ImportUnreadable
from orderline.core.http import RuntimeDep
from orderline.core.runtime import Runtime
from orderline.exports import service as exports
from orderline.tenancy.rules import Principal, Scope
from orderline.web.console import order_pages
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.pages import console_page, translated
from orderline.web.pages import FieldError

router = APIRouter()


def _(message: str) -> str:
    """Marks a message for the catalogs; ``translated`` puts it in the page's language."""
    return message


def _download(chunks: AsyncIterator[bytes], name: str) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


# --- downloads ---------------------------------------------------------------------------------

@router.get("/orders.csv")
async def orders_csv(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep) -> Response:
    """The orders the list shows with the same filters (its search, status, dates...)."""
    _raw, f, _problems = order_pages.order_filters(request)
    return _download(await exports.orders_csv(runtime, staff.principal, f,
                                              batch=exports.EXPORT_BATCH), "orders.csv")


@router.get("/order-lines.csv")
async def order_lines_csv(request: Request, runtime: RuntimeDep,
                          staff: ConsoleStaffDep) -> Response:
    _raw, f, _problems = order_pages.order_filters(request)
    return _download(await exports.orders_csv(runtime, staff.principal, f, lines=True,
                                              batch=exports.EXPORT_BATCH), "order-lines.csv")


@router.get("/customers.csv")
async def customers_csv(runtime: RuntimeDep, staff: ConsoleStaffDep,
                        q: Annotated[str, Query(max_length=200)] = "") -> Response:
    return _download(await exports.customers_csv(runtime, staff.principal,
                                                 search=q.strip() or None, phone=None,
                                                 email=None, batch=exports.EXPORT_BATCH),
                     "customers.csv")


@router.get("/stock-movements.csv")
async def stock_movements_csv(runtime: RuntimeDep, staff: ConsoleStaffDep,
                              sku: Annotated[str, Query(max_length=100)] = "") -> Response:
    return _download(await exports.stock_movements_csv(runtime, staff.principal,
                                                       sku=sku or None,
                                                       batch=exports.EXPORT_BATCH),
                     "stock-movements.csv")


# --- uploads -----------------------------------------------------------------------------------


# The reasons a row is refused for, in plain words (the use cases' reason codes).
ROW_REASONS = {
    "missing": _("This cell is empty"),
    "not_a_whole_number": _("Write a whole number of 0 or more, like 12"),
    "too_large": _("This number is too large"),
    "too_long": _("This text is too long"),
    "duplicate": _("An earlier row already sets this"),
    "too_many_cells": _("This row has more cells than the header has columns"),
    "invalid_sku": _("A SKU is letters, digits, '.', '_', '-' or '/'"),
    "two_prices": _("Give the price once: in price or in price_minor"),
    "invalid_price": _("Write the price with a dot for any decimals, like 12.50"),
    "needed_for_new_sku": _("A new SKU needs its product, name and price"),
    "ambiguous_product": _("Several products have this name: rename them apart first"),
    "unknown_sku": _("Your shop has no such SKU"),
    "unknown_location": _("Your shop has no location with this code"),
    "below_reserved": _("Fewer units than are held for orders"),
}
FILE_REFUSALS = {
    "not_utf8": _("The file is not UTF-8 text: save it as \"CSV UTF-8\" and choose it again"),
    "columns": _("The first row must name the columns shown below, separated by commas"),
    "no_header": _("The file is empty"),
    "no_rows": _("The file has no rows under its header"),
    "no_file": _("Choose a CSV file"),
}


@router.get("/stock-import")
async def stock_import_page(request: Request, staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.WRITE)
    return _import_page(request, staff, "stock")


@router.post("/stock-import")
async def stock_import_upload(request: Request, runtime: RuntimeDep,
                              staff: ConsoleStaffDep) -> Response:
    return await _upload(request, runtime, staff, "stock",
                         lambda rt, who, data, dry: stock_import.import_stock(
                             rt, who, data, dry_run=dry))


@router.get("/catalog-import")
async def variant_import_page(request: Request, staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.WRITE)
    return _import_page(request, staff, "variants")


@router.post("/catalog-import")
async def variant_import_upload(request: Request, runtime: RuntimeDep,
                                staff: ConsoleStaffDep) -> Response:
    return await _upload(request, runtime, staff, "variants",
                         lambda rt, who, data, dry: variant_import.import_variants(
                             rt, who, data, dry_run=dry))


def _import_page(request: Request, staff: ConsoleStaff, kind: str, *, status_code: int = 200,
                 errors: list[FieldError] | None = None, rows: list[dict[str, Any]] | None = None,
                 result: dict[str, Any] | None = None, dry_run: bool = False) -> Response:
    return console_page(request, staff, "console/stock/import.html", status_code=status_code,
                        errors=errors or [], kind=kind, bad_rows=rows or [], result=result,
                        dry_run=dry_run, max_bytes=MAX_IMPORT_BYTES, max_rows=MAX_IMPORT_ROWS,
                        reasons={k: translated(request, v) for k, v in ROW_REASONS.items()})


async def _upload(request: Request, runtime: Runtime, staff: ConsoleStaff, kind: str,
                  run: Callable[[Runtime, Principal, bytes, bool], Awaitable[dict[str, Any]]]
                  ) -> Response:
    # Read (and closed) before anything may refuse, so the upload's files never outlive it.
    async with request.form(max_files=1, max_fields=5,
                            max_part_size=MAX_IMPORT_BYTES + 1) as form:
        dry_run = form.get("dry_run") == "true"
        part = form.get("file")
        data = await part.read() if isinstance(part, UploadFile) else b""
    staff.principal.require(Scope.WRITE)
    try:
        if not data:
            raise ImportUnreadable("Choose a CSV file.", details={"reason": "no_file"})
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportTooLarge("too large", details={"max_bytes": MAX_IMPORT_BYTES})
        result = await run(runtime, staff.principal, data, dry_run)
    except ImportRejected as refused:
        message = translated(request, _("The file was not imported: fix the rows below and "
                                        "choose it again. Nothing changed."))
        return _import_page(request, staff, kind, status_code=422, dry_run=dry_run,
                            errors=[FieldError(message, field="bad-rows")],
                            rows=refused.details["rows"])
    except DomainError as refused:
        return _import_page(request, staff, kind, status_code=422, dry_run=dry_run,
                            errors=[FieldError(_file_problem(request, refused), field="file")])
    return _import_page(request, staff, kind, result=result, dry_run=dry_run)


def _file_problem(request: Request, refused: DomainError) -> str:
    if refused.code == "import_too_large":
        return translated(request, _("The file is larger than %(bytes)s bytes: split it"),
                          bytes=MAX_IMPORT_BYTES)
    if refused.code == "import_too_many_rows":
        return translated(request, _("The file has more than %(rows)s rows: split it"),
                          rows=MAX_IMPORT_ROWS)
    reason = str(refused.details.get("reason", ""))
    if refused.code == "import_unreadable" and reason in FILE_REFUSALS:
        return translated(request, FILE_REFUSALS[reason])
    return refused.message
