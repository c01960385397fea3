"""The pure rules of shipments: which units may leave, from where, and the status they make."""

from __future__ import annotations

import uuid

import pytest

from orderline.catalog.rules import LevelStock, choose_level
from orderline.core.errors import InvalidTransition, ShipmentExceedsOrder, ValidationFailed
from orderline.orders.fulfilment.rules import (
    Pick,
    SoldUnits,
    derived_status,
    pick_units,
    units_to_ship,
)
from orderline.orders.rules import OrderStatus, ensure_transition

ORDERED = {"MUG": 3, "CAP": 1}
MAIN, NORTH = uuid.UUID(int=1), uuid.UUID(int=2)
AT_MAIN, AT_NORTH = uuid.UUID(int=11), uuid.UUID(int=12)


def test_an_empty_request_ships_every_unit_not_yet_shipped() -> None:
    assert units_to_ship({}, ORDERED, {"MUG": 1}) == {"MUG": 2, "CAP": 1}
    assert units_to_ship({}, ORDERED, {"MUG": 2, "CAP": 1}) == {"MUG": 1}


def test_nothing_left_to_ship_is_refused() -> None:
    with pytest.raises(ShipmentExceedsOrder):
        units_to_ship({}, ORDERED, {"MUG": 3, "CAP": 1})


def test_a_unit_never_ships_twice() -> None:
    assert units_to_ship({"MUG": 2}, ORDERED, {"MUG": 1}) == {"MUG": 2}
    with pytest.raises(ShipmentExceedsOrder) as refused:
        units_to_ship({"MUG": 3}, ORDERED, {"MUG": 1})
    assert refused.value.details["lines"] == {"MUG": {"requested": 3, "remaining": 2}}


def test_unknown_skus_and_empty_quantities_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        units_to_ship({"HAT": 1}, ORDERED, {})
    with pytest.raises(ValidationFailed):
        units_to_ship({"MUG": 0}, ORDERED, {})


@pytest.mark.parametrize(("shipped", "all_delivered", "expected"), [
    ({}, False, OrderStatus.PAID),
    ({"MUG": 1}, False, OrderStatus.PARTIALLY_SHIPPED),
    ({"MUG": 3}, True, OrderStatus.PARTIALLY_SHIPPED),
    ({"MUG": 3, "CAP": 1}, False, OrderStatus.SHIPPED),
    ({"MUG": 3, "CAP": 1}, True, OrderStatus.DELIVERED),
])
def test_the_order_status_follows_its_shipments(shipped: dict[str, int], all_delivered: bool,
                                                expected: OrderStatus) -> None:
    assert derived_status(OrderStatus.PAID, ordered=ORDERED, shipped=shipped,
                          all_delivered=all_delivered) == expected


def test_a_partially_shipped_order_cannot_be_cancelled_as_a_whole() -> None:
    with pytest.raises(InvalidTransition):
        ensure_transition(OrderStatus.PARTIALLY_SHIPPED, OrderStatus.CANCELLED)
    ensure_transition(OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)
    ensure_transition(OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED)


def test_units_leave_from_where_they_were_sold_without_a_location() -> None:
    sold = [SoldUnits(AT_NORTH, NORTH, 1), SoldUnits(AT_MAIN, MAIN, 2)]
    assert pick_units(2, sold, None) == [Pick(AT_MAIN, MAIN, 2)]
    assert pick_units(3, sold, None) == [Pick(AT_MAIN, MAIN, 2), Pick(AT_NORTH, NORTH, 1)]


def test_units_sold_elsewhere_move_to_the_chosen_location() -> None:
    sold = [SoldUnits(AT_MAIN, MAIN, 2), SoldUnits(AT_NORTH, NORTH, 1)]
    assert pick_units(2, sold, NORTH) == [Pick(AT_NORTH, NORTH, 1),
                                          Pick(AT_NORTH, NORTH, 1, from_level=AT_MAIN)]
    # A location the order took nothing at: its level is found when the units are taken.
    south = uuid.UUID(int=3)
    assert pick_units(1, sold, south) == [Pick(None, south, 1, from_level=AT_MAIN)]


def test_more_units_than_the_order_still_holds_are_refused() -> None:
    with pytest.raises(ShipmentExceedsOrder):
        pick_units(4, [SoldUnits(AT_MAIN, MAIN, 3)], None)


def _level(code: str, free: int, *, default: bool = False) -> LevelStock:
    return LevelStock(stock_level_id=uuid.uuid5(uuid.NAMESPACE_DNS, code), location_code=code,
                      is_default=default, free=free)


def test_allocation_takes_the_default_location_when_it_has_enough() -> None:
    levels = [_level("main", 3, default=True), _level("north", 9)]
    assert choose_level(3, levels) == levels[0]


def test_allocation_takes_the_location_with_most_free_units_otherwise() -> None:
    levels = [_level("main", 1, default=True), _level("south", 4), _level("north", 4),
              _level("east", 2)]
    assert choose_level(3, levels) == levels[2]  # ties: the smaller code


def test_allocation_finds_nothing_when_no_location_has_enough() -> None:
    assert choose_level(5, [_level("main", 4, default=True), _level("north", 4)]) is None
    assert choose_level(1, []) is None
