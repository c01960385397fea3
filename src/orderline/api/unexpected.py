"""An unexpected error answers a JSON 500 in the error shape, naming the request id the log
line carries, and the connection stays open for the client's next request.

Starlette's own handler for ``Exception`` sends its answer and then raises the error again, so
the server drops the connection and a client reusing it gets ECONNRESET on its next request.
This plain ASGI middleware sits inside ``RequestIds`` (so the id is set) and answers instead,
through ``core.unanswered`` (which the HTML pages' ``PageErrors`` shares).

A database that will not give a connection (PostgreSQL's connection limit reached, the pool's
wait run out, a server starting up) is not a bug: the request changed nothing, so it answers
503 ``database_busy`` with ``Retry-After``, and the client retries.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from orderline.api.errors import error_response
from orderline.api.middleware import HttpMiddleware
from orderline.core.unanswered import answer_unhandled


class UnexpectedErrors(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await answer_unhandled(self.app, scope, receive, send, busy=_busy, failed=_failed)


def _busy(request_id: str | None) -> JSONResponse:
    return error_response(
        "database_busy", "The database is too busy to take this request right now; nothing "
        "was changed. Retry in a moment.", {"request_id": request_id}, status=503)


def _failed(request_id: str | None) -> JSONResponse:
    return error_response(
        "internal_error", "Something went wrong on our side; it has been logged. Retry later, "
        "and quote the request id if it happens again.", {"request_id": request_id},
        status=500)
