"""The hosted checkout's card step, ``/c/{cart token}/pay/{order access token}``.

- **Stripe**: Stripe's Payment Element, in Stripe's own frames, with the client secret of the
  order's payment attempt; card numbers never touch Orderline. Stripe's script
  (``https://js.stripe.com/v3``) is loaded on this page only, and only this page's
  Content-Security-Policy lets it in (script, frames and connections to js.stripe.com and
  api.stripe.com). Stripe sends the buyer back to the order page, and tells us the outcome by
  its webhooks.
- **The sandbox** has no web page of its own, so this is the page it would host: the buyer
  picks a test outcome (succeeds or is declined), which is paid with the sandbox's test card
  of that outcome, through the same provider call and the same signed webhooks as any card
  payment.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from orderline.checkout import card_payment, hosted
from orderline.core.errors import DomainError, NotFound
from orderline.core.http import RuntimeDep
from orderline.web.buyer.checkout_forms import FormRefused, text
from orderline.web.buyer.checkout_links import buyer_locale, see_other
from orderline.web.buyer.pages import buyer_page
from orderline.web.buyer.refusals import refusal_of
from orderline.web.pages import FieldError
from orderline.web.rules import content_security_policy

router = APIRouter()
PAY = "/c/{token}/pay/{access_token}"
STRIPE_ORIGINS = ("https://js.stripe.com", "https://api.stripe.com")
# Stripe's page only: its script, its frames and its API, on top of the pages' own policy.
STRIPE_POLICY = content_security_policy(also={
    "script-src": ["https://js.stripe.com"], "frame-src": list(STRIPE_ORIGINS),
    "connect-src": list(STRIPE_ORIGINS)})


def _card_page(request: Request, token: str, access_token: str, shop_name: str,
               payment: card_payment.CardPayment, *, errors: list[FieldError] | None = None,
               status_code: int = 200) -> Response:
    stripe = payment.provider == card_payment.STRIPE
    return buyer_page(
        request, "buyer/checkout_card.html", shop_name=shop_name, status_code=status_code,
        errors=errors or [], token=token, access_token=access_token, payment=payment,
        order=payment.order, stripe=stripe, return_url=str(request.base_url).rstrip("/")
        + f"/o/{access_token}",
        headers={"Content-Security-Policy": STRIPE_POLICY} if stripe else None)


@router.get(PAY)
async def card_step(token: str, access_token: str, request: Request,
                    runtime: RuntimeDep) -> Response:
    cart = await hosted.open_cart(runtime, token)
    payment = await card_payment.card_payment(runtime, cart.caller, access_token[:200])
    if not payment.awaiting_payment:
        return see_other(f"/o/{access_token}")
    return _card_page(request, token, access_token, cart.shop_name, payment)


@router.post(PAY)
async def pay_on_sandbox(token: str, access_token: str, request: Request,
                         runtime: RuntimeDep) -> Response:
    """The sandbox's test card page: the outcome the buyer picked."""
    form = await request.form()
    locale = buyer_locale(request)
    cart = await hosted.open_cart(runtime, token)
    try:
        outcome = text(form, "outcome", locale, limit=20)
        payment = await card_payment.pay_with_test_card(runtime, cart.caller,
                                                        access_token[:200], outcome)
    except FormRefused as refused:
        errors, status_code = refused.errors, 422
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        errors = [FieldError(refusal_of(error, locale).sentence)]
        status_code = 402 if error.code == "payment_failed" else 409
    else:
        if not payment.awaiting_payment:
            return see_other(f"/o/{access_token}")
        errors, status_code = [], 200
    shown = await card_payment.card_payment(runtime, cart.caller, access_token[:200])
    return _card_page(request, token, access_token, cart.shop_name, shown, errors=errors,
                      status_code=status_code)
