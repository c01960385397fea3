"""The security headers of every HTML answer (``rules.PAGE_SECURITY_HEADERS``): the
Content-Security-Policy, Referrer-Policy and X-Content-Type-Options. Any HTML answer gets
them, whoever made it (a page, an error page, a route elsewhere), and a header a page set
itself is kept. JSON and other answers pass untouched.

Plain ASGI (like ``api/middleware.py``'s, which this package may not import).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderline.web.rules import PAGE_SECURITY_HEADERS


class PageSecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").lower().startswith("text/html"):
                    for name, value in PAGE_SECURITY_HEADERS:
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
