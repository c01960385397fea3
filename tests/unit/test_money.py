import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderline.core.errors import ValidationFailed
from orderline.core.money import Money, allocate, check_currency


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_allocation_always_adds_up_to_the_total(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    if sum(weights):
        assert sum(parts) == total
        assert all(p >= 0 for p in parts)


def test_allocation_gives_the_leftover_cent_to_the_largest_remainder() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [3, 7]) == [3, 7]


def test_money_refuses_to_mix_currencies() -> None:
    with pytest.raises(ValidationFailed):
        Money(100, "USD") + Money(100, "EUR")
    assert Money(100, "USD").times(3) == Money(300, "USD")


@pytest.mark.parametrize("code", ["usd", "US", "USDT", "U$D"])
def test_currency_codes_must_be_iso_4217_shaped(code: str) -> None:
    with pytest.raises(ValidationFailed):
        check_currency(code)
