"""A control character in the path or the query (``%00`` and the like) is refused here, once,
before any route: a path naming such an id names nothing (404), a query value is invalid
(422). Bodies are checked by ``core.schemas.Body``; both follow ``core.text``."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from orderline.api.errors import error_body
from orderline.api.middleware import HttpMiddleware
from orderline.core.text import control_character


class ControlCharacters(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _refusal(scope)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)


def _refusal(scope: Scope) -> JSONResponse | None:
    path: str = scope.get("path", "")
    if control_character(path) is not None:
        return JSONResponse(error_body("not_found", "Nothing here has that name: it holds a "
                                       "control character.", {"path": path.encode(
                                           "unicode_escape").decode()}), status_code=404)
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8",
                                 errors="replace"):
        for part in (name, value):
            found = control_character(part)
            if found is not None:
                field = name.encode("unicode_escape").decode()
                return JSONResponse(error_body(
                    "validation_error", f"Invalid request: {field}: holds the control "
                    f"character {found}; send text without it.",
                    {"errors": [{"field": field, "problem": f"holds the control character "
                                 f"{found}", "type": "control_character"}]}), status_code=422)
    return None
