"""An error a request's handler raised and nobody answered: answered here, once, for the JSON
API (``api/unexpected.py``) and for the pages (``web/errors.py``), each in its own format.

Answering it (rather than letting the server see it) keeps the client's keep-alive connection
usable. A database that would not give a connection is not a bug: the request changed nothing,
so it is a 503 with ``Retry-After`` and a warning; anything else is a 500, logged with its
traceback. Both log lines carry the request id the answer names. An error raised after the
answer has started cannot be answered again: it is raised as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderline.core.db.engine import is_database_busy
from orderline.core.log_context import request_id_var

log = logging.getLogger(__name__)
BUSY_RETRY_AFTER_SECONDS = 1

# Given the request id, the answer to send.
Answer = Callable[[str | None], Response]


async def answer_unhandled(app: ASGIApp, scope: Scope, receive: Receive, send: Send, *,
                           busy: Answer, failed: Answer, what: str = "") -> None:
    """Run ``app``; an error it raises before answering gets ``busy(request_id)`` (a database
    that would not give a connection) or ``failed(request_id)`` (anything else)."""
    started = False

    async def watched(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, watched)
    except Exception as error:
        if started:
            raise
        request_id = request_id_var.get()
        where = f"{what}{scope.get('method')} {scope.get('path')}"
        if is_database_busy(error):
            log.warning("database busy on %s: %s", where, error,
                        extra={"request_id": request_id})
            answer = busy(request_id)
            answer.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        else:
            log.exception("unhandled error on %s", where, extra={"request_id": request_id})
            answer = failed(request_id)
        await answer(scope, receive, send)
