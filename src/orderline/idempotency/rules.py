"""What an ``Idempotency-Key`` may be, the fingerprint that binds it to one request, and what a
request that finds its key already taken is answered.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orderline.core.errors import (
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    RequestInProgress,
    ValidationFailed,
)

KEY_MAX_LENGTH = 255
HEADER = "Idempotency-Key"


def check_key(key: str) -> str:
    """The key as kept: stripped, printable, at most ``KEY_MAX_LENGTH`` characters."""
    key = key.strip()
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"{HEADER} must be printable, not blank, and at most {KEY_MAX_LENGTH} characters "
            "(a UUID is a good choice).", details={"header": HEADER})
    return key


def required_key(key: str | None, *, action: str = "Confirming") -> str:
    """``check_key`` for an operation that cannot run without a key (the checkout confirm)."""
    if key is None or not key.strip():
        raise IdempotencyKeyRequired(
            f"{action} needs an {HEADER} header: a new random value (such as a UUID) for each "
            "purchase, sent again unchanged when you retry it.", details={"header": HEADER})
    return check_key(key)


def fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON: same content, same fingerprint."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_replay(*, key: str, operation: str, print_: str, held_operation: str,
                 held_fingerprint: str, completed: bool) -> None:
    """May a request (``operation``, ``print_``) replay the answer kept under its key? Raises
    ``idempotency_key_reused`` when the key was taken by another endpoint or another body,
    ``request_in_progress`` while the first request is still running; returns when the kept
    answer is this request's."""
    if held_operation != operation:
        raise IdempotencyKeyReused(
            f"This {HEADER} was already used for another kind of request; use a new key for "
            "each new request.", details={"idempotency_key": key})
    if held_fingerprint != print_:
        raise IdempotencyKeyReused(
            f"This {HEADER} was already used for a request with a different body. Use a new "
            "key for a new request; send the same body to get the first answer again.",
            details={"idempotency_key": key})
    if not completed:
        raise RequestInProgress(
            f"A request with this {HEADER} is still being processed; retry in a moment to get "
            "its answer.", details={"idempotency_key": key})
