"""/v1/shipping-zones: where the business delivers, with each zone's shipping methods
(``/methods``) and tax rates (``/tax-rates``). Reading needs the read scope, changing admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from orderline.core.http import RuntimeDep, parse_id, refusals
from orderline.shipping import service as shipping
from orderline.shipping.schemas import (
    MethodCreate,
    MethodOut,
    MethodUpdate,
    TaxRateCreate,
    TaxRateOut,
    TaxRateUpdate,
    ZoneCreate,
    ZoneList,
    ZoneOut,
    ZoneUpdate,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["shipping"])

ZONE = "shipping_zone"
METHOD = "shipping_method"
RATE = "tax_rate"


@router.post("/shipping-zones", status_code=status.HTTP_201_CREATED, response_model=ZoneOut,
             responses=refusals(401, 403))
async def create_zone(body: ZoneCreate, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.create_zone(runtime, principal, name=body.name,
                                      countries=body.countries, regions=body.regions,
                                      postal_prefixes=body.postal_prefixes,
                                      position=body.position)


@router.get("/shipping-zones", response_model=ZoneList, responses=refusals(401, 403))
async def list_zones(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every zone by position, each with its methods (active or not) and tax rates."""
    return {"data": await shipping.list_zones(runtime, principal)}


@router.get("/shipping-zones/{zone_id}", response_model=ZoneOut, responses=refusals(401, 403))
async def get_zone(zone_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.get_zone(runtime, principal, parse_id(ZONE, zone_id))


@router.patch("/shipping-zones/{zone_id}", response_model=ZoneOut, responses=refusals(401, 403))
async def update_zone(zone_id: str, body: ZoneUpdate, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.update_zone(runtime, principal, parse_id(ZONE, zone_id),
                                      name=body.name, countries=body.countries,
                                      regions=body.regions,
                                      postal_prefixes=body.postal_prefixes,
                                      position=body.position)


@router.delete("/shipping-zones/{zone_id}", response_model=ZoneOut, responses=refusals(401, 403))
async def delete_zone(zone_id: str, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    """Delete the zone with its methods and tax rates."""
    return await shipping.delete_zone(runtime, principal, parse_id(ZONE, zone_id))


@router.post("/shipping-zones/{zone_id}/methods", status_code=status.HTTP_201_CREATED,
             response_model=MethodOut, responses=refusals(401, 403))
async def add_method(zone_id: str, body: MethodCreate, runtime: RuntimeDep,
                     principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.add_method(
        runtime, principal, parse_id(ZONE, zone_id), name=body.name, kind=body.kind,
        price=body.price, free_above=body.free_above,
        weight_bands=[band.model_dump() for band in body.weight_bands], active=body.active,
        position=body.position)


@router.patch("/shipping-zones/{zone_id}/methods/{method_id}", response_model=MethodOut,
              responses=refusals(401, 403))
async def update_method(zone_id: str, method_id: str, body: MethodUpdate, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """Change the fields sent; ``free_above: null`` clears the threshold."""
    return await shipping.update_method(runtime, principal, parse_id(ZONE, zone_id),
                                        parse_id(METHOD, method_id),
                                        body.model_dump(exclude_unset=True))


@router.delete("/shipping-zones/{zone_id}/methods/{method_id}", response_model=MethodOut,
               responses=refusals(401, 403))
async def delete_method(zone_id: str, method_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.delete_method(runtime, principal, parse_id(ZONE, zone_id),
                                        parse_id(METHOD, method_id))


@router.post("/shipping-zones/{zone_id}/tax-rates", status_code=status.HTTP_201_CREATED,
             response_model=TaxRateOut, responses=refusals(401, 403))
async def add_tax_rate(zone_id: str, body: TaxRateCreate, runtime: RuntimeDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.add_tax_rate(runtime, principal, parse_id(ZONE, zone_id),
                                       name=body.name, rate=body.rate,
                                       applies_to_shipping=body.applies_to_shipping)


@router.patch("/shipping-zones/{zone_id}/tax-rates/{rate_id}", response_model=TaxRateOut,
              responses=refusals(401, 403))
async def update_tax_rate(zone_id: str, rate_id: str, body: TaxRateUpdate, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.update_tax_rate(runtime, principal, parse_id(ZONE, zone_id),
                                          parse_id(RATE, rate_id), name=body.name,
                                          rate=body.rate,
                                          applies_to_shipping=body.applies_to_shipping)


@router.delete("/shipping-zones/{zone_id}/tax-rates/{rate_id}", response_model=TaxRateOut,
               responses=refusals(401, 403))
async def delete_tax_rate(zone_id: str, rate_id: str, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await shipping.delete_tax_rate(runtime, principal, parse_id(ZONE, zone_id),
                                          parse_id(RATE, rate_id))
