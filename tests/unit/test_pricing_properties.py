"""Invariants of the pricing engine over random carts, coupons, shipping and tax rates."""

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from orderline.pricing.engine import (
    CouponKind,
    CouponTerms,
    PriceLine,
    PricingInput,
    Quote,
    ShippingKind,
    ShippingTerms,
    TaxRateTerms,
    WeightBand,
    price,
)

PRODUCTS = ["p1", "p2", "p3", "p4"]
FAST = settings(max_examples=200, deadline=None)


@st.composite
def price_lines(draw: st.DrawFn) -> tuple[PriceLine, ...]:
    count = draw(st.integers(1, 6))
    return tuple(
        PriceLine(sku=f"SKU-{n}", product_id=draw(st.sampled_from(PRODUCTS[:3])),
                  unit_price=draw(st.integers(0, 100_000)), quantity=draw(st.integers(1, 20)),
                  weight_grams=draw(st.integers(0, 2_000)))
        for n in range(count)
    )


products = st.frozensets(st.sampled_from(PRODUCTS), max_size=2)
coupon_terms = st.one_of(
    st.builds(CouponTerms, code=st.just("PCT"), kind=st.just(CouponKind.PERCENTAGE),
              percent_off_bp=st.integers(0, 10_000), product_ids=products),
    st.builds(CouponTerms, code=st.just("FIX"), kind=st.just(CouponKind.FIXED_AMOUNT),
              amount_off=st.integers(0, 500_000), product_ids=products),
    st.builds(CouponTerms, code=st.just("SHIP"), kind=st.just(CouponKind.FREE_SHIPPING)),
)
shipping_terms = st.one_of(
    st.none(),
    st.builds(ShippingTerms, method_id=st.just("m1"), name=st.just("Flat"),
              kind=st.just(ShippingKind.FLAT), price=st.integers(0, 5_000)),
    st.builds(ShippingTerms, method_id=st.just("m2"), name=st.just("Free above"),
              kind=st.just(ShippingKind.FREE_ABOVE), price=st.integers(0, 5_000),
              free_above=st.one_of(st.none(), st.integers(0, 1_000_000))),
    # The last band carries any cart the strategy can build (6 x 20 x 2000 g).
    st.builds(ShippingTerms, method_id=st.just("m3"), name=st.just("Weight"),
              kind=st.just(ShippingKind.WEIGHT),
              weight_bands=st.lists(st.builds(WeightBand, up_to_grams=st.integers(0, 100_000),
                                              price=st.integers(0, 5_000)), max_size=3)
              .map(lambda bands: (*bands, WeightBand(240_000, 9_999)))),
)
tax_rates = st.lists(
    st.builds(TaxRateTerms, name=st.sampled_from(["State", "City", "VAT"]),
              rate=st.integers(0, 3_000).map(lambda n: Decimal(n) / 100),
              applies_to_shipping=st.booleans()),
    max_size=3).map(tuple)
pricing_inputs = st.builds(PricingInput, currency=st.just("USD"), lines=price_lines(),
                           coupons=st.lists(coupon_terms, max_size=3).map(tuple),
                           shipping=shipping_terms, tax_rates=tax_rates,
                           prices_include_tax=st.booleans())


@FAST
@given(pricing_inputs)
def test_every_total_is_the_sum_of_its_parts(inp: PricingInput) -> None:
    q = price(inp)
    assert sum(line.subtotal for line in q.lines) == q.subtotal
    assert sum(line.discount for line in q.lines) == q.discount_total
    assert sum(line.line_discount for line in q.lines) == q.line_discount_total
    assert sum(line.order_discount for line in q.lines) == q.order_discount_total
    assert q.line_discount_total + q.order_discount_total == q.discount_total
    assert sum(line.tax for line in q.lines) + q.shipping_tax == q.tax_total
    assert sum(tax.amount for tax in q.taxes) == q.tax_total
    assert sum(c.amount for c in q.coupons) == q.discount_total + q.shipping_discount
    added_tax = 0 if q.prices_include_tax else q.tax_total
    assert q.total == (q.subtotal - q.discount_total + q.shipping - q.shipping_discount
                       + added_tax)
    assert sum(line.total for line in q.lines) + q.shipping - q.shipping_discount + (
        0 if q.prices_include_tax else q.shipping_tax) == q.total


@FAST
@given(pricing_inputs)
def test_no_figure_is_ever_negative_and_discounts_never_exceed_what_they_discount(
        inp: PricingInput) -> None:
    q = price(inp)
    figures = [q.subtotal, q.line_discount_total, q.order_discount_total, q.discount_total,
               q.shipping, q.shipping_discount, q.shipping_tax, q.tax_total, q.total]
    figures += [c.amount for c in q.coupons] + [t.amount for t in q.taxes]
    for line in q.lines:
        figures += [line.subtotal, line.line_discount, line.order_discount, line.discount,
                    line.tax, line.total]
        assert line.discount <= line.subtotal
    assert all(figure >= 0 for figure in figures)
    assert q.discount_total <= q.subtotal
    assert q.shipping_discount <= q.shipping
    if q.prices_include_tax:
        assert q.tax_total <= q.subtotal - q.discount_total + q.shipping - q.shipping_discount


@FAST
@given(pricing_inputs)
def test_the_same_inputs_always_give_the_same_quote_even_after_storing_it(
        inp: PricingInput) -> None:
    q = price(inp)
    assert price(inp) == q
    assert Quote.from_dict(json.loads(json.dumps(q.as_dict()))) == q


@FAST
@given(pricing_inputs, st.integers(0, 3))
def test_a_whole_order_hundred_percent_coupon_leaves_no_merchandise_to_pay(
        inp: PricingInput, at: int) -> None:
    everything = CouponTerms(code="ALL", kind=CouponKind.PERCENTAGE, percent_off_bp=10_000)
    coupons = list(inp.coupons)
    coupons.insert(min(at, len(coupons)), everything)
    q = price(PricingInput(currency=inp.currency, lines=inp.lines, coupons=tuple(coupons),
                           shipping=inp.shipping, tax_rates=inp.tax_rates,
                           prices_include_tax=inp.prices_include_tax))
    assert q.discount_total == q.subtotal
    assert all(line.total == 0 and line.tax == 0 for line in q.lines)
    shipping_due = q.shipping - q.shipping_discount
    assert q.total == shipping_due + (0 if q.prices_include_tax else q.shipping_tax)
