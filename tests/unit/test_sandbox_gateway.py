"""The sandbox gateway: test cards, capture and refund rules, idempotency, and webhooks that
are signed, verifiable, and as unreliable as SandboxBehaviour says."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest

from orderline.payments.providers.base import (
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    ProviderIntent,
    ProviderStatus,
    WebhookRejected,
)
from orderline.payments.providers.sandbox import Deliver, SandboxBehaviour, SandboxGateway, sign
from orderline.tenancy.rules import CaptureMode

SECRET = "sbx_secret"
NOW = 1_790_000_000
META = {"order_id": "ord_1", "intent_id": "pay_1"}


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Inbox:
    """A ``deliver`` that keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, headers: dict[str, str], body: bytes) -> None:
        self.received.append((headers, body))

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


def gateway(*, deliver: Deliver | None = None,
            behaviour: SandboxBehaviour | None = None) -> SandboxGateway:
    return SandboxGateway(secret=SECRET, clock=Clock(), deliver=deliver, behaviour=behaviour)


async def create(gw: SandboxGateway, *, key: str = "k1", amount: int = 2500,
                 mode: CaptureMode = CaptureMode.AUTOMATIC,
                 payment_method: str | None = "pm_card_visa") -> ProviderIntent:
    return await gw.create_intent(amount=amount, currency="eur", capture_mode=mode,
                                  idempotency_key=key, metadata=META,
                                  payment_method=payment_method)


def events_of(gw: SandboxGateway) -> list[ProviderEvent]:
    return [gw.verify_webhook(headers=h, body=b) for h, b in gw.drain()]


def test_the_sandbox_is_a_payment_provider() -> None:
    provider: PaymentProvider = gateway()
    assert provider.name == "sandbox"


# --- test cards ---------------------------------------------------------------------------


@pytest.mark.parametrize("payment_method", ["pm_card_visa", None])
async def test_an_approved_card_is_captured_at_once_in_automatic_mode(
        payment_method: str | None) -> None:
    gw = gateway()
    intent = await create(gw, payment_method=payment_method)
    assert intent.status is ProviderStatus.CAPTURED
    assert (intent.amount, intent.currency) == (2500, "EUR")
    assert intent.amount_authorized == intent.amount_captured == 2500
    assert intent.client_secret and intent.client_secret.startswith(intent.reference)
    assert await gw.retrieve_intent(intent.reference) == intent


async def test_manual_capture_authorises_first_and_a_partial_capture_takes_only_part() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL)
    assert intent.status is ProviderStatus.AUTHORIZED
    assert (intent.amount_authorized, intent.amount_captured) == (2500, 0)

    captured = await gw.capture(intent.reference, amount=2000, idempotency_key="cap")
    assert captured.status is ProviderStatus.CAPTURED
    assert (captured.amount_authorized, captured.amount_captured) == (2500, 2000)


async def test_capturing_more_than_was_authorised_is_refused_and_changes_nothing() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL)
    with pytest.raises(ProviderError) as caught:
        await gw.capture(intent.reference, amount=2501, idempotency_key="cap")
    assert caught.value.code == "amount_too_large"
    assert not caught.value.retryable
    assert (await gw.retrieve_intent(intent.reference)).status is ProviderStatus.AUTHORIZED


async def test_capturing_twice_is_refused_as_already_captured() -> None:
    gw = gateway()
    intent = await create(gw)
    with pytest.raises(ProviderError) as caught:
        await gw.capture(intent.reference, amount=100, idempotency_key="cap")
    assert caught.value.code == "already_captured"


@pytest.mark.parametrize(("payment_method", "code"), [
    ("pm_card_declined", "card_declined"),
    ("pm_card_insufficient_funds", "insufficient_funds"),
])
async def test_a_declined_card_fails_with_the_issuers_reason(payment_method: str,
                                                            code: str) -> None:
    gw = gateway()
    intent = await create(gw, payment_method=payment_method)
    assert intent.status is ProviderStatus.FAILED
    assert intent.failure_code == code
    assert intent.failure_message
    assert (intent.amount_authorized, intent.amount_captured) == (0, 0)
    assert [e.type for e in events_of(gw)] == ["payment_intent.created",
                                               "payment_intent.payment_failed"]


async def test_a_3ds_card_waits_for_a_redirect_and_completing_it_authorises() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL, payment_method="pm_card_3ds")
    assert intent.status is ProviderStatus.REQUIRES_ACTION
    assert intent.next_action == {"type": "redirect",
                                  "url": f"https://sandbox.invalid/3ds/{intent.reference}"}
    gw.drain()

    done = await gw.complete_action(intent.reference, approve=True)
    assert done.status is ProviderStatus.AUTHORIZED
    assert done.next_action is None
    assert done.amount_authorized == 2500
    assert [e.type for e in events_of(gw)] == ["payment_intent.amount_capturable_updated"]


async def test_a_3ds_challenge_the_buyer_refuses_fails_the_payment() -> None:
    gw = gateway()
    intent = await create(gw, payment_method="pm_card_3ds")
    done = await gw.complete_action(intent.reference, approve=False)
    assert done.status is ProviderStatus.FAILED
    assert done.failure_code == "payment_intent_authentication_failure"
    with pytest.raises(ProviderError) as caught:
        await gw.complete_action(intent.reference, approve=True)
    assert caught.value.code == "payment_intent_unexpected_state"


async def test_a_processing_payment_settles_when_the_bank_answers() -> None:
    gw = gateway()
    intent = await create(gw, payment_method="pm_card_processing")
    assert intent.status is ProviderStatus.PROCESSING
    assert (await gw.complete_action(intent.reference, approve=True)).status \
        is ProviderStatus.CAPTURED
    assert [e.type for e in events_of(gw)] == ["payment_intent.created",
                                               "payment_intent.processing",
                                               "payment_intent.succeeded"]


async def test_a_card_that_fails_after_authorisation_cannot_be_captured() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL, payment_method="pm_card_fail_after_auth")
    assert intent.status is ProviderStatus.AUTHORIZED
    with pytest.raises(ProviderError) as caught:
        await gw.capture(intent.reference, amount=2500, idempotency_key="cap")
    assert (caught.value.code, caught.value.retryable) == ("capture_failed", False)


async def test_an_unknown_payment_method_or_intent_is_refused() -> None:
    gw = gateway()
    with pytest.raises(ProviderError) as caught:
        await create(gw, payment_method="pm_card_made_up")
    assert caught.value.code == "payment_method_invalid"
    with pytest.raises(ProviderError) as caught:
        await gw.retrieve_intent("pi_nope")
    assert caught.value.code == "resource_missing"


# --- cancel and refund --------------------------------------------------------------------


async def test_cancelling_voids_an_authorisation_or_a_pending_3ds() -> None:
    gw = gateway()
    authorised = await create(gw, key="a", mode=CaptureMode.MANUAL)
    waiting = await create(gw, key="b", payment_method="pm_card_3ds")
    for intent, key in ((authorised, "c1"), (waiting, "c2")):
        cancelled = await gw.cancel(intent.reference, idempotency_key=key)
        assert cancelled.status is ProviderStatus.CANCELLED
        assert cancelled.amount_authorized == 0
    with pytest.raises(ProviderError) as caught:
        await gw.capture(authorised.reference, amount=100, idempotency_key="cap")
    assert caught.value.code == "payment_intent_unexpected_state"


async def test_a_captured_payment_cannot_be_cancelled() -> None:
    gw = gateway()
    intent = await create(gw)
    with pytest.raises(ProviderError) as caught:
        await gw.cancel(intent.reference, idempotency_key="c")
    assert caught.value.code == "already_captured"
    assert (await gw.retrieve_intent(intent.reference)).status is ProviderStatus.CAPTURED


async def test_refunds_may_add_up_to_what_was_captured_and_no_more() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL)
    await gw.capture(intent.reference, amount=2000, idempotency_key="cap")

    first = await gw.refund(intent.reference, amount=1500, idempotency_key="r1")
    assert (first.amount, first.status) == (1500, "succeeded")
    with pytest.raises(ProviderError) as caught:
        await gw.refund(intent.reference, amount=501, idempotency_key="r2")
    assert caught.value.code == "amount_too_large"
    last = await gw.refund(intent.reference, amount=500, idempotency_key="r3")
    assert last.reference != first.reference


async def test_an_uncaptured_payment_cannot_be_refunded() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL)
    with pytest.raises(ProviderError) as caught:
        await gw.refund(intent.reference, amount=100, idempotency_key="r")
    assert caught.value.code == "payment_intent_unexpected_state"


# --- idempotency ----------------------------------------------------------------------------


async def test_creating_again_with_the_same_key_returns_the_same_intent_and_sends_nothing_new(
        ) -> None:
    gw = gateway()
    first = await create(gw, key="same")
    gw.drain()
    again = await create(gw, key="same")
    assert again == first
    assert gw.drain() == []
    other = await create(gw, key="other")
    assert other.reference != first.reference


async def test_capture_and_refund_retried_with_their_key_move_money_once() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL)
    captured = await gw.capture(intent.reference, amount=1000, idempotency_key="cap")
    assert await gw.capture(intent.reference, amount=1000, idempotency_key="cap") == captured

    refund = await gw.refund(intent.reference, amount=1000, idempotency_key="r")
    assert await gw.refund(intent.reference, amount=1000, idempotency_key="r") == refund
    # the retry did not refund again: a further refund of 1 would exceed the capture
    with pytest.raises(ProviderError) as caught:
        await gw.refund(intent.reference, amount=1, idempotency_key="r2")
    assert caught.value.code == "amount_too_large"


async def test_a_key_reused_with_other_arguments_is_refused() -> None:
    gw = gateway()
    intent = await create(gw, key="k", mode=CaptureMode.MANUAL)
    with pytest.raises(ProviderError) as caught:
        await create(gw, key="k", amount=9999, mode=CaptureMode.MANUAL)
    assert caught.value.code == "idempotency_key_reused"

    await gw.capture(intent.reference, amount=500, idempotency_key="cap")
    with pytest.raises(ProviderError) as caught:
        await gw.capture(intent.reference, amount=600, idempotency_key="cap")
    assert caught.value.code == "idempotency_key_reused"
    with pytest.raises(ProviderError) as caught:
        await gw.refund(intent.reference, amount=500, idempotency_key="cap")
    assert caught.value.code == "idempotency_key_reused"


async def test_an_error_a_call_ended_with_is_given_again_for_its_key() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL, payment_method="pm_card_fail_after_auth")
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            await gw.capture(intent.reference, amount=2500, idempotency_key="cap")
        assert caught.value.code == "capture_failed"


# --- outages --------------------------------------------------------------------------------


async def test_the_next_failing_calls_are_retryable_and_a_retry_with_the_key_succeeds() -> None:
    gw = gateway(behaviour=SandboxBehaviour(fail_next_calls=2))
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            await create(gw, key="k")
        assert (caught.value.code, caught.value.retryable) == ("provider_unavailable", True)
    assert gw.drain() == []  # the failed calls did nothing

    intent = await create(gw, key="k")
    assert intent.status is ProviderStatus.CAPTURED
    assert gw.behaviour.fail_next_calls == 0
    assert [e.type for e in events_of(gw)] == ["payment_intent.created",
                                               "payment_intent.succeeded"]


async def test_failing_calls_can_be_switched_on_between_calls() -> None:
    gw = gateway()
    intent = await create(gw, mode=CaptureMode.MANUAL)
    gw.behaviour.fail_next_calls = 1
    with pytest.raises(ProviderError) as caught:
        await gw.capture(intent.reference, amount=2500, idempotency_key="cap")
    assert caught.value.retryable
    assert (await gw.retrieve_intent(intent.reference)).status is ProviderStatus.AUTHORIZED


# --- webhooks -------------------------------------------------------------------------------


async def test_delivered_webhooks_are_signed_and_verify_to_the_intent_and_our_metadata() -> None:
    inbox = Inbox()
    gw = gateway(deliver=inbox)
    intent = await create(gw, mode=CaptureMode.MANUAL)
    await gw.capture(intent.reference, amount=2500, idempotency_key="cap")
    await gw.refund(intent.reference, amount=700, idempotency_key="r")
    await gw.wait_for_deliveries()

    assert inbox.types() == ["payment_intent.created", "payment_intent.amount_capturable_updated",
                             "payment_intent.succeeded", "charge.refunded"]
    headers, body = inbox.received[2]
    timestamp, signature = (part.split("=", 1)[1]
                            for part in headers["sandbox-signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert signature == expected  # Stripe's scheme, checked independently of the gateway

    events = [gw.verify_webhook(headers=h, body=b) for h, b in inbox.received]
    assert len({e.event_id for e in events}) == 4
    succeeded = events[2]
    assert succeeded.created == NOW
    assert succeeded.metadata == META
    assert succeeded.intent is not None
    assert succeeded.intent.reference == intent.reference
    assert succeeded.intent.status is ProviderStatus.CAPTURED
    assert succeeded.intent.amount_captured == 2500
    refunded = events[3]
    assert refunded.refund is not None and refunded.intent is None
    assert (refunded.refund.amount, refunded.refund.status) == (700, "succeeded")
    assert refunded.metadata == META


async def test_webhooks_wait_in_a_queue_when_there_is_no_deliver() -> None:
    gw = gateway()
    intent = await create(gw, payment_method="pm_card_3ds")
    await gw.cancel(intent.reference, idempotency_key="c")
    assert [e.type for e in events_of(gw)] == ["payment_intent.created",
                                               "payment_intent.requires_action",
                                               "payment_intent.canceled"]
    assert gw.drain() == []


async def test_duplicate_sends_each_batch_again_after_itself_with_the_same_event_ids() -> None:
    gw = gateway(behaviour=SandboxBehaviour(duplicate=True))
    await create(gw)
    events = events_of(gw)
    assert [e.type for e in events] == ["payment_intent.created", "payment_intent.succeeded"] * 2
    assert [e.event_id for e in events[:2]] == [e.event_id for e in events[2:]]


async def test_reorder_sends_a_calls_webhooks_newest_first() -> None:
    inbox = Inbox()
    gw = gateway(deliver=inbox, behaviour=SandboxBehaviour(reorder=True))
    await create(gw)
    await gw.wait_for_deliveries()
    assert inbox.types() == ["payment_intent.succeeded", "payment_intent.created"]


async def test_delayed_webhooks_arrive_only_after_the_delay() -> None:
    inbox = Inbox()
    gw = gateway(deliver=inbox, behaviour=SandboxBehaviour(delay_seconds=0.05))
    await create(gw)
    await asyncio.sleep(0.01)
    assert inbox.received == []
    await gw.wait_for_deliveries()
    assert inbox.types() == ["payment_intent.created", "payment_intent.succeeded"]


async def test_webhooks_are_sent_after_the_call_returns_not_inside_it() -> None:
    inbox = Inbox()
    gw = gateway(deliver=inbox)
    await create(gw)
    assert inbox.received == []
    await gw.wait_for_deliveries()
    assert len(inbox.received) == 2


async def test_a_webhook_the_receiver_refused_is_kept_as_failed() -> None:
    async def refuse(headers: dict[str, str], body: bytes) -> None:
        raise ConnectionError("receiver down")

    gw = gateway(deliver=refuse)
    await create(gw)
    await gw.wait_for_deliveries()
    assert len(gw.failed_deliveries) == 2
    headers, body, error = gw.failed_deliveries[0]
    assert isinstance(error, ConnectionError)
    assert gw.verify_webhook(headers=headers, body=body).type == "payment_intent.created"


# --- webhook verification -----------------------------------------------------------------


def event_body(**overrides: object) -> bytes:
    event: dict[str, object] = {
        "id": "evt_1", "type": "payment_intent.succeeded", "created": NOW,
        "data": {"object": {"object": "payment_intent", "id": "pi_1", "status": "captured",
                            "amount": 100, "currency": "EUR", "amount_authorized": 100,
                            "amount_captured": 100, "metadata": META}}}
    event.update(overrides)
    return json.dumps(event).encode()


def rejection(gw: SandboxGateway, headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(WebhookRejected) as caught:
        gw.verify_webhook(headers=headers, body=body)
    return caught.value.code


def test_a_webhook_signed_with_the_secret_is_accepted() -> None:
    event = gateway().verify_webhook(headers=sign(event_body(), secret=SECRET, timestamp=NOW),
                                     body=event_body())
    assert (event.event_id, event.type, event.metadata) == ("evt_1", "payment_intent.succeeded",
                                                             META)


def test_a_webhook_without_a_signature_is_refused_as_missing() -> None:
    assert rejection(gateway(), {"content-type": "application/json"},
                     event_body()) == "signature_missing"


def test_a_tampered_body_is_refused_as_invalid() -> None:
    headers = sign(event_body(), secret=SECRET, timestamp=NOW)
    assert rejection(gateway(), headers, event_body(type="charge.refunded")) \
        == "signature_invalid"


def test_a_webhook_signed_with_another_secret_is_refused_as_invalid() -> None:
    headers = sign(event_body(), secret="someone_else", timestamp=NOW)
    assert rejection(gateway(), headers, event_body()) == "signature_invalid"


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=00", f"t={NOW}", ""])
def test_a_malformed_signature_header_is_refused(header: str) -> None:
    expected = "signature_missing" if header == "" else "signature_invalid"
    assert rejection(gateway(), {"sandbox-signature": header}, event_body()) == expected


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_timestamp_beyond_five_minutes_either_way_is_refused(age: int) -> None:
    headers = sign(event_body(), secret=SECRET, timestamp=NOW - age)
    assert rejection(gateway(), headers, event_body()) == "timestamp_outside_tolerance"


def test_a_timestamp_within_five_minutes_is_accepted() -> None:
    headers = sign(event_body(), secret=SECRET, timestamp=NOW - 300)
    assert gateway().verify_webhook(headers=headers, body=event_body()).event_id == "evt_1"


def test_a_forged_signature_with_an_old_timestamp_is_refused_as_invalid_not_as_old() -> None:
    headers = sign(event_body(), secret="someone_else", timestamp=NOW - 3600)
    assert rejection(gateway(), headers, event_body()) == "signature_invalid"


def test_any_of_several_v1_signatures_may_match() -> None:
    good = sign(event_body(), secret=SECRET, timestamp=NOW)["sandbox-signature"]
    header = f"t={NOW},v1={'0' * 64},{good.split(',')[1]}"
    assert gateway().verify_webhook(headers={"Sandbox-Signature": header},
                                    body=event_body()).event_id == "evt_1"


@pytest.mark.parametrize("body", [
    b"not json",
    b"[1, 2]",
    json.dumps({"id": "evt_1", "type": "x", "created": NOW}).encode(),
    event_body(created="yesterday"),
    event_body(data={"object": {"object": "payment_intent", "id": "pi_1", "status": "lost"}}),
    event_body(data={"object": {"object": "dispute", "id": "dp_1"}}),
])
def test_a_signed_body_that_is_not_a_sandbox_event_is_refused_as_payload_invalid(
        body: bytes) -> None:
    headers = sign(body, secret=SECRET, timestamp=NOW)
    assert rejection(gateway(), headers, body) == "payload_invalid"
