import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orderline.core.errors import (
    CouponCustomerLimitReached,
    CouponExhausted,
    CouponExpired,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotStarted,
    DomainError,
    InvalidCoupon,
    ValidationFailed,
)
from orderline.coupons.rules import CouponRules, check_coupons, normalize_code
from orderline.pricing.engine import CouponKind, CouponTerms

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CART_PRODUCTS = frozenset({"p1", "p2"})


def coupon(code: str, kind: CouponKind = CouponKind.PERCENTAGE, **changes: object) -> CouponRules:
    rules = CouponRules(id=uuid.uuid4(), code=code, kind=kind, percent_off_bp=1000,
                        amount_off=0, min_subtotal=0, starts_at=None, ends_at=None,
                        usage_limit=None, per_customer_limit=None, used_count=0,
                        product_ids=frozenset(), active=True)
    return replace(rules, **changes)  # type: ignore[arg-type]


def check(found: list[CouponRules], codes: list[str], *, subtotal: int = 5000,
          uses: dict[uuid.UUID, int] | None = None) -> list[CouponTerms]:
    return check_coupons(found, codes, now=NOW, subtotal=subtotal, product_ids=CART_PRODUCTS,
                         customer_uses=uses or {})


def refusal(found: list[CouponRules], codes: list[str], **kwargs: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check(found, codes, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_codes_compare_without_case_or_surrounding_blanks() -> None:
    assert normalize_code("  summer10 ") == "SUMMER10"


def test_valid_coupons_come_back_as_terms_in_the_order_requested() -> None:
    ship = coupon("SHIPFREE", CouponKind.FREE_SHIPPING, percent_off_bp=0)
    ten = coupon("TEN", product_ids=frozenset({"p2", "p9"}))
    assert check([ten, ship], [" shipfree", "ten "]) == [ship.terms(), ten.terms()]
    assert check([ten, ship], []) == []


def test_an_unknown_code_is_an_invalid_coupon_naming_the_code() -> None:
    error = refusal([coupon("TEN")], ["nope"])
    assert isinstance(error, InvalidCoupon)
    assert "NOPE" in error.message
    assert error.details == {"code": "NOPE"}


def test_an_inactive_coupon_is_an_invalid_coupon() -> None:
    error = refusal([coupon("TEN", active=False)], ["TEN"])
    assert isinstance(error, InvalidCoupon)


def test_the_same_code_twice_is_a_validation_error() -> None:
    error = refusal([coupon("TEN")], ["TEN", " ten"])
    assert type(error) is ValidationFailed
    assert error.details["code"] == "TEN"


def test_a_coupon_before_its_start_is_not_started() -> None:
    error = refusal([coupon("TEN", starts_at=NOW + timedelta(seconds=1))], ["TEN"])
    assert isinstance(error, CouponNotStarted)
    assert error.details["code"] == "TEN"
    assert check([coupon("TEN", starts_at=NOW)], ["TEN"])  # starting now is started


def test_a_coupon_at_or_after_its_end_is_expired() -> None:
    assert isinstance(refusal([coupon("TEN", ends_at=NOW)], ["TEN"]), CouponExpired)
    assert isinstance(refusal([coupon("TEN", ends_at=NOW - timedelta(days=1))], ["TEN"]),
                      CouponExpired)
    assert check([coupon("TEN", ends_at=NOW + timedelta(seconds=1))], ["TEN"])


def test_a_cart_below_the_minimum_is_refused_with_the_minimum() -> None:
    error = refusal([coupon("TEN", min_subtotal=5001)], ["TEN"], subtotal=5000)
    assert isinstance(error, CouponMinimumNotMet)
    assert error.details["min_subtotal"] == 5001
    assert error.details["code"] == "TEN"
    assert check([coupon("TEN", min_subtotal=5000)], ["TEN"], subtotal=5000)


def test_a_coupon_for_products_not_in_the_cart_is_not_applicable() -> None:
    error = refusal([coupon("SHOES", product_ids=frozenset({"p8", "p9"}))], ["SHOES"])
    assert isinstance(error, CouponNotApplicable)
    assert error.details == {"code": "SHOES"}


def test_a_coupon_used_up_to_its_limit_is_exhausted() -> None:
    error = refusal([coupon("TEN", usage_limit=3, used_count=3)], ["TEN"])
    assert isinstance(error, CouponExhausted)
    assert check([coupon("TEN", usage_limit=3, used_count=2)], ["TEN"])


def test_a_buyer_at_the_per_customer_limit_is_refused() -> None:
    ten = coupon("TEN", per_customer_limit=1)
    error = refusal([ten], ["TEN"], uses={ten.id: 1})
    assert isinstance(error, CouponCustomerLimitReached)
    assert error.details["code"] == "TEN"
    assert check([ten], ["TEN"], uses={ten.id: 0})
    assert check([ten], ["TEN"], uses={uuid.uuid4(): 5})


@pytest.mark.parametrize(("first", "second"), [
    (CouponKind.PERCENTAGE, CouponKind.PERCENTAGE),
    (CouponKind.PERCENTAGE, CouponKind.FIXED_AMOUNT),
    (CouponKind.FIXED_AMOUNT, CouponKind.FIXED_AMOUNT),
    (CouponKind.FREE_SHIPPING, CouponKind.FREE_SHIPPING),
])
def test_two_discount_coupons_or_two_free_shipping_coupons_do_not_combine(
        first: CouponKind, second: CouponKind) -> None:
    error = refusal([coupon("A", first), coupon("B", second)], ["A", "B"])
    assert isinstance(error, CouponNotApplicable)
    assert "one discount coupon and one free-shipping coupon at most" in error.message
    assert error.details["code"] == "B"


def test_one_discount_and_one_free_shipping_coupon_combine() -> None:
    found = [coupon("A", CouponKind.FIXED_AMOUNT, amount_off=500),
             coupon("B", CouponKind.FREE_SHIPPING)]
    assert [t.code for t in check(found, ["B", "A"])] == ["B", "A"]
