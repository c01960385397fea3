import pytest

from orderline.core.errors import ValidationFailed
from orderline.core.limits import MAX_LINE_QUANTITY
from orderline.orders.rules import (
    MAX_LINES_PER_ORDER,
    RequestedLine,
    check_requested_lines,
    format_order_number,
)


def test_duplicate_skus_in_one_order_are_refused_with_the_sku_named() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_requested_lines([RequestedLine("A", 1), RequestedLine("B", 1),
                               RequestedLine("A", 2)])
    assert caught.value.details["duplicate_skus"] == ["A"]


@pytest.mark.parametrize("quantity", [0, -1, MAX_LINE_QUANTITY + 1])
def test_quantities_outside_one_to_the_cap_are_refused(quantity: int) -> None:
    with pytest.raises(ValidationFailed):
        check_requested_lines([RequestedLine("A", quantity)])


def test_empty_and_oversized_orders_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        check_requested_lines([])
    with pytest.raises(ValidationFailed):
        check_requested_lines([RequestedLine(f"S{i}", 1) for i in range(MAX_LINES_PER_ORDER + 1)])
    check_requested_lines([RequestedLine(f"S{i}", 1) for i in range(MAX_LINES_PER_ORDER)])


def test_order_numbers_are_human_readable_and_zero_padded() -> None:
    assert format_order_number(123) == "OL-000123"
    assert format_order_number(1_234_567) == "OL-1234567"
