"""Merchant webhooks: the pure rules (which URLs may receive them, which events an endpoint
wants, what a failed attempt leads to, how a signing secret looks and how long the one before
it still signs after a rotation).

Nothing here does I/O: the DNS look-up and the HTTP call live in ``webhooks/url_guard.py`` and
``webhooks/sender.py``, which apply these rules to what they find.
"""

from __future__ import annotations

import base64
import ipaddress
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from orderline.core.errors import InvalidWebhookUrl, UnsafeWebhookUrl, ValidationFailed
from orderline.core.retry import RetrySchedule
from orderline.events.event_types import EventType

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes
MAX_URL_LENGTH = 2000
# After a rotation the old secret also signs for this long by default (a day), at most a week.
DEFAULT_ROTATION_OVERLAP_SECONDS = 86_400
MAX_ROTATION_OVERLAP_SECONDS = 604_800

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued, not tried yet (or replayed)
    RETRYING = "retrying"  # failed at least once; another try is scheduled
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # every try failed: the dead-letter list


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
REPLAYABLE_STATUSES = (DeliveryStatus.DEAD, DeliveryStatus.RETRYING)


def new_signing_secret(random_bytes: bytes) -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 24 to 64 random bytes."""
    if not 24 <= len(random_bytes) <= 64:
        raise ValueError("a signing secret needs 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


def previous_secret_expiry(*, overlap_seconds: int, now: datetime) -> datetime | None:
    """Until when the secret being replaced still signs deliveries; None (overlap 0) means
    it stops at once and is not kept."""
    if not 0 <= overlap_seconds <= MAX_ROTATION_OVERLAP_SECONDS:
        raise ValidationFailed(
            f"overlap_seconds is 0 to {MAX_ROTATION_OVERLAP_SECONDS} (a week); 0 stops the "
            "old secret at once.", details={"overlap_seconds": overlap_seconds})
    return now + timedelta(seconds=overlap_seconds) if overlap_seconds else None


def previous_secret_in_use(previous_secret: str | None, expires_at: datetime | None, *,
                           now: datetime) -> str | None:
    """The replaced secret, while it still signs (strictly before its expiry); else None."""
    if previous_secret is None or expires_at is None or now >= expires_at:
        return None
    return previous_secret


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where a webhook URL points: the part the address rules look at."""

    scheme: str
    host: str
    port: int


def parse_webhook_url(url: str) -> WebhookTarget:
    """Only absolute http(s) URLs with a host; anything else cannot receive a webhook."""
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise InvalidWebhookUrl(
            f"A webhook URL is an absolute http or https URL of at most {MAX_URL_LENGTH} "
            "characters, without spaces, such as https://example.com/webhooks.",
            details={"url": url[:200]})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrl("This webhook URL cannot be read (check the host and port).",
                                details={"url": url}) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidWebhookUrl(
            f"Webhooks are sent over http or https only, not '{scheme or 'no scheme'}'. "
            "Give a URL such as https://example.com/webhooks.",
            details={"url": url, "scheme": scheme})
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhookUrl("This webhook URL has no host name. Give a URL such as "
                                "https://example.com/webhooks.", details={"url": url})
    return WebhookTarget(scheme=scheme, host=host,
                         port=port or (443 if scheme == "https" else 80))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo), if any: a route to a
    private IPv4 host hidden in a public-looking IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def unsafe_reason(address: IPAddress) -> str | None:
    """Why a webhook must not be sent to ``address`` (None when it is a public address)."""
    checks: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            checks.insert(0, embedded)  # name the IPv4 host it reaches
    for each in checks:
        for reason, flagged in (("unspecified", each.is_unspecified),
                                ("loopback", each.is_loopback),
                                ("link-local", each.is_link_local),
                                ("multicast", each.is_multicast),
                                ("reserved", each.is_reserved),
                                ("private", each.is_private)):
            if flagged:
                return reason
        if not each.is_global:  # e.g. 100.64.0.0/10, shared carrier-grade NAT space
            return "not publicly routable"
    return None


def check_addresses(host: str, addresses: Iterable[str], *, allow_private: bool) -> None:
    """Refuse the host when any address it resolves to is not public (unless the business is
    in development mode, where a local receiver is the point)."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise InvalidWebhookUrl(f"The host '{host}' has no address.", details={"host": host})
    if allow_private:
        return
    refused = {}
    for raw in found:
        address = ipaddress.ip_address(raw.split("%", 1)[0])  # drop an IPv6 zone id
        reason = unsafe_reason(address)
        if reason is not None:
            refused[raw] = reason
    if refused:
        listed = ", ".join(f"{a} ({r})" for a, r in refused.items())
        raise UnsafeWebhookUrl(
            f"Webhooks are only sent to public internet addresses, and '{host}' resolves to "
            f"{listed}. Use a publicly reachable URL, or turn on development_mode in the "
            "business settings (PATCH /v1/business) to send to a local receiver while testing.",
            details={"host": host, "refused_addresses": refused})


def matches_event_type(patterns: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint's chosen names (``*``, ``order.*``, ``order.paid``) take an event.

    Patterns were checked when the endpoint was saved; an unknown one simply matches nothing,
    so a renamed event type can never break the fan-out."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def endpoint_wants(*, endpoint_id: uuid.UUID, patterns: Sequence[str], event_type: str,
                   aggregate_id: uuid.UUID) -> bool:
    """An endpoint takes the events it chose, except the notice of its own disabling (it
    would only fail again, and keep the endpoint's failures going)."""
    if event_type == EventType.WEBHOOK_ENDPOINT_DISABLED and aggregate_id == endpoint_id:
        return False
    return matches_event_type(patterns, event_type)


@dataclass(frozen=True, slots=True)
class AfterFailure:
    status: DeliveryStatus
    next_attempt_at: datetime  # when dead: the moment it died (nothing is due any more)

    @property
    def dead(self) -> bool:
        return self.status == DeliveryStatus.DEAD


def after_failure(schedule: RetrySchedule, *, failed_attempts: int, spread: float,
                  now: datetime) -> AfterFailure:
    """What a delivery becomes after its ``failed_attempts``-th failed try in a row."""
    delay = schedule.next_delay(failed_attempts, spread)
    if delay is None:
        return AfterFailure(DeliveryStatus.DEAD, now)
    return AfterFailure(DeliveryStatus.RETRYING, now + timedelta(seconds=delay))


def should_disable(consecutive_failures: int, *, limit: int) -> bool:
    """An endpoint that failed this many attempts in a row (with no success between) is
    switched off until the merchant enables it again."""
    return limit > 0 and consecutive_failures >= limit
