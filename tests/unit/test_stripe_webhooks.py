"""The Stripe gateway without the network: webhooks signed here with Stripe's scheme (written
independently of the gateway), the pure status and error mappings, and the parameters the
gateway hands the Stripe client (a stand-in client records them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from orderline.payments.providers.base import (
    PaymentProvider,
    ProviderError,
    ProviderStatus,
    WebhookRejected,
)
from orderline.payments.providers.stripe_gateway import (
    StripeGateway,
    declined_intent,
    error_from_stripe,
    event_from_stripe,
    intent_from_stripe,
    next_action_from_stripe,
    status_from_stripe,
)
from orderline.tenancy.rules import CaptureMode

WHSEC = "whsec_test_0123456789abcdef"
META = {"order_id": "ord_1", "intent_id": "pay_1"}


def stripe_signature(payload: bytes, *, secret: str, timestamp: int) -> str:
    """Stripe's Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def payment_intent(**fields: Any) -> dict[str, Any]:
    pi: dict[str, Any] = {
        "id": "pi_3Qx", "object": "payment_intent", "amount": 2500, "amount_capturable": 0,
        "amount_received": 2500, "currency": "eur", "status": "succeeded",
        "capture_method": "automatic", "client_secret": "pi_3Qx_secret_abc",
        "last_payment_error": None, "next_action": None, "metadata": dict(META),
        "livemode": False}
    pi.update(fields)
    return pi


def stripe_event(type_: str = "payment_intent.succeeded", obj: dict[str, Any] | None = None,
                 **fields: Any) -> bytes:
    event: dict[str, Any] = {
        "id": "evt_1Qx", "object": "event", "api_version": "2025-09-30.clover",
        "created": 1_790_000_000, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": type_,
        "data": {"object": obj if obj is not None else payment_intent()}}
    event.update(fields)
    return json.dumps(event).encode()


def gateway() -> StripeGateway:
    return StripeGateway(api_key="sk_test_not_used", webhook_secret=WHSEC)


def signed(payload: bytes, *, secret: str = WHSEC, age: int = 0) -> dict[str, str]:
    return {"stripe-signature": stripe_signature(payload, secret=secret,
                                                 timestamp=int(time.time()) - age)}


def rejection(headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(WebhookRejected) as caught:
        gateway().verify_webhook(headers=headers, body=body)
    return caught.value.code


def test_the_stripe_gateway_is_a_payment_provider() -> None:
    provider: PaymentProvider = gateway()
    assert provider.name == "stripe"


# --- webhooks -------------------------------------------------------------------------------


def test_a_signed_succeeded_event_is_parsed_with_its_intent_and_our_metadata() -> None:
    body = stripe_event()
    event = gateway().verify_webhook(headers=signed(body), body=body)
    assert (event.event_id, event.type, event.created) == ("evt_1Qx", "payment_intent.succeeded",
                                                           1_790_000_000)
    assert event.metadata == META
    assert event.intent is not None
    assert event.intent.reference == "pi_3Qx"
    assert event.intent.status is ProviderStatus.CAPTURED
    assert (event.intent.amount, event.intent.currency) == (2500, "EUR")
    assert event.intent.amount_captured == 2500


def test_a_header_with_a_capitalised_name_is_found() -> None:
    body = stripe_event()
    headers = {"Stripe-Signature": signed(body)["stripe-signature"]}
    assert gateway().verify_webhook(headers=headers, body=body).event_id == "evt_1Qx"


def test_a_payment_failed_event_is_a_failed_intent_with_the_issuers_reason() -> None:
    pi = payment_intent(status="requires_payment_method", amount_received=0, last_payment_error={
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds."})
    body = stripe_event("payment_intent.payment_failed", pi)
    event = gateway().verify_webhook(headers=signed(body), body=body)
    assert event.intent is not None
    assert event.intent.status is ProviderStatus.FAILED
    assert event.intent.failure_code == "insufficient_funds"
    assert event.intent.failure_message == "Your card has insufficient funds."
    assert event.intent.amount_captured == 0


def test_a_refund_event_carries_the_refund_and_its_metadata() -> None:
    refund = {"id": "re_1", "object": "refund", "amount": 700, "currency": "eur",
              "payment_intent": "pi_3Qx", "status": "succeeded", "metadata": dict(META)}
    body = stripe_event("refund.created", refund)
    event = gateway().verify_webhook(headers=signed(body), body=body)
    assert event.intent is None
    assert event.refund is not None
    assert (event.refund.reference, event.refund.amount, event.refund.status) == (
        "re_1", 700, "succeeded")
    assert event.metadata == META


def test_a_charge_refunded_event_takes_the_newest_listed_refund() -> None:
    charge = {"id": "ch_1", "object": "charge", "amount": 2500, "amount_refunded": 1000,
              "payment_intent": "pi_3Qx", "metadata": dict(META),
              "refunds": {"object": "list", "data": [
                  {"id": "re_2", "object": "refund", "amount": 300, "status": "pending"},
                  {"id": "re_1", "object": "refund", "amount": 700, "status": "succeeded"}]}}
    body = stripe_event("charge.refunded", charge)
    event = gateway().verify_webhook(headers=signed(body), body=body)
    assert event.refund is not None
    assert (event.refund.reference, event.refund.amount, event.refund.status) == (
        "re_2", 300, "pending")
    assert event.metadata == META


def test_an_event_about_another_object_is_passed_on_with_neither_intent_nor_refund() -> None:
    body = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    event = gateway().verify_webhook(headers=signed(body), body=body)
    assert (event.type, event.intent, event.refund, event.metadata) == (
        "customer.created", None, None, {})


def test_a_webhook_without_a_signature_header_is_refused_as_missing() -> None:
    assert rejection({"content-type": "application/json"}, stripe_event()) == "signature_missing"
    assert rejection({"stripe-signature": ""}, stripe_event()) == "signature_missing"


def test_a_tampered_body_is_refused_as_invalid() -> None:
    body = stripe_event()
    tampered = body.replace(b'"amount": 2500', b'"amount": 1')
    assert tampered != body
    assert rejection(signed(body), tampered) == "signature_invalid"


def test_a_webhook_signed_with_another_secret_is_refused_as_invalid() -> None:
    body = stripe_event()
    assert rejection(signed(body, secret="whsec_someone_else"), body) == "signature_invalid"


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=00", "t=1790000000"])
def test_a_malformed_signature_header_is_refused_as_invalid(header: str) -> None:
    assert rejection({"stripe-signature": header}, stripe_event()) == "signature_invalid"


def test_an_old_timestamp_is_refused_as_outside_tolerance() -> None:
    body = stripe_event()
    assert rejection(signed(body, age=301), body) == "timestamp_outside_tolerance"


def test_a_future_timestamp_is_refused_as_outside_tolerance() -> None:
    body = stripe_event()
    assert rejection(signed(body, age=-3600), body) == "timestamp_outside_tolerance"


def test_an_old_timestamp_with_a_forged_signature_is_refused_as_invalid() -> None:
    body = stripe_event()
    assert rejection(signed(body, secret="whsec_forger", age=3600), body) == "signature_invalid"


def test_a_timestamp_a_little_old_is_accepted() -> None:
    body = stripe_event()
    assert gateway().verify_webhook(headers=signed(body, age=200), body=body).type \
        == "payment_intent.succeeded"


def test_any_of_several_v1_signatures_may_match() -> None:
    body = stripe_event()
    good = signed(body)["stripe-signature"]
    t, v1 = good.split(",")
    header = f"{t},v1={'0' * 64},{v1}"
    assert gateway().verify_webhook(headers={"stripe-signature": header},
                                    body=body).event_id == "evt_1Qx"


def test_bytes_that_are_not_text_are_refused_as_invalid() -> None:
    body = b"\xff\xfe not utf-8"
    assert rejection(signed(body), body) == "signature_invalid"


@pytest.mark.parametrize("body", [
    b"not json",
    b"[1, 2]",
    stripe_event(id=None),
    stripe_event(created="yesterday"),
    stripe_event(obj=payment_intent(status="lost")),
    stripe_event(obj=payment_intent(amount="lots")),
    stripe_event(obj=payment_intent(metadata={"order_id": 5})),
])
def test_a_signed_body_that_is_not_a_usable_event_is_refused_as_payload_invalid(
        body: bytes) -> None:
    assert rejection(signed(body), body) == "payload_invalid"


# --- status mapping (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(("stripe_status", "ours"), [
    ("requires_payment_method", ProviderStatus.REQUIRES_ACTION),
    ("requires_confirmation", ProviderStatus.REQUIRES_ACTION),
    ("requires_action", ProviderStatus.REQUIRES_ACTION),
    ("processing", ProviderStatus.PROCESSING),
    ("requires_capture", ProviderStatus.AUTHORIZED),
    ("succeeded", ProviderStatus.CAPTURED),
    ("canceled", ProviderStatus.CANCELLED),
])
def test_each_stripe_status_maps_to_ours(stripe_status: str, ours: ProviderStatus) -> None:
    assert status_from_stripe(stripe_status) is ours


def test_an_unknown_stripe_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="lost"):
        status_from_stripe("lost")


def test_an_intent_awaiting_capture_is_authorised_for_its_capturable_amount() -> None:
    intent = intent_from_stripe(payment_intent(status="requires_capture", amount_capturable=2500,
                                               amount_received=0))
    assert intent.status is ProviderStatus.AUTHORIZED
    assert (intent.amount_authorized, intent.amount_captured) == (2500, 0)


def test_a_partly_captured_intent_reports_what_was_received() -> None:
    intent = intent_from_stripe(payment_intent(amount_received=1800))
    assert intent.status is ProviderStatus.CAPTURED
    assert (intent.amount, intent.amount_authorized, intent.amount_captured) == (2500, 2500, 1800)


def test_a_cancelled_intent_has_nothing_authorised() -> None:
    intent = intent_from_stripe(payment_intent(status="canceled", amount_received=0))
    assert intent.status is ProviderStatus.CANCELLED
    assert (intent.amount_authorized, intent.amount_captured) == (0, 0)


def test_a_3ds_redirect_becomes_our_redirect_action() -> None:
    intent = intent_from_stripe(payment_intent(status="requires_action", amount_received=0,
                                               next_action={
                                                   "type": "redirect_to_url",
                                                   "redirect_to_url": {
                                                       "url": "https://hooks.stripe.test/3ds",
                                                       "return_url": "https://shop.test/back"}}))
    assert intent.status is ProviderStatus.REQUIRES_ACTION
    assert intent.next_action == {"type": "redirect", "url": "https://hooks.stripe.test/3ds"}
    assert intent.client_secret == "pi_3Qx_secret_abc"
    assert next_action_from_stripe({"type": "use_stripe_sdk", "use_stripe_sdk": {}}) == {
        "type": "use_stripe_sdk"}
    assert next_action_from_stripe(None) is None


def test_a_generic_decline_keeps_stripes_code() -> None:
    intent = intent_from_stripe(payment_intent(
        status="requires_payment_method", amount_received=0,
        last_payment_error={"code": "card_declined", "decline_code": "generic_decline",
                            "message": "Your card was declined."}))
    # a failed attempt read back (not from a payment_failed event) waits for a new method
    assert intent.status is ProviderStatus.REQUIRES_ACTION
    assert intent.failure_code == "card_declined"


# --- error mapping (pure) -------------------------------------------------------------------


def card_error(code: str = "card_declined", decline_code: str | None = None,
               payment_intent_body: dict[str, Any] | None = None) -> stripe.CardError:
    error: dict[str, Any] = {"type": "card_error", "code": code,
                             "message": "Your card was declined."}
    if decline_code:
        error["decline_code"] = decline_code
    if payment_intent_body is not None:
        error["payment_intent"] = payment_intent_body
    return stripe.CardError("Your card was declined.", None, code, http_status=402,
                            json_body={"error": error})


def test_a_card_error_is_not_retryable_and_keeps_its_code() -> None:
    mapped = error_from_stripe(card_error())
    assert isinstance(mapped, ProviderError)
    assert (mapped.code, mapped.retryable) == ("card_declined", False)
    assert str(mapped) == "Your card was declined."
    assert error_from_stripe(card_error(decline_code="insufficient_funds")).code \
        == "insufficient_funds"
    assert error_from_stripe(card_error(code="expired_card")).code == "expired_card"


@pytest.mark.parametrize(("error", "code"), [
    (stripe.APIConnectionError("Network error"), "provider_unavailable"),
    (stripe.RateLimitError("Too many requests", http_status=429), "rate_limited"),
    (stripe.APIError("Stripe had a problem", http_status=500), "provider_unavailable"),
    (stripe.StripeError("Bad gateway", http_status=502), "provider_unavailable"),
    (stripe.StripeError("Conflict", http_status=409), "request_conflict"),
])
def test_outages_and_overload_are_retryable(error: stripe.StripeError, code: str) -> None:
    mapped = error_from_stripe(error)
    assert (mapped.code, mapped.retryable) == (code, True)


@pytest.mark.parametrize(("error", "code"), [
    (stripe.InvalidRequestError("This PaymentIntent's status is succeeded", "intent",
                                code="payment_intent_unexpected_state", http_status=400),
     "payment_intent_unexpected_state"),
    (stripe.IdempotencyError("Keys for idempotent requests can only be used with the same "
                             "parameters", http_status=400), "idempotency_key_reused"),
    (stripe.AuthenticationError("Invalid API Key", http_status=401), "provider_misconfigured"),
    (stripe.InvalidRequestError("No such payment_intent", "intent", http_status=404),
     "provider_error"),
])
def test_refusals_are_not_retryable(error: stripe.StripeError, code: str) -> None:
    mapped = error_from_stripe(error)
    assert (mapped.code, mapped.retryable) == (code, False)


def test_a_decline_on_confirmation_gives_back_the_intent_as_failed() -> None:
    pi = payment_intent(status="requires_payment_method", amount_received=0, last_payment_error={
        "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds."})
    intent = declined_intent(card_error(decline_code="insufficient_funds",
                                        payment_intent_body=pi))
    assert intent is not None
    assert (intent.reference, intent.status, intent.failure_code) == (
        "pi_3Qx", ProviderStatus.FAILED, "insufficient_funds")
    assert declined_intent(card_error()) is None  # no intent in the error: raised instead


def test_event_parsing_alone_refuses_an_event_without_data() -> None:
    with pytest.raises(WebhookRejected) as caught:
        event_from_stripe({"id": "evt_1", "type": "payment_intent.succeeded", "created": 1})
    assert caught.value.code == "payload_invalid"


# --- what the gateway asks the client (a stand-in, no network) ---------------------------


class RecordingIntents:
    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def _answer(self, name: str, *args: Any) -> Any:
        self.calls.append((name, args))
        if isinstance(self.answer, Exception):
            raise self.answer
        return stripe.PaymentIntent.construct_from(self.answer, "sk_test_not_used")

    async def create_async(self, *args: Any) -> Any:
        return await self._answer("create", *args)

    async def capture_async(self, *args: Any) -> Any:
        return await self._answer("capture", *args)

    async def cancel_async(self, *args: Any) -> Any:
        return await self._answer("cancel", *args)


def gateway_with(intents: RecordingIntents, **kwargs: Any) -> StripeGateway:
    client = SimpleNamespace(v1=SimpleNamespace(payment_intents=intents))
    return StripeGateway(api_key="sk_test_not_used", webhook_secret=WHSEC,
                         client=client, **kwargs)  # type: ignore[arg-type]


async def test_create_confirms_a_given_payment_method_under_our_idempotency_key() -> None:
    intents = RecordingIntents(payment_intent(status="requires_capture", amount_capturable=2500,
                                              amount_received=0, capture_method="manual"))
    intent = await gateway_with(intents).create_intent(
        amount=2500, currency="EUR", capture_mode=CaptureMode.MANUAL, idempotency_key="key-1",
        metadata=META, payment_method="pm_card_visa")
    assert intent.status is ProviderStatus.AUTHORIZED
    [(name, (params, options))] = intents.calls
    assert name == "create"
    assert params["currency"] == "eur"
    assert params["capture_method"] == "manual"
    assert (params["payment_method"], params["confirm"]) == ("pm_card_visa", True)
    assert params["metadata"] == META
    assert options == {"idempotency_key": "key-1"}


async def test_create_without_a_payment_method_does_not_confirm() -> None:
    intents = RecordingIntents(payment_intent(status="requires_payment_method",
                                              amount_received=0))
    intent = await gateway_with(intents, return_url="https://shop.test/back").create_intent(
        amount=2500, currency="EUR", capture_mode=CaptureMode.AUTOMATIC, idempotency_key="k",
        metadata=META)
    assert intent.status is ProviderStatus.REQUIRES_ACTION
    assert intent.client_secret == "pi_3Qx_secret_abc"
    [(_, (params, _options))] = intents.calls
    assert params["capture_method"] == "automatic"
    assert "confirm" not in params and "payment_method" not in params


async def test_a_declined_card_on_create_returns_a_failed_intent() -> None:
    pi = payment_intent(status="requires_payment_method", amount_received=0, last_payment_error={
        "code": "card_declined", "decline_code": "generic_decline",
        "message": "Your card was declined."})
    intents = RecordingIntents(card_error(payment_intent_body=pi))
    intent = await gateway_with(intents).create_intent(
        amount=2500, currency="EUR", capture_mode=CaptureMode.AUTOMATIC, idempotency_key="k",
        metadata=META, payment_method="pm_card_visa_chargeDeclined")
    assert (intent.status, intent.failure_code) == (ProviderStatus.FAILED, "card_declined")


async def test_capture_sends_the_amount_and_key_and_maps_a_network_error_to_retryable() -> None:
    intents = RecordingIntents(payment_intent(amount_received=2000))
    gw = gateway_with(intents)
    intent = await gw.capture("pi_3Qx", amount=2000, idempotency_key="cap-1")
    assert intent.amount_captured == 2000
    assert intents.calls == [("capture", ("pi_3Qx", {"amount_to_capture": 2000},
                                          {"idempotency_key": "cap-1"}))]

    intents.answer = stripe.APIConnectionError("Network error")
    with pytest.raises(ProviderError) as caught:
        await gw.cancel("pi_3Qx", idempotency_key="cancel-1")
    assert (caught.value.code, caught.value.retryable) == ("provider_unavailable", True)
