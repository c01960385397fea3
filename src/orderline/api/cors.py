"""CORS for browser storefronts: the pages of an origin a business allows (``PATCH
/v1/business`` ``allowed_origins``) may call the API with that business's credentials. No
origin is allowed by default, and an answer only ever names the caller's exact origin (never
``*``), with ``Vary: Origin`` so no cache hands one origin's answer to another.

How a request finds its business:

- **An actual request** carries its credential: a merchant's API key (``Authorization:
  Bearer ol_...``), a buyer's cart token (``X-Cart-Token``) or order token (``Bearer
  oat_...``). The routes' dependencies resolve it and name the business on the request
  (``core.http.bind_business``); when the response starts, this middleware allows the origin
  only if *that* business allows it. A request whose credential resolved to no business (a
  401, an unknown token) gets no CORS headers, so another business's pages cannot read it.
- **A preflight** (``OPTIONS`` with ``Access-Control-Request-Method``) carries no credentials:
  browsers never send them with one, so it cannot name a business. It is allowed when *any*
  business allows the origin: a preflight only asks whether the real request may be sent,
  and what the page may read of the real answer is decided per business above. An origin
  allowed by business A thus learns that the API accepts its requests, nothing of B's data.
  The look-up is one indexed query on ``allowed_origins.origin`` (no process-local cache, so
  a change is in force at once in every server process), and ``Access-Control-Max-Age``
  lets the browser skip repeated preflights.

Credentials travel in headers, never cookies, so ``Access-Control-Allow-Credentials`` is not
sent. Plain ASGI (``HttpMiddleware``), outermost but for Starlette's own error handler.
"""

from __future__ import annotations

import uuid

from starlette.types import Message, Receive, Scope, Send

from orderline.api.middleware import HttpMiddleware
from orderline.core.errors import ValidationFailed
from orderline.core.runtime import Runtime
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import check_origin

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = ("Authorization, Content-Type, Idempotency-Key, If-Match, X-Cart-Token, "
                   "X-Request-ID, Last-Event-ID")
EXPOSED_HEADERS = "ETag, Location, Retry-After, X-Request-ID"
PREFLIGHT_MAX_AGE_SECONDS = 600


def _origin_of(scope: Scope) -> tuple[str, str] | None:
    """(the Origin header as sent, its normalised form), or None without a usable one."""
    raw = dict(scope.get("headers") or []).get(b"origin")
    if not raw:
        return None
    sent = raw.decode("latin-1")
    try:
        return sent, check_origin(sent)
    except ValidationFailed:  # "null", a file: page, anything no business can allow
        return None


def _vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if b"origin" not in value.lower():
                headers[i] = (name, value + b", Origin")
            return headers
    return [*headers, (b"vary", b"Origin")]


class Cors(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _origin_of(scope)
        headers = dict(scope.get("headers") or [])
        if (scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers
                and b"origin" in headers):
            await self._preflight(scope, send, origin)
            return
        if origin is None:
            await self.app(scope, receive, send)
            return
        sent, normalised = origin
        state = scope.setdefault("state", {})  # the dependencies name the business here
        runtime: Runtime = scope["app"].state.runtime

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = _vary(list(message.get("headers", [])))
                business = state.get("business_id")
                if business is not None and await tenancy.origin_allowed(
                        runtime, normalised, uuid.UUID(str(business))):
                    out += [(b"access-control-allow-origin", sent.encode("latin-1")),
                            (b"access-control-expose-headers", EXPOSED_HEADERS.encode())]
                message["headers"] = out
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send,
                         origin: tuple[str, str] | None) -> None:
        out: list[tuple[bytes, bytes]] = [(b"vary", b"Origin"), (b"content-length", b"0")]
        runtime: Runtime = scope["app"].state.runtime
        if origin is not None and await tenancy.origin_allowed(runtime, origin[1], None):
            out += [(b"access-control-allow-origin", origin[0].encode("latin-1")),
                    (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                    (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_SECONDS).encode())]
        await send({"type": "http.response.start", "status": 204, "headers": out})
        await send({"type": "http.response.body", "body": b""})
