"""/v1/products, /v1/variants, /v1/locations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from orderline.catalog import archiving
from orderline.catalog import products as catalog
from orderline.catalog.schemas import (
    LocationCreate,
    LocationList,
    LocationOut,
    ProductCreate,
    ProductOut,
    ProductPage,
    ProductUpdate,
    VariantOut,
    VariantsAdd,
    VariantUpdate,
)
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id, refusals
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductOut,
             responses=refusals(401, 403, 409))
async def create_product(body: ProductCreate, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    return await catalog.create_product(runtime, principal, name=body.name,
                                        description=body.description,
                                        variants=[v.to_new() for v in body.variants])


@router.get("/products", response_model=ProductPage, responses=refusals(401, 403))
async def list_products(
    runtime: RuntimeDep, principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100,
                                   description="part of a product's name or of a SKU")] = None,
    include_archived: Annotated[bool, Query(
        description="also archived products, and archived variants")] = False,
) -> dict[str, Any]:
    rows = await catalog.list_products(runtime, principal, limit=limit + 1,
                                       after=decode_cursor(cursor),
                                       include_archived=include_archived, search=q)
    page = rows[:limit]
    more = len(rows) > limit
    return {"data": page,
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more
            else None}


@router.get("/products/{product_id}", response_model=ProductOut, responses=refusals(401, 403))
async def get_product(product_id: str, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    return await catalog.get_product(runtime, principal, parse_id("product", product_id))


@router.patch("/products/{product_id}", response_model=ProductOut,
              responses=refusals(401, 403))
async def update_product(product_id: str, body: ProductUpdate, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """Change the product's name or description; the audit log keeps the old values."""
    return await catalog.update_product(runtime, principal, parse_id("product", product_id),
                                        body.model_dump(exclude_unset=True))


@router.post("/products/{product_id}/archive", response_model=ProductOut,
             responses=refusals(401, 403))
async def archive_product(product_id: str, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    """None of the product's variants can be ordered anew; orders, reservations and stock
    stay. Archiving an archived product changes nothing."""
    return await archiving.set_product_archived(
        runtime, principal, parse_id("product", product_id), archived=True)


@router.post("/products/{product_id}/unarchive", response_model=ProductOut,
             responses=refusals(401, 403))
async def unarchive_product(product_id: str, runtime: RuntimeDep,
                            principal: PrincipalDep) -> dict[str, Any]:
    """The product's variants (those not archived themselves) can be ordered again."""
    return await archiving.set_product_archived(
        runtime, principal, parse_id("product", product_id), archived=False)


@router.post("/products/{product_id}/variants", status_code=status.HTTP_201_CREATED,
             response_model=ProductOut, responses=refusals(401, 403, 409))
async def add_variants(product_id: str, body: VariantsAdd, runtime: RuntimeDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    return await catalog.add_variants(runtime, principal, parse_id("product", product_id),
                                      [v.to_new() for v in body.variants])


@router.patch("/variants/{sku:path}", response_model=VariantOut,  # a SKU may contain '/'
              responses=refusals(401, 403))
async def update_variant(sku: str, body: VariantUpdate, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    if "price" in values:
        values["price_minor"] = values.pop("price")
    return await catalog.update_variant(runtime, principal, sku, values)


# '/archive' after a SKU that may itself hold '/': the path converter takes the rest.
@router.post("/variants/{sku:path}/archive", response_model=VariantOut,
             responses=refusals(401, 403))
async def archive_variant(sku: str, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    """The SKU cannot be added to a cart, a checkout or an order; what it holds stays."""
    return await archiving.set_variant_archived(runtime, principal, sku, archived=True)


@router.post("/variants/{sku:path}/unarchive", response_model=VariantOut,
             responses=refusals(401, 403))
async def unarchive_variant(sku: str, runtime: RuntimeDep,
                            principal: PrincipalDep) -> dict[str, Any]:
    return await archiving.set_variant_archived(runtime, principal, sku, archived=False)


@router.get("/locations", response_model=LocationList, responses=refusals(401, 403))
async def list_locations(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": await catalog.list_locations(runtime, principal)}


@router.post("/locations", status_code=status.HTTP_201_CREATED, response_model=LocationOut,
             responses=refusals(401, 403, 409))
async def create_location(body: LocationCreate, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await catalog.create_location(runtime, principal, code=body.code, name=body.name)
