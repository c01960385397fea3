"""/v1/imports: stock levels and variants from a CSV file, checked row by row, applied whole
or not at all."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request, Response

from orderline.catalog import stock_import, variant_import
from orderline.catalog.import_rules import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from orderline.catalog.import_schemas import StockImport, VariantImport
from orderline.core.errors import ImportTooLarge, ImportUnreadable
from orderline.core.http import RuntimeDep, refusals
from orderline.core.runtime import Runtime
from orderline.idempotency.headers import IdempotencyKeyHeader, send
from orderline.idempotency.service import Claim, KeyedRequest, run_once
from orderline.tenancy.deps import PrincipalDep
from orderline.tenancy.rules import Principal

router = APIRouter(prefix="/v1/imports", tags=["imports"])

_FILE = {"schema": {"type": "string", "format": "binary"}}
IMPORT_BODY: dict[str, Any] = {"required": True, "content": {
    "text/csv": _FILE,
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}}}}

DryRun = Annotated[bool, Query(description="check the file and answer what would change, "
                                           "changing nothing")]
LIMITS = (f"At most {MAX_IMPORT_BYTES} bytes (413 `import_too_large`) and {MAX_IMPORT_ROWS} "
          "rows (422 `import_too_many_rows`). UTF-8 (a byte-order mark is fine), "
          "comma-separated, a header row. A file with any bad row is refused whole with 422 "
          "`import_rejected` and `details.rows` = [{row, column, reason, message}]; nothing "
          "changes. With an `Idempotency-Key`, a retry of the same file answers as the first "
          "did.")


async def _file_of(request: Request) -> bytes:
    """The file: the ``file`` part of a multipart form, or the raw body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=5,
                                max_part_size=MAX_IMPORT_BYTES + 1) as form:
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise ImportUnreadable("Send the CSV file as the form field 'file'.",
                                       details={"reason": "no_file", "field": "file"})
            data = await part.read()
    else:
        data = await request.body()
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportTooLarge(f"Import files are limited to {MAX_IMPORT_BYTES} bytes; split "
                             "this one into several.", details={"max_bytes": MAX_IMPORT_BYTES})
    return data


class Importer(Protocol):
    """``stock_import.import_stock`` or ``variant_import.import_variants``."""

    def __call__(self, runtime: Runtime, principal: Principal, data: bytes, *,
                 dry_run: bool = ..., claim: Claim = ...) -> Awaitable[dict[str, Any]]: ...


async def _imported(request: Request, runtime: Runtime, principal: Principal,
                    response: Response, operation: str, importer: Importer, *, dry_run: bool,
                    key: str | None) -> dict[str, Any]:
    """The uploaded file through ``importer``; with an ``Idempotency-Key``, a retry of the
    same file answers as the first did."""
    data = await _file_of(request)
    keyed = KeyedRequest(business_id=principal.business_id, operation=operation, key=key,
                         status_code=200, request={"sha256": hashlib.sha256(data).hexdigest(),
                                                   "dry_run": dry_run})
    answer = await run_once(runtime, keyed, lambda claim: importer(
        runtime, principal, data, dry_run=dry_run, claim=claim))
    result: dict[str, Any] = send(response, answer)
    return result


@router.post("/stock", response_model=StockImport,
             responses=refusals(400, 401, 403, 409, 413),
             openapi_extra={"requestBody": IMPORT_BODY},
             description="Set stock levels from a CSV file with the columns `sku`, `on_hand` "
             "and "
             "optionally `location` (a location's code; empty: the default location) and "
             "`note`. Each changed level gets one stock ledger movement with the reason "
             "`import`; a count below the units held for orders is refused. Sending the same "
             "file again changes nothing. Write scope. " + LIMITS)
async def import_stock(request: Request, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response, dry_run: DryRun = False,
                       idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    return await _imported(request, runtime, principal, response, "imports.stock",
                           stock_import.import_stock, dry_run=dry_run, key=idempotency_key)


@router.post("/variants", response_model=VariantImport,
             responses=refusals(400, 401, 403, 409, 413),
             openapi_extra={"requestBody": IMPORT_BODY},
             description="Create or change variants from a CSV file with the column `sku` and "
             "any of `product` (the product's name), `name`, `price` (a decimal in the "
             "business's currency, like 12.50) or `price_minor` (minor units), "
             "`low_stock_threshold` and `weight_grams`. An empty cell leaves its field as it "
             "is; a new SKU needs product, name and price (a product of that name is created "
             "when the business has none). Edits are audited. Write scope. " + LIMITS)
async def import_variants(request: Request, runtime: RuntimeDep, principal: PrincipalDep,
                          response: Response, dry_run: DryRun = False,
                          idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    return await _imported(request, runtime, principal, response, "imports.variants",
                           variant_import.import_variants, dry_run=dry_run,
                           key=idempotency_key)
