"""/v1/carts: server-side carts, reached with a merchant API key or the cart's own token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from orderline.checkout import carts
from orderline.checkout.cart_schemas import (
    CartCreate,
    CartCreated,
    CartLineAdd,
    CartLineSet,
    CartOut,
)
from orderline.checkout.deps import CartCallerDep
from orderline.core.http import RuntimeDep, VersionDep, etag, parse_id, refusals
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["carts"])


def _with_etag(response: Response, cart: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = etag(cart["version"])
    return cart


@router.post("/carts", status_code=status.HTTP_201_CREATED, response_model=CartCreated,
             responses=refusals(401, 403, 404))
async def create_cart(body: CartCreate, runtime: RuntimeDep, principal: PrincipalDep,
                      response: Response) -> dict[str, Any]:
    """A new, empty cart (needs an API key with the write scope). The answer holds the cart's
    token, shown only here: with ``X-Cart-Token`` it opens this one cart without a key."""
    customer_id = parse_id("customer", body.customer_id) if body.customer_id else None
    cart = await carts.create_cart(runtime, principal, channel=body.channel,
                                   customer_id=customer_id)
    response.headers["Location"] = f"/v1/carts/{cart['id']}"
    return _with_etag(response, cart)


@router.get("/carts/{cart_id}", response_model=CartOut, responses=refusals(401, 403))
async def get_cart(cart_id: str, runtime: RuntimeDep, caller: CartCallerDep,
                   response: Response) -> dict[str, Any]:
    return _with_etag(response, await carts.get_cart(runtime, caller, parse_id("cart", cart_id)))


@router.delete("/carts/{cart_id}", response_model=CartOut, responses=refusals(401, 403, 409, 412))
async def abandon_cart(cart_id: str, runtime: RuntimeDep, caller: CartCallerDep,
                       response: Response, expected: VersionDep) -> dict[str, Any]:
    """Abandon the cart: it can no longer change nor be checked out."""
    return _with_etag(response, await carts.abandon_cart(
        runtime, caller, parse_id("cart", cart_id), expected_version=expected))


@router.post("/carts/{cart_id}/lines", response_model=CartOut,
             responses=refusals(401, 403, 409, 412))
async def add_cart_line(cart_id: str, body: CartLineAdd, runtime: RuntimeDep,
                        caller: CartCallerDep, response: Response,
                        expected: VersionDep) -> dict[str, Any]:
    """Add units of a SKU: a new line, or more of the cart's line of that SKU."""
    return _with_etag(response, await carts.add_line(
        runtime, caller, parse_id("cart", cart_id), sku=body.sku, quantity=body.quantity,
        expected_version=expected))


@router.patch("/carts/{cart_id}/lines/{sku:path}", response_model=CartOut,
              responses=refusals(401, 403, 409, 412))
async def set_cart_line(cart_id: str, sku: str, body: CartLineSet, runtime: RuntimeDep,
                        caller: CartCallerDep, response: Response,
                        expected: VersionDep) -> dict[str, Any]:
    """Set the quantity of the cart's line of this SKU."""
    return _with_etag(response, await carts.set_line(
        runtime, caller, parse_id("cart", cart_id), sku=sku, quantity=body.quantity,
        expected_version=expected))


@router.delete("/carts/{cart_id}/lines/{sku:path}", response_model=CartOut,
               responses=refusals(401, 403, 409, 412))
async def remove_cart_line(cart_id: str, sku: str, runtime: RuntimeDep, caller: CartCallerDep,
                           response: Response, expected: VersionDep) -> dict[str, Any]:
    return _with_etag(response, await carts.remove_line(
        runtime, caller, parse_id("cart", cart_id), sku=sku, expected_version=expected))
