"""Confirming a checkout: the one step that turns the buyer's reviewed totals into an order.

1. The ``Idempotency-Key`` is claimed in a short transaction of its own, bound to the request's
   fingerprint (the checkout, whose lines, quantities, unit prices, coupons, shipping, address
   and payment method never change once it exists; the totals the buyer saw; and, for a cart
   token, that cart). The same key and fingerprint replay the first answer; another
   fingerprint is ``idempotency_key_reused``; a claim still running is ``request_in_progress``.
2. One transaction does the rest: lock the checkout and its cart, count the buyer's confirm
   against the rate limit and take the buyer's one-at-a-time guard, price everything again
   with the one engine, refuse with ``price_changed`` if any total moved, number the order
   (a per-business sequence on PostgreSQL: no lock held, a gap if the confirm is refused
   later), take each coupon's use with a conditional UPDATE, hand the checkout's live
   reservations to the order (the binding stock check reads reservations only, and must find
   every unit), write the order, its history and its events, close the checkout and the
   cart, and store the answer under the key. A refusal rolls all of it back and frees the
   key for a retry.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog.rules import ReservationStatus
from orderline.checkout import checkout_store
from orderline.checkout.carts import CartCaller
from orderline.checkout.checkout_pricing import PricedCheckout, limits_of, price_checkout
from orderline.checkout.checkout_store import CheckoutWithCart
from orderline.checkout.checkouts import view
from orderline.checkout.hooks import CartConverted, run_converted
from orderline.checkout.rules import CONFIRMABLE_TOTALS, check_quote, totals_differ
from orderline.cod import service as cod
from orderline.cod import store as cod_store
from orderline.core import metrics
from orderline.core.errors import (
    CartChanged,
    CartClosed,
    CheckoutAlreadyConfirmed,
    CheckoutExpired,
    CheckoutSuperseded,
    ConfirmInFlight,
    CouponCustomerLimitReached,
    CouponExhausted,
    NotFound,
    OtpRequired,
    PriceChanged,
    RateLimited,
    ValidationFailed,
)
from orderline.core.ratelimit import Guard
from orderline.core.runtime import Runtime
from orderline.coupons import store as coupon_store
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import FirstEvent
from orderline.idempotency import service as idempotency
from orderline.idempotency import store as idempotency_store
from orderline.idempotency.rules import fingerprint, required_key
from orderline.manual_payments import methods as manual_methods
from orderline.orders import store as order_store
from orderline.orders.placing import write_new_order
from orderline.orders.rules import OrderStatus, format_order_number
from orderline.orders.service import hash_access_token, new_order_access_token
from orderline.orders.store import NewOrderLine, NewOrderRow, PriceSnapshot

log = logging.getLogger(__name__)

OPERATION = "checkout.confirm"
# One IP may place this many times a buyer's limit (customers behind one shop's network).
IP_SHARED_BY = 10


@dataclass(frozen=True, slots=True)
class ConfirmRequest:
    checkout_id: uuid.UUID
    idempotency_key: str | None
    totals: dict[str, int]
    client_ip: str = "unknown"


@dataclass(frozen=True, slots=True)
class Confirmed:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def _check_totals(totals: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(totals) - set(CONFIRMABLE_TOTALS))
    if "total" not in totals or unknown:
        raise ValidationFailed(
            "Send the totals the buyer saw: 'total' at least, and only these names: "
            + ", ".join(CONFIRMABLE_TOTALS) + ".", details={"field": "totals",
                                                            "unknown": unknown})
    return totals


async def confirm_checkout(runtime: Runtime, caller: CartCaller,
                           request: ConfirmRequest) -> Confirmed:
    caller.require(write=True)
    key = required_key(request.idempotency_key)
    totals = _check_totals(request.totals)
    print_ = fingerprint({"checkout_id": request.checkout_id, "totals": totals,
                          "cart_token_for": caller.cart_id})
    claimed, existing = await idempotency.claim_key(
        runtime, business_id=caller.business_id, operation=OPERATION, key=key, print_=print_)
    if existing is not None:
        kept = idempotency.replay(existing, operation=OPERATION, print_=print_)
        return Confirmed(kept.status_code, kept.body, replayed=True)
    assert claimed is not None
    await runtime.checkpoints.reach("confirm.claimed")
    guards: list[Guard] = []
    try:
        body = await runtime.db.run(
            lambda conn: _convert(runtime, conn, caller, request, claimed, guards))
    except PriceChanged as changed:
        details = changed.details
        await runtime.db.run(lambda conn: _release_with_new_quote(conn, claimed, details))
        raise
    except BaseException:
        await idempotency.release(runtime, claimed)
        raise
    finally:
        for guard in guards:
            with contextlib.suppress(Exception):
                await guard.release()
    metrics.order_created(body["channel"])
    return Confirmed(201, body)


async def _release_with_new_quote(conn: AsyncConnection, claimed: uuid.UUID,
                                  details: dict[str, Any]) -> None:
    """Free the key and save the new totals on the checkout, so the review shows them."""
    await idempotency_store.release(conn, claimed)
    priced_at = details["priced_at"]
    await checkout_store.update_open(conn, uuid.UUID(details["checkout_id"]), {
        "quote": details["quote"], "total": details["quote"]["total"],
        "prices_validated_at": priced_at}, priced_at)


async def _convert(runtime: Runtime, conn: AsyncConnection, caller: CartCaller,
                   request: ConfirmRequest, claimed: uuid.UUID,
                   guards: list[Guard]) -> dict[str, Any]:
    now = runtime.clock.now()
    checkout, taken = await checkout_store.load_to_confirm(conn, caller.business_id,
                                                           request.checkout_id)
    if checkout is None or (caller.cart_id is not None
                            and caller.cart_id != checkout.cart_id):
        raise NotFound("checkout", request.checkout_id)
    _check_open(checkout, now)
    await _admit(runtime, checkout, request.client_ip, guards)
    await runtime.checkpoints.reach("confirm.admitted")
    customer_id = checkout.customer_id
    priced = await price_checkout(
        conn, business_id=checkout.business_id, currency=checkout.currency,
        settings=checkout.settings, cart_id=checkout.cart_id, location_id=checkout.location_id,
        zone_id=checkout.zone_id, method_id=checkout.shipping_method_id,
        codes=list(checkout.coupon_codes), customer_id=customer_id, now=now)
    quote = priced.quote
    check_quote(quote, limits_of(checkout.settings))
    moved = totals_differ(request.totals, quote)
    if moved:
        raise PriceChanged(
            "Prices, shipping or tax changed since these totals were shown. Show the buyer "
            "the new totals and confirm again with them.",
            details={"changed": moved, "totals": quote.totals(), "quote": quote.as_dict(),
                     "checkout_id": str(checkout.id), "priced_at": now})
    if checkout.payment_method == cod.COD:
        await _admit_cash(conn, checkout, customer_id, quote.total, now)
    # Numbered before the coupon rows are taken: the number locks nothing through the
    # transaction (a sequence on PostgreSQL, taken with the checkout's load), so a hot
    # coupon's row is held for one statement less. A confirm refused after the load leaves a
    # gap in the numbers.
    sequence = taken if taken is not None else await order_store.next_order_sequence(
        conn, checkout.business_id)
    await _take_coupon_uses(conn, priced, customer_id, now)
    order_id = uuid.uuid4()
    body = await _write_order(conn, checkout, priced, order_id=order_id, sequence=sequence,
                              customer_id=customer_id, claimed=claimed, actor=caller.actor,
                              now=now)
    if checkout.cart_made_by is not None:  # a cart another capability made: its steps
        await run_converted(runtime, conn, CartConverted(
            business_id=checkout.business_id, cart_id=checkout.cart_id, checkout_id=checkout.id,
            order_id=order_id, order_number=format_order_number(sequence), actor=caller.actor,
            now=now))
    return body


async def _admit_cash(conn: AsyncConnection, checkout: CheckoutWithCart,
                      customer_id: uuid.UUID, total: int, now: datetime) -> None:
    """Cash on delivery: the business's policy decides (binding, in this transaction), and a
    risky order needs a verified one-time code, used up here."""
    decision = await cod.decide(conn, checkout.settings, business_id=checkout.business_id,
                                customer_id=customer_id, zone_id=checkout.zone_id,
                                total=total)
    if decision.otp_required and not await cod_store.consume_verified_otp(
            conn, checkout.id, now):
        raise OtpRequired(
            "This cash-on-delivery order needs the code sent to the buyer's phone: ask for it "
            f"with POST /v1/checkouts/{checkout.id}/otp, send it to .../otp/verify, then "
            "confirm again.", details={"reasons": list(decision.reasons)})


def _check_open(checkout: CheckoutWithCart, now: datetime) -> None:
    status = checkout.status
    if status == checkout_store.CONVERTED:
        raise CheckoutAlreadyConfirmed(
            "This checkout is already an order; it is not placed twice.",
            details={"order_id": str(checkout.order_id)})
    if status == checkout_store.SUPERSEDED:
        raise CheckoutSuperseded("A newer checkout of this cart replaced this one; confirm "
                                 "the newer one.", details={"cart_id": str(checkout.cart_id)})
    if status == checkout_store.EXPIRED or checkout.expires_at <= now:
        raise CheckoutExpired(
            "The stock held for this checkout was released at its deadline; start the "
            "checkout again.", details={"reservation_deadline": checkout.expires_at})
    if checkout.cart_status != "open":
        raise CartClosed(f"The cart is {checkout.cart_status}.",
                         details={"cart_status": checkout.cart_status})
    if checkout.current_cart_version != checkout.cart_version:
        raise CartChanged(
            "The cart changed after this checkout was priced; start the checkout again to "
            "review the new totals.",
            details={"checkout_cart_version": checkout.cart_version,
                     "cart_version": checkout.current_cart_version})


async def _admit(runtime: Runtime, checkout: CheckoutWithCart, client_ip: str,
                 guards: list[Guard]) -> None:
    """Rate limits on placing orders, per customer (per IP for a guest cart), per phone, and
    per IP (wider: several known customers may share one network), then one confirm at a
    time per buyer."""
    business = checkout.business_id
    per_minute = checkout.settings.confirms_per_minute
    who = (f"customer:{checkout.cart_customer_id}" if checkout.cart_customer_id
           else f"ip:{client_ip}")
    limits = [(who, per_minute)]
    if checkout.customer_phone:
        limits.append((f"phone:{checkout.customer_phone}", per_minute))
    if checkout.cart_customer_id:
        limits.append((f"ip:{client_ip}", per_minute * IP_SHARED_BY))
    for key, limit in limits:
        decision = await runtime.limiter.hit(f"confirm:{business}:{key}", limit=limit,
                                             window_seconds=60)
        if not decision.allowed:
            raise RateLimited(
                f"Too many orders from this {key.split(':')[0]}; try again in "
                f"{decision.retry_after_seconds} s.",
                details={"retry_after_seconds": decision.retry_after_seconds,
                         "limited_by": key.split(":")[0]})
    guard = await runtime.limiter.guard(f"confirm:{business}:{who}",
                                        ttl_seconds=runtime.settings.confirm_guard_seconds)
    if guard is None:
        raise ConfirmInFlight("Another order confirmation of this buyer is still running; "
                              "wait for its answer.", details={})
    guards.append(guard)


async def _take_coupon_uses(conn: AsyncConnection, priced: PricedCheckout,
                            customer_id: uuid.UUID, now: datetime) -> None:
    for coupon in priced.coupons:
        if not await coupon_store.take_use(conn, coupon.id, now):
            raise CouponExhausted(f"Coupon {coupon.code} has been used up; remove it and "
                                  "review the new totals.", details={"code": coupon.code})
        if coupon.per_customer_limit is not None and not await coupon_store.take_customer_use(
                conn, coupon.id, customer_id, coupon.per_customer_limit):
            raise CouponCustomerLimitReached(
                f"You have already used coupon {coupon.code} as often as it allows.",
                details={"code": coupon.code, "limit": coupon.per_customer_limit})


async def _take_held_stock(conn: AsyncConnection, checkout: CheckoutWithCart,
                           priced: PricedCheckout, order_id: uuid.UUID, now: datetime, *,
                           held_until: datetime | None = None) -> None:
    """The binding stock check: the checkout's live reservations must cover every unit."""
    held = await stock_store.hand_over_to_order(conn, checkout_id=checkout.id,
                                                order_id=order_id, now=now,
                                                expires_at=held_until)
    needed: dict[uuid.UUID, int] = defaultdict(int)
    for line in priced.lines:
        needed[line.variant_id] += line.quantity
    if held != needed:
        raise CheckoutExpired(
            "Part of the stock held for this checkout was released; start the checkout "
            "again to hold it anew.", details={"reservation_deadline": checkout.expires_at})


async def _write_order(conn: AsyncConnection, checkout: CheckoutWithCart,
                       priced: PricedCheckout, *, order_id: uuid.UUID, sequence: int,
                       customer_id: uuid.UUID, claimed: uuid.UUID, actor: str,
                       now: datetime) -> dict[str, Any]:
    quote = priced.quote
    snapshot = quote.as_dict()
    business_id = checkout.business_id
    cash = checkout.payment_method == cod.COD
    access_token = new_order_access_token()
    line_rows = _line_rows(business_id, order_id, priced)
    if not await checkout_store.convert(conn, checkout.id, cart_id=checkout.cart_id,
                                        order_id=order_id, quote=snapshot, total=quote.total,
                                        now=now):
        raise CartClosed("The cart was closed while this order was being placed.")
    manual = None if cash else await manual_methods.choose(
        conn, business_id, checkout.payment_method, checkout.channel, now)
    new = NewOrderRow(
        id=order_id, business_id=business_id, number=format_order_number(sequence),
        status=(OrderStatus.CONFIRMED if cash else OrderStatus.PENDING_PAYMENT).value,
        channel=checkout.channel,
        customer_id=customer_id, customer_name=checkout.customer_name,
        customer_phone=checkout.customer_phone,
        customer_email=checkout.customer_email,
        payment_method=checkout.payment_method, note="",
        currency=checkout.currency, subtotal=quote.subtotal, total=quote.total,
        location_id=checkout.location_id,
        payment_deadline=manual.proof_deadline if manual else checkout.expires_at,
        access_token_hash=hash_access_token(access_token), created_at=now,
        priced=PriceSnapshot(
            discount_total=quote.discount_total,
            shipping_total=quote.shipping - quote.shipping_discount,
            shipping_discount=quote.shipping_discount, tax_total=quote.tax_total,
            prices_include_tax=quote.prices_include_tax,
            pricing={"taxes": snapshot["taxes"], "coupons": snapshot["coupons"]},
            shipping_method=quote.shipping_method, shipping_address=checkout.address,
            checkout_id=checkout.id))
    changes = {"lines": [{"sku": r.sku, "quantity": r.quantity} for r in line_rows],
               "total": quote.total, "checkout_id": str(checkout.id)}
    row, shown = await write_new_order(conn, new, line_rows, actor=actor, changes=changes,
                                       more_events=[FirstEvent(
        EventType.CHECKOUT_CONVERTED, AggregateType.CHECKOUT, checkout.id,
        {"checkout_id": checkout.id, "cart_id": checkout.cart_id,
         "order_id": order_id, "order_number": new.number, "totals": quote.totals()})])
    # A manual payment's stock is held until its proof deadline, as the order row says.
    await _take_held_stock(conn, checkout, priced, order_id, now,
                           held_until=manual.proof_deadline if manual else None)
    instructions = None if manual is None else await manual_methods.attach(
        conn, row, manual, now=now)
    if cash:  # confirmed at once: the held stock is sold now, the money comes on delivery
        sold = await stock_store.close_order_reservations(
            conn, order_id=order_id, status=ReservationStatus.CONSUMED, now=now)
        await stock_store.ship_out(conn, sold, business_id=business_id, order_id=order_id,
                                   actor=actor, now=now)
    if priced.coupons:
        applied = {a.code: a.amount for a in quote.coupons}
        await coupon_store.record_order_coupons(conn, [
            {"id": uuid.uuid4(), "business_id": business_id, "order_id": order_id,
             "coupon_id": c.id, "customer_id": customer_id, "code": c.code,
             "kind": c.kind.value, "discount": applied.get(c.code, 0), "returned_at": None}
            for c in priced.coupons])
    closed = replace(checkout, status=checkout_store.CONVERTED, order_id=order_id,
                     version=checkout.version + 1, updated_at=now,
                     quote=snapshot, total=quote.total, prices_validated_at=now)
    body = to_jsonable_python({**shown, "access_token": access_token,
                               "checkout": view(closed), "manual_payment": instructions})
    await idempotency_store.complete(conn, claimed, status_code=201, body=body)
    return dict(body)


def _line_rows(business_id: uuid.UUID, order_id: uuid.UUID,
               priced: PricedCheckout) -> list[NewOrderLine]:
    return [NewOrderLine(id=uuid.uuid4(), business_id=business_id, order_id=order_id,
                         position=i, variant_id=row.variant_id, sku=row.sku,
                         name=row.name, unit_price=q.unit_price, quantity=q.quantity,
                         line_total=q.subtotal, discount=q.discount, tax=q.tax)
            for i, (row, q) in enumerate(zip(priced.lines, priced.quote.lines, strict=True))]
