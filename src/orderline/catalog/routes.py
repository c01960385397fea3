"""/v1/products, /v1/variants, /v1/locations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from orderline.catalog import products as catalog
from orderline.catalog.schemas import (
    LocationCreate,
    LocationList,
    LocationOut,
    ProductCreate,
    ProductOut,
    ProductPage,
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
async def list_products(runtime: RuntimeDep, principal: PrincipalDep,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        cursor: str | None = None) -> dict[str, Any]:
    rows = await catalog.list_products(runtime, principal, limit=limit + 1,
                                       after=decode_cursor(cursor))
    page = rows[:limit]
    more = len(rows) > limit
    return {"data": page,
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more
            else None}


@router.get("/products/{product_id}", response_model=ProductOut, responses=refusals(401, 403))
async def get_product(product_id: str, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    return await catalog.get_product(runtime, principal, parse_id("product", product_id))


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


@router.get("/locations", response_model=LocationList, responses=refusals(401, 403))
async def list_locations(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": await catalog.list_locations(runtime, principal)}


@router.post("/locations", status_code=status.HTTP_201_CREATED, response_model=LocationOut,
             responses=refusals(401, 403, 409))
async def create_location(body: LocationCreate, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await catalog.create_location(runtime, principal, code=body.code, name=body.name)
