"""The shape of Orderline's plain ASGI middleware: HTTP requests go to ``handle``, anything else
(lifespan, websockets) passes straight through. Plain ASGI, not Starlette's
``BaseHTTPMiddleware``: no extra task per request, and the logs' context stays set."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
