"""The console's Catalog pages: products and their variants (search, archived ones behind a
filter), creating a product with variants, editing a product's name and description and a
variant's name, price and low-stock threshold, archiving and unarchiving (archiving asks for a
confirmation first).

Prices are typed in the business currency's major units ("12.50") and read strictly
(``core.money.parse_major_units``) into the minor units the use cases take. Thin handlers:
each parses, calls the use case the API calls (``catalog.products``, ``catalog.archiving``) as
the staff member, and renders; a refusal is shown next to its field, a change made redirects
(303) to the product's page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from orderline.catalog import archiving
from orderline.catalog import products as catalog
from orderline.catalog.products import NewVariant
from orderline.core.errors import DomainError, NotFound
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id
from orderline.core.money import major_units_text
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.form_input import (
    FormProblem,
    form_text,
    optional_threshold,
    price,
    refusal_errors,
    whole_number,
)
from orderline.web.console.pages import console_page
from orderline.web.console.stock_pages import stock_url
from orderline.web.pages import FieldError

router = APIRouter()

PAGE_SIZE = 25
NEW_VARIANT_ROWS = 3  # blank variant rows on the new-product form; empty rows are skipped


def _urls(product_id: object) -> str:
    return f"/console/catalog/{product_id}"


def _page(request: Request, staff: ConsoleStaff, template: str, **context: Any) -> Response:
    return console_page(request, staff, template, may_change=staff.may(Scope.WRITE),
                        currency=staff.principal.currency, price_text=major_units_text,
                        stock_url=stock_url, **context)


@router.get("/catalog")
async def catalog_list(
    request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
    q: Annotated[str, Query(max_length=100)] = "",
    archived: Annotated[bool, Query()] = False,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    search = q.strip() or None
    rows = await catalog.list_products(runtime, staff.principal, limit=PAGE_SIZE + 1,
                                       after=decode_cursor(cursor), include_archived=archived,
                                       search=search)
    page = rows[:PAGE_SIZE]
    next_cursor = (encode_cursor(page[-1]["created_at"], page[-1]["id"])
                   if len(rows) > PAGE_SIZE else None)
    return _page(request, staff, "console/catalog/list.html", products=page, q=q,
                 archived=archived, next_cursor=next_cursor, paged=cursor is not None)


# --- a new product ---------------------------------------------------------------------------

def _variant_rows(form: FormData | None) -> list[dict[str, str]]:
    rows = []
    for i in range(NEW_VARIANT_ROWS):
        rows.append({k: form_text(form, f"v{i}_{k}") if form is not None else ""
                     for k in ("sku", "name", "price", "threshold", "stock")})
    return rows


@router.get("/catalog/new")
async def new_product(request: Request, staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.WRITE)
    return _page(request, staff, "console/catalog/new.html", form={"name": "",
                                                                    "description": ""},
                 variants=_variant_rows(None))


def _new_variants(rows: list[dict[str, str]], currency: str) -> list[NewVariant]:
    """The filled rows as variants; the first problem found is raised for its field."""
    variants = []
    for i, row in enumerate(rows):
        if not any(row.values()):
            continue
        if not row["sku"]:
            raise FormProblem(f"v{i}_sku", "sku_missing")
        if not row["name"]:
            raise FormProblem(f"v{i}_name", "name_missing")
        variants.append(NewVariant(
            sku=row["sku"], name=row["name"],
            price=price(row["price"], currency, field=f"v{i}_price"),
            low_stock_threshold=optional_threshold(row["threshold"], field=f"v{i}_threshold"),
            initial_stock=whole_number(row["stock"] or "0", field=f"v{i}_stock", minimum=0,
                                       maximum=1_000_000_000)))
    if not variants:
        raise FormProblem("v0_sku", "sku_missing")
    return variants


@router.post("/catalog/new")
async def create_product(request: Request, runtime: RuntimeDep,
                         staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.WRITE)
    form = await request.form()
    fields = {"name": form_text(form, "name"), "description": form_text(form, "description")}
    rows = _variant_rows(form)
    try:
        if not fields["name"]:
            raise FormProblem("name", "name_missing")
        variants = _new_variants(rows, staff.principal.currency)
        product = await catalog.create_product(runtime, staff.principal, name=fields["name"][:300],
                                               description=fields["description"][:10_000],
                                               variants=variants)
    except (FormProblem, DomainError) as refused:
        return _page(request, staff, "console/catalog/new.html", status_code=422,
                     errors=refusal_errors(request, refused, field=_sku_field(refused, rows)),
                     form=fields, variants=rows)
    return RedirectResponse(f"{_urls(product['id'])}?done=created", status_code=303)


def _sku_field(refused: Exception, rows: list[dict[str, str]]) -> str:
    """Which variant row a refusal of SKUs is about (a SKU taken, or malformed)."""
    if isinstance(refused, DomainError):
        named = refused.details.get("skus") or [refused.details.get("sku")]
        for i, row in enumerate(rows):
            if row["sku"] and row["sku"] in named:
                return f"v{i}_sku"
    return "v0_sku"


# --- a product -------------------------------------------------------------------------------

async def _product(runtime: RuntimeDep, staff: ConsoleStaff, product_id: str) -> dict[str, Any]:
    return await catalog.get_product(runtime, staff.principal, parse_id("product", product_id))


def _variant_of(product: dict[str, Any], sku: str) -> dict[str, Any]:
    """The product's variant with this SKU; a SKU of another product (or business) is 404."""
    for variant in product["variants"]:
        if variant["sku"] == sku:
            return dict(variant)
    raise NotFound("variant", sku)


async def _product_page(request: Request, runtime: RuntimeDep, staff: ConsoleStaff,
                        product_id: str, *, status_code: int = 200,
                        errors: list[FieldError] | None = None, form: dict[str, str] | None = None,
                        new_variant: dict[str, str] | None = None,
                        done: str | None = None) -> Response:
    product = await _product(runtime, staff, product_id)
    return _page(request, staff, "console/catalog/product.html", status_code=status_code,
                 errors=errors or [], product=product, done=done,
                 form=form or {"name": product["name"], "description": product["description"]},
                 new_variant=new_variant or {k: "" for k in ("sku", "name", "price",
                                                               "threshold", "stock")})


@router.get("/catalog/{product_id}")
async def product_page(product_id: str, request: Request, runtime: RuntimeDep,
                       staff: ConsoleStaffDep,
                       done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    return await _product_page(request, runtime, staff, product_id, done=done)


@router.post("/catalog/{product_id}")
async def edit_product(product_id: str, request: Request, runtime: RuntimeDep,
                       staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.WRITE)
    form = await request.form()
    fields = {"name": form_text(form, "name"), "description": form_text(form, "description")}
    try:
        if not fields["name"]:
            raise FormProblem("name", "name_missing")
        await catalog.update_product(runtime, staff.principal, parse_id("product", product_id),
                                     {"name": fields["name"][:300],
                                      "description": fields["description"][:10_000]})
    except (FormProblem, DomainError) as refused:
        if isinstance(refused, NotFound):
            raise
        return await _product_page(request, runtime, staff, product_id, status_code=422,
                                   errors=refusal_errors(request, refused, field="name"),
                                   form=fields)
    return RedirectResponse(f"{_urls(product_id)}?done=saved", status_code=303)


@router.post("/catalog/{product_id}/variants")
async def add_variant(product_id: str, request: Request, runtime: RuntimeDep,
                      staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.WRITE)
    form = await request.form()
    row = {k: form_text(form, f"v0_{k}") for k in ("sku", "name", "price", "threshold",
                                                    "stock")}
    try:
        variants = _new_variants([row], staff.principal.currency)
        await catalog.add_variants(runtime, staff.principal, parse_id("product", product_id),
                                   variants)
    except (FormProblem, DomainError) as refused:
        if isinstance(refused, NotFound):
            raise
        return await _product_page(request, runtime, staff, product_id, status_code=422,
                                   errors=refusal_errors(request, refused, field="v0_sku"),
                                   new_variant=row)
    return RedirectResponse(f"{_urls(product_id)}?done=variant_added", status_code=303)


@router.get("/catalog/{product_id}/archive")
async def confirm_archive(product_id: str, request: Request, runtime: RuntimeDep,
                          staff: ConsoleStaffDep,
                          sku: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """Asks before archiving the product, or one variant (``sku``)."""
    staff.principal.require(Scope.WRITE)
    product = await _product(runtime, staff, product_id)
    variant = _variant_of(product, sku) if sku else None
    return _page(request, staff, "console/catalog/archive.html", product=product,
                 variant=variant)


@router.post("/catalog/{product_id}/archive")
async def archive(product_id: str, request: Request, runtime: RuntimeDep,
                  staff: ConsoleStaffDep) -> Response:
    return await _set_archived(product_id, request, runtime, staff, archived=True)


@router.post("/catalog/{product_id}/unarchive")
async def unarchive(product_id: str, request: Request, runtime: RuntimeDep,
                    staff: ConsoleStaffDep) -> Response:
    return await _set_archived(product_id, request, runtime, staff, archived=False)


async def _set_archived(product_id: str, request: Request, runtime: RuntimeDep,
                        staff: ConsoleStaff, *, archived: bool) -> Response:
    staff.principal.require(Scope.WRITE)
    sku = form_text(await request.form(), "sku")
    if sku:
        _variant_of(await _product(runtime, staff, product_id), sku)
        await archiving.set_variant_archived(runtime, staff.principal, sku, archived=archived)
    else:
        await archiving.set_product_archived(runtime, staff.principal,
                                             parse_id("product", product_id), archived=archived)
    done = ("variant_" if sku else "") + ("archived" if archived else "unarchived")
    return RedirectResponse(f"{_urls(product_id)}?done={done}", status_code=303)


# --- a variant -------------------------------------------------------------------------------

@router.get("/catalog/{product_id}/variant")
async def variant_page(product_id: str, request: Request, runtime: RuntimeDep,
                       staff: ConsoleStaffDep,
                       sku: Annotated[str, Query(max_length=100)]) -> Response:
    product = await _product(runtime, staff, product_id)
    variant = _variant_of(product, sku)
    return _page(request, staff, "console/catalog/variant.html", product=product,
                 variant=variant, form=_variant_form(variant))


def _variant_form(variant: dict[str, Any]) -> dict[str, str]:
    threshold = variant["low_stock_threshold"]
    return {"name": variant["name"],
            "price": major_units_text(variant["price_minor"], variant["currency"]),
            "threshold": "" if threshold is None else str(threshold)}


@router.post("/catalog/{product_id}/variant")
async def edit_variant(product_id: str, request: Request, runtime: RuntimeDep,
                       staff: ConsoleStaffDep,
                       sku: Annotated[str, Query(max_length=100)]) -> Response:
    staff.principal.require(Scope.WRITE)
    product = await _product(runtime, staff, product_id)
    variant = _variant_of(product, sku)
    form = await request.form()
    fields = {k: form_text(form, k) for k in ("name", "price", "threshold")}
    try:
        if not fields["name"]:
            raise FormProblem("name", "name_missing")
        values = {"name": fields["name"][:300],
                  "price_minor": price(fields["price"], variant["currency"], field="price"),
                  "low_stock_threshold": optional_threshold(fields["threshold"],
                                                            field="threshold")}
        # Only what changed: the audit log then names exactly what the person changed.
        changed = {k: v for k, v in values.items() if v != variant[k]}
        if changed:
            await catalog.update_variant(runtime, staff.principal, sku, changed)
    except (FormProblem, DomainError) as refused:
        if isinstance(refused, NotFound):
            raise
        return _page(request, staff, "console/catalog/variant.html", status_code=422,
                     errors=refusal_errors(request, refused, field="price"), product=product,
                     variant=variant, form=fields)
    return RedirectResponse(f"{_urls(product_id)}?done=variant_saved", status_code=303)

