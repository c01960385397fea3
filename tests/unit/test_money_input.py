"""Prices typed in major units ("12.50") read as minor units, strictly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderline.core.errors import ValidationFailed
from orderline.core.money import MAX_MINOR_UNITS, major_units_text, parse_major_units


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("12.50", "USD", 1250), ("12.5", "USD", 1250), ("12", "USD", 1200), (" 0.99 ", "EUR", 99),
    (".5", "USD", 50), ("0", "USD", 0), ("1500", "JPY", 1500), ("1.234", "KWD", 1234),
    ("15000", "IDR", 1500000)])
def test_a_typed_price_reads_as_minor_units_with_the_currency_exponent(
        text: str, currency: str, minor: int) -> None:
    assert parse_major_units(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "reason"), [
    ("", "USD", "not_a_number"), ("abc", "USD", "not_a_number"), ("-5", "USD", "not_a_number"),
    ("1,250.00", "USD", "not_a_number"), ("12.", "USD", "not_a_number"),
    ("1.2.3", "USD", "not_a_number"), ("1e3", "USD", "not_a_number"),
    ("١٢", "USD", "not_a_number"), ("12.345", "USD", "too_many_decimals"),
    ("12.5", "JPY", "too_many_decimals"), ("10000000000001", "USD", "too_large")])
def test_a_price_that_is_not_plainly_an_amount_is_refused_with_its_reason(
        text: str, currency: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_major_units(text, currency)
    assert refused.value.details["reason"] == reason


@given(st.integers(0, MAX_MINOR_UNITS), st.sampled_from(["USD", "JPY", "KWD", "IDR"]))
def test_a_price_shown_in_a_form_reads_back_as_the_same_amount(amount: int,
                                                              currency: str) -> None:
    assert parse_major_units(major_units_text(amount, currency), currency) == amount
