"""HTML error pages (404, 403, 500, ...) for a browser asking for a page; every other request
(anything under ``/v1``, the health checks, a script's fetch) keeps the API's JSON errors.

``install_error_pages`` wraps the app's handler of HTTP errors rather than replacing it: a
request that does not want HTML goes to the handler that was there (the API's JSON one).
``PageErrors`` does the same for an unexpected error: it sits inside the API's own catch-all
(``api/unexpected.py``) and answers only page requests, with the request id to quote.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from orderline.core.unanswered import answer_unhandled
from orderline.web.pages import render_page
from orderline.web.rules import wants_html_error


def error_page(request: Request, status_code: int, *, request_id: str | None = None,
               headers: Mapping[str, str] | None = None) -> Response:
    return render_page(request, "error.html", status_code=status_code, status=status_code,
                       request_id=request_id, headers=headers)


def _wants_html(request: Request) -> bool:
    return wants_html_error(request.url.path, request.headers.get("accept"))


def install_error_pages(app: FastAPI) -> None:
    """Answer HTTP errors of page requests with an HTML page; call after the API's handlers
    are installed (the JSON handler found here answers everything else)."""
    previous = app.exception_handlers.get(HTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if _wants_html(request) or previous is None:
            return error_page(request, exc.status_code, headers=exc.headers)
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(HTTPException, http_error)


class PageErrors:
    """An unexpected error on a page request: the 500 page, logged with its request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _wants_html(Request(scope)):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        await answer_unhandled(
            self.app, scope, receive, send, what="page ",
            busy=lambda request_id: error_page(request, 503, request_id=request_id),
            failed=lambda request_id: error_page(request, 500, request_id=request_id))
