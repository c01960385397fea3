"""Give every request an id (the caller's ``X-Request-ID`` or a new one), put it in the logs'
context and echo it in the response, and log one access line per request. The response also
says how long the server took until it started answering, as ``Server-Timing: app;dur=<ms>``
(W3C Server Timing; a browser shows it in its network panel, ``orderline bench console`` reads
it, and another origin's script cannot, without ``Timing-Allow-Origin``). Plain ASGI: no extra
task per request, so what the dependencies put in the logs' context (business, order) is still
there for the access line, and is reset here after it.

The access line has the path without its query string: a buyer's order access token may travel
as ``?access_token=``.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import Message, Receive, Scope, Send

from orderline.api.middleware import HttpMiddleware
from orderline.core.log_context import business_id_var, order_id_var, request_id_var

access_log = logging.getLogger("orderline.access")


class RequestIds(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        rid = given.decode("latin-1")[:100] if given else uuid.uuid4().hex
        header = (b"x-request-id", rid.encode("latin-1"))
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                message["headers"] = [*message.get("headers", []), header,
                                      (b"server-timing", took.encode("ascii"))]
            await send(message)

        started = time.perf_counter()
        tokens = [(request_id_var, request_id_var.set(rid)),
                  (business_id_var, business_id_var.set(None)),
                  (order_id_var, order_id_var.set(None))]
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            method, path = scope.get("method", ""), scope.get("path", "")
            access_log.info("%s %s %s", method, path, status, extra={
                "method": method, "path": path, "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            for var, token in reversed(tokens):
                var.reset(token)
