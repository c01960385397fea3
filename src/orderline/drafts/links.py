"""A draft order's link: sending it, the buyer opening it, and the draft ending (completed by
its order, or cancelled by the merchant).

Sending gives the draft a new random link token (the answer shows the link; only the token's
hash is kept, as for an order's page token) and an optional expiry. Sending again, before the
buyer opened it, gives a new link and the earlier one stops opening.

Opening the link is two transactions, each under the draft's row lock, so that the same link
opened twice (or at once, from two tabs or two servers) reaches one cart and one checkout:

1. the first opening makes the cart, with the draft's lines, the buyer, and a token derived from
   the link's (``rules.cart_token_for``), and marks the draft ``open``; later openings find it;
2. when the draft has a delivery address, the cart's open checkout is resumed, or one is started
   with the draft's address, shipping method, coupons and way to pay: it holds the stock, as
   every checkout does. A checkout that cannot start (an item out of stock, say) rolls back
   alone: the cart stays, and the hosted checkout page shows the buyer the refusal.

A draft is ``completed`` in the confirm's own transaction (``complete_for_cart``, a checkout
hook). Cancelling a draft whose link was opened ends its checkout (the stock goes back) and
abandons its cart, taking the checkout's and the cart's locks first, in the confirm's order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import store as catalog_store
from orderline.checkout import carts, checkouts, hosted
from orderline.checkout.carts import CartCaller, CartLineToAdd
from orderline.checkout.checkouts import NewCheckout
from orderline.checkout.hooks import CartConverted
from orderline.core.errors import (
    CartEmpty,
    DomainError,
    DraftLinkExpired,
    DraftOrderClosed,
    NotFound,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.drafts import store
from orderline.drafts.rules import (
    CANCELLABLE,
    EDITABLE,
    LINK_TOKEN_PREFIX,
    MAX_LINK_DAYS,
    OPENABLE,
    DraftStatus,
    cart_token_for,
    link_lapsed,
    new_link_token,
)
from orderline.drafts.service import _open_for_change, record, view_of
from orderline.drafts.store import DraftRow
from orderline.events.event_types import EventType
from orderline.orders.service import Contact, hash_access_token
from orderline.shipping.rules import Address
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope

# What made a link's cart (``carts.made_by``): its confirm runs ``complete_for_cart``.
DRAFT_ORDER = "draft_order"

MAX_TOKEN_LENGTH = 200


async def send_draft(runtime: Runtime, principal: Principal, draft_id: uuid.UUID, *,
                     expires_in_hours: int | None = None,
                     expected_version: int | None = None) -> dict[str, Any]:
    """A new link for the draft (status ``sent``): the answer's ``link_token`` is shown only
    here; ``expires_in_hours`` (at most 90 days) makes the link stop opening after that."""
    principal.require(Scope.WRITE)
    if expires_in_hours is not None and not 1 <= expires_in_hours <= MAX_LINK_DAYS * 24:
        raise ValidationFailed(f"expires_in_hours is between 1 and {MAX_LINK_DAYS * 24}.",
                               details={"field": "expires_in_hours"})
    token = new_link_token()
    now = runtime.clock.now()
    expires_at = None if expires_in_hours is None else now + timedelta(hours=expires_in_hours)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        before = await _open_for_change(conn, principal.business_id, draft_id,
                                        expected_version=expected_version, now=now,
                                        statuses=EDITABLE)
        location = await catalog_store.find_location(conn, principal.business_id, None)
        assert location is not None
        if not await store.lines_at(conn, principal.business_id, draft_id, location["id"],
                                    now):
            raise CartEmpty("Add a line to the draft order before sending its link.",
                            details={"draft_order_id": str(draft_id)})
        await store.set_fields(conn, draft_id, {
            "status": DraftStatus.SENT.value, "link_token_hash": hash_access_token(token),
            "link_expires_at": expires_at}, now)
        after = await store.get_draft(conn, principal.business_id, draft_id)
        assert after is not None
        shown = await view_of(conn, after, now)
        await record(conn, principal, type=EventType.DRAFT_ORDER_UPDATED, before=before,
                     after=after, change="sent", now=now, total=shown["totals"]["total"])
        return {**shown, "link_token": token}

    return await runtime.db.run(work)


async def cancel_draft(runtime: Runtime, principal: Principal, draft_id: uuid.UUID, *,
                       expected_version: int | None = None) -> dict[str, Any]:
    """Cancel the draft: its link stops opening; if the buyer opened it, the checkout ends
    (its stock goes back) and the cart is abandoned. A completed draft refuses
    (``draft_order_closed``); cancelling a cancelled one answers it as it is."""
    principal.require(Scope.WRITE)
    business_id = principal.business_id
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        current = await store.get_draft(conn, business_id, draft_id)
        if current is None:
            raise NotFound("draft_order", draft_id)
        if current.status == DraftStatus.CANCELLED:
            return await view_of(conn, current, now)
        # The checkout and the cart first, as the confirm locks them, then the draft.
        if current.cart_id is not None and not await checkouts.end_cart(
                conn, business_id, current.cart_id, now):
            raise DraftOrderClosed("This draft order's checkout was confirmed: it is an order "
                                   "now. Cancel the order instead.",
                                   details={"draft_order_id": str(draft_id)})
        before = await _open_for_change(conn, business_id, draft_id,
                                        expected_version=expected_version, now=now,
                                        statuses=CANCELLABLE)
        await store.set_fields(conn, draft_id, {"status": DraftStatus.CANCELLED.value,
                                                "link_token_hash": None}, now)
        after = await store.get_draft(conn, business_id, draft_id)
        assert after is not None
        shown = await view_of(conn, after, now)
        await record(conn, principal, type=EventType.DRAFT_ORDER_UPDATED, before=before,
                     after=after, change="cancelled", now=now, total=shown["totals"]["total"])
        return shown

    return await runtime.db.run(work)


# --- the buyer opens the link ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LinkOpened:
    """Where the link leads: the cart's hosted checkout (``cart_token``), at the review of
    ``checkout_id`` when one holds the stock; ``refusal`` says why a checkout could not start
    (the cart page shows it); ``completed`` when the draft is an order already."""

    cart_token: str
    checkout_id: uuid.UUID | None = None
    refusal: DomainError | None = None
    completed: bool = False


def _token_hash(token: str) -> str:
    if not token.startswith(LINK_TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("draft_order", "link")
    return hash_access_token(token)


async def _openable(conn: AsyncConnection, token_hash: str, now: Any) -> DraftRow:
    draft = await store.lock_by_link(conn, token_hash)
    if draft is None:
        raise NotFound("draft_order", "link")
    if draft.status not in OPENABLE and draft.status != DraftStatus.COMPLETED:
        raise DraftOrderClosed(f"This draft order is {draft.status}.",
                               details={"status": draft.status})
    if draft.status != DraftStatus.COMPLETED and link_lapsed(draft.link_expires_at, now):
        raise DraftLinkExpired("This link has expired; ask the shop for a new one.",
                               details={"expired_at": draft.link_expires_at})
    return draft


async def open_link(runtime: Runtime, token: str) -> LinkOpened:
    """Open the draft's link (see the module's docstring). The checkout starts with the
    draft's way to pay, else the first the business offers on the draft's channel (the buyer
    may change it on the review)."""
    token_hash = _token_hash(token)
    cart_token = cart_token_for(token)

    async def make_cart(conn: AsyncConnection) -> DraftRow:
        now = runtime.clock.now()
        draft = await _openable(conn, token_hash, now)
        if draft.status != DraftStatus.SENT:
            return draft
        location = await catalog_store.find_location(conn, draft.business_id, None)
        assert location is not None
        lines = await store.lines_at(conn, draft.business_id, draft.id, location["id"], now)
        if not lines:
            raise CartEmpty("This order has no items.", details={})
        cart = await carts.create_cart_in(
            conn, business_id=draft.business_id, token=cart_token, channel=draft.channel,
            currency=draft.currency, customer_id=draft.customer_id,
            lines=[CartLineToAdd(variant_id=r.variant_id, sku=r.sku, quantity=r.quantity)
                   for r in lines], now=now, made_by=DRAFT_ORDER)
        await store.set_fields(conn, draft.id, {"status": DraftStatus.OPEN.value,
                                                "cart_id": cart.id}, now)
        after = await store.get_draft(conn, draft.business_id, draft.id)
        assert after is not None
        await record(conn, None, type=EventType.DRAFT_ORDER_UPDATED, before=draft,
                     after=after, change="opened", now=now)
        return after

    draft = await runtime.db.run(make_cart)
    if draft.status == DraftStatus.COMPLETED:
        return LinkOpened(cart_token=cart_token, completed=True)
    if draft.address is None or draft.cart_id is None:
        return LinkOpened(cart_token=cart_token)
    cart_id = draft.cart_id
    caller = CartCaller(business_id=draft.business_id, cart_id=cart_id, principal=None)
    method = draft.payment_method or await _first_way_to_pay(runtime, cart_token)
    if method is None:
        return LinkOpened(cart_token=cart_token)

    async def make_checkout(conn: AsyncConnection) -> uuid.UUID | None:
        now = runtime.clock.now()
        # The cart first, then the draft: the confirm locks them in that order.
        if not await carts.lock_open_cart(conn, draft.business_id, cart_id):
            return None
        current = await _openable(conn, token_hash, now)
        if current.status != DraftStatus.OPEN:
            return None
        earlier = await checkouts.open_checkout_of(conn, draft.business_id, cart_id)
        if earlier is not None:
            return earlier
        contact = None if current.customer_name is None else Contact(
            name=current.customer_name, phone=current.customer_phone,
            email=current.customer_email)
        assert current.address is not None
        started = await checkouts.start_checkout_in(runtime, conn, caller, NewCheckout(
            cart_id=cart_id, address=Address.from_dict(current.address),
            shipping_method_id=current.shipping_method_id, payment_method=method,
            coupon_codes=list(current.coupon_codes), customer=contact))
        checkout_id = uuid.UUID(str(started["id"]))
        await store.set_fields(conn, current.id, {"checkout_id": checkout_id}, now)
        return checkout_id

    try:
        checkout_id = await runtime.db.run(make_checkout)
    except DomainError as refusal:
        if isinstance(refusal, (NotFound, DraftOrderClosed, DraftLinkExpired)):
            raise
        return LinkOpened(cart_token=cart_token, refusal=refusal)
    return LinkOpened(cart_token=cart_token, checkout_id=checkout_id)


async def _first_way_to_pay(runtime: Runtime, cart_token: str) -> str | None:
    choices = (await hosted.open_cart(runtime, cart_token)).payment_choices
    return choices[0].code if choices else None


@dataclass(frozen=True, slots=True)
class LinkLanding:
    """What the link's page shows before the buyer opens it: the shop, and the draft priced."""

    shop_name: str
    draft: dict[str, Any]
    expired: bool


async def landing(runtime: Runtime, token: str) -> LinkLanding:
    """The draft a link opens, shown (nothing is held or changed: a link preview fetched by a
    chat app must not hold stock), or ``not_found``."""
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        draft = await store.find_by_link(conn, _token_hash(token))
        if draft is None:
            raise NotFound("draft_order", "link")
        business = await tenancy_store.get_business(conn, draft.business_id)
        assert business is not None
        shown = await view_of(conn, draft, now)
    return LinkLanding(shop_name=str(business["name"]), draft=shown,
                       expired=link_lapsed(draft.link_expires_at, now))


# --- the draft ends --------------------------------------------------------------------------

async def complete_for_cart(conn: AsyncConnection, done: CartConverted) -> None:
    """The checkout hook: the draft whose link made this cart is completed by the order, in
    the confirm's transaction."""
    after = await store.complete_for_cart(conn, done.cart_id, done.order_id,
                                          done.checkout_id, done.now)
    if after is None:
        return
    await record(conn, None, type=EventType.DRAFT_ORDER_COMPLETED, before=after, after=after,
                 change="completed", now=done.now)
