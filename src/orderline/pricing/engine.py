"""The one pricing engine: cart preview, checkout review and the confirmed order all call
``price`` with the same inputs and get the same ``Quote``.

Integer minor units only. The order of the computation is fixed:

1. ``subtotal`` of each line = unit price x quantity.
2. Coupons in the order given. A percentage or fixed-amount coupon restricted to products
   is a *line discount* on the eligible lines; an unrestricted one is an *order discount*.
   Each takes its amount from what is left after the coupons before it (so the discount never
   exceeds the merchandise), and the amount is spread over the eligible lines by largest
   remainder in proportion to what is left of each line, so the lines always add up exactly.
   A percentage is rounded half up to a minor unit: 100% off gives exactly the amount left.
3. Shipping is priced from the chosen method on the discounted merchandise (``free_above``
   compares the discounted subtotal) and the total weight; a free-shipping coupon takes all
   of it as ``shipping_discount``.
4. Tax per line and per rate, rounded half up, on the discounted line amount; shipping tax on
   the shipping after its discount, for rates that apply to shipping. With tax-inclusive
   prices the tax is the part already inside the amount (amount x r / (1 + sum of rates)),
   and is not added to the total.
5. ``total`` = merchandise after discounts + shipping after discount (+ tax when exclusive).
   Never negative.

Rounding is half up on exact fractions (``Fraction``), never floats. With exclusive prices
each rate is rounded on its own per line (what a receipt lists). With inclusive prices the
tax inside an amount is rounded once on the combined rate and then split over the rates by
largest remainder, so the net price plus the tax is exactly the price the buyer saw; for
shipping the combined rate is the sum of the rates that apply to shipping only.

Quoted lines come back in the order of the input lines; coupons in the order given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from orderline.core.errors import ShippingMethodUnavailable, ValidationFailed
from orderline.core.money import allocate, check_currency

FULL_PERCENT_BP = 10_000


class CouponKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"
    FREE_SHIPPING = "free_shipping"


class ShippingKind(StrEnum):
    FLAT = "flat"
    WEIGHT = "weight"
    FREE_ABOVE = "free_above"


@dataclass(frozen=True, slots=True)
class PriceLine:
    sku: str
    product_id: str
    unit_price: int
    quantity: int
    weight_grams: int = 0


@dataclass(frozen=True, slots=True)
class CouponTerms:
    """A coupon already found valid (dates, limits, minimum) for this buyer."""

    code: str
    kind: CouponKind
    percent_off_bp: int = 0  # basis points: 10000 is 100%
    amount_off: int = 0
    product_ids: frozenset[str] = frozenset()  # empty: the whole order


@dataclass(frozen=True, slots=True)
class WeightBand:
    up_to_grams: int
    price: int


@dataclass(frozen=True, slots=True)
class ShippingTerms:
    method_id: str
    name: str
    kind: ShippingKind
    price: int = 0
    free_above: int | None = None
    weight_bands: tuple[WeightBand, ...] = ()


@dataclass(frozen=True, slots=True)
class TaxRateTerms:
    name: str
    rate: Decimal  # a percentage: Decimal("8.25")
    applies_to_shipping: bool = True


@dataclass(frozen=True, slots=True)
class PricingInput:
    currency: str
    lines: tuple[PriceLine, ...]
    coupons: tuple[CouponTerms, ...] = ()
    shipping: ShippingTerms | None = None
    tax_rates: tuple[TaxRateTerms, ...] = ()
    prices_include_tax: bool = False


@dataclass(frozen=True, slots=True)
class QuotedLine:
    sku: str
    unit_price: int
    quantity: int
    subtotal: int
    line_discount: int
    order_discount: int
    discount: int  # line_discount + order_discount
    tax: int
    total: int  # subtotal - discount (+ tax when prices exclude tax)


@dataclass(frozen=True, slots=True)
class QuotedTax:
    name: str
    rate: str
    amount: int  # lines and shipping together


@dataclass(frozen=True, slots=True)
class AppliedCoupon:
    code: str
    kind: CouponKind
    amount: int  # what it took off merchandise or shipping


@dataclass(frozen=True, slots=True)
class Quote:
    currency: str
    lines: tuple[QuotedLine, ...]
    subtotal: int
    line_discount_total: int
    order_discount_total: int
    discount_total: int
    shipping: int
    shipping_discount: int
    shipping_tax: int
    tax_total: int
    total: int
    prices_include_tax: bool
    taxes: tuple[QuotedTax, ...] = ()
    coupons: tuple[AppliedCoupon, ...] = ()
    shipping_method: dict[str, Any] | None = field(default=None)

    def totals(self) -> dict[str, int]:
        """The figures a buyer confirms: what the review page showed."""
        return {"subtotal": self.subtotal, "discount_total": self.discount_total,
                "shipping": self.shipping, "shipping_discount": self.shipping_discount,
                "tax_total": self.tax_total, "total": self.total}

    def as_dict(self) -> dict[str, Any]:
        """Every figure as plain JSON types; ``Quote.from_dict`` rebuilds the same quote."""
        return {
            "currency": self.currency,
            "lines": [
                {"sku": line.sku, "unit_price": line.unit_price, "quantity": line.quantity,
                 "subtotal": line.subtotal, "line_discount": line.line_discount,
                 "order_discount": line.order_discount, "discount": line.discount,
                 "tax": line.tax, "total": line.total}
                for line in self.lines
            ],
            "subtotal": self.subtotal,
            "line_discount_total": self.line_discount_total,
            "order_discount_total": self.order_discount_total,
            "discount_total": self.discount_total,
            "shipping": self.shipping,
            "shipping_discount": self.shipping_discount,
            "shipping_tax": self.shipping_tax,
            "tax_total": self.tax_total,
            "total": self.total,
            "prices_include_tax": self.prices_include_tax,
            "taxes": [{"name": tax.name, "rate": tax.rate, "amount": tax.amount}
                      for tax in self.taxes],
            "coupons": [{"code": c.code, "kind": CouponKind(c.kind).value, "amount": c.amount}
                        for c in self.coupons],
            "shipping_method": (None if self.shipping_method is None
                                else dict(self.shipping_method)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quote:
        """The quote ``as_dict`` wrote (for example read back from a JSON column)."""
        method = data.get("shipping_method")
        return cls(
            currency=data["currency"],
            lines=tuple(
                QuotedLine(sku=line["sku"], unit_price=line["unit_price"],
                           quantity=line["quantity"], subtotal=line["subtotal"],
                           line_discount=line["line_discount"],
                           order_discount=line["order_discount"], discount=line["discount"],
                           tax=line["tax"], total=line["total"])
                for line in data["lines"]
            ),
            subtotal=data["subtotal"],
            line_discount_total=data["line_discount_total"],
            order_discount_total=data["order_discount_total"],
            discount_total=data["discount_total"],
            shipping=data["shipping"],
            shipping_discount=data["shipping_discount"],
            shipping_tax=data["shipping_tax"],
            tax_total=data["tax_total"],
            total=data["total"],
            prices_include_tax=data["prices_include_tax"],
            taxes=tuple(QuotedTax(name=t["name"], rate=t["rate"], amount=t["amount"])
                        for t in data.get("taxes", ())),
            coupons=tuple(AppliedCoupon(code=c["code"], kind=CouponKind(c["kind"]),
                                        amount=c["amount"])
                          for c in data.get("coupons", ())),
            shipping_method=None if method is None else dict(method),
        )


def price(inp: PricingInput) -> Quote:
    """Price a cart: lines, coupons, shipping and tax in the fixed order of the module doc."""
    _check_input(inp)
    lines = inp.lines
    subtotals = [line.unit_price * line.quantity for line in lines]

    # 2. Coupons on merchandise, each on what the coupons before it left.
    left = list(subtotals)
    line_discounts = [0] * len(lines)
    order_discounts = [0] * len(lines)
    merchandise_taken: list[int | None] = []  # None: a free-shipping coupon, priced below
    for coupon in inp.coupons:
        if coupon.kind == CouponKind.FREE_SHIPPING:
            merchandise_taken.append(None)
            continue
        eligible = [i for i, line in enumerate(lines)
                    if not coupon.product_ids or line.product_id in coupon.product_ids]
        pool = sum(left[i] for i in eligible)
        if coupon.kind == CouponKind.PERCENTAGE:
            amount = _half_up(Fraction(pool * coupon.percent_off_bp, FULL_PERCENT_BP))
        else:
            amount = min(coupon.amount_off, pool)
        # Shares proportional to what is left never exceed it, since amount <= pool.
        shares = allocate(amount, [left[i] for i in eligible])
        bucket = line_discounts if coupon.product_ids else order_discounts
        for i, share in zip(eligible, shares, strict=True):
            left[i] -= share
            bucket[i] += share
        merchandise_taken.append(amount)
    merchandise = sum(left)

    # 3. Shipping on the discounted merchandise; free shipping takes all of it.
    weight = sum(line.weight_grams * line.quantity for line in lines)
    shipping = 0 if inp.shipping is None else shipping_price(inp.shipping, merchandise=merchandise,
                                                             weight_grams=weight)
    shipping_left = shipping
    applied: list[AppliedCoupon] = []
    for coupon, taken in zip(inp.coupons, merchandise_taken, strict=True):
        if taken is None:
            taken, shipping_left = shipping_left, 0
        applied.append(AppliedCoupon(code=coupon.code, kind=CouponKind(coupon.kind),
                                     amount=taken))
    shipping_discount = shipping - shipping_left

    # 4. Tax per line and per rate; shipping tax for the rates that apply to shipping.
    rates = [Fraction(rate.rate) for rate in inp.tax_rates]
    inclusive = inp.prices_include_tax
    per_rate = [0] * len(rates)
    line_taxes: list[int] = []
    for amount in left:
        parts = _tax_parts(amount, rates, inclusive=inclusive)
        line_taxes.append(sum(parts))
        per_rate = [a + b for a, b in zip(per_rate, parts, strict=True)]
    on_shipping = [k for k, rate in enumerate(inp.tax_rates) if rate.applies_to_shipping]
    shipping_parts = _tax_parts(shipping_left, [rates[k] for k in on_shipping],
                                inclusive=inclusive)
    for k, part in zip(on_shipping, shipping_parts, strict=True):
        per_rate[k] += part
    shipping_tax = sum(shipping_parts)
    tax_total = sum(line_taxes) + shipping_tax

    # 5. Totals.
    added_tax = 0 if inclusive else tax_total
    quoted_lines = tuple(
        QuotedLine(sku=line.sku, unit_price=line.unit_price, quantity=line.quantity,
                   subtotal=subtotals[i], line_discount=line_discounts[i],
                   order_discount=order_discounts[i],
                   discount=line_discounts[i] + order_discounts[i], tax=line_taxes[i],
                   total=left[i] + (0 if inclusive else line_taxes[i]))
        for i, line in enumerate(lines)
    )
    method = None if inp.shipping is None else {
        "id": inp.shipping.method_id, "name": inp.shipping.name,
        "kind": ShippingKind(inp.shipping.kind).value, "price": shipping}
    return Quote(
        currency=inp.currency,
        lines=quoted_lines,
        subtotal=sum(subtotals),
        line_discount_total=sum(line_discounts),
        order_discount_total=sum(order_discounts),
        discount_total=sum(line_discounts) + sum(order_discounts),
        shipping=shipping,
        shipping_discount=shipping_discount,
        shipping_tax=shipping_tax,
        tax_total=tax_total,
        total=merchandise + shipping_left + added_tax,
        prices_include_tax=inclusive,
        taxes=tuple(QuotedTax(name=rate.name, rate=str(rate.rate), amount=per_rate[k])
                    for k, rate in enumerate(inp.tax_rates)),
        coupons=tuple(applied),
        shipping_method=method,
    )


def shipping_price(terms: ShippingTerms, *, merchandise: int, weight_grams: int) -> int:
    """What the method charges for ``merchandise`` (after discounts) weighing ``weight_grams``.

    Weight bands are read from the lightest up: the first band that carries the weight sets
    the price. Heavier than every band: ``ShippingMethodUnavailable``.
    """
    kind = ShippingKind(terms.kind)
    if kind == ShippingKind.FLAT:
        return terms.price
    if kind == ShippingKind.FREE_ABOVE:
        if terms.free_above is not None and merchandise >= terms.free_above:
            return 0
        return terms.price
    for band in sorted(terms.weight_bands, key=lambda band: band.up_to_grams):
        if weight_grams <= band.up_to_grams:
            return band.price
    heaviest = max((band.up_to_grams for band in terms.weight_bands), default=0)
    raise ShippingMethodUnavailable(
        f"The shipping method '{terms.name}' carries at most {heaviest} g and this order "
        f"weighs {weight_grams} g; choose another method.",
        details={"shipping_method_id": terms.method_id, "weight_grams": weight_grams,
                 "max_weight_grams": heaviest})


def _half_up(value: Fraction) -> int:
    """The nearest integer to a non-negative fraction, halves going up."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def _tax_parts(amount: int, rates: Sequence[Fraction], *, inclusive: bool) -> list[int]:
    """The tax on ``amount`` for each rate (percentages), see the module doc for rounding."""
    if not inclusive:
        return [_half_up(amount * rate / 100) for rate in rates]
    combined = sum(rates, Fraction(0))
    if not rates or combined == 0:
        return [0] * len(rates)
    inside = _half_up(amount * combined / (100 + combined))
    scale = math.lcm(*(rate.denominator for rate in rates))
    return allocate(inside, [(rate * scale).numerator for rate in rates])


def _check_input(inp: PricingInput) -> None:
    check_currency(inp.currency)
    for n, line in enumerate(inp.lines):
        if line.quantity < 1:
            raise ValidationFailed(f"The quantity of {line.sku!r} must be at least 1.",
                                   details={"field": f"lines.{n}.quantity"})
        if line.unit_price < 0:
            raise ValidationFailed(f"The unit price of {line.sku!r} cannot be negative.",
                                   details={"field": f"lines.{n}.unit_price"})
        if line.weight_grams < 0:
            raise ValidationFailed(f"The weight of {line.sku!r} cannot be negative.",
                                   details={"field": f"lines.{n}.weight_grams"})
    for coupon in inp.coupons:
        if not 0 <= coupon.percent_off_bp <= FULL_PERCENT_BP:
            raise ValidationFailed(
                f"Coupon {coupon.code!r} must take 0 to 10000 basis points (0% to 100%).",
                details={"code": coupon.code, "field": "percent_off_bp"})
        if coupon.amount_off < 0:
            raise ValidationFailed(f"Coupon {coupon.code!r} cannot take a negative amount off.",
                                   details={"code": coupon.code, "field": "amount_off"})
    terms = inp.shipping
    if terms is not None and (terms.price < 0 or (terms.free_above or 0) < 0
                              or any(b.price < 0 or b.up_to_grams < 0
                                     for b in terms.weight_bands)):
        raise ValidationFailed(
            f"The shipping method '{terms.name}' has a negative price, threshold or weight.",
            details={"shipping_method_id": terms.method_id})
    for rate in inp.tax_rates:
        if not rate.rate.is_finite() or rate.rate < 0:
            raise ValidationFailed(f"The tax rate {rate.name!r} must be a percentage of 0 or more.",
                                   details={"field": "tax_rate", "name": rate.name})
