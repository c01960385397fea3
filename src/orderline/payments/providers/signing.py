"""Stripe's webhook signature scheme, shared by the sandbox gateway (which signs and verifies
with it) and the Stripe gateway (which tells a stale timestamp from a forged signature with it).

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``; it may carry
several ``v1`` values (while a secret is being rolled) and any one of them may match. The MAC is
computed over the raw body bytes, which for the UTF-8 JSON that providers send is the same as
Stripe's ``f"{t}.{payload}"`` over the decoded text.

The signature is checked before the timestamp, so a forged request learns nothing about the
clock, and both are checked before a byte of the body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from orderline.payments.providers.base import WebhookRejected

DEFAULT_TOLERANCE_SECONDS = 300
SCHEME = "v1"


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # the v1 values, in header order


def compute_signature(body: bytes, *, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(body: bytes, *, secret: str, timestamp: int) -> str:
    """The header value a provider sends with ``body`` signed at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={compute_signature(body, secret=secret, timestamp=timestamp)}"


def parse_signature_header(header: str) -> SignatureHeader:
    """Split a header into its timestamp and v1 signatures; raises ``ValueError`` when it has no
    single integer ``t`` or no ``v1`` value. Other items (``v0=``...) are ignored, as Stripe
    ignores them."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit()):
                raise ValueError("the header needs exactly one integer timestamp")
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ValueError(f"the header needs a timestamp and at least one {SCHEME} signature")
    return SignatureHeader(timestamp=timestamp, signatures=tuple(signatures))


def signature_matches(body: bytes, parsed: SignatureHeader, *, secret: str) -> bool:
    """True when any of the header's v1 values is the MAC of ``body`` (constant-time compares,
    all of them done whatever the outcome)."""
    expected = compute_signature(body, secret=secret, timestamp=parsed.timestamp).encode()
    matched = False
    for given in parsed.signatures:
        matched |= hmac.compare_digest(expected, given.encode("utf-8", "replace"))
    return matched


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the case of the keys (HTTP header names are not
    case-sensitive; the interface promises lower case, callers in tests may not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_signature(body: bytes, header: str | None, *, secret: str, now: float,
                     tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> SignatureHeader:
    """Check ``header`` against ``body``; raises ``WebhookRejected`` (``signature_missing``,
    ``signature_invalid``, ``timestamp_outside_tolerance``), else returns the parsed header.

    The timestamp must be within ``tolerance`` seconds of ``now`` either way: an old one is a
    replay, a future one a clock that cannot be trusted."""
    if not header:
        raise WebhookRejected("signature_missing", "The webhook has no signature header.")
    try:
        parsed = parse_signature_header(header)
    except ValueError as exc:
        raise WebhookRejected("signature_invalid",
                              f"The signature header is malformed: {exc}.") from None
    if not signature_matches(body, parsed, secret=secret):
        raise WebhookRejected("signature_invalid",
                              "No signature in the header matches the body.")
    if abs(now - parsed.timestamp) > tolerance:
        raise WebhookRejected(
            "timestamp_outside_tolerance",
            f"The signature's timestamp {parsed.timestamp} is more than {tolerance} s away "
            f"from now ({int(now)}).")
    return parsed
