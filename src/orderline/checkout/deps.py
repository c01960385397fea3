"""The caller of a cart route: the merchant's key, or the cart's own token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from orderline.checkout import carts
from orderline.checkout.carts import CartCaller
from orderline.core.http import bind_business, get_runtime
from orderline.tenancy.deps import get_principal


async def get_cart_caller(request: Request,
                          authorization: Annotated[str | None, Header()] = None,
                          x_cart_token: Annotated[str | None, Header()] = None) -> CartCaller:
    """A cart's caller: the merchant's API key when one is sent, else the cart's own token
    (``X-Cart-Token``); neither is 401."""
    if authorization is not None:
        return CartCaller.merchant(await get_principal(request, authorization))
    caller = await carts.caller_for_token(get_runtime(request), x_cart_token)
    bind_business(request, caller.business_id)
    return caller


CartCallerDep = Annotated[CartCaller, Depends(get_cart_caller)]
