"""Stripe behind ``PaymentProvider``: v1 PaymentIntents and Refunds through the official client.

Calls use the client's ``*_async`` methods (stripe 12+ has them; they go through its httpx
client), with our idempotency key in the request options, so the client's own network retries
and ours never move money twice.

Mapping choices, so the sandbox and Stripe answer alike:

* Stripe's statuses: ``requires_payment_method``, ``requires_confirmation`` and
  ``requires_action`` are ``REQUIRES_ACTION``; ``requires_capture`` is ``AUTHORIZED``;
  ``succeeded`` is ``CAPTURED``; ``canceled`` is ``CANCELLED``. ``FAILED`` comes from a
  ``payment_intent.payment_failed`` event, or from ``create_intent`` when the card is declined
  on confirmation: Stripe answers that with a 402 whose body carries the intent, and we return
  that intent as ``FAILED`` rather than raise, as the sandbox does.
* A decline's code is the issuer's ``decline_code`` when it says more than ``generic_decline``
  (``insufficient_funds``), else Stripe's ``code`` (``card_declined``).
* Currencies go to Stripe in lower case and come back in upper case (ISO 4217, as ours are).
* Refunds carry the intent's metadata (read from the intent first), because Stripe copies an
  intent's metadata to its charge but not to its refunds, and ``refund.*`` events would
  otherwise not say whose refund they are.

Webhooks are checked by ``StripeClient.construct_event`` before anything else. When it fails,
we tell a stale timestamp from a bad signature by checking the HMAC ourselves (``signing``): a
signature that matches means only the timestamp was refused. Stripe's library refuses only old
timestamps; we also refuse ones more than the tolerance in the future.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import stripe
from stripe.params import (
    PaymentIntentCaptureParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
)

from orderline.payments.providers.base import (
    ProviderError,
    ProviderEvent,
    ProviderIntent,
    ProviderRefund,
    ProviderStatus,
    WebhookRejected,
)
from orderline.payments.providers.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    header_value,
    parse_signature_header,
    signature_matches,
)
from orderline.tenancy.rules import CaptureMode

T = TypeVar("T")

SIGNATURE_HEADER = "stripe-signature"

_STATUSES = {
    "requires_payment_method": ProviderStatus.REQUIRES_ACTION,
    "requires_confirmation": ProviderStatus.REQUIRES_ACTION,
    "requires_action": ProviderStatus.REQUIRES_ACTION,
    "processing": ProviderStatus.PROCESSING,
    "requires_capture": ProviderStatus.AUTHORIZED,
    "succeeded": ProviderStatus.CAPTURED,
    "canceled": ProviderStatus.CANCELLED,
}

_REFUND_STATUSES = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}


class StripeGateway:
    """``PaymentProvider`` backed by a Stripe account."""

    name = "stripe"

    def __init__(self, *, api_key: str, webhook_secret: str,
                 client: stripe.StripeClient | None = None, return_url: str | None = None,
                 clock: Callable[[], float] = time.time,
                 tolerance: int = DEFAULT_TOLERANCE_SECONDS,
                 max_network_retries: int = 2) -> None:
        """``return_url`` is where Stripe sends the buyer back after a redirect (3-D Secure);
        without it, intents confirmed here accept only payment methods that need no redirect
        (a card challenge then comes back as ``use_stripe_sdk``, for Stripe.js)."""
        self._client = client if client is not None else stripe.StripeClient(
            api_key, max_network_retries=max_network_retries)
        self._webhook_secret = webhook_secret
        self._return_url = return_url
        self._clock = clock
        self._tolerance = tolerance

    async def create_intent(self, *, amount: int, currency: str, capture_mode: CaptureMode,
                            idempotency_key: str, metadata: dict[str, str],
                            payment_method: str | None = None) -> ProviderIntent:
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "manual" if capture_mode == CaptureMode.MANUAL else "automatic",
            "metadata": dict(metadata),
        }
        if payment_method is not None:
            params["payment_method"] = payment_method
            params["confirm"] = True
            if self._return_url is not None:
                params["return_url"] = self._return_url
            else:
                params["automatic_payment_methods"] = {"enabled": True,
                                                       "allow_redirects": "never"}
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": idempotency_key})
        except stripe.CardError as err:
            declined = declined_intent(err)
            if declined is None:
                raise error_from_stripe(err) from err
            return declined
        except stripe.StripeError as err:
            raise error_from_stripe(err) from err
        return intent_from_stripe(intent.to_dict())

    async def retrieve_intent(self, reference: str) -> ProviderIntent:
        intent = await _call(self._client.v1.payment_intents.retrieve_async(reference))
        return intent_from_stripe(intent.to_dict())

    async def capture(self, reference: str, *, amount: int,
                      idempotency_key: str) -> ProviderIntent:
        params: PaymentIntentCaptureParams = {"amount_to_capture": amount}
        intent = await _call(self._client.v1.payment_intents.capture_async(
            reference, params, {"idempotency_key": idempotency_key}))
        return intent_from_stripe(intent.to_dict())

    async def cancel(self, reference: str, *, idempotency_key: str) -> ProviderIntent:
        """Void an authorisation, or cancel an intent not yet paid."""
        intent = await _call(self._client.v1.payment_intents.cancel_async(
            reference, None, {"idempotency_key": idempotency_key}))
        return intent_from_stripe(intent.to_dict())

    async def refund(self, reference: str, *, amount: int,
                     idempotency_key: str) -> ProviderRefund:
        # the intent's metadata does not change once set by us, so a retry sends the same
        # parameters under the same key (Stripe refuses a key reused with other parameters)
        intent = await _call(self._client.v1.payment_intents.retrieve_async(reference))
        params: RefundCreateParams = {"payment_intent": reference, "amount": amount,
                                      "metadata": _metadata(intent.to_dict())}
        refund = await _call(self._client.v1.refunds.create_async(
            params, {"idempotency_key": idempotency_key}))
        return refund_from_stripe(refund.to_dict())

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> ProviderEvent:
        """Check the signature and timestamp first, then parse; raises ``WebhookRejected``."""
        header = header_value(headers, SIGNATURE_HEADER)
        if not header:
            raise WebhookRejected("signature_missing", "The webhook has no Stripe-Signature.")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            # Stripe signs UTF-8 JSON text: bytes that are not text were not signed by it
            raise WebhookRejected("signature_invalid", "The body is not UTF-8 text.") from None
        try:
            event = self._client.construct_event(body, header, self._webhook_secret,
                                                 tolerance=self._tolerance)
        except stripe.SignatureVerificationError:
            raise self._why_refused(body, header) from None
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # signed, but not JSON or not a snapshot event (json.JSONDecodeError is a ValueError)
            raise WebhookRejected("payload_invalid",
                                  f"The webhook body is not a Stripe event: {exc}.") from None
        timestamp = parse_signature_header(header).timestamp
        if abs(self._clock() - timestamp) > self._tolerance:
            raise _outside_tolerance(timestamp, self._tolerance)
        return event_from_stripe(event.to_dict())

    def _why_refused(self, body: bytes, header: str) -> WebhookRejected:
        try:
            parsed = parse_signature_header(header)
        except ValueError:
            return WebhookRejected("signature_invalid", "The Stripe-Signature is malformed.")
        if signature_matches(body, parsed, secret=self._webhook_secret):
            return _outside_tolerance(parsed.timestamp, self._tolerance)
        return WebhookRejected("signature_invalid",
                               "No signature in the Stripe-Signature matches the body.")


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except stripe.StripeError as err:
        raise error_from_stripe(err) from err


def _outside_tolerance(timestamp: int, tolerance: int) -> WebhookRejected:
    return WebhookRejected("timestamp_outside_tolerance",
                           f"The signature's timestamp {timestamp} is more than {tolerance} s "
                           "away from now.")


# --- pure mappings ---------------------------------------------------------------------------


def status_from_stripe(status: str) -> ProviderStatus:
    """A PaymentIntent status as ours; raises ``ValueError`` for one we do not know."""
    try:
        return _STATUSES[status]
    except KeyError:
        raise ValueError(f"unknown PaymentIntent status {status!r}") from None


def failure_code(code: str | None, decline_code: str | None) -> str | None:
    """The most specific code of a payment error (see the module docstring)."""
    if decline_code and decline_code != "generic_decline":
        return decline_code
    return code or decline_code


def intent_from_stripe(pi: Mapping[str, Any], *, failed: bool = False) -> ProviderIntent:
    """A PaymentIntent (as a plain dict) as a ``ProviderIntent``; ``failed`` when the caller
    knows the attempt failed (a ``payment_failed`` event, a declined confirmation)."""
    status = ProviderStatus.FAILED if failed else status_from_stripe(_str(pi, "status"))
    amount = _int(pi, "amount")
    authorized = captured = 0
    if status is ProviderStatus.AUTHORIZED:
        authorized = _int(pi, "amount_capturable", default=0) or amount
    elif status is ProviderStatus.CAPTURED:
        authorized = amount
        captured = _int(pi, "amount_received", default=0)
    error = pi.get("last_payment_error")
    code = message = None
    if isinstance(error, Mapping):
        code = failure_code(_opt_str(error, "code"), _opt_str(error, "decline_code"))
        message = _opt_str(error, "message")
    return ProviderIntent(
        reference=_str(pi, "id"), status=status, amount=amount,
        currency=_str(pi, "currency").upper(), amount_authorized=authorized,
        amount_captured=captured, client_secret=_opt_str(pi, "client_secret"),
        next_action=next_action_from_stripe(pi.get("next_action")),
        failure_code=code, failure_message=message)


def next_action_from_stripe(action: object) -> dict[str, Any] | None:
    """Stripe's ``next_action`` in our shape: a redirect is ``{"type": "redirect", "url"}``;
    anything else keeps its type (``use_stripe_sdk`` is handled by Stripe.js in the browser)."""
    if not isinstance(action, Mapping):
        return None
    kind = _str(action, "type")
    redirect = action.get("redirect_to_url")
    if kind == "redirect_to_url" and isinstance(redirect, Mapping):
        return {"type": "redirect", "url": _str(redirect, "url")}
    return {"type": kind}


def refund_from_stripe(refund: Mapping[str, Any]) -> ProviderRefund:
    status = _str(refund, "status")
    return ProviderRefund(reference=_str(refund, "id"), amount=_int(refund, "amount"),
                          status=_REFUND_STATUSES.get(status, "pending"))


def declined_intent(err: stripe.CardError) -> ProviderIntent | None:
    """The intent a declined confirmation left behind, as ``FAILED``, if the error carries it."""
    error = _error_body(err)
    pi = error.get("payment_intent")
    if not isinstance(pi, Mapping):
        return None
    try:
        intent = intent_from_stripe(pi, failed=True)
    except ValueError:
        return None
    if intent.failure_code is None:  # the intent's copy of the error may lag; use the error's
        intent = replace(intent, failure_code=failure_code(err.code,
                                                           _opt_str(error, "decline_code")),
                         failure_message=err.user_message)
    return intent


def _error_body(err: stripe.StripeError) -> Mapping[str, Any]:
    """The ``error`` object of a Stripe error's JSON body, or an empty one."""
    body = err.json_body
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else {}


def error_from_stripe(err: stripe.StripeError) -> ProviderError:
    """A Stripe error as a ``ProviderError``: ``retryable`` when the same call with the same
    key may succeed later (network, rate limit, Stripe's 5xx, a concurrent request)."""
    message = err.user_message or type(err).__name__
    if isinstance(err, stripe.CardError):
        decline = _opt_str(_error_body(err), "decline_code")
        return ProviderError(message, code=failure_code(err.code, decline) or "card_declined")
    if isinstance(err, stripe.APIConnectionError):
        return ProviderError(message, code="provider_unavailable", retryable=True)
    if isinstance(err, stripe.RateLimitError):
        return ProviderError(message, code="rate_limited", retryable=True)
    if isinstance(err, stripe.IdempotencyError):
        return ProviderError(message, code="idempotency_key_reused")
    if isinstance(err, stripe.APIError) or (err.http_status or 0) >= 500:
        return ProviderError(message, code="provider_unavailable", retryable=True)
    if err.http_status == 409:  # another request with the same key is still running
        return ProviderError(message, code="request_conflict", retryable=True)
    if isinstance(err, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderError(message, code="provider_misconfigured")
    return ProviderError(message, code=err.code or "provider_error")


class _Malformed(ValueError):
    pass


def event_from_stripe(event: Mapping[str, Any]) -> ProviderEvent:
    """A verified Stripe event (as a plain dict) as a ``ProviderEvent``; raises
    ``WebhookRejected("payload_invalid")`` when a field we need is missing or of the wrong type.

    Events about other objects are returned with neither ``intent`` nor ``refund``, for the
    caller to ignore: Stripe sends whatever the endpoint subscribes to."""
    try:
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(obj, Mapping):
            raise _Malformed("data.object is not an object")
        type_ = _str(event, "type")
        kind = obj.get("object")
        intent = refund = None
        if kind == "payment_intent":
            intent = intent_from_stripe(obj, failed=type_ == "payment_intent.payment_failed")
        elif kind == "refund":
            refund = refund_from_stripe(obj)
        elif kind == "charge":
            refunds = obj.get("refunds")
            listed = refunds.get("data") if isinstance(refunds, Mapping) else None
            if isinstance(listed, list) and listed and isinstance(listed[0], Mapping):
                refund = refund_from_stripe(listed[0])  # newest first
        return ProviderEvent(event_id=_str(event, "id"), type=type_,
                             created=_int(event, "created"), intent=intent, refund=refund,
                             metadata=_metadata(obj))
    except ValueError as exc:
        raise WebhookRejected("payload_invalid", f"The Stripe event is not valid: {exc}.") \
            from None


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    value = obj.get("metadata") or {}
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _Malformed("metadata is not an object of strings")
    return dict(value)


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{key} is not a non-empty string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


_MISSING = object()


def _int(obj: Mapping[str, Any], key: str, *, default: object = _MISSING) -> int:
    value = obj.get(key, _MISSING)
    if value is None or value is _MISSING:
        if isinstance(default, int):
            return default
        raise _Malformed(f"{key} is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{key} is not an integer")
    return value
