"""Partial cancellation before shipment: which units may go, and what the order is after.

Pure: the order's stored figures, its lines and the coupon terms come in, the plan goes out.

The rule for the money (see docs/guides/orders.md, "Cancelling part of an order"):

- The remaining units are priced again by the one pricing engine (``pricing.engine.price``),
  with the order's own unit prices, its coupons in the order they were applied and its tax
  rates. The engine decides each coupon's new amount: a percentage takes its share of what
  is left, a fixed amount is capped at the merchandise left. A coupon's minimum spend was
  checked when the order was placed and is not checked again (the engine does not look at
  minimums), so a coupon is never lost by cancelling part of an order.
- Shipping is what the buyer agreed to at checkout: the parcel still goes, so its price, its
  discount (a free-shipping coupon) and its tax stay as they are. Cancelling every unit is a
  full cancellation, which gives back the shipping too.
- The new total is the re-priced merchandise plus that shipping (plus tax when prices exclude
  it). An unpaid order's total falls to it; a paid order gets the difference refunded. The
  difference is never negative: a re-priced discount can fall by at most what was taken off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderline.core.errors import (
    CancelExceedsRemaining,
    LinePartlyRefunded,
)
from orderline.orders.rules import check_line_units
from orderline.pricing.engine import (
    CouponKind,
    CouponTerms,
    PriceLine,
    PricingInput,
    Quote,
    TaxRateTerms,
    price,
)


@dataclass(frozen=True, slots=True)
class UnitsToCancel:
    """``quantity`` units of the order's line with this SKU."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class LineNow:
    """An order line as it is before the cancellation."""

    sku: str
    name: str
    product_id: str
    unit_price: int
    quantity: int
    refunded_quantity: int
    cancelled_quantity: int
    line_total: int
    discount: int
    tax: int


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """The order's stored price snapshot."""

    currency: str
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int
    prices_include_tax: bool
    pricing: Mapping[str, Any] | None

    def as_dict(self) -> dict[str, int]:
        return {"subtotal": self.subtotal, "discount_total": self.discount_total,
                "shipping_total": self.shipping_total,
                "shipping_discount": self.shipping_discount, "tax_total": self.tax_total,
                "total": self.total}


@dataclass(frozen=True, slots=True)
class LineAfter:
    sku: str
    name: str
    quantity_before: int
    cancelled: int
    quantity: int
    line_total: int
    discount: int
    tax: int


@dataclass(frozen=True, slots=True)
class CancellationPlan:
    """What the order becomes: every line after, the figures after, and whether nothing is
    left (a full cancellation)."""

    lines: tuple[LineAfter, ...]
    before: OrderFigures
    after: OrderFigures
    everything: bool

    @property
    def difference(self) -> int:
        """What the order's total falls by (refunded when the order was paid)."""
        return self.before.total - self.after.total

    def cancelled_lines(self) -> list[dict[str, Any]]:
        return [{"sku": line.sku, "quantity": line.cancelled} for line in self.lines
                if line.cancelled]

    def lines_before(self) -> list[dict[str, Any]]:
        return [{"sku": line.sku, "quantity": line.quantity_before} for line in self.lines]

    def lines_after(self) -> list[dict[str, Any]]:
        return [{"sku": line.sku, "quantity": line.quantity} for line in self.lines]


def check_units(wanted: Sequence[UnitsToCancel]) -> None:
    """1..MAX lines, each SKU once, each quantity at least 1."""
    check_line_units(wanted, verb="cancel", per="cancellation",
                     none_named="Name at least one line to cancel.")


def units_left(lines: Sequence[LineNow], wanted: Sequence[UnitsToCancel]) -> dict[str, int]:
    """How many units of each line remain once ``wanted`` are cancelled; refuses more units
    than a line still has, a line the order does not have, and a line partly refunded."""
    check_units(wanted)
    by_sku = {line.sku: line for line in lines}
    left = {line.sku: line.quantity for line in lines}
    for want in wanted:
        line = by_sku.get(want.sku)
        if line is None:
            raise CancelExceedsRemaining(f"This order has no line {want.sku}.",
                                         details={"sku": want.sku})
        if line.refunded_quantity:
            raise LinePartlyRefunded(
                f"{line.refunded_quantity} units of {want.sku} were refunded already; refund "
                "the rest of the line instead of cancelling part of it.",
                details={"sku": want.sku, "refunded_quantity": line.refunded_quantity})
        if want.quantity > line.quantity:
            raise CancelExceedsRemaining(
                f"Only {line.quantity} units of {want.sku} are left to cancel.",
                details={"sku": want.sku, "quantity": want.quantity, "left": line.quantity})
        left[want.sku] = line.quantity - want.quantity
    return left


def coupon_terms_of(snapshot: Mapping[str, Any] | None,
                    found: Mapping[str, CouponTerms]) -> tuple[CouponTerms, ...]:
    """The order's coupons in the order they were applied, with their terms (``found``, by
    code). A coupon deleted since keeps what it took, as a fixed amount on the whole order."""
    terms: list[CouponTerms] = []
    for coupon in (snapshot or {}).get("coupons", ()):
        code = str(coupon["code"])
        if code in found:
            terms.append(found[code])
        else:
            kind = CouponKind(coupon["kind"])
            terms.append(CouponTerms(code=code, kind=kind if kind == CouponKind.FREE_SHIPPING
                                     else CouponKind.FIXED_AMOUNT,
                                     amount_off=int(coupon["amount"])))
    return tuple(terms)


def tax_rates_of(snapshot: Mapping[str, Any] | None) -> tuple[TaxRateTerms, ...]:
    """The tax rates the order was priced with (its snapshot keeps name and rate)."""
    return tuple(TaxRateTerms(name=str(t["name"]), rate=Decimal(str(t["rate"])))
                 for t in (snapshot or {}).get("taxes", ()))


def plan_cancellation(before: OrderFigures, lines: Sequence[LineNow],
                      wanted: Sequence[UnitsToCancel], *,
                      coupons: tuple[CouponTerms, ...]) -> CancellationPlan:
    """The order after cancelling ``wanted``: the remaining units re-priced by the engine,
    shipping kept (module docstring)."""
    left = units_left(lines, wanted)
    everything = not any(left.values())
    repriced = reprice(before, lines, left, coupons=coupons)
    after_lines = tuple(
        LineAfter(sku=line.sku, name=line.name, quantity_before=line.quantity,
                  cancelled=line.quantity - left[line.sku], quantity=left[line.sku],
                  line_total=line.unit_price * left[line.sku],
                  discount=repriced.shares.get(line.sku, (0, 0))[0],
                  tax=repriced.shares.get(line.sku, (0, 0))[1])
        for line in lines)
    if everything:
        after = OrderFigures(currency=before.currency, subtotal=0, discount_total=0,
                             shipping_total=0, shipping_discount=0, tax_total=0, total=0,
                             prices_include_tax=before.prices_include_tax,
                             pricing=before.pricing)
        return CancellationPlan(lines=after_lines, before=before, after=after, everything=True)
    return CancellationPlan(lines=after_lines, before=before, after=repriced.after,
                            everything=False)


@dataclass(frozen=True, slots=True)
class Repriced:
    """The order's figures after its lines take new quantities, and each line's share of
    the discounts and of the tax (by SKU: ``(discount, tax)``)."""

    after: OrderFigures
    shares: Mapping[str, tuple[int, int]]


def reprice(before: OrderFigures, lines: Sequence[LineNow], quantities: Mapping[str, int], *,
            coupons: tuple[CouponTerms, ...]) -> Repriced:
    """The order with each line at ``quantities[sku]`` units (0: gone), priced again by the
    engine with the order's unit prices, coupons and tax rates; shipping, its discount and
    its tax kept as agreed (module docstring). ``lines`` may hold lines the order does not
    have yet (quantity 0 before, no shares), which an edit after payment adds."""
    rates = tax_rates_of(before.pricing)
    merchandise_coupons = tuple(c for c in coupons if c.kind != CouponKind.FREE_SHIPPING)
    kept = [line for line in lines if quantities.get(line.sku, 0) > 0]
    quote_after = quote_lines(before.currency, kept, quantities, merchandise_coupons, rates,
                              before.prices_include_tax)
    quoted = {q.sku: q for q in quote_after.lines} if quote_after else {}
    shares = {sku: (q.discount, q.tax) for sku, q in quoted.items()}
    shipping_tax = before.tax_total - sum(line.tax for line in lines)
    subtotal = sum(line.unit_price * quantities.get(line.sku, 0) for line in lines)
    discount_total = sum(d for d, _ in shares.values())
    tax_total = sum(t for _, t in shares.values()) + shipping_tax
    total = (subtotal - discount_total + before.shipping_total
             + (0 if before.prices_include_tax else tax_total))
    quote_before = quote_lines(before.currency, [line for line in lines if line.quantity],
                               {line.sku: line.quantity for line in lines},
                               merchandise_coupons, rates, before.prices_include_tax)
    after = OrderFigures(
        currency=before.currency, subtotal=subtotal, discount_total=discount_total,
        shipping_total=before.shipping_total, shipping_discount=before.shipping_discount,
        tax_total=tax_total, total=total,
        prices_include_tax=before.prices_include_tax,
        pricing=pricing_after(before.pricing, quote_before, quote_after))
    return Repriced(after=after, shares=shares)


def quote_lines(currency: str, lines: Sequence[LineNow], quantities: Mapping[str, int],
           coupons: tuple[CouponTerms, ...], rates: tuple[TaxRateTerms, ...],
           inclusive: bool) -> Quote | None:
    if not lines:
        return None
    return price(PricingInput(
        currency=currency,
        lines=tuple(PriceLine(sku=line.sku, product_id=line.product_id,
                              unit_price=line.unit_price, quantity=quantities[line.sku])
                    for line in lines),
        coupons=coupons, tax_rates=rates, prices_include_tax=inclusive))


def pricing_after(snapshot: Mapping[str, Any] | None, quote_before: Quote | None,
                   quote_after: Quote | None) -> dict[str, Any] | None:
    """The snapshot's coupons and taxes after: merchandise coupons as the engine re-priced
    them, free shipping as it was; each rate moved by what the merchandise's tax moved."""
    if snapshot is None:
        return None
    taken = {c.code: c.amount for c in (quote_after.coupons if quote_after else ())}
    before_rate = {t.name: t.amount for t in (quote_before.taxes if quote_before else ())}
    after_rate = {t.name: t.amount for t in (quote_after.taxes if quote_after else ())}
    coupons = [
        {**c, "amount": c["amount"] if c["kind"] == CouponKind.FREE_SHIPPING.value
         else taken.get(c["code"], 0)}
        for c in snapshot.get("coupons", ())]
    taxes = [
        {**t, "amount": max(0, int(t["amount"]) - before_rate.get(t["name"], 0)
                            + after_rate.get(t["name"], 0))}
        for t in snapshot.get("taxes", ())]
    return {**snapshot, "coupons": coupons, "taxes": taxes}
