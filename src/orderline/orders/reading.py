"""Reading one order, by whoever may: its merchant (an API key) or its buyer (the order's access
token), each with their own view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderline.core.errors import NotFound
from orderline.core.runtime import Runtime
from orderline.orders import store as order_store
from orderline.orders.callers import OrderCaller, order_caller_for_token
from orderline.orders.fulfilment.service import shipments_shown
from orderline.orders.hooks import hooks_of
from orderline.orders.service import get_order
from orderline.orders.views import buyer_shape
from orderline.tenancy import service as tenancy


async def read_order(runtime: Runtime, caller: OrderCaller) -> dict[str, Any]:
    """The order as its caller may see it: the merchant's full view for a key with the read
    scope, the buyer's own view for the order's access token."""
    if caller.principal is not None:
        return await get_order(runtime, caller.principal, caller.order_id)
    async with runtime.db.read() as conn:
        row = await order_store.load_order(conn, caller.business_id, caller.order_id)
        if row is None:
            raise NotFound("order", caller.order_id)
        lines = [line.as_dict() for line in await order_store.load_lines(conn, [row.id])]
        history = await order_store.history(conn, caller.business_id, caller.order_id)
        read_payment = hooks_of(runtime).buyer_payment
        payment = None if read_payment is None else await read_payment(conn, row)
        parcels = await shipments_shown(conn, caller.business_id, caller.order_id)
    view = buyer_shape(row.as_dict(), lines, history, payment)
    view["shipments"] = [
        {**{k: p[k] for k in ("number", "status", "carrier", "tracking_number",
                              "tracking_url", "shipped_at", "delivered_at")},
         "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in p["lines"]]}
        for p in parcels]
    return view


@dataclass(frozen=True, slots=True)
class BuyerOrder:
    """What the buyer's order page shows: the order (the buyer's view), whose it is, and the
    caller the page's other actions (the proof upload, the proof's file) act as."""

    caller: OrderCaller
    order: dict[str, Any]
    shop_name: str


async def read_order_for_token(runtime: Runtime, token: str) -> BuyerOrder:
    """The buyer's view of the order whose access token is ``token`` (the link of the order
    page carries the token alone); any other token is ``NotFound``."""
    caller = await order_caller_for_token(runtime, token)
    order = await read_order(runtime, caller)
    return BuyerOrder(caller=caller, order=order,
                      shop_name=await tenancy.shop_name(runtime, caller.business_id))

