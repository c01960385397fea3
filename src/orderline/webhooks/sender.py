"""Sending one webhook: Standard Webhooks signing (through the ``standardwebhooks`` package)
and one HTTP POST with httpx.

While an endpoint's secret is being rotated, ``webhook-signature`` carries two signatures
separated by one space, the current secret's first (``v1,<new> v1,<old>``); Standard Webhooks
receivers accept a message when any one of them verifies, so a receiver still holding the old
secret keeps accepting deliveries until it switches over.

Each POST goes to the address ``url_guard`` checked (the URL's host stays in the ``Host``
header and in TLS server-name checks), never follows redirects (a redirect could point
anywhere, including inside our network), ignores proxy settings from the environment, and
keeps no connections alive between deliveries (a pooled connection is tied to an address, not
to the host name it was opened for). The whole attempt has one time limit.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from orderline import __version__

USER_AGENT = f"Orderline-Webhooks/{__version__}"
_SNIPPET_BYTES = 300  # of a failing answer's body, kept to help the merchant debug


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and (
            200 <= self.status_code < 300)


def unix_seconds(moment: datetime) -> int:
    return math.floor(moment.astimezone(UTC).timestamp())


def signature(secret: str, *, msg_id: str, timestamp: datetime, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed by the secret's bytes."""
    return Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp.astimezone(UTC), data=body)


def signed_headers(secret: str, *, previous_secret: str | None = None, msg_id: str,
                   timestamp: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers, signed with ``secret`` and, during a rotation, also
    with ``previous_secret`` (after the current signature, one space between)."""
    signatures = [signature(each, msg_id=msg_id, timestamp=timestamp, body=body)
                  for each in (secret, previous_secret) if each is not None]
    return {"webhook-id": msg_id,
            "webhook-timestamp": str(unix_seconds(timestamp)),
            "webhook-signature": " ".join(signatures),
            "content-type": "application/json",
            "user-agent": USER_AGENT}


def pinned_request(url: str, address: str | None) -> tuple[httpx.URL, dict[str, str],
                                                           dict[str, Any]]:
    """The URL to connect to, with extra headers and transport options, so the request
    reaches ``address`` while naming the URL's host (None: connect as the URL says)."""
    parsed = httpx.URL(url)
    if address is None:
        return parsed, {}, {}
    headers = {"host": parsed.netloc.decode("ascii")}
    extensions: dict[str, Any] = {}
    if parsed.scheme == "https":
        extensions["sni_hostname"] = parsed.raw_host.decode("ascii")
    return parsed.copy_with(host=address.split("%", 1)[0]), headers, extensions


class WebhookSender:
    """An HTTP client for one round of deliveries: ``async with WebhookSender(...) as s``."""

    def __init__(self, *, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> WebhookSender:
        self._client = httpx.AsyncClient(
            timeout=self.timeout_seconds, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, *, url: str, address: str | None, secret: str,
                   previous_secret: str | None = None, msg_id: str, timestamp: datetime,
                   body: str) -> SendResult:
        """POST the signed body once; any 2xx answer is a success, anything else (another
        status, a refused connection, the time limit) a failure with its reason."""
        assert self._client is not None, "use WebhookSender in 'async with'"
        request_url, extra_headers, extensions = pinned_request(url, address)
        headers = {**signed_headers(secret, previous_secret=previous_secret, msg_id=msg_id,
                                    timestamp=timestamp, body=body),
                   **extra_headers}
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                async with self._client.stream("POST", request_url, content=body.encode(),
                                               headers=headers,
                                               extensions=extensions) as response:
                    status_code = response.status_code
                    if not 200 <= status_code < 300:
                        error = await _describe_refusal(response)
        except TimeoutError:
            error = f"No answer within {self.timeout_seconds:g} s."
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}".rstrip(": ")
        return SendResult(status_code=status_code, error=error,
                          latency_ms=round((time.monotonic() - started) * 1000))


async def _describe_refusal(response: httpx.Response) -> str:
    described = f"HTTP {response.status_code}"
    if response.is_redirect:
        return f"{described}: redirects are not followed; give the final URL."
    snippet = b""
    async for chunk in response.aiter_raw():
        snippet += chunk
        if len(snippet) >= _SNIPPET_BYTES:
            break
    text = snippet[:_SNIPPET_BYTES].decode("utf-8", errors="replace").strip()
    return f"{described}: {text}" if text else described
