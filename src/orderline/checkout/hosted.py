"""What the hosted checkout (the buyer's page ``/c/{cart token}``) reads besides the cart and
the checkout themselves: the cart opened by its token, with the shop's name and the ways to
pay the business offers on the cart's channel, and where the business delivers an address
(the zone and its shipping methods) before the buyer commits to a checkout.

A token that opens no cart is ``not_found`` here (the page is a 404, as for a made-up link),
not ``unauthorized``: a link is the buyer's only key, and a stranger learns nothing from it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from orderline.checkout.carts import CartCaller, caller_for_token, get_cart
from orderline.checkout.cash_codes import CodeStatus, code_status
from orderline.checkout.checkouts import NewCheckout, get_checkout, start_checkout
from orderline.cod import store as cod_store
from orderline.core.errors import NotFound, Unauthorized
from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.orders import store as order_store
from orderline.orders.service import Contact
from orderline.payments.providers.configured import providers_of
from orderline.shipping import store as shipping_store
from orderline.shipping.rules import Address, match_zone, normalize_postal_code
from orderline.tenancy import store as tenancy_store

CARD = "card"
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class PaymentChoice:
    """One way to pay: ``kind`` is ``card``, ``cod`` or the manual method's kind
    (``bank_transfer``, ``e_wallet``, ``upi``); ``code`` is what the checkout is sent."""

    code: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class HostedCart:
    caller: CartCaller
    cart: dict[str, Any]
    shop_name: str
    payment_choices: tuple[PaymentChoice, ...]

    @property
    def is_open(self) -> bool:
        return bool(self.cart["status"] == "open")


@dataclass(frozen=True, slots=True)
class ShippingChoice:
    id: uuid.UUID
    name: str
    kind: str
    price: int
    free_above: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Whether the business delivers to an address, and how: ``zone_name`` is None when no
    zone covers it (the checkout would be ``undeliverable_address``)."""

    country: str
    zone_name: str | None
    methods: tuple[ShippingChoice, ...]

    @property
    def deliverable(self) -> bool:
        return self.zone_name is not None and bool(self.methods)

    @property
    def cheapest(self) -> int | None:
        return min((m.price for m in self.methods), default=None)


async def buyer_of(runtime: Runtime, token: str) -> CartCaller:
    """The buyer holding ``token``; any token that opens no cart is ``not_found``."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("cart", "token")
    try:
        return await caller_for_token(runtime, token)
    except Unauthorized:
        raise NotFound("cart", "token") from None


async def open_cart(runtime: Runtime, token: str) -> HostedCart:
    """The cart the link opens, the shop's name and the ways to pay on the cart's channel:
    the manual methods that are on and offered there, cash on delivery when the business
    offers it (whether this order may be paid in cash is decided at checkout), and card when
    the business's card provider is set up in this deployment."""
    caller = await buyer_of(runtime, token)
    assert caller.cart_id is not None
    cart = await get_cart(runtime, caller, caller.cart_id)
    async with runtime.db.read() as conn:
        business = await tenancy_store.get_business(conn, caller.business_id)
        if business is None:
            raise NotFound("cart", caller.cart_id)
        settings = await tenancy_store.business_settings(conn, caller.business_id)
        manual = await manual_methods.methods_on_channel(conn, caller.business_id,
                                                         cart["channel"])
        provider = await order_store.card_provider_of(conn, caller.business_id)
    choices = [PaymentChoice(code=m["code"], kind=m["kind"], name=m["name"]) for m in manual]
    if settings.cod_enabled:
        choices.append(PaymentChoice(code=cod_store.COD, kind=cod_store.COD,
                                     name="Cash on delivery"))
    if provider in providers_of(runtime):
        choices.insert(0, PaymentChoice(code=CARD, kind=CARD, name="Card"))
    return HostedCart(caller=caller, cart=cart, shop_name=str(business["name"]),
                      payment_choices=tuple(choices))


async def delivery_to(runtime: Runtime, caller: CartCaller, *, country: str, region: str = "",
                      postal_code: str = "") -> Delivery:
    """Where the business delivers this country, region and postal code: the zone the
    checkout would use (the same rule, ``match_zone``) and its active shipping methods."""
    country = country.strip().upper()[:2]
    address = Address(name="-", line1="-", city="-", country=country,
                      region=region.strip()[:200],
                      postal_code=normalize_postal_code(postal_code)[:20])
    async with runtime.db.read() as conn:
        zone = match_zone(await shipping_store.zone_terms(conn, caller.business_id), address)
        if zone is None:
            return Delivery(country=country, zone_name=None, methods=())
        terms = await shipping_store.methods_of_zone(conn, caller.business_id, zone.id)
    return Delivery(country=country, zone_name=zone.name, methods=tuple(
        ShippingChoice(id=uuid.UUID(t.method_id), name=t.name, kind=t.kind.value,
                       price=t.price, free_above=t.free_above) for t in terms))


@dataclass(frozen=True, slots=True)
class HostedReview:
    """The cart (with its shop and ways to pay) and one of its checkouts: the review step."""

    hosted: HostedCart
    checkout: dict[str, Any]


async def open_review(runtime: Runtime, token: str, checkout_id: uuid.UUID) -> HostedReview:
    """The cart the link opens and its checkout ``checkout_id`` (another cart's checkout is
    ``not_found``); prices older than the business's limit are priced again first."""
    hosted = await open_cart(runtime, token)
    return HostedReview(hosted=hosted,
                        checkout=await get_checkout(runtime, hosted.caller, checkout_id))


async def change_coupons(runtime: Runtime, caller: CartCaller, checkout_id: uuid.UUID,
                         codes: list[str]) -> dict[str, Any]:
    """The same checkout with these coupon codes instead: a new checkout of the cart with the
    earlier one's address, buyer, shipping method and way to pay (it replaces the earlier
    one, whose stock goes back), or the coupon's refusal, the earlier one left as it was."""
    earlier = await get_checkout(runtime, caller, checkout_id)
    method = earlier.get("shipping_method") or {}
    buyer = earlier["customer"]
    return await start_checkout(runtime, caller, NewCheckout(
        cart_id=earlier["cart_id"], address=Address.from_dict(earlier["address"]),
        shipping_method_id=uuid.UUID(str(method["id"])) if method.get("id") else None,
        payment_method=earlier["payment_method"], coupon_codes=codes,
        customer=Contact(name=buyer["name"], phone=buyer["phone"], email=buyer["email"])))


async def open_code_step(runtime: Runtime, token: str,
                         checkout_id: uuid.UUID) -> tuple[HostedReview, CodeStatus]:
    """The review of a cash-on-delivery checkout and where its one-time code stands."""
    review = await open_review(runtime, token, checkout_id)
    return review, await code_status(runtime, review.hosted.caller, checkout_id)
