"""Reading everything a checkout is priced from, and pricing it: one path for the review and
for the confirm, so the two can never compute shipping, discounts or tax differently.

Statements: the cart's lines with their current prices (one), the zone's method and tax rates
(one), and, only when codes are given, the coupons (one) and this customer's uses of them
(one, only for coupons with a per-customer limit and a known customer).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.checkout import cart_store
from orderline.checkout.cart_store import PricedCartLine
from orderline.checkout.rules import OrderLimits, check_lines
from orderline.core.errors import ShippingMethodUnavailable
from orderline.coupons import store as coupon_store
from orderline.coupons.rules import CouponRules, check_coupons
from orderline.pricing.engine import (
    PriceLine,
    PricingInput,
    Quote,
    ShippingTerms,
    TaxRateTerms,
    price,
)
from orderline.shipping import store as shipping_store
from orderline.tenancy.store import BusinessSettings


@dataclass(frozen=True, slots=True)
class PricedCheckout:
    quote: Quote
    lines: list[PricedCartLine]  # the cart's lines with variant, product and stock level
    coupons: list[CouponRules]  # in the order applied
    method_id: uuid.UUID | None  # the shipping method priced (None: no delivery priced)


def limits_of(settings: BusinessSettings) -> OrderLimits:
    return OrderLimits(min_order_total=settings.min_order_total,
                       max_order_total=settings.max_order_total,
                       max_line_quantity=settings.max_line_quantity,
                       allow_free_orders=settings.allow_free_orders)


async def price_checkout(conn: AsyncConnection, *, business_id: uuid.UUID, currency: str,
                         settings: BusinessSettings, cart_id: uuid.UUID,
                         location_id: uuid.UUID | None,
                         zone_id: uuid.UUID, method_id: uuid.UUID | None, codes: list[str],
                         customer_id: uuid.UUID | None, now: datetime,
                         check_archived: bool = False) -> PricedCheckout:
    """Price the cart as it is now, with its stock levels at the location (None: the default
    location, which the lines then name), for this zone, method (None: the zone's first) and
    coupon codes; raises the first rule it breaks (empty cart, line cap, method gone, coupon
    refused). ``check_archived`` reads the lines as ``cart_store.CheckedCartLine``s."""
    rows = await cart_store.priced_lines(conn, business_id, cart_id, location_id,
                                         check_archived=check_archived)
    return await price_rows(conn, business_id=business_id, currency=currency,
                            settings=settings, rows=rows, delivery=(zone_id, method_id),
                            codes=codes, customer_id=customer_id, now=now)


async def price_rows(conn: AsyncConnection, *, business_id: uuid.UUID, currency: str,
                     settings: BusinessSettings, rows: list[PricedCartLine],
                     delivery: tuple[uuid.UUID, uuid.UUID | None] | None, codes: list[str],
                     customer_id: uuid.UUID | None, now: datetime) -> PricedCheckout:
    """Price these lines (a cart's, or a draft order's) for a zone and shipping method
    (``delivery``; None prices no shipping and no tax, as before an address is known) and
    coupon codes, by the same rules as a checkout."""
    lines = tuple(PriceLine(sku=r.sku, product_id=str(r.product_id),
                            unit_price=r.price_minor, quantity=r.quantity,
                            weight_grams=r.weight_grams or 0) for r in rows)
    check_lines(lines, limits_of(settings))
    shipping: ShippingTerms | None = None
    tax_rates: list[TaxRateTerms] = []
    if delivery is not None:
        zone_id, method_id = delivery
        pricing = await shipping_store.zone_pricing(conn, business_id, zone_id, method_id)
        if pricing is None and method_id is None:
            raise ShippingMethodUnavailable("The business offers no shipping method for this "
                                            "address yet.", details={"zone_id": str(zone_id)})
        if pricing is None:
            raise ShippingMethodUnavailable(
                "The chosen shipping method is no longer offered for this address; choose "
                "another and check out again.", details={"shipping_method_id": str(method_id)})
        shipping, tax_rates = pricing
    coupons: list[CouponRules] = []
    terms = []
    if codes:
        found = await coupon_store.find_by_codes(conn, business_id, codes)
        limited = [c.id for c in found if c.per_customer_limit is not None]
        uses = (await coupon_store.customer_uses(conn, limited, customer_id)
                if limited and customer_id is not None else {})
        subtotal = sum(line.unit_price * line.quantity for line in lines)
        terms = check_coupons(found, codes, now=now, subtotal=subtotal,
                              product_ids=frozenset(line.product_id for line in lines),
                              customer_uses=uses)
        by_code = {c.code: c for c in found}
        coupons = [by_code[t.code] for t in terms]
    quote = price(PricingInput(currency=currency, lines=lines, coupons=tuple(terms),
                               shipping=shipping, tax_rates=tuple(tax_rates),
                               prices_include_tax=settings.prices_include_tax))
    return PricedCheckout(quote=quote, lines=rows, coupons=coupons,
                          method_id=None if shipping is None else uuid.UUID(shipping.method_id))
