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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


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
        raise NotImplementedError


def price(inp: PricingInput) -> Quote:
    raise NotImplementedError
