"""The payment provider interface: what Orderline asks of a card gateway, and what a verified
webhook from it says.

Every call that moves money takes an idempotency key, so a call retried after a crash or a
timeout never moves it twice. Webhooks are verified (signature and timestamp) before anything
in them is read; an unverifiable one raises ``WebhookRejected`` with a stable code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from orderline.payments.rules import IntentStatus
from orderline.tenancy.rules import CaptureMode

# An intent's status as the provider reports it: each adapter maps its provider's own
# statuses onto the domain's, so a report and our intent speak the same statuses.
ProviderStatus = IntentStatus


@dataclass(frozen=True, slots=True)
class ProviderIntent:
    """The provider's answer to creating or reading a payment intent."""

    reference: str  # the provider's id for the intent (e.g. "pi_...")
    status: ProviderStatus
    amount: int
    currency: str
    amount_authorized: int = 0
    amount_captured: int = 0
    client_secret: str | None = None  # handed to the buyer's browser to complete the payment
    next_action: dict[str, Any] | None = None  # e.g. {"type": "redirect", "url": ...}
    failure_code: str | None = None  # e.g. "card_declined"
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    reference: str
    amount: int
    status: str  # "succeeded" | "pending" | "failed"


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook: ``event_id`` dedupes it; ``intent`` is the intent's state as of
    ``created`` (the provider's clock), so events applied out of order can be compared."""

    event_id: str
    type: str  # the provider's event type, e.g. "payment_intent.succeeded"
    created: int  # unix seconds
    intent: ProviderIntent | None = None
    refund: ProviderRefund | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # ours, echoed: order_id, intent_id


class ProviderError(Exception):
    """The provider refused or failed a call. ``retryable`` says whether trying the same call
    again (same idempotency key) may succeed."""

    def __init__(self, message: str, *, code: str = "provider_error",
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class WebhookRejected(Exception):
    """A webhook that cannot be trusted; ``code`` is one of ``signature_missing``,
    ``signature_invalid``, ``timestamp_outside_tolerance``, ``payload_invalid``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PaymentProvider(Protocol):
    name: str

    async def create_intent(self, *, amount: int, currency: str, capture_mode: CaptureMode,
                            idempotency_key: str, metadata: dict[str, str],
                            payment_method: str | None = None) -> ProviderIntent: ...

    async def retrieve_intent(self, reference: str) -> ProviderIntent: ...

    async def capture(self, reference: str, *, amount: int,
                      idempotency_key: str) -> ProviderIntent: ...

    async def cancel(self, reference: str, *, idempotency_key: str) -> ProviderIntent:
        """Void an authorisation, or cancel an intent not yet paid."""
        ...

    async def refund(self, reference: str, *, amount: int,
                     idempotency_key: str) -> ProviderRefund: ...

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> ProviderEvent:
        """Check the signature and timestamp first, then parse; raises ``WebhookRejected``.
        ``headers`` keys are lower case."""
        ...
