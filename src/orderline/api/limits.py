"""Refuse request bodies over the configured size before they are read into memory."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderline.api.errors import error_body


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A larger (or smaller) limit for the paths matching ``pattern``, refused with ``code``
    (a payment proof upload is a file, not a JSON body)."""

    pattern: re.Pattern[str]
    max_bytes: int
    code: str
    what: str


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 routes: Sequence[RouteLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = next((r for r in self.routes if r.pattern.match(path)), None)
        limit = route.max_bytes if route else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit, route)
            return
        seen = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # FastAPI turns any error while reading the body into its own 400; once the body
            # was cut off here, that answer is dropped and the 413 below is sent instead.
            if too_large and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if too_large and not started:
            await self._refuse(send, limit, route)

    async def _refuse(self, send: Send, limit: int, route: RouteLimit | None) -> None:
        code, what = (route.code, route.what) if route else ("payload_too_large",
                                                             "Request bodies are")
        body = json.dumps(error_body(code, f"{what} limited to {limit} bytes.",
                                     {"max_bytes": limit})).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
