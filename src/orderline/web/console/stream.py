"""``GET /console/stream``: the business's events for a console page, as Server-Sent Events,
authenticated by the session cookie (the same stream as ``/v1/stream``: see
``events/live.py``). htmx's SSE extension connects with
``hx-ext="sse" sse-connect="/console/stream"``; ``?types=order.created,order.paid`` picks the
events. Without a live session it answers 401 (an EventSource does not retry that), never the
login redirect: a stream is not a page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from orderline.core.errors import SessionExpired
from orderline.core.http import RuntimeDep
from orderline.events import live
from orderline.events.routes import respond
from orderline.staff.sessions import principal_for, resume_session
from orderline.web.console.access import SESSION_COOKIE

router = APIRouter()


@router.get("/stream", response_model=None)
async def console_stream(
    request: Request, runtime: RuntimeDep,
    types: Annotated[str | None, Query(max_length=500)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse | Response:
    try:
        session = await resume_session(runtime, request.cookies.get(SESSION_COOKIE))
    except SessionExpired:
        return Response(status_code=401, headers={"Cache-Control": "no-store"})
    names = [name.strip() for name in (types or "").split(",") if name.strip()]
    stream = await live.open_merchant_stream(runtime, principal_for(session), types=names,
                                             last_event_id=last_event_id)
    return respond(live.merchant_events(runtime, stream),
                   runtime.settings.live_heartbeat_seconds)
