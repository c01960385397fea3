"""The pure rules of an edit after payment: which lines a change may touch, what the order is
after it (re-priced by the one engine, shipping kept), who owes the difference, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orderline.core.errors import LinePartlyRefunded, OrderNotChangeable, ValidationFailed
from orderline.order_changes.rules import (
    CatalogLine,
    LineEdit,
    LineKind,
    check_changeable,
    payment_deadline,
    plan_change,
)
from orderline.pricing.engine import (
    CouponKind,
    CouponTerms,
    PriceLine,
    PricingInput,
    TaxRateTerms,
    price,
)
from tests.unit.test_cancellation_rules import a_line, placed

TEN = CouponTerms(code="TEN", kind=CouponKind.PERCENTAGE, percent_off_bp=1000)
TEA = CatalogLine(sku="TEA", name="Tea", product_id="t", unit_price=400)


def test_adding_a_line_is_priced_with_the_orders_coupon_and_tax_and_the_buyer_owes_it() -> None:
    before, lines = placed([("MUG", "m", 1000, 2)], (TEN,), shipping=500, rate="10")
    plan = plan_change(before, lines, [LineEdit("TEA", 2, add=True)], catalog={"TEA": TEA},
                       coupons=(TEN,))
    # The engine on the lines after gives the same merchandise figures.
    quote = price(PricingInput(currency="USD", lines=(
        PriceLine(sku="MUG", product_id="m", unit_price=1000, quantity=2),
        PriceLine(sku="TEA", product_id="t", unit_price=400, quantity=2)),
        coupons=(TEN,), tax_rates=(TaxRateTerms(name="VAT", rate=Decimal("10")),)))
    assert (plan.after.subtotal, plan.after.discount_total) == (2800, quote.discount_total)
    assert plan.after.shipping_total == before.shipping_total  # shipping as agreed
    shipping_tax = before.tax_total - sum(line.tax for line in lines)
    assert shipping_tax == 50
    assert plan.after.total == quote.total + before.shipping_total + shipping_tax
    assert plan.difference == plan.after.total - before.total > 0
    [added] = plan.changed
    assert (added.kind, added.quantity_before, added.quantity_after) == (LineKind.ADDED, 0, 2)
    coupons_after = (plan.after.pricing or {})["coupons"]
    assert coupons_after[0]["amount"] == quote.discount_total


def test_removing_and_lowering_lines_gives_money_back_and_never_empties_the_order() -> None:
    before, lines = placed([("MUG", "m", 1000, 2), ("CUP", "c", 500, 1)], (), shipping=0,
                           rate=None)
    plan = plan_change(before, lines, [LineEdit("CUP", 0), LineEdit("MUG", 1)], catalog={},
                       coupons=())
    assert (plan.after.total, plan.difference) == (1000, -1500)
    assert {c.sku: c.kind for c in plan.changed} == {"CUP": LineKind.REMOVED,
                                                    "MUG": LineKind.CHANGED}
    with pytest.raises(ValidationFailed, match="cancel the order instead"):
        plan_change(before, lines, [LineEdit("CUP", 0), LineEdit("MUG", 0)], catalog={},
                    coupons=())
    with pytest.raises(ValidationFailed, match="nothing would change"):
        plan_change(before, lines, [LineEdit("MUG", 2)], catalog={}, coupons=())
    with pytest.raises(ValidationFailed, match="only once"):
        plan_change(before, lines, [LineEdit("MUG", 1), LineEdit("MUG", 3)], catalog={},
                    coupons=())


def test_adding_units_to_a_line_it_has_keeps_the_orders_unit_price() -> None:
    before, lines = placed([("MUG", "m", 1000, 1)], (), shipping=0, rate=None)
    plan = plan_change(before, lines, [LineEdit("MUG", 2, add=True)], catalog={}, coupons=())
    [more] = plan.changed
    assert (more.kind, more.quantity_after, more.unit_price) == (LineKind.CHANGED, 3, 1000)
    assert plan.difference == 2000


def test_a_line_partly_refunded_is_not_changed() -> None:
    before, _ = placed([("MUG", "m", 1000, 2)], (), shipping=0, rate=None)
    with pytest.raises(LinePartlyRefunded):
        plan_change(before, [a_line("MUG", 1000, 2, refunded=1)], [LineEdit("MUG", 3)],
                    catalog={}, coupons=())


def test_only_paid_or_confirmed_orders_with_nothing_shipped_change() -> None:
    for status in ("paid", "confirmed", "processing"):
        check_changeable(status, shipped_units=0)
    for status in ("pending_payment", "shipped", "cancelled", "delivered"):
        with pytest.raises(OrderNotChangeable):
            check_changeable(status, shipped_units=0)
    with pytest.raises(OrderNotChangeable, match="2 units shipped"):
        check_changeable("paid", shipped_units=2)


def test_the_buyer_has_48_hours_to_pay_unless_told_otherwise() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert payment_deadline(now, None) == now + timedelta(hours=48)
    assert payment_deadline(now, 3) == now + timedelta(hours=3)
    with pytest.raises(ValidationFailed):
        payment_deadline(now, 0)
