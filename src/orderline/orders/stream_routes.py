"""/v1/orders/{id}/events: one order's events, live (Server-Sent Events)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from orderline.core.http import RuntimeDep, bearer_of, parse_id, refusals
from orderline.events import live
from orderline.events.routes import SSE_RESPONSES, respond
from orderline.orders.live_stream import open_order_stream

router = APIRouter(tags=["live updates"])


@router.get("/v1/orders/{order_id}/events", response_class=EventSourceResponse,
            responses={**SSE_RESPONSES, **refusals(401, 403)})
async def order_events(
    order_id: str, runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    access_token: Annotated[str | None, Query(
        max_length=200, description="the buyer's order access token (oat_...)")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
    last_event_id_param: Annotated[str | None, Query(
        alias="last_event_id", max_length=60,
        description="resume after this event id (the Last-Event-ID header wins)")] = None,
    from_: Annotated[Literal["start"] | None, Query(
        alias="from", description="'start' replays the order's whole history first")] = None,
) -> EventSourceResponse:
    """One order's events, live. Send an API key with the read scope, or the buyer's order
    access token as ``?access_token=oat_...`` (browsers' EventSource cannot set headers).
    Without ``Last-Event-ID`` the stream starts after the order's latest event, or at its
    first with ``?from=start``."""
    stream = await open_order_stream(
        runtime, parse_id("order", order_id), bearer=bearer_of(authorization),
        access_token=access_token, last_event_id=last_event_id or last_event_id_param,
        from_start=from_ == "start")
    return respond(live.order_events(runtime, stream), runtime.settings.live_heartbeat_seconds)
