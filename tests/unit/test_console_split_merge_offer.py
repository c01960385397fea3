"""The order page offers "Split order" and "Merge with…" only where they can go through: a
split to a role that may write, on an order not all shipped with two units or more; a merge
on an unpaid order whose buyer has another unpaid one."""

from __future__ import annotations

from typing import Any

from orderline.web.console.order_rules import split_merge_actions

WRITE = ("read", "write")


def an_order(status: str, *quantities: int) -> dict[str, Any]:
    return {"status": status, "lines": [{"sku": f"S{i}", "quantity": q}
                                        for i, q in enumerate(quantities)]}


def test_a_split_needs_two_units_before_all_of_it_ships_and_the_write_scope() -> None:
    assert split_merge_actions(an_order("paid", 2), WRITE, others_unpaid=False) == {"split"}
    assert split_merge_actions(an_order("partially_shipped", 1, 1), WRITE,
                               others_unpaid=False) == {"split"}
    assert split_merge_actions(an_order("paid", 1), WRITE, others_unpaid=False) == set()
    for status in ("shipped", "delivered", "cancelled", "returned"):
        assert split_merge_actions(an_order(status, 3), WRITE, others_unpaid=True) == set()
    assert split_merge_actions(an_order("paid", 3), ("read",), others_unpaid=False) == set()


def test_a_merge_is_offered_on_an_unpaid_order_whose_buyer_has_another() -> None:
    assert split_merge_actions(an_order("pending_payment", 1), WRITE,
                               others_unpaid=True) == {"merge"}
    assert split_merge_actions(an_order("pending_payment", 1), WRITE,
                               others_unpaid=False) == set()
    assert split_merge_actions(an_order("paid", 1), WRITE, others_unpaid=True) == set()
    assert split_merge_actions(an_order("pending_payment", 2), ("read",),
                               others_unpaid=True) == set()
