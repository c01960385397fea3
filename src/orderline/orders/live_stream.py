"""Where a buyer's or merchant's live stream of one order starts, once the caller is checked."""

from __future__ import annotations

import uuid

from orderline.core.runtime import Runtime
from orderline.events.live import OrderStream, decode_sequence
from orderline.orders.callers import order_access
from orderline.tenancy.rules import Scope


async def open_order_stream(runtime: Runtime, order_id: uuid.UUID, *, bearer: str | None,
                            access_token: str | None, last_event_id: str | None,
                            from_start: bool) -> OrderStream:
    """Check who asks, then fix where the stream starts (before any byte is sent, so a refusal
    is a plain error response).

    The buyer's access token comes as ``access_token`` (EventSource cannot set headers) or as
    a bearer token starting ``oat_``; any other bearer token is an API key. A wrong access
    token, another order's token, or another business's key all get 404, so a stranger cannot
    tell whether the order exists; no credential at all is 401."""
    _, row = await order_access(runtime, order_id, bearer=bearer, access_token=access_token,
                                key_scope=Scope.READ)
    if last_event_id is not None:
        after = decode_sequence(last_event_id)
    else:
        after = 0 if from_start else row.last_sequence
    return OrderStream(business_id=row.business_id, order_id=order_id, after_sequence=after)
