"""A card gateway for the demo and the tests, held to a real provider's discipline.

Test payment methods drive the outcome, like Stripe's test cards:

=============================  ===============================================================
``pm_card_visa`` or ``None``   approved (captured at once, or authorised for manual capture)
``pm_card_declined``           failed, ``card_declined``
``pm_card_insufficient_funds`` failed, ``insufficient_funds``
``pm_card_3ds``                ``requires_action`` with a redirect; ``complete_action`` settles it
``pm_card_processing``         ``processing``; ``complete_action`` settles it
``pm_card_fail_after_auth``    authorised, but ``capture`` fails with ``capture_failed``
=============================  ===============================================================

Like a real provider it is one system for every process that calls it: with a database
(``db``, what the runtime gives it) its intents and idempotency keys live in their own tables
(``sandbox_store.DatabaseBook``), so a refund, a capture or the saga's void may land on any
server process or the worker, before or after a restart. Without one it keeps them in this
process's memory (unit tests, the bench's stand-in).

Every money-moving call is idempotent by key: the same key with the same arguments gives the
first answer again (an error the call ended with included, as Stripe saves it); the same key
with other arguments is ``idempotency_key_reused``. Argument checks (a non-positive amount, an
unknown payment method or intent) run before the key is looked at and are not saved.

Each state change sends a webhook signed with Stripe's scheme under the ``sandbox-signature``
header, from the process that made the call, once the call's transaction has ended.
Webhooks go out from asyncio tasks, never inside the call that caused them: a service
that calls the gateway inside a database transaction and handles webhooks in another would
otherwise wait on itself. ``wait_for_deliveries`` awaits them; with no ``deliver`` and no delay
they are queued at once for ``drain``. ``SandboxBehaviour`` adds the network's misbehaviour:
delays, duplicates (the batch is sent again after itself, so a stale copy arrives after a newer
event), reversed batches, and calls that fail as if the provider were down (this process's
calls only).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orderline.core.db.engine import Database
from orderline.payments.providers.base import (
    ProviderError,
    ProviderEvent,
    ProviderIntent,
    ProviderRefund,
    ProviderStatus,
    WebhookRejected,
)
from orderline.payments.providers.sandbox_store import (
    DatabaseBook,
    MemoryBook,
    SandboxBook,
    SandboxIntent,
    Saved,
    fingerprint_of,
)
from orderline.payments.providers.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    header_value,
    signature_header,
    verify_signature,
)
from orderline.tenancy.rules import CaptureMode

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, str], bytes], Awaitable[None]]
Delivery = tuple[dict[str, str], bytes]

SIGNATURE_HEADER = "sandbox-signature"
REDIRECT_BASE = "https://sandbox.invalid/3ds/"

PM_APPROVE = "pm_card_visa"
PM_DECLINED = "pm_card_declined"
PM_INSUFFICIENT_FUNDS = "pm_card_insufficient_funds"
PM_3DS = "pm_card_3ds"
PM_PROCESSING = "pm_card_processing"
PM_FAIL_AFTER_AUTH = "pm_card_fail_after_auth"
TEST_PAYMENT_METHODS = frozenset({PM_APPROVE, PM_DECLINED, PM_INSUFFICIENT_FUNDS, PM_3DS,
                                  PM_PROCESSING, PM_FAIL_AFTER_AUTH})

_DECLINES = {
    PM_DECLINED: ("card_declined", "Your card was declined."),
    PM_INSUFFICIENT_FUNDS: ("insufficient_funds", "Your card has insufficient funds."),
}


@dataclass(slots=True)
class SandboxBehaviour:
    """How the sandbox misbehaves; mutable, so a test can change it between calls."""

    delay_seconds: float = 0.0  # each batch of webhooks is sent this long after the call
    duplicate: bool = False  # each batch is sent twice, the copy after the original
    reorder: bool = False  # a call's webhooks for its intent are sent newest first
    fail_next_calls: int = 0  # the next N API calls raise a retryable provider_unavailable


def sign(body: bytes, *, secret: str, timestamp: int) -> dict[str, str]:
    """The headers the sandbox sends with ``body`` signed at ``timestamp`` (for tests)."""
    return {"content-type": "application/json",
            SIGNATURE_HEADER: signature_header(body, secret=secret, timestamp=timestamp)}


@dataclass(slots=True)
class _Outcome:
    """What a call did: its answer or error, the webhooks it sends, and the intent it changed
    (``created``: a new one) to keep."""

    result: ProviderIntent | ProviderRefund | None = None
    error: ProviderError | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    intent: SandboxIntent | None = None
    created: bool = False


class SandboxGateway:
    """``PaymentProvider`` kept in the database ``db`` (in this process's memory without one);
    see the module docstring for its test cards."""

    name = "sandbox"

    def __init__(self, *, secret: str, deliver: Deliver | None = None,
                 clock: Callable[[], float] = time.time,
                 behaviour: SandboxBehaviour | None = None,
                 db: Database | None = None) -> None:
        self._secret = secret
        self._deliver = deliver
        self._clock = clock
        self.behaviour = behaviour if behaviour is not None else SandboxBehaviour()
        self._book: SandboxBook = MemoryBook() if db is None else DatabaseBook(db, clock=clock)
        self._outbox: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._delivery_lock = asyncio.Lock()
        # webhooks whose ``deliver`` raised: (headers, body, error); real providers retry them
        self.failed_deliveries: list[tuple[dict[str, str], bytes, Exception]] = []

    # --- the provider's API -------------------------------------------------------------

    async def create_intent(self, *, amount: int, currency: str, capture_mode: CaptureMode,
                            idempotency_key: str, metadata: dict[str, str],
                            payment_method: str | None = None) -> ProviderIntent:
        self._maybe_unavailable()
        _check_amount(amount)
        if payment_method is not None and payment_method not in TEST_PAYMENT_METHODS:
            raise ProviderError(f"No such payment method: {payment_method!r}.",
                                code="payment_method_invalid")
        currency = currency.upper()
        fingerprint = ("create_intent", amount, currency, CaptureMode(capture_mode),
                       tuple(sorted(metadata.items())), payment_method)
        outcome = await self._idempotent(idempotency_key, fingerprint, None, lambda _: (
            self._create(amount=amount, currency=currency,
                         capture_mode=CaptureMode(capture_mode), metadata=metadata,
                         payment_method=payment_method)))
        assert isinstance(outcome, ProviderIntent)
        return outcome

    async def retrieve_intent(self, reference: str) -> ProviderIntent:
        self._maybe_unavailable()
        async with self._book.transaction() as tx:
            return _existing(await tx.intent(reference), reference).snapshot()

    async def capture(self, reference: str, *, amount: int,
                      idempotency_key: str) -> ProviderIntent:
        self._maybe_unavailable()
        _check_amount(amount)
        outcome = await self._idempotent(idempotency_key, ("capture", reference, amount),
                                         reference, lambda intent: self._capture(intent, amount))
        assert isinstance(outcome, ProviderIntent)
        return outcome

    async def cancel(self, reference: str, *, idempotency_key: str) -> ProviderIntent:
        """Void an authorisation, or cancel an intent not yet paid."""
        self._maybe_unavailable()
        outcome = await self._idempotent(idempotency_key, ("cancel", reference), reference,
                                         self._cancel)
        assert isinstance(outcome, ProviderIntent)
        return outcome

    async def refund(self, reference: str, *, amount: int,
                     idempotency_key: str) -> ProviderRefund:
        self._maybe_unavailable()
        _check_amount(amount)
        outcome = await self._idempotent(idempotency_key, ("refund", reference, amount),
                                         reference, lambda intent: self._refund(intent, amount))
        assert isinstance(outcome, ProviderRefund)
        return outcome

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> ProviderEvent:
        """Check the signature and timestamp first, then parse; raises ``WebhookRejected``."""
        verify_signature(body, header_value(headers, SIGNATURE_HEADER), secret=self._secret,
                         now=self._clock(), tolerance=DEFAULT_TOLERANCE_SECONDS)
        return parse_event(body)

    # --- what the buyer does ------------------------------------------------------------

    async def complete_action(self, reference: str, approve: bool) -> ProviderIntent:
        """The buyer finishes 3-D Secure (or the bank settles a processing payment): approved,
        the intent is authorised or captured by its capture mode; refused, it fails."""
        async with self._book.transaction() as tx:
            intent = _existing(await tx.intent(reference), reference)
            if intent.status not in (ProviderStatus.REQUIRES_ACTION,
                                     ProviderStatus.PROCESSING):
                raise ProviderError(
                    f"Intent {reference} is {intent.status.value}; there is no action to "
                    "complete.", code="payment_intent_unexpected_state")
            waiting_for = intent.status
            intent.next_action = None
            events: list[dict[str, Any]] = []
            if approve:
                events.append(self._approve(intent))
            elif waiting_for is ProviderStatus.REQUIRES_ACTION:
                events.append(self._fail(intent, "payment_intent_authentication_failure",
                                         "The buyer did not complete 3-D Secure."))
            else:
                events.append(self._fail(intent, *_DECLINES[PM_DECLINED]))
            await tx.put(intent, new=False)
        self._emit(events)
        return intent.snapshot()

    # --- webhooks -------------------------------------------------------------------------

    def drain(self) -> list[Delivery]:
        """The webhooks queued so far (when there is no ``deliver``), oldest first; clears them."""
        queued, self._outbox = self._outbox, []
        return queued

    async def wait_for_deliveries(self) -> None:
        """Wait until every webhook sent so far has been delivered (or queued)."""
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks))

    async def aclose(self) -> None:
        """Drop webhooks still waiting to be delivered."""
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    # --- state changes (synchronous, in the call's transaction, the intent locked) ---------

    def _create(self, *, amount: int, currency: str, capture_mode: CaptureMode,
                metadata: dict[str, str], payment_method: str | None) -> _Outcome:
        reference = "pi_sbx_" + secrets.token_hex(12)
        intent = SandboxIntent(reference=reference, amount=amount, currency=currency,
                               capture_mode=capture_mode, metadata=dict(metadata),
                               payment_method=payment_method,
                               client_secret=f"{reference}_secret_{secrets.token_hex(12)}")
        events = [self._event("payment_intent.created", intent.wire())]
        if payment_method in _DECLINES:
            events.append(self._fail(intent, *_DECLINES[payment_method]))
        elif payment_method == PM_3DS:
            intent.status = ProviderStatus.REQUIRES_ACTION
            intent.next_action = {"type": "redirect", "url": REDIRECT_BASE + reference}
            events.append(self._event("payment_intent.requires_action", intent.wire()))
        elif payment_method == PM_PROCESSING:
            intent.status = ProviderStatus.PROCESSING
            events.append(self._event("payment_intent.processing", intent.wire()))
        else:
            events.append(self._approve(intent))
        return _Outcome(result=intent.snapshot(), events=events, intent=intent, created=True)

    def _capture(self, intent: SandboxIntent, amount: int) -> _Outcome:
        if intent.status is ProviderStatus.CAPTURED:
            return _Outcome(error=ProviderError(f"Intent {intent.reference} is already captured.",
                                                code="already_captured"))
        if intent.status is not ProviderStatus.AUTHORIZED:
            return _Outcome(error=_unexpected_state(intent, "captured"))
        if amount > intent.amount_authorized:
            return _Outcome(error=ProviderError(
                f"Cannot capture {amount}: only {intent.amount_authorized} is authorised.",
                code="amount_too_large"))
        if intent.payment_method == PM_FAIL_AFTER_AUTH:
            return _Outcome(error=ProviderError("The issuer refused the capture.",
                                                code="capture_failed"))
        intent.status = ProviderStatus.CAPTURED
        intent.amount_captured = amount  # a partial capture releases the rest, as Stripe does
        return _Outcome(result=intent.snapshot(), intent=intent,
                        events=[self._event("payment_intent.succeeded", intent.wire())])

    def _cancel(self, intent: SandboxIntent) -> _Outcome:
        if intent.status is ProviderStatus.CAPTURED:
            return _Outcome(error=ProviderError(
                f"Intent {intent.reference} is already captured; refund it instead.",
                code="already_captured"))
        if intent.status not in (ProviderStatus.AUTHORIZED, ProviderStatus.REQUIRES_ACTION,
                                 ProviderStatus.FAILED):
            return _Outcome(error=_unexpected_state(intent, "cancelled"))
        intent.status = ProviderStatus.CANCELLED
        intent.amount_authorized = 0
        intent.next_action = None
        return _Outcome(result=intent.snapshot(), intent=intent,
                        events=[self._event("payment_intent.canceled", intent.wire())])

    def _refund(self, intent: SandboxIntent, amount: int) -> _Outcome:
        if intent.status is not ProviderStatus.CAPTURED:
            return _Outcome(error=_unexpected_state(intent, "refunded"))
        if intent.amount_refunded + amount > intent.amount_captured:
            return _Outcome(error=ProviderError(
                f"Cannot refund {amount}: {intent.amount_captured - intent.amount_refunded} "
                f"of {intent.amount_captured} is left to refund.", code="amount_too_large"))
        intent.amount_refunded += amount
        refund = ProviderRefund(reference="re_sbx_" + secrets.token_hex(12), amount=amount,
                                status="succeeded")
        wire = {"object": "refund", "id": refund.reference, "amount": refund.amount,
                "status": refund.status, "currency": intent.currency,
                "payment_intent": intent.reference, "metadata": dict(intent.metadata)}
        return _Outcome(result=refund, intent=intent,
                        events=[self._event("charge.refunded", wire)])

    def _approve(self, intent: SandboxIntent) -> dict[str, Any]:
        intent.amount_authorized = intent.amount
        if intent.capture_mode is CaptureMode.AUTOMATIC:
            intent.status = ProviderStatus.CAPTURED
            intent.amount_captured = intent.amount
            return self._event("payment_intent.succeeded", intent.wire())
        intent.status = ProviderStatus.AUTHORIZED
        return self._event("payment_intent.amount_capturable_updated", intent.wire())

    def _fail(self, intent: SandboxIntent, code: str, message: str) -> dict[str, Any]:
        intent.status = ProviderStatus.FAILED
        intent.failure_code = code
        intent.failure_message = message
        return self._event("payment_intent.payment_failed", intent.wire())

    # --- plumbing ---------------------------------------------------------------------

    def _maybe_unavailable(self) -> None:
        if self.behaviour.fail_next_calls > 0:
            self.behaviour.fail_next_calls -= 1
            raise ProviderError("The sandbox provider is unavailable (simulated).",
                                code="provider_unavailable", retryable=True)

    async def _idempotent(self, key: str, arguments: tuple[object, ...], reference: str | None,
                          run: Callable[[Any], _Outcome]) -> ProviderIntent | ProviderRefund:
        """One call in one transaction of the book: lock the intent it acts on (unknown: not
        saved under the key), claim the key, and only if the key is new ``run`` it on that
        intent (None for a create)."""
        fingerprint = fingerprint_of(arguments)
        events: list[dict[str, Any]] = []
        async with self._book.transaction() as tx:
            intent = None if reference is None else _existing(await tx.intent(reference),
                                                              reference)
            saved = await tx.claim(key, fingerprint)
            if saved is None:
                outcome = run(intent)
                saved = Saved(fingerprint=fingerprint, result=outcome.result,
                              error=outcome.error)
                await tx.keep(key, saved)
                if outcome.intent is not None:
                    await tx.put(outcome.intent, new=outcome.created)
                events = outcome.events
        if saved.fingerprint != fingerprint:
            raise ProviderError(
                f"Idempotency key {key!r} was used before with other arguments.",
                code="idempotency_key_reused")
        self._emit(events)
        if saved.error is not None:
            raise ProviderError(str(saved.error), code=saved.error.code,
                                retryable=saved.error.retryable)
        assert saved.result is not None
        return saved.result

    def _event(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"id": "evt_sbx_" + secrets.token_hex(12), "type": type_,
                "created": int(self._clock()), "data": {"object": obj}}

    def _signed(self, event: dict[str, Any]) -> Delivery:
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        return sign(body, secret=self._secret, timestamp=int(self._clock())), body

    def _emit(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        batch = list(reversed(events)) if self.behaviour.reorder else list(events)
        if self.behaviour.duplicate:
            batch = batch + batch
        delay = self.behaviour.delay_seconds
        if self._deliver is None and delay <= 0:
            self._outbox.extend(self._signed(event) for event in batch)
            return
        task = asyncio.get_running_loop().create_task(self._send(batch, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[dict[str, Any]], delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        # one batch at a time, in the order the calls were made (asyncio.Lock is FIFO)
        async with self._delivery_lock:
            for event in batch:
                headers, body = self._signed(event)  # signed when sent, as a provider does
                if self._deliver is None:
                    self._outbox.append((headers, body))
                    continue
                try:
                    await self._deliver(headers, body)
                except Exception as exc:
                    log.warning("sandbox webhook %s (%s) not delivered: %r",
                                event["id"], event["type"], exc)
                    self.failed_deliveries.append((headers, body, exc))


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ProviderError(f"The amount must be a positive integer, not {amount!r}.",
                            code="invalid_amount")


def _existing(intent: SandboxIntent | None, reference: str) -> SandboxIntent:
    if intent is None:
        raise ProviderError(f"No such payment intent: {reference!r}.", code="resource_missing")
    return intent


def _unexpected_state(intent: SandboxIntent, wanted: str) -> ProviderError:
    return ProviderError(
        f"Intent {intent.reference} is {intent.status.value} and cannot be {wanted}.",
        code="payment_intent_unexpected_state")


# --- parsing a verified body ----------------------------------------------------------------


class _Malformed(Exception):
    pass


def parse_event(body: bytes) -> ProviderEvent:
    """A sandbox webhook body (already verified) as a ``ProviderEvent``; raises
    ``WebhookRejected("payload_invalid")`` when it is not JSON of the expected shape."""
    try:
        event = json.loads(body)
        if not isinstance(event, dict):
            raise _Malformed("the body is not a JSON object")
        data = _obj(event, "data")
        obj = _obj(data, "object")
        metadata = _metadata(obj)
        kind = _str(obj, "object")
        intent = refund = None
        if kind == "payment_intent":
            intent = _intent_from_wire(obj)
        elif kind == "refund":
            refund = ProviderRefund(reference=_str(obj, "id"), amount=_int(obj, "amount"),
                                    status=_str(obj, "status"))
        else:
            raise _Malformed(f"unknown object {kind!r}")
        return ProviderEvent(event_id=_str(event, "id"), type=_str(event, "type"),
                             created=_int(event, "created"), intent=intent, refund=refund,
                             metadata=metadata)
    except (_Malformed, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise WebhookRejected("payload_invalid", f"The webhook body is not valid: {exc}.") \
            from None


def _intent_from_wire(obj: Mapping[str, Any]) -> ProviderIntent:
    next_action = obj.get("next_action")
    if next_action is not None and not isinstance(next_action, dict):
        raise _Malformed("next_action is not an object")
    return ProviderIntent(
        reference=_str(obj, "id"), status=ProviderStatus(_str(obj, "status")),
        amount=_int(obj, "amount"), currency=_str(obj, "currency"),
        amount_authorized=_int(obj, "amount_authorized"),
        amount_captured=_int(obj, "amount_captured"), next_action=next_action,
        failure_code=_optional_str(obj, "failure_code"),
        failure_message=_optional_str(obj, "failure_message"))


def _obj(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise _Malformed(f"{key} is not an object")
    return value


def _str(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{key} is not a non-empty string")
    return value


def _optional_str(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise _Malformed(f"{key} is not a string")
    return value


def _int(parent: Mapping[str, Any], key: str) -> int:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{key} is not an integer")
    return value


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    value = obj.get("metadata", {})
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _Malformed("metadata is not an object of strings")
    return dict(value)
