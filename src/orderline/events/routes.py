"""Live updates as Server-Sent Events: one order (merchant or buyer), or a whole business.

Each SSE message is one event: ``id:`` its stream position, ``event:`` its type, ``data:`` the
JSON envelope webhooks get too. A reconnecting client sends ``Last-Event-ID`` (browsers do it
by themselves) and gets exactly what it missed, then the stream goes on live. A comment line
every ``live_heartbeat_seconds`` (15 s) keeps proxies from closing an idle stream. Streams end
when the client goes away or the server shuts down.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from orderline.core.http import RuntimeDep, refusals
from orderline.events import live
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(tags=["live updates"])

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}},
                        "description": "An endless stream of Server-Sent Events."}}


def respond(events: AsyncGenerator[live.LiveEvent, None],
             heartbeat: float) -> EventSourceResponse:
    async def messages() -> AsyncIterator[ServerSentEvent]:
        # First a comment and the reconnect delay, so the client knows the stream is open.
        yield ServerSentEvent(comment="stream open", retry=live.RECONNECT_MILLISECONDS)
        async with aclosing(events):  # however the response ends, the stream lets go at once
            async for event in events:
                yield ServerSentEvent(data=event.data, event=event.type, id=event.id)

    return EventSourceResponse(messages(), ping=heartbeat, send_timeout=30)


@router.get("/v1/stream", response_class=EventSourceResponse,
            responses={**SSE_RESPONSES, **refusals(401, 403)})
async def business_events(
    runtime: RuntimeDep, principal: PrincipalDep,
    types: Annotated[list[str] | None, Query(
        description="comma-separated event types, such as order.paid,stock.low or order.*; "
                    "default: new orders, status changes, low stock")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
    last_event_id_param: Annotated[str | None, Query(
        alias="last_event_id", max_length=60,
        description="resume after this event id (the Last-Event-ID header wins)")] = None,
) -> EventSourceResponse:
    """The business's events, live (read scope). Without ``Last-Event-ID`` the stream starts
    now."""
    names = [name.strip() for value in types or [] for name in value.split(",")
             if name.strip()]
    stream = await live.open_merchant_stream(
        runtime, principal, types=names, last_event_id=last_event_id or last_event_id_param)
    return respond(live.merchant_events(runtime, stream),
                    runtime.settings.live_heartbeat_seconds)
