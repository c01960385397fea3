"""/v1/orders/{id}/shipments: ship some units (or the rest), list the parcels, mark one
delivered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from orderline.core.http import RuntimeDep, VersionDep, bind_order_id, etag, parse_id, refusals
from orderline.orders.fulfilment import service as shipments
from orderline.orders.fulfilment.schemas import ShipmentCreate, ShipmentList, ShipmentResult
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


@router.post("/{order_id}/shipments", response_model=ShipmentResult, status_code=201,
             responses=refusals(401, 403, 404, 409, 412))
async def create_shipment(order_id: str, body: ShipmentCreate, runtime: RuntimeDep,
                          principal: PrincipalDep, version: VersionDep,
                          response: Response) -> dict[str, Any]:
    """Ship some units of the order's lines (or every unit left) from a location, with the
    carrier and tracking. Units never ship twice: more than a line has left is refused
    (``shipment_exceeds_order``), as is a location with too few free units
    (``insufficient_stock``)."""
    result = await shipments.create_shipment(runtime, principal, parse_id("order", order_id),
                                             body.to_parcel(), expected_version=version)
    response.headers["ETag"] = etag(result["order"]["version"])
    return result


@router.get("/{order_id}/shipments", response_model=ShipmentList,
            responses=refusals(401, 403, 404))
async def list_shipments(order_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """The order's shipments, first one first, with their units and tracking."""
    return {"data": await shipments.list_shipments(runtime, principal,
                                                   parse_id("order", order_id))}


@router.post("/{order_id}/shipments/{shipment_id}/delivered", response_model=ShipmentResult,
             responses=refusals(401, 403, 404, 409, 412))
async def mark_delivered(order_id: str, shipment_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep, version: VersionDep,
                         response: Response) -> dict[str, Any]:
    """The shipment arrived. Once every unit has shipped and every shipment arrived, the
    order is ``delivered``."""
    result = await shipments.mark_delivered(
        runtime, principal, parse_id("order", order_id), parse_id("shipment", shipment_id),
        expected_version=version)
    response.headers["ETag"] = etag(result["order"]["version"])
    return result
