"""Every refusal the hosted checkout can meet, as a plain sentence with the buyer's next step.

The use cases refuse with a stable ``code`` (``docs/errors.md``); the buyer never sees the
code nor the API's message (written for integrators: "send POST .../otp"), but the sentence
here, in the page's language (``locale/id/LC_MESSAGES/buyer-checkout.po``). Figures from the
refusal's ``details`` fill the sentence's ``%(name)s`` placeholders (``retry_after_seconds``,
``available``...). ``tests/unit/test_buyer_refusals.py`` checks that every checkout, cash on
delivery, coupon and card code of the errors page has its sentence here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderline.core.errors import DomainError
from orderline.web.translations import translations_for


def _(message: str) -> str:
    """Marks a sentence for the catalogs; ``sentence_for`` translates it when shown."""
    return message


# code -> the sentence, then what to do next. English; translations in buyer-checkout.po.
SENTENCES: dict[str, str] = {
    # the cart and its lines
    "cart_empty": _("Your cart is empty. Add something to it in the shop, then come back."),
    "cart_closed": _("This cart is already an order, or was given up, so it can no longer "
                     "change. Start a new cart in the shop."),
    "draft_order_closed": _("This order is no longer open: it was placed, or the shop "
                            "withdrew it. Ask the shop if you need a new link."),
    "draft_link_expired": _("This link has expired. Ask the shop for a new one."),
    "cart_changed": _("Your cart changed after these totals were worked out. Check your "
                      "details again to see the new totals."),
    "out_of_stock": _("Some items are no longer in stock in the quantity you asked for. "
                      "Lower the quantity or remove them, then try again."),
    "insufficient_stock": _("Some items are no longer in stock in the quantity you asked "
                            "for. Lower the quantity or remove them, then try again."),
    "quantity_above_limit": _("That is more of one item than the shop sells in one order "
                              "(at most %(max_line_quantity)s). Lower the quantity."),
    "unknown_sku": _("One of the items is no longer sold by the shop. Remove it from your "
                     "cart."),
    "variant_archived": _("One of the items is no longer sold by the shop. Remove it from "
                          "your cart."),
    "below_minimum_order": _("Your order is below the shop's minimum order. Add more items "
                             "to your cart."),
    "above_maximum_order": _("Your order is above the most the shop takes in one order. "
                             "Remove some items."),
    "zero_total_order": _("This order comes to nothing, and the shop does not take free "
                          "orders. Add an item to your cart."),
    # delivery
    "undeliverable_address": _("The shop does not deliver to this address. Use another "
                               "address."),
    "shipping_method_unavailable": _("This delivery option is not offered for your address. "
                                     "Choose another delivery option."),
    # coupons
    "invalid_coupon": _("We do not know this coupon code. Check how it is written, or remove "
                        "it."),
    "coupon_not_started": _("This coupon cannot be used yet. Remove it, or come back when it "
                            "starts."),
    "coupon_expired": _("This coupon has expired. Remove it to continue."),
    "coupon_minimum_not_met": _("Your order is below this coupon's minimum. Add more items, "
                                "or remove the coupon."),
    "coupon_not_applicable": _("This coupon does not apply to the items in your cart (or "
                               "cannot be combined with your other coupon). Remove it."),
    "coupon_exhausted": _("This coupon has been used up. Remove it and check your new "
                          "total."),
    "coupon_customer_limit_reached": _("You have already used this coupon as often as it "
                                       "allows. Remove it and check your new total."),
    # the checkout and the confirm
    "checkout_expired": _("The time we held your items for ran out. Check your details again "
                          "to hold them anew."),
    "checkout_superseded": _("You started this checkout again in another tab or window. "
                             "Continue with the newest one."),
    "checkout_already_confirmed": _("This order is already placed; it is never placed "
                                    "twice."),
    "price_changed": _("A price, the delivery cost or the tax changed since you looked. "
                       "Check the new total below, then place your order again."),
    "idempotency_key_required": _("Something went wrong with this form. Reload the page and "
                                  "try again."),
    "idempotency_key_reused": _("This form was already used for another order attempt. "
                                "Reload the page and try again."),
    "request_in_progress": _("Your order is still being placed. Wait a moment, then reload "
                             "the page."),
    "confirm_in_flight": _("Your order is still being placed. Wait a moment, then reload the "
                           "page."),
    "rate_limited": _("Too many tries in a short time. Try again in %(retry_after_seconds)s "
                      "seconds."),
    "version_conflict": _("Your cart changed in another tab. Check it again."),
    # ways to pay
    "payment_method_unavailable": _("This way to pay is not offered at the moment. Choose "
                                    "another way to pay."),
    "cod_unavailable": _("Cash on delivery is not offered for this order. Choose another way "
                         "to pay."),
    "cod_disabled": _("The shop does not take cash on delivery. Choose another way to pay."),
    "cod_zone_not_allowed": _("Cash on delivery is not offered at this address. Choose "
                              "another way to pay."),
    "cod_total_above_limit": _("This order is above the most the shop takes in cash on "
                               "delivery. Choose another way to pay, or order less."),
    "cod_too_many_open_orders": _("You already have cash-on-delivery orders waiting to be "
                                  "delivered. Pay this one another way, or wait until they "
                                  "arrive."),
    "cod_trust_too_low": _("Cash on delivery is not offered for this order. Choose another "
                           "way to pay."),
    "otp_required": _("To place a cash-on-delivery order, enter the code we send to your "
                      "phone."),
    "otp_rejected": _("That code was not accepted. Ask for a new code."),
    "otp_invalid": _("That code is not right. Check the code in your message and try "
                     "again."),
    "otp_expired": _("That code has expired. Ask for a new code."),
    "otp_locked": _("Too many wrong codes. Ask for a new code."),
    "otp_already_used": _("That code was already used. Ask for a new code."),
    "message_not_sent": _("We could not send the code just now. Ask for a new code in a "
                          "moment."),
    "payment_failed": _("Your card was declined. Try another card, or ask your bank why."),
    "payment_in_progress": _("A payment of this order is already under way. Wait a moment, "
                             "then reload the page."),
    "payment_provider_unavailable": _("The card payment service did not answer. Nothing was "
                                      "charged. Try again in a moment."),
    "payment_deadline_passed": _("The time to pay this order has passed. Place the order "
                                 "again."),
    "invalid_transition": _("This order can no longer be paid here. Open your order to see "
                            "where it stands."),
    "unknown_payment_provider": _("Card payments are not available at the moment. Choose "
                                  "another way to pay."),
    # anything else the form sends that a rule refuses
    "validation_error": _("Some of the details are not right. Check the highlighted fields."),
    "not_found": _("We could not find this. Reload the page."),
}

# Said when a code has no sentence of its own (a refusal added later): never the code.
FALLBACK = _("Something stopped your order. Check your details and try again.")


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the page shows for a refusal: the sentence, and the code (for the markup)."""

    code: str
    sentence: str


def sentence_for(code: str, locale: str, details: Mapping[str, Any] | None = None) -> str:
    """The sentence for ``code`` in ``locale``, with ``details`` filled in."""
    text = translations_for(locale).gettext(SENTENCES.get(code, FALLBACK))
    values = {k: v for k, v in (details or {}).items() if isinstance(v, int | str)}
    try:
        return text % values if "%(" in text else text
    except (KeyError, ValueError, TypeError):
        return translations_for(locale).gettext(FALLBACK)


def refusal_of(error: DomainError, locale: str) -> Refusal:
    return Refusal(code=error.code, sentence=sentence_for(error.code, locale, error.details))
