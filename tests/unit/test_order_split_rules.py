"""The pure rules of splitting an order and merging two: every minor unit of the original is
on exactly one of the two parts, and a merge prices the joined lines with both coupons."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderline.core.errors import (
    LinePartlyRefunded,
    OrdersNotMergeable,
    SplitExceedsRemaining,
    SplitTakesEverything,
    ValidationFailed,
)
from orderline.order_splits.rules import (
    UnitsToMove,
    merged_coupons,
    plan_merge,
    plan_split,
)
from orderline.pricing.engine import CouponKind, CouponTerms
from tests.unit.test_cancellation_rules import TEN_OFF, a_line, placed

FIGURES = ("subtotal", "discount_total", "shipping_total", "shipping_discount", "tax_total",
           "total")
FIVE_OFF = CouponTerms(code="FIVE", kind=CouponKind.FIXED_AMOUNT, amount_off=500)
FREE = CouponTerms(code="SHIP", kind=CouponKind.FREE_SHIPPING)


def test_a_split_refuses_shipped_missing_refunded_and_every_unit() -> None:
    before, lines = placed([("MUG", "p", 1000, 3), ("CUP", "q", 300, 1)], (), shipping=0,
                           rate=None)
    with pytest.raises(SplitExceedsRemaining):
        plan_split(before, lines, [UnitsToMove("MUG", 2)], shipped={"MUG": 2})
    with pytest.raises(SplitExceedsRemaining):
        plan_split(before, lines, [UnitsToMove("NOPE", 1)], shipped={})
    with pytest.raises(SplitTakesEverything):
        plan_split(before, lines, [UnitsToMove("MUG", 3), UnitsToMove("CUP", 1)], shipped={})
    with pytest.raises(ValidationFailed):
        plan_split(before, lines, [UnitsToMove("MUG", 1), UnitsToMove("MUG", 1)], shipped={})
    with pytest.raises(LinePartlyRefunded):
        plan_split(before, [a_line("MUG", 100, 3, refunded=1), a_line("CUP", 1, 1)],
                   [UnitsToMove("MUG", 1)], shipped={})
    assert plan_split(before, lines, [UnitsToMove("MUG", 1)],
                      shipped={"MUG": 2}).moved.subtotal == 1000


def test_shipping_and_free_shipping_stay_on_the_original() -> None:
    before, lines = placed([("MUG", "p", 1000, 2), ("CUP", "q", 333, 3)], (TEN_OFF, FREE),
                           shipping=500, rate="10")
    plan = plan_split(before, lines, [UnitsToMove("CUP", 2)], shipped={})
    assert (plan.moved.shipping_total, plan.moved.shipping_discount) == (0, 0)
    assert plan.kept.shipping_discount == before.shipping_discount
    moved_coupons = {c["code"]: c["amount"] for c in plan.moved.pricing["coupons"]}
    # The one merchandise coupon's moved amount is the discount that moved.
    assert moved_coupons["SHIP"] == 0 and moved_coupons["TEN"] == plan.moved.discount_total
    assert plan.moved.discount_total == 66  # two thirds of the CUP line's 100 (10% of 999)


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.integers(1, 10_000), min_size=1, max_size=4),
       quantities=st.lists(st.integers(1, 7), min_size=4, max_size=4),
       moves=st.lists(st.integers(0, 7), min_size=4, max_size=4),
       shipping=st.integers(0, 2000), rate=st.sampled_from([None, "7.5", "10", "21"]),
       inclusive=st.booleans(), coupon=st.sampled_from([None, TEN_OFF, FIVE_OFF]))
def test_the_two_parts_add_up_to_the_original_in_every_figure(
        prices: list[int], quantities: list[int], moves: list[int], shipping: int,
        rate: str | None, inclusive: bool, coupon: CouponTerms | None) -> None:
    specs = [(f"S{i}", f"p{i}", p, quantities[i]) for i, p in enumerate(prices)]
    before, lines = placed(specs, () if coupon is None else (coupon,), shipping=shipping,
                           rate=rate, inclusive=inclusive)
    wanted = [UnitsToMove(s, min(moves[i], q)) for i, (s, _, _, q) in enumerate(specs)
              if min(moves[i], q)]
    if not wanted or sum(w.quantity for w in wanted) == sum(q for *_, q in specs):
        return
    plan = plan_split(before, lines, wanted, shipped={})
    for name in FIGURES:
        assert getattr(plan.kept, name) + getattr(plan.moved, name) == getattr(before, name)
    for part in (plan.kept, plan.moved):
        assert part.total == (part.subtotal - part.discount_total + part.shipping_total
                              + (0 if inclusive else part.tax_total))
        assert part.discount_total >= 0 and part.tax_total >= 0
    for line in plan.lines:
        assert 0 <= line.discount_moved <= line.discount_before
        assert 0 <= line.tax_moved <= line.tax_before
    for kept, moved, was in zip(plan.kept.pricing["coupons"], plan.moved.pricing["coupons"],
                                before.pricing["coupons"], strict=True):
        assert kept["amount"] + moved["amount"] == was["amount"]
    for kept, moved, was in zip(plan.kept.pricing["taxes"], plan.moved.pricing["taxes"],
                                before.pricing["taxes"], strict=True):
        assert kept["amount"] + moved["amount"] == was["amount"]


def test_a_merge_joins_lines_and_prices_them_with_both_orders_coupons() -> None:
    here_figures, here = placed([("MUG", "p", 1000, 1)], (TEN_OFF,), shipping=500, rate="10")
    other_figures, other = placed([("MUG", "p", 1000, 1), ("CUP", "q", 500, 2)], (FIVE_OFF,),
                                  shipping=700, rate="10")
    coupons = merged_coupons((TEN_OFF,), (FIVE_OFF, TEN_OFF))
    assert [c.code for c in coupons] == ["TEN", "FIVE"]
    plan = plan_merge(here_figures, here, other_figures, other, coupons=coupons,
                      survivor_coupons=(TEN_OFF,))
    assert [(x.sku, x.quantity) for x in plan.lines] == [("MUG", 2), ("CUP", 2)]
    # 3000 merchandise, 10% off = 300, then 500 off = 800; the survivor's 500 shipping only.
    assert plan.after.subtotal == 3000 and plan.after.discount_total == 800
    assert plan.after.shipping_total == 500
    assert plan.after.total == 3000 - 800 + 500 + plan.after.tax_total
    assert plan.after.tax_total == 220 + 50  # 10% of 2200, and the survivor's shipping tax
    assert [c["code"] for c in plan.after.pricing["coupons"]] == ["TEN", "FIVE"]
    assert sum(t["amount"] for t in plan.after.pricing["taxes"]) == plan.after.tax_total


def test_a_merge_refuses_one_sku_at_two_prices() -> None:
    here_figures, here = placed([("MUG", "p", 1000, 1)], (), shipping=0, rate=None)
    other_figures, other = placed([("MUG", "p", 900, 1)], (), shipping=0, rate=None)
    with pytest.raises(OrdersNotMergeable):
        plan_merge(here_figures, here, other_figures, other, coupons=(), survivor_coupons=())
