"""Hand-computed quotes: each figure below was worked out on paper from the module doc."""

import json
from decimal import Decimal

import pytest

from orderline.core.errors import ShippingMethodUnavailable, ValidationFailed
from orderline.pricing.engine import (
    AppliedCoupon,
    CouponKind,
    CouponTerms,
    PriceLine,
    PricingInput,
    Quote,
    QuotedTax,
    ShippingKind,
    ShippingTerms,
    TaxRateTerms,
    WeightBand,
    price,
)


def line(sku: str, unit_price: int, quantity: int = 1, *, product: str = "p1",
         weight: int = 0) -> PriceLine:
    return PriceLine(sku=sku, product_id=product, unit_price=unit_price, quantity=quantity,
                     weight_grams=weight)


def percent(code: str, bp: int, *products: str) -> CouponTerms:
    return CouponTerms(code=code, kind=CouponKind.PERCENTAGE, percent_off_bp=bp,
                       product_ids=frozenset(products))


def fixed(code: str, amount: int, *products: str) -> CouponTerms:
    return CouponTerms(code=code, kind=CouponKind.FIXED_AMOUNT, amount_off=amount,
                       product_ids=frozenset(products))


FREE_SHIPPING = CouponTerms(code="FREESHIP", kind=CouponKind.FREE_SHIPPING)


def flat(amount: int) -> ShippingTerms:
    return ShippingTerms(method_id="m-flat", name="Standard", kind=ShippingKind.FLAT,
                         price=amount)


def quote(*lines: PriceLine, coupons: tuple[CouponTerms, ...] = (),
          shipping: ShippingTerms | None = None, rates: tuple[TaxRateTerms, ...] = (),
          inclusive: bool = False) -> Quote:
    return price(PricingInput(currency="USD", lines=lines, coupons=coupons, shipping=shipping,
                              tax_rates=rates, prices_include_tax=inclusive))


def test_exclusive_tax_is_rounded_half_up_per_line_and_added_to_the_total() -> None:
    q = quote(line("A", 1000, 2), line("B", 333),
              rates=(TaxRateTerms("Sales tax", Decimal("8.25")),))
    # A: 2000 x 8.25% = 165.00; B: 333 x 8.25% = 27.4725 -> 27
    assert [(ln.subtotal, ln.tax, ln.total) for ln in q.lines] == [(2000, 165, 2165),
                                                                   (333, 27, 360)]
    assert q.subtotal == 2333
    assert q.tax_total == 192
    assert q.total == 2525
    assert q.taxes == (QuotedTax(name="Sales tax", rate="8.25", amount=192),)
    assert q.shipping == 0
    assert q.shipping_method is None


def test_inclusive_tax_is_the_part_inside_the_price_and_is_not_added() -> None:
    q = quote(line("A", 1200), line("B", 999), rates=(TaxRateTerms("VAT", Decimal("20")),),
              inclusive=True)
    # 1200 x 20 / 120 = 200; 999 x 20 / 120 = 166.5 -> 167 (half up)
    assert [ln.tax for ln in q.lines] == [200, 167]
    assert [ln.total for ln in q.lines] == [1200, 999]
    assert q.tax_total == 367
    assert q.total == 2199
    assert q.prices_include_tax is True


def test_several_exclusive_rates_tax_shipping_only_where_they_apply() -> None:
    q = quote(line("A", 1000), shipping=flat(500),
              rates=(TaxRateTerms("State", Decimal("5")),
                     TaxRateTerms("City", Decimal("2.5"), applies_to_shipping=False)))
    # line: 50 + 25; shipping: 500 x 5% = 25 (the city rate skips shipping)
    assert q.lines[0].tax == 75
    assert q.shipping_tax == 25
    assert q.taxes == (QuotedTax("State", "5", 75), QuotedTax("City", "2.5", 25))
    assert q.tax_total == 100
    assert q.total == 1000 + 500 + 100


def test_several_inclusive_rates_share_one_rounded_tax_by_largest_remainder() -> None:
    q = quote(line("A", 1000), rates=(TaxRateTerms("Federal", Decimal("5")),
                                      TaxRateTerms("Provincial", Decimal("5"))),
              inclusive=True)
    # 1000 x 10 / 110 = 90.909 -> 91, split 46 / 45 (the tie goes to the first rate)
    assert q.lines[0].tax == 91
    assert [t.amount for t in q.taxes] == [46, 45]
    assert q.total == 1000


def test_inclusive_shipping_tax_uses_only_the_rates_that_apply_to_shipping() -> None:
    q = quote(line("A", 1150), shipping=flat(550), inclusive=True,
              rates=(TaxRateTerms("Ten", Decimal("10")),
                     TaxRateTerms("Five", Decimal("5"), applies_to_shipping=False)))
    # line: 1150 x 15 / 115 = 150, split 100 / 50; shipping: 550 x 10 / 110 = 50
    assert q.lines[0].tax == 150
    assert q.shipping_tax == 50
    assert [t.amount for t in q.taxes] == [150, 50]
    assert q.tax_total == 200
    assert q.total == 1150 + 550


def test_inclusive_tax_is_computed_on_the_discounted_amounts() -> None:
    q = quote(line("A", 1200, 2), coupons=(percent("TEN", 1000),), shipping=flat(600),
              rates=(TaxRateTerms("VAT", Decimal("20")),), inclusive=True)
    # 2400 - 240 = 2160 -> 2160 x 20 / 120 = 360; shipping 600 x 20 / 120 = 100
    assert q.discount_total == 240
    assert q.lines[0].tax == 360
    assert q.shipping_tax == 100
    assert q.total == 2160 + 600


def test_a_free_shipping_coupon_takes_the_shipping_and_leaves_no_shipping_tax() -> None:
    q = quote(line("A", 1000), coupons=(FREE_SHIPPING,), shipping=flat(500),
              rates=(TaxRateTerms("Tax", Decimal("10")),))
    assert q.shipping == 500
    assert q.shipping_discount == 500
    assert q.shipping_tax == 0
    assert q.tax_total == 100
    assert q.total == 1100
    assert q.coupons == (AppliedCoupon("FREESHIP", CouponKind.FREE_SHIPPING, 500),)
    assert q.shipping_method == {"id": "m-flat", "name": "Standard", "kind": "flat",
                                 "price": 500}


def test_a_coupon_restricted_to_products_is_a_line_discount_on_those_lines_only() -> None:
    q = quote(line("A", 1000, product="p1"), line("B", 500, product="p2"),
              coupons=(percent("SHOES10", 1000, "p1"),))
    assert [(ln.line_discount, ln.order_discount, ln.discount) for ln in q.lines] == [
        (100, 0, 100), (0, 0, 0)]
    assert q.line_discount_total == 100
    assert q.order_discount_total == 0
    assert q.discount_total == 100
    assert q.total == 1400
    assert q.coupons == (AppliedCoupon("SHOES10", CouponKind.PERCENTAGE, 100),)


def test_an_order_discount_is_spread_over_equal_lines_by_largest_remainder() -> None:
    q = quote(line("A", 500), line("B", 500), line("C", 500), coupons=(fixed("HUNDRED", 100),))
    assert [ln.order_discount for ln in q.lines] == [34, 33, 33]
    assert [ln.line_discount for ln in q.lines] == [0, 0, 0]
    assert q.order_discount_total == 100
    assert q.total == 1400


def test_an_order_discount_is_spread_in_proportion_to_what_is_left_of_each_line() -> None:
    q = quote(line("A", 1000, product="p1"), line("B", 1000, product="p2"),
              coupons=(percent("HALF", 5000, "p1"), fixed("OFF300", 300)))
    # A is 500 after the restricted coupon, B 1000: 300 splits 100 / 200
    assert [(ln.line_discount, ln.order_discount) for ln in q.lines] == [(500, 100), (0, 200)]
    assert q.discount_total == 800
    assert [c.amount for c in q.coupons] == [500, 300]
    assert q.total == 1200


@pytest.mark.parametrize(("amount", "bp", "discount"), [
    (1005, 1000, 101),   # 100.5 -> 101
    (1004, 1000, 100),   # 100.4 -> 100
    (1010, 1500, 152),   # 151.5 -> 152
    (1, 5000, 1),        # 0.5 -> 1
    (1, 4999, 0),        # 0.4999 -> 0
])
def test_a_percentage_is_rounded_half_up_to_a_minor_unit(amount: int, bp: int,
                                                         discount: int) -> None:
    q = quote(line("A", amount), coupons=(percent("P", bp),))
    assert q.discount_total == discount
    assert q.total == amount - discount


def test_a_hundred_percent_coupon_leaves_exactly_the_shipping_to_pay() -> None:
    q = quote(line("A", 1234), line("B", 567, 3), coupons=(percent("ALL", 10000),),
              shipping=flat(499))
    assert q.discount_total == q.subtotal == 1234 + 1701
    assert [ln.total for ln in q.lines] == [0, 0]
    assert q.total == 499


def test_a_hundred_percent_coupon_without_shipping_gives_zero_never_minus_one() -> None:
    q = quote(line("A", 333), line("B", 333), line("C", 334), coupons=(percent("ALL", 10000),),
              rates=(TaxRateTerms("Tax", Decimal("7")),))
    assert q.total == 0
    assert q.tax_total == 0
    assert all(ln.total == 0 for ln in q.lines)


def test_a_fixed_amount_larger_than_the_merchandise_takes_only_what_is_there() -> None:
    q = quote(line("A", 1200), coupons=(fixed("BIG", 5000),), shipping=flat(300))
    assert q.discount_total == 1200
    assert q.coupons[0].amount == 1200
    assert q.total == 300


def test_a_coupon_after_a_full_discount_takes_nothing() -> None:
    q = quote(line("A", 800), coupons=(percent("ALL", 10000), fixed("MORE", 100)))
    assert [c.amount for c in q.coupons] == [800, 0]
    assert q.total == 0


def test_a_restricted_coupon_with_no_matching_line_takes_nothing() -> None:
    q = quote(line("A", 800, product="p1"), coupons=(fixed("OTHER", 100, "p9"),))
    assert q.coupons[0].amount == 0
    assert q.total == 800


def test_free_above_compares_the_discounted_merchandise() -> None:
    terms = ShippingTerms(method_id="m-free", name="Free over 50", kind=ShippingKind.FREE_ABOVE,
                          price=700, free_above=5000)
    assert quote(line("A", 5000), shipping=terms).shipping == 0
    discounted = quote(line("A", 5000), coupons=(percent("TEN", 1000),), shipping=terms)
    assert discounted.shipping == 700
    assert discounted.total == 4500 + 700
    assert discounted.shipping_method == {"id": "m-free", "name": "Free over 50",
                                          "kind": "free_above", "price": 700}


def test_weight_shipping_takes_the_first_band_that_carries_the_whole_order() -> None:
    terms = ShippingTerms(method_id="m-w", name="Parcel", kind=ShippingKind.WEIGHT,
                          weight_bands=(WeightBand(5000, 1500), WeightBand(1000, 500),
                                        WeightBand(2000, 800)))
    heavy = quote(line("A", 100, 2, weight=300), line("B", 100, weight=500), shipping=terms)
    assert heavy.shipping == 800  # 1100 g
    exact = quote(line("A", 100, 2, weight=500), shipping=terms)
    assert exact.shipping == 500  # 1000 g: the band's upper bound is included


def test_an_order_heavier_than_every_band_cannot_use_the_method() -> None:
    terms = ShippingTerms(method_id="m-w", name="Parcel", kind=ShippingKind.WEIGHT,
                          weight_bands=(WeightBand(1000, 500), WeightBand(5000, 1500)))
    with pytest.raises(ShippingMethodUnavailable) as caught:
        quote(line("A", 100, 6, weight=1000), shipping=terms)
    assert "Parcel" in caught.value.message
    assert caught.value.details["weight_grams"] == 6000


@pytest.mark.parametrize("bad", [
    PricingInput(currency="USD", lines=(line("A", 100, 0),)),
    PricingInput(currency="USD", lines=(line("A", -1),)),
    PricingInput(currency="USD", lines=(line("A", 100),), coupons=(percent("P", 10001),)),
    PricingInput(currency="USD", lines=(line("A", 100),), coupons=(percent("P", -1),)),
    PricingInput(currency="USD", lines=(line("A", 100),), coupons=(fixed("F", -1),)),
    PricingInput(currency="usd", lines=(line("A", 100),)),
    PricingInput(currency="USD", lines=(line("A", 100),), shipping=flat(-5)),
    PricingInput(currency="USD", lines=(line("A", 100),),
                 tax_rates=(TaxRateTerms("T", Decimal("-1")),)),
])
def test_impossible_inputs_are_refused(bad: PricingInput) -> None:
    with pytest.raises(ValidationFailed):
        price(bad)


def test_a_quote_survives_a_json_round_trip_unchanged() -> None:
    q = quote(line("A", 1999, 2, product="p1"), line("B", 450, product="p2"),
              coupons=(percent("P1", 1500, "p1"), fixed("F", 250), FREE_SHIPPING),
              shipping=flat(650), rates=(TaxRateTerms("State", Decimal("6.25")),
                                         TaxRateTerms("City", Decimal("1"), False)))
    stored = json.loads(json.dumps(q.as_dict()))
    assert Quote.from_dict(stored) == q
    assert stored["coupons"][2] == {"code": "FREESHIP", "kind": "free_shipping", "amount": 650}
    assert stored["lines"][0]["sku"] == "A"
    assert stored["taxes"][0] == {"name": "State", "rate": "6.25", "amount": q.taxes[0].amount}
    assert q.totals() == {key: stored[key] for key in (
        "subtotal", "discount_total", "shipping", "shipping_discount", "tax_total", "total")}
