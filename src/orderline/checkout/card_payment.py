"""The hosted checkout's card step: the buyer pays the order their checkout just placed.

The buyer holds two keys by then, the cart's token (the page's link) and the order's access
token (given once by the confirm); the step needs both, so neither alone opens another
buyer's payment. Card numbers never reach Orderline:

- with **Stripe** the page shows Stripe's Payment Element with the client secret of the
  order's payment attempt (``payments.buyer_card``), and Stripe tells us the outcome by its
  webhooks, as for any card payment;
- with the **sandbox** (the demo's and the tests' provider, which has no web page of its own)
  the page is the sandbox's test card page: the buyer picks a test outcome, which is the
  sandbox's test card (``pm_card_visa`` succeeds, ``pm_card_declined`` is declined), and the
  sandbox answers and sends its signed webhooks exactly as for ``POST /v1/orders/{id}/payments``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from orderline.checkout.carts import CartCaller, get_cart
from orderline.core.errors import NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.orders import store as order_store
from orderline.orders.callers import BUYER_ACTOR, OrderCaller, order_access
from orderline.orders.reading import read_order
from orderline.payments.buyer_card import attempt_for_browser
from orderline.payments.providers.sandbox import PM_APPROVE, PM_DECLINED
from orderline.payments.service import start_payment_for

CARD = "card"
SANDBOX = "sandbox"
STRIPE = "stripe"
PENDING_PAYMENT = "pending_payment"
# The sandbox's test page: each outcome the buyer may pick is one of its test cards.
TEST_OUTCOMES = {"succeed": PM_APPROVE, "decline": PM_DECLINED}


@dataclass(frozen=True, slots=True)
class CardPayment:
    """The order as its buyer sees it, the provider that takes the card, and for Stripe the
    client secret of the attempt the browser completes (with the publishable key)."""

    order: dict[str, Any]
    provider: str
    client_secret: str | None = None
    publishable_key: str = ""

    @property
    def awaiting_payment(self) -> bool:
        return bool(self.order["status"] == PENDING_PAYMENT)


async def _order_of(runtime: Runtime, caller: CartCaller, access_token: str) -> OrderCaller:
    """The order the buyer's cart became, if ``access_token`` is its access token."""
    assert caller.cart_id is not None
    cart = await get_cart(runtime, caller, caller.cart_id)
    if not cart.get("order_id") or not access_token.startswith("oat_"):
        raise NotFound("order", "token")
    order_caller, _ = await order_access(runtime, uuid.UUID(str(cart["order_id"])),
                                         bearer=None, access_token=access_token)
    return order_caller


async def _provider_of(runtime: Runtime, business_id: uuid.UUID) -> str:
    async with runtime.db.read() as conn:
        return await order_store.card_provider_of(conn, business_id)


async def card_payment(runtime: Runtime, caller: CartCaller, access_token: str) -> CardPayment:
    """What the card step shows: for Stripe, the attempt the Payment Element completes (the
    same one again on a reload)."""
    order_caller = await _order_of(runtime, caller, access_token)
    order = await read_order(runtime, order_caller)
    if order["payment_method"] != CARD:
        raise NotFound("order", order_caller.order_id)
    provider = await _provider_of(runtime, caller.business_id)
    if provider == SANDBOX or order["status"] != PENDING_PAYMENT:
        return CardPayment(order=order, provider=provider)
    attempt = await attempt_for_browser(runtime, caller.business_id, order_caller.order_id,
                                        provider=provider, actor=BUYER_ACTOR)
    return CardPayment(order=order, provider=provider, client_secret=attempt["client_secret"],
                       publishable_key=runtime.settings.stripe_publishable_key)


async def pay_with_test_card(runtime: Runtime, caller: CartCaller, access_token: str,
                             outcome: str) -> CardPayment:
    """The sandbox's test card page: pay with the test card of ``outcome`` (``succeed`` or
    ``decline``). A decline is ``payment_failed``; the buyer may try again."""
    card = TEST_OUTCOMES.get(outcome)
    if card is None:
        raise ValidationFailed("Choose a test outcome: succeed or decline.",
                               details={"field": "outcome"})
    order_caller = await _order_of(runtime, caller, access_token)
    if await _provider_of(runtime, caller.business_id) != SANDBOX:
        raise NotFound("sandbox payment", order_caller.order_id)
    await start_payment_for(runtime, caller.business_id, order_caller.order_id,
                            actor=BUYER_ACTOR, provider=SANDBOX, payment_method=card)
    return CardPayment(order=await read_order(runtime, order_caller), provider=SANDBOX)
