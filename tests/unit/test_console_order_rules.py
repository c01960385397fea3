"""The order pages' pure decisions: money as people read and type it, and which actions an
order offers to which role."""

from __future__ import annotations

from typing import Any

from orderline.web.console.order_rules import (
    amount_input,
    money_held,
    order_actions,
    parse_amount,
)

EVERYTHING = {"read", "write", "verify", "admin"}


def order(status: str, method: str = "bank_transfer", paid: bool = False) -> dict[str, Any]:
    return {"status": status, "payment_method": method,
            "paid_at": "2026-12-06T10:00:00+00:00" if paid else None}


def intent(status: str = "captured", captured: int = 0, collected: int = 0,
           refunded: int = 0) -> dict[str, Any]:
    return {"status": status, "amount_captured": captured, "amount_collected": collected,
            "amount_refunded": refunded}


def test_a_money_field_starts_with_the_amount_in_the_currency_s_decimals() -> None:
    assert amount_input(150000, "IDR") == "1500.00"
    assert amount_input(1500, "JPY") == "1500"
    assert amount_input(5, "KWD") == "0.005"


def test_a_typed_amount_becomes_minor_units_or_nothing() -> None:
    assert parse_amount("12.5", "USD") == 1250
    assert parse_amount(" 12,50 ", "USD") == 1250
    assert parse_amount("1500", "JPY") == 1500
    for wrong in ("", "abc", "-3", "1.234", "1e3", "12.5.1"):
        assert parse_amount(wrong, "USD") is None, wrong
    assert parse_amount("1.5", "JPY") is None


def test_money_held_is_what_was_taken_or_collected_less_refunds() -> None:
    assert money_held([intent(captured=1000, refunded=300), intent(collected=200)]) == 900
    assert money_held([]) == 0


def test_a_transfer_awaiting_payment_may_be_marked_paid_by_a_verifier_and_cancelled() -> None:
    assert order_actions(order("pending_payment"), [], EVERYTHING) == {"mark_paid", "cancel"}
    assert order_actions(order("pending_payment"), [], {"verify"}) == {"mark_paid"}
    assert order_actions(order("pending_payment", "card"), [], EVERYTHING) == {"cancel"}


def test_a_paid_order_ships_refunds_and_cancels_for_operations() -> None:
    paid = order("paid", "card", paid=True)
    actions = order_actions(paid, [intent(captured=5000)], {"read", "write"})
    assert actions == {"ship", "ship_part", "refund", "cancel", "edit_items"}


def test_refunds_follow_the_order_s_own_share_when_it_was_split() -> None:
    paid = order("paid", "card", paid=True)
    # Split off: no intent of its own, a share of the original's payment.
    assert "refund" in order_actions(paid, [], {"read", "write"}, held=1200)
    # The original whose whole payment belongs to the order split from it.
    assert "refund" not in order_actions(paid, [intent(captured=5000)], {"read", "write"},
                                         held=0)


def test_a_partly_shipped_order_ships_more_and_delivers_parcels_but_never_cancels() -> None:
    actions = order_actions(order("partially_shipped", "card", paid=True),
                            [intent(captured=5000)], {"write"})
    assert actions == {"ship", "ship_part", "deliver_parcel", "refund"}


def test_an_authorised_card_payment_offers_capture() -> None:
    assert "capture" in order_actions(order("pending_payment", "card"),
                                      [intent("authorized")], {"write"})


def test_a_shipped_cash_order_offers_collection_and_a_failed_delivery() -> None:
    actions = order_actions(order("shipped", "cod"), [], {"write"})
    assert actions == {"ship", "cod_collect", "cod_failed"}


def test_a_viewer_is_offered_nothing() -> None:
    for status in ("pending_payment", "paid", "partially_shipped", "shipped", "confirmed"):
        assert order_actions(order(status, paid=status != "pending_payment"),
                             [intent(captured=100)], {"read"}) == frozenset()


def test_a_finished_order_offers_only_a_refund_of_money_still_held() -> None:
    assert order_actions(order("delivered", "card", paid=True), [intent(captured=100)],
                         {"write"}) == {"refund"}
    assert order_actions(order("cancelled"), [], {"write"}) == frozenset()


def test_a_paid_order_offers_edit_items_unless_a_payment_is_under_way() -> None:
    paid = order("paid", "card", paid=True)
    assert "edit_items" in order_actions(paid, [intent(captured=5000)], {"write"})
    assert "edit_items" not in order_actions(paid, [intent(captured=5000)], {"read"})
    assert "edit_items" not in order_actions(paid, [intent("authorized")], {"write"})
    for status in ("pending_payment", "partially_shipped", "shipped", "cancelled"):
        assert "edit_items" not in order_actions(order(status, paid=True), [], {"write"})
