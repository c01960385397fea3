"""Checkouts: a cart with an address, a shipping method, coupons and a payment method, priced
by the one pricing engine and holding the cart's stock until its deadline.

Starting a checkout is one transaction: lock the cart, price it, replace the cart's earlier
open checkout (its stock goes back), write the checkout, and hold every line all-or-nothing
last (each line's hold and its reservation in one statement, so a hot SKU's row is locked
for that and the COMMIT).
A cart therefore never holds stock twice, however many tabs start a checkout.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog.archiving import refuse_these_archived
from orderline.catalog.rules import ReservationStatus
from orderline.catalog.stock_events import announce_expired
from orderline.checkout import cart_store, checkout_store
from orderline.checkout.cart_store import CheckedCartLine, PricedCartLine
from orderline.checkout.carts import CartCaller
from orderline.checkout.checkout_pricing import limits_of, price_checkout
from orderline.checkout.checkout_store import CheckoutRow, CheckoutWithCart
from orderline.checkout.rules import check_quote
from orderline.cod import service as cod
from orderline.core.errors import (
    CartClosed,
    NotFound,
    UndeliverableAddress,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.coupons.rules import normalize_code
from orderline.manual_payments import methods as manual_methods
from orderline.orders import store as order_store
from orderline.orders.service import (
    Contact,
    PricedLine,
    allocate_lines,
    check_payment_method,
    run_counting_refusals,
    take_all,
)
from orderline.pricing.engine import Quote
from orderline.shipping import store as shipping_store
from orderline.shipping.rules import Address, check_address, match_zone

log = logging.getLogger(__name__)

MAX_COUPON_CODES = 5


@dataclass(frozen=True, slots=True)
class NewCheckout:
    cart_id: uuid.UUID
    address: Address
    shipping_method_id: uuid.UUID | None
    payment_method: str
    coupon_codes: list[str]
    customer: Contact | None = None


def view(row: CheckoutRow, *, zone_name: str | None = None) -> dict[str, Any]:
    """How a checkout is shown: the review page's data."""
    quote = row.quote
    return {
        "id": row.id, "status": row.status, "cart_id": row.cart_id,
        "cart_version": row.cart_version, "version": row.version,
        "customer": {"id": row.customer_id, "name": row.customer_name,
                     "phone": row.customer_phone, "email": row.customer_email},
        "address": row.address, "zone_id": row.zone_id,
        "shipping_method": quote.get("shipping_method"),
        "coupon_codes": row.coupon_codes, "payment_method": row.payment_method,
        "currency": row.currency, "totals": Quote.from_dict(quote).totals(), "quote": quote,
        "prices_validated_at": row.prices_validated_at,
        "reservation_deadline": row.expires_at, "order_id": row.order_id,
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


def _codes(raw: list[str]) -> list[str]:
    codes = [normalize_code(c) for c in raw]
    if len(codes) > MAX_COUPON_CODES:
        raise ValidationFailed(f"At most {MAX_COUPON_CODES} coupon codes per checkout.",
                               details={"field": "coupon_codes"})
    return codes


async def start_checkout(runtime: Runtime, caller: CartCaller,
                         new: NewCheckout) -> dict[str, Any]:
    return await run_counting_refusals(
        runtime, lambda conn: start_checkout_in(runtime, conn, caller, new))


async def start_checkout_in(runtime: Runtime, conn: AsyncConnection, caller: CartCaller,
                            new: NewCheckout) -> dict[str, Any]:
    """``start_checkout`` inside the caller's transaction (a draft order's link opens its
    checkout under the draft's lock, so two openings make one checkout)."""
    caller.reach(new.cart_id, write=True)
    address = check_address(new.address)
    check_payment_method(new.payment_method)
    codes = _codes(new.coupon_codes)
    contact = new.customer.check() if new.customer is not None else None
    business_id = caller.business_id
    now = runtime.clock.now()
    checkout_id = uuid.uuid4()

    locked = await cart_store.lock_cart_with_settings(conn, business_id, new.cart_id)
    if locked is None:
        raise NotFound("cart", new.cart_id)
    cart, settings = locked
    if cart.status != "open":
        raise CartClosed(f"This cart is {cart.status}; start a new cart.",
                         details={"cart_status": cart.status})
    buyer = contact or await _contact_of_customer(conn, business_id, cart.customer_id)
    zone = match_zone(await shipping_store.zone_terms(conn, business_id), address)
    if zone is None:
        raise UndeliverableAddress(
            f"The business does not deliver to {address.country}"
            + (f" {address.region}" if address.region else "")
            + (f" {address.postal_code}" if address.postal_code else "")
            + ". Use another address.", details={"address": address.as_dict()})
    # A guest becomes a customer here, so that confirming costs no customer statements.
    customer_id = cart.customer_id or await order_store.find_or_create_customer(
        conn, business_id=business_id, name=buyer.name, phone=buyer.phone,
        email=buyer.email, now=now)
    priced = await price_checkout(
        conn, business_id=business_id, currency=cart.currency, settings=settings,
        cart_id=cart.id, location_id=None, zone_id=zone.id,
        method_id=new.shipping_method_id, codes=codes, customer_id=customer_id, now=now,
        check_archived=True)
    method_id = priced.method_id
    assert method_id is not None  # a zone was priced, so a method was
    # Priced lines name the default location (a cart priced has lines; every business has
    # a default location).
    location_id = priced.lines[0].location_id
    if location_id is None:
        raise NotFound("location", "default")
    # Read under a share lock on each variant and product: an archive waits for this checkout.
    refuse_these_archived(sorted(line.sku for line in priced.lines
                                 if isinstance(line, CheckedCartLine) and line.archived))
    check_quote(priced.quote, limits_of(settings))
    # A manual method that is off, or not on this channel, is refused here already.
    await manual_methods.offered_method(conn, business_id, new.payment_method,
                                        cart.channel)
    cash = None
    if new.payment_method == cod.COD:  # refused here already, not only at confirm
        cash = await cod.decide(conn, settings, business_id=business_id,
                                customer_id=customer_id, zone_id=zone.id,
                                total=priced.quote.total)
    expires_at = now + timedelta(seconds=settings.reservation_ttl_seconds)
    row = CheckoutRow(
        id=checkout_id, business_id=business_id, cart_id=cart.id,
        cart_version=cart.version, status=checkout_store.OPEN,
        customer_name=buyer.name, customer_phone=buyer.phone,
        customer_email=buyer.email, customer_id=customer_id,
        address=address.as_dict(), zone_id=zone.id,
        shipping_method_id=method_id, coupon_codes=codes,
        payment_method=new.payment_method, location_id=location_id,
        currency=cart.currency, quote=priced.quote.as_dict(),
        total=priced.quote.total, prices_validated_at=now, expires_at=expires_at,
        order_id=None, version=1, created_at=now, updated_at=now, channel=cart.channel)
    # The cart's earlier open checkout ends with this one's write; its stock goes back.
    await _release(conn, await checkout_store.insert_superseding(conn, row), now)
    # The stock rows last: each line's hold and its reservation in one statement, then
    # COMMIT; a short line rolls the checkout back with them.
    # A line the default location is short of is held where the most units are free
    # (the rule direct orders follow); the checkout's location stays the default one.
    held = await allocate_lines(conn, business_id, [_held_line(r) for r in priced.lines], now)
    await take_all(runtime, conn, business_id=business_id,
                   holder={"order_id": None, "checkout_id": checkout_id},
                   priced=held, expires_at=expires_at, now=now)
    shown = view(row)
    if cash is not None:
        shown["cod"] = {"otp_required": cash.otp_required, "reasons": list(cash.reasons)}
    return shown


def _held_line(line: PricedCartLine) -> PricedLine:
    return PricedLine(variant_id=line.variant_id, stock_level_id=line.stock_level_id,
                      sku=line.sku, name=line.name, unit_price=line.price_minor,
                      quantity=line.quantity, low_stock_threshold=line.low_stock_threshold,
                      free_seen=line.free_seen)


async def _contact_of_customer(conn: AsyncConnection, business_id: uuid.UUID,
                               customer_id: uuid.UUID | None) -> Contact:
    customer = None if customer_id is None else await order_store.get_customer(
        conn, business_id, customer_id)
    if customer is None:
        raise ValidationFailed("Give the buyer's name and phone or email: this cart belongs to "
                               "no customer.", details={"field": "customer"})
    return Contact(name=customer["name"], phone=customer["phone"],
                   email=customer["email"]).check()


async def end_cart(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID,
                   now: datetime) -> bool:
    """Abandon the cart and end its open checkout (the stock it held goes back): a cancelled
    draft order's cart. The checkout's and the cart's row locks are taken first, in the
    confirm's order. False when the cart was converted into an order (nothing changes)."""
    earlier = await checkout_store.open_of_cart(conn, business_id, cart_id)
    if earlier is not None:
        await checkout_store.load(conn, business_id, earlier, lock=True)
    cart = await cart_store.lock_cart(conn, business_id, cart_id)
    if cart is None or cart.status == cart_store.ABANDONED:
        return True
    if cart.status != cart_store.OPEN:
        return False
    await _release_earlier(conn, cart_id, now)
    await cart_store.touch(conn, business_id, cart_id, expected_version=None, now=now,
                           values={"status": cart_store.ABANDONED})
    return True


async def open_checkout_of(conn: AsyncConnection, business_id: uuid.UUID,
                           cart_id: uuid.UUID) -> uuid.UUID | None:
    """The cart's open checkout, if it has one (a cart has at most one)."""
    return await checkout_store.open_of_cart(conn, business_id, cart_id)


async def _release_earlier(conn: AsyncConnection, cart_id: uuid.UUID, now: datetime) -> None:
    """The cart's earlier open checkouts end; the stock they held goes back."""
    await _release(conn, await checkout_store.supersede_open(conn, cart_id, now), now)


async def _release(conn: AsyncConnection, superseded: list[uuid.UUID], now: datetime) -> None:
    """The stock these superseded checkouts held goes back."""
    for earlier in superseded:
        released = await stock_store.close_order_reservations(
            conn, checkout_id=earlier, status=ReservationStatus.RELEASED, now=now)
        await stock_store.unhold(conn, released, now)


async def reachable(conn: AsyncConnection, caller: CartCaller, checkout_id: uuid.UUID, *,
                    write: bool, lock: bool = False) -> CheckoutWithCart:
    """The checkout, if ``caller`` may reach it (``write`` to change it): another business's
    or another cart's checkout is not found, as a missing one is."""
    row = await checkout_store.load(conn, caller.business_id, checkout_id, lock=lock)
    if row is None:
        raise NotFound("checkout", checkout_id)
    caller.reach(row.cart_id, write=write)
    return row


async def get_checkout(runtime: Runtime, caller: CartCaller,
                       checkout_id: uuid.UUID) -> dict[str, Any]:
    """The review. Prices older than the business's ``price_max_age_seconds`` are priced
    again (and saved), so the review never shows stale totals for long."""
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        row = await reachable(conn, caller, checkout_id, write=False)
    stale = now - row.prices_validated_at > timedelta(seconds=row.settings.price_max_age_seconds)
    if row.status != checkout_store.OPEN or not stale:
        return view(row)
    return await revalidate(runtime, caller, checkout_id)


async def revalidate(runtime: Runtime, caller: CartCaller,
                     checkout_id: uuid.UUID) -> dict[str, Any]:
    """Price an open checkout again from the current catalog, shipping, tax and coupons."""
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await reachable(conn, caller, checkout_id, write=False, lock=True)
        if row.status != checkout_store.OPEN:
            return view(row)
        quote = await requote(conn, row, now)
        await checkout_store.update_open(conn, checkout_id, {
            "quote": quote.as_dict(), "total": quote.total, "prices_validated_at": now}, now)
        fresh = await checkout_store.load(conn, caller.business_id, checkout_id)
        assert fresh is not None
        return view(fresh)

    return await runtime.db.run(work)


async def requote(conn: AsyncConnection, row: CheckoutWithCart, now: datetime) -> Quote:
    priced = await price_checkout(
        conn, business_id=row.business_id, currency=row.currency, settings=row.settings,
        cart_id=row.cart_id, location_id=row.location_id, zone_id=row.zone_id,
        method_id=row.shipping_method_id, codes=list(row.coupon_codes),
        customer_id=row.customer_id, now=now)
    return priced.quote


async def expire_lapsed_checkouts(runtime: Runtime, *, batch: int = 200) -> int:
    """Close open checkouts past their deadline and give their stock back; one transaction
    each, re-checked under the conditional UPDATE (a confirm at the same instant wins or
    loses cleanly)."""
    async with runtime.db.read() as conn:
        candidates = await checkout_store.lapsed_open(conn, runtime.clock.now(), batch)
    expired = 0
    for candidate in candidates:
        async def work(conn: AsyncConnection, checkout_id: uuid.UUID = candidate.id) -> bool:
            now = runtime.clock.now()
            if not await checkout_store.expire_if_lapsed(conn, checkout_id, now):
                return False
            lapsed = await stock_store.expire_checkout_reservations(conn, checkout_id, now)
            await announce_expired(conn, lapsed, now)
            return True

        if await runtime.db.run(work):
            expired += 1
    if expired:
        log.info("checkouts expired", extra={"count": expired})
    return expired
