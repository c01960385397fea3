"""Look up a webhook URL's host and apply the address rules of ``domain.webhooks`` to every
address it resolves to, at registration and again before each delivery (DNS can change).

The sender then connects to the very address that was checked (see ``webhook_sender``), so
a host whose DNS answer changes between the check and the connection (DNS rebinding) still
cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from orderline.core.errors import InvalidWebhookUrl
from orderline.webhooks.rules import WebhookTarget, check_addresses, parse_webhook_url

RESOLVE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    url: str
    target: WebhookTarget
    address: str  # the checked address to connect to (the first one DNS gave)


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as error:
        raise InvalidWebhookUrl(
            f"The host '{host}' could not be resolved ({error}). Check the spelling, or "
            "that its DNS records exist.", details={"host": host}) from None
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, *, allow_private: bool) -> CheckedUrl:
    """The URL's target and a safe address to reach it, or a refusal (InvalidWebhookUrl,
    UnsafeWebhookUrl) that says why and what to do."""
    target = parse_webhook_url(url)
    addresses = await resolve(target.host, target.port)
    check_addresses(target.host, addresses, allow_private=allow_private)
    return CheckedUrl(url=url, target=target, address=addresses[0])
