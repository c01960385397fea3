"""An unexpected error answers a JSON 500 in the error shape, naming the request id the log
line carries, and the connection stays open for the client's next request.

Starlette's own handler for ``Exception`` sends its answer and then raises the error again, so
the server drops the connection and a client reusing it gets ECONNRESET on its next request.
This plain ASGI middleware sits inside ``RequestIds`` (so the id is set) and answers instead.
An error after the answer has started cannot be answered again: it is raised as before.

A database that will not give a connection (PostgreSQL's connection limit reached, the pool's
wait run out, a server starting up) is not a bug: the request changed nothing, so it answers
503 ``database_busy`` with ``Retry-After``, and the client retries.
"""

from __future__ import annotations

import logging

from starlette.types import Message, Receive, Scope, Send

from orderline.api.errors import error_response
from orderline.api.middleware import HttpMiddleware
from orderline.core.db.engine import is_database_busy
from orderline.core.log_context import request_id_var

log = logging.getLogger(__name__)
BUSY_RETRY_AFTER_SECONDS = 1


class UnexpectedErrors(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if started:
                raise
            request_id = request_id_var.get()
            if is_database_busy(error):
                log.warning("database busy on %s %s: %s", scope.get("method"), scope.get("path"),
                            error, extra={"request_id": request_id})
                busy = error_response(
                    "database_busy", "The database is too busy to take this request right now; "
                    "nothing was changed. Retry in a moment.",
                    {"request_id": request_id}, status=503)
                busy.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
                await busy(scope, receive, send)
                return
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"),
                          extra={"request_id": request_id})
            response = error_response(
                "internal_error", "Something went wrong on our side; it has been logged. "
                "Retry later, and quote the request id if it happens again.",
                {"request_id": request_id}, status=500)
            await response(scope, receive, send)
