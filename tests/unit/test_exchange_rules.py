"""Exchanges' pure rules: who owes whom, and what an exchange request must name."""

from __future__ import annotations

import pytest

from orderline.core.errors import ValidationFailed
from orderline.exchanges.rules import check_exchange, settle
from orderline.orders.rules import RequestedLine
from orderline.returns.rules import UnitsToReturn


@pytest.mark.parametrize(("value", "price", "credit", "owed", "refund"), [
    (1000, 2500, 1000, 1500, 0),  # the buyer pays the difference
    (2000, 500, 500, 0, 1500),  # the rest is refunded after receipt
    (1200, 1200, 1200, 0, 0),  # even
    (0, 700, 0, 700, 0),  # units worth nothing (fully discounted)
])
def test_the_credit_pays_the_replacement_and_the_rest_goes_one_way(
        value: int, price: int, credit: int, owed: int, refund: int) -> None:
    s = settle(value=value, price=price)
    assert (s.credit, s.owed, s.refund) == (credit, owed, refund)
    assert s.credit + s.owed == price and s.credit + s.refund == value


def test_an_exchange_names_units_back_and_a_replacement_each_sku_once() -> None:
    back = [UnitsToReturn("MUG", 1)]
    check_exchange(back, [RequestedLine("CAP", 2)])
    with pytest.raises(ValidationFailed):
        check_exchange([], [RequestedLine("CAP", 1)])
    with pytest.raises(ValidationFailed):
        check_exchange(back, [])
    with pytest.raises(ValidationFailed):
        check_exchange(back, [RequestedLine("CAP", 1), RequestedLine("CAP", 1)])
    with pytest.raises(ValidationFailed):
        check_exchange([UnitsToReturn("MUG", 1), UnitsToReturn("MUG", 2)],
                       [RequestedLine("CAP", 1)])
