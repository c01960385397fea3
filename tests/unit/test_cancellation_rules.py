"""The pure rules of a partial cancellation: which units may go, and the order's figures
after, as the pricing engine re-prices what is left."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderline.cancellations.rules import (
    LineNow,
    OrderFigures,
    UnitsToCancel,
    coupon_terms_of,
    plan_cancellation,
    units_left,
)
from orderline.core.errors import CancelExceedsRemaining, LinePartlyRefunded, ValidationFailed
from orderline.pricing.engine import (
    CouponKind,
    CouponTerms,
    PriceLine,
    PricingInput,
    ShippingKind,
    ShippingTerms,
    TaxRateTerms,
    price,
)


def a_line(sku: str, unit_price: int, quantity: int, *, refunded: int = 0,
           product: str = "p") -> LineNow:
    return LineNow(sku=sku, name=sku, product_id=product, unit_price=unit_price,
                   quantity=quantity, refunded_quantity=refunded, cancelled_quantity=0,
                   line_total=unit_price * quantity, discount=0, tax=0)


def placed(lines: list[tuple[str, str, int, int]], coupons: tuple[CouponTerms, ...], *,
           shipping: int, rate: str | None,
           inclusive: bool = False) -> tuple[OrderFigures, list[LineNow]]:
    """An order as checkout stores it: priced by the engine, with its snapshot."""
    rates = () if rate is None else (TaxRateTerms(name="VAT", rate=Decimal(rate)),)
    quote = price(PricingInput(
        currency="USD",
        lines=tuple(PriceLine(sku=s, product_id=p, unit_price=u, quantity=q)
                    for s, p, u, q in lines),
        coupons=coupons, tax_rates=rates, prices_include_tax=inclusive,
        shipping=ShippingTerms(method_id="m", name="Std", kind=ShippingKind.FLAT,
                               price=shipping)))
    snapshot = quote.as_dict()
    figures = OrderFigures(
        currency="USD", subtotal=quote.subtotal, discount_total=quote.discount_total,
        shipping_total=quote.shipping - quote.shipping_discount,
        shipping_discount=quote.shipping_discount, tax_total=quote.tax_total,
        total=quote.total, prices_include_tax=inclusive,
        pricing={"taxes": snapshot["taxes"], "coupons": snapshot["coupons"]})
    now = [LineNow(sku=q.sku, name=q.sku, product_id=p, unit_price=q.unit_price,
                   quantity=q.quantity, refunded_quantity=0, cancelled_quantity=0,
                   line_total=q.subtotal, discount=q.discount, tax=q.tax)
           for q, (_, p, _, _) in zip(quote.lines, lines, strict=True)]
    return figures, now


TEN_OFF = CouponTerms(code="TEN", kind=CouponKind.PERCENTAGE, percent_off_bp=1000)


def test_no_more_units_than_a_line_has_left_and_no_unknown_line() -> None:
    lines = [a_line("MUG", 100, 3)]
    assert units_left(lines, [UnitsToCancel("MUG", 2)]) == {"MUG": 1}
    with pytest.raises(CancelExceedsRemaining):
        units_left(lines, [UnitsToCancel("MUG", 4)])
    with pytest.raises(CancelExceedsRemaining):
        units_left(lines, [UnitsToCancel("CUP", 1)])


def test_a_request_needs_positive_quantities_of_distinct_lines() -> None:
    lines = [a_line("MUG", 100, 3)]
    for wanted in ([], [UnitsToCancel("MUG", 0)],
                   [UnitsToCancel("MUG", 1), UnitsToCancel("MUG", 1)]):
        with pytest.raises(ValidationFailed):
            units_left(lines, wanted)


def test_a_line_with_refunded_units_is_refunded_not_cancelled() -> None:
    with pytest.raises(LinePartlyRefunded):
        units_left([a_line("MUG", 100, 3, refunded=1)], [UnitsToCancel("MUG", 1)])


def test_the_remaining_units_are_priced_as_the_engine_prices_them_shipping_kept() -> None:
    before, lines = placed([("MUG", "p1", 1000, 2), ("CUP", "p2", 500, 1)], (TEN_OFF,),
                           shipping=500, rate="10")
    assert before.total == 3025
    plan = plan_cancellation(before, lines, [UnitsToCancel("MUG", 1)], coupons=(TEN_OFF,))
    again, _ = placed([("MUG", "p1", 1000, 1), ("CUP", "p2", 500, 1)], (TEN_OFF,),
                      shipping=500, rate="10")
    # Exactly what the engine says an order of what is left costs.
    assert plan.after.as_dict() == again.as_dict()
    assert plan.difference == 3025 - again.total
    assert not plan.everything
    assert plan.after.pricing is not None and again.pricing is not None
    assert plan.after.pricing["coupons"] == again.pricing["coupons"]
    assert plan.after.pricing["taxes"] == again.pricing["taxes"]


def test_figures_after_add_up_with_tax_inside_the_prices() -> None:
    before, lines = placed([("MUG", "p1", 999, 3), ("CUP", "p2", 333, 2)], (TEN_OFF,),
                           shipping=250, rate="12", inclusive=True)
    plan = plan_cancellation(before, lines, [UnitsToCancel("MUG", 2)], coupons=(TEN_OFF,))
    after = plan.after
    assert after.total == after.subtotal - after.discount_total + after.shipping_total
    assert sum(line.line_total for line in plan.lines) == after.subtotal
    assert 0 < plan.difference < before.total


def test_a_fixed_coupon_is_capped_at_what_is_left_and_its_minimum_is_not_checked_again(
        ) -> None:
    fixed = CouponTerms(code="FIVE", kind=CouponKind.FIXED_AMOUNT, amount_off=800)
    before, lines = placed([("MUG", "p1", 1000, 1), ("CUP", "p2", 500, 1)], (fixed,),
                           shipping=0, rate=None)
    plan = plan_cancellation(before, lines, [UnitsToCancel("MUG", 1)], coupons=(fixed,))
    # The engine keeps the coupon; it takes at most the 500 left.
    assert (plan.after.discount_total, plan.after.total) == (500, 0)
    assert plan.difference == before.total


def test_a_product_coupon_leaves_with_its_product() -> None:
    only_mugs = CouponTerms(code="MUGS", kind=CouponKind.PERCENTAGE, percent_off_bp=5000,
                            product_ids=frozenset({"p1"}))
    before, lines = placed([("MUG", "p1", 1000, 1), ("CUP", "p2", 500, 1)], (only_mugs,),
                           shipping=0, rate=None)
    plan = plan_cancellation(before, lines, [UnitsToCancel("MUG", 1)], coupons=(only_mugs,))
    assert (plan.after.discount_total, plan.after.total) == (0, 500)
    assert plan.after.pricing is not None
    assert plan.after.pricing["coupons"] == [{"code": "MUGS", "kind": "percentage",
                                              "amount": 0}]


def test_cancelling_every_unit_left_is_everything_and_costs_nothing() -> None:
    before, lines = placed([("MUG", "p1", 1000, 2)], (), shipping=500, rate="10")
    plan = plan_cancellation(before, lines, [UnitsToCancel("MUG", 2)], coupons=())
    assert plan.everything and plan.after.total == 0 and plan.difference == before.total


def test_a_deleted_coupon_keeps_what_it_took_as_a_fixed_amount() -> None:
    snapshot: dict[str, Any] = {"coupons": [{"code": "GONE", "kind": "percentage",
                                             "amount": 120},
                                            {"code": "TEN", "kind": "percentage",
                                             "amount": 50}]}
    terms = coupon_terms_of(snapshot, {"TEN": TEN_OFF})
    assert terms == (CouponTerms(code="GONE", kind=CouponKind.FIXED_AMOUNT, amount_off=120),
                     TEN_OFF)
