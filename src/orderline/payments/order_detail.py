"""The order as the merchant's console shows it on one page, in one read: the order (lines,
totals, customer, tracking), its history timeline and its payments with their money ledger.

Three reads (``GET /v1/orders/{id}``, ``.../history``, ``.../payments``) would be three
snapshots: a refund landing between them would show a ledger that disagrees with the history.
Payments sits above orders, so the one use case that sees both lives here.
"""

from __future__ import annotations

import uuid
from typing import Any

from orderline.core.errors import NotFound
from orderline.core.runtime import Runtime
from orderline.orders import store as order_store
from orderline.orders.views import shaped
from orderline.payments import shares
from orderline.payments import store as payment_store
from orderline.payments.service import intent_view
from orderline.tenancy.rules import Principal, Scope


async def read_order_detail(runtime: Runtime, principal: Principal,
                            order_id: uuid.UUID) -> dict[str, Any]:
    """``{order, history, payments: {data, ledger}, held}`` as of one moment (read scope);
    ``held`` is the order's own share of the money (``payments.shares``)."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await order_store.load_order(conn, principal.business_id, order_id)
        if row is None:
            raise NotFound("order", order_id)
        order = (await shaped(conn, [row]))[0]
        history = [dict(r) for r in await order_store.history(conn, principal.business_id,
                                                               order_id)]
        intents = await payment_store.intents_of_order(conn, principal.business_id, order_id)
        ledger = await payment_store.movements_of_order(conn, order_id)
        held = (await shares.purse_of(conn, row)).own
    return {"order": order, "history": history,
            "payments": {"data": [intent_view(i) for i in intents],
                         "ledger": [m.as_dict() for m in ledger]},
            "held": held}
