"""Returns' pure rules: which units may come back, the buyer's window, the restocking fee and
the refund's exact line shares, and the return's status table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderline.core.errors import (
    InvalidTransition,
    ReturnExceedsShipped,
    ReturnWindowClosed,
    ValidationFailed,
)
from orderline.notifications.rules import buyer_message
from orderline.returns.rules import (
    LineShare,
    ReturnStatus,
    UnitsToReturn,
    check_returnable,
    check_window,
    ensure_next,
    restocking_fee,
    return_code,
    returnable,
    units_value,
    window_closes,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_only_shipped_units_not_already_returned_may_come_back() -> None:
    assert returnable({"MUG": 3, "CAP": 1}, {"MUG": 2}) == {"MUG": 1, "CAP": 1}
    check_returnable([UnitsToReturn("MUG", 1)], {"MUG": 3}, {"MUG": 2})
    with pytest.raises(ReturnExceedsShipped):
        check_returnable([UnitsToReturn("MUG", 2)], {"MUG": 3}, {"MUG": 2})
    with pytest.raises(ReturnExceedsShipped):
        check_returnable([UnitsToReturn("HAT", 1)], {"MUG": 3}, {})
    with pytest.raises(ValidationFailed):
        check_returnable([UnitsToReturn("MUG", 1), UnitsToReturn("MUG", 1)], {"MUG": 3}, {})
    with pytest.raises(ValidationFailed):
        check_returnable([], {"MUG": 3}, {})


def test_the_buyers_window_runs_from_delivery_or_else_shipment_and_0_turns_it_off() -> None:
    shipped, delivered = NOW - timedelta(days=20), NOW - timedelta(days=5)
    assert window_closes(days=14, delivered_at=delivered, shipped_at=shipped) == (
        delivered + timedelta(days=14))
    check_window(days=14, delivered_at=delivered, shipped_at=shipped, now=NOW)
    with pytest.raises(ReturnWindowClosed):
        check_window(days=14, delivered_at=None, shipped_at=shipped, now=NOW)
    with pytest.raises(ReturnWindowClosed):
        check_window(days=0, delivered_at=delivered, shipped_at=shipped, now=NOW)


def test_the_restocking_fee_is_a_share_plus_a_fixed_amount_never_more_than_the_value() -> None:
    assert restocking_fee(2000, fee_bp=1000, fee_fixed=50) == 250
    assert restocking_fee(2000, fee_bp=0, fee_fixed=0) == 0
    assert restocking_fee(100, fee_bp=5000, fee_fixed=500) == 100
    assert restocking_fee(0, fee_bp=5000, fee_fixed=500) == 0


def test_returning_every_unit_in_steps_gives_back_exactly_the_lines_net() -> None:
    # 3 units whose net is 1000 (a discount made it uneven): 333 + 333 + 334.
    line = LineShare(sku="MUG", net=1000, quantity=3, refunded_before=0)
    first = units_value([line], {"MUG": 1})
    second = units_value([LineShare("MUG", 1000, 3, 1)], {"MUG": 1})
    third = units_value([LineShare("MUG", 1000, 3, 2)], {"MUG": 1})
    assert first + second + third == 1000


def test_a_return_moves_only_along_its_status_table() -> None:
    ensure_next(ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
    ensure_next(ReturnStatus.APPROVED, ReturnStatus.RECEIVED)
    ensure_next(ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)
    for current, wanted in ((ReturnStatus.REQUESTED, ReturnStatus.RECEIVED),
                            (ReturnStatus.REFUNDED, ReturnStatus.REFUNDED),
                            (ReturnStatus.REJECTED, ReturnStatus.APPROVED),
                            (ReturnStatus.RECEIVED, ReturnStatus.CANCELLED)):
        with pytest.raises(InvalidTransition):
            ensure_next(current, wanted)
    assert return_code("OL-000042", 2) == "OL-000042-R2"


def test_the_buyer_is_told_of_a_refunded_return_with_its_amount() -> None:
    order = {"number": "OL-000001", "total": 3750, "currency": "USD",
             "customer": {"name": "Ada"}}
    text = buyer_message("return.refunded", order, shop="Toko Sari",
                         rma={"code": "OL-000001-R1", "refund_amount": 1125,
                              "currency": "USD"})
    assert text is not None
    assert "refunded 11.25 USD" in text.body and "return" in text.subject
    rejected = buyer_message("return.rejected", order, shop="Toko Sari",
                             rma={"code": "OL-000001-R1", "rejection_reason": "worn"})
    assert rejected is not None and "worn" in rejected.body
    assert buyer_message("return.requested", order, shop="Toko Sari", rma={}) is None
