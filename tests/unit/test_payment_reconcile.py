"""What ``orderline payments reconcile`` says of an order whose money disagrees with its
status, and what it tells the operator to do."""

from __future__ import annotations

import uuid

import pytest

from orderline.payments.reconcile import RefundOnItsWay, order_money_problem
from orderline.payments.store import OrderMoneyRow

ORDER = uuid.UUID("00000000-0000-0000-0000-00000000000a")
EVENT = uuid.UUID("00000000-0000-0000-0000-0000000000e1")


def row(status: str, *, received: int = 1000, refunded: int = 0, total: int = 1000,
        cash: bool = False) -> OrderMoneyRow:
    return OrderMoneyRow(order_id=ORDER, business_id=uuid.uuid4(), number="1001",
                         status=status, total=total, currency="USD", received=received,
                         refunded=refunded, cash=cash)


def saga(*, attempts: int = 0, dead: bool = False) -> RefundOnItsWay:
    return RefundOnItsWay(event_id=EVENT, dead=dead, attempts=attempts,
                          last_error="ProviderError('No such payment intent')")


@pytest.mark.parametrize("status", ["cancelled", "returned"])
def test_a_closed_order_keeping_money_with_no_refund_on_its_way_is_to_be_refunded(
        status: str) -> None:
    found = order_money_problem(row(status, refunded=300))
    assert found == (f"the order is {status} but holds 700 USD of the buyer's money (1000 "
                     "received, 300 refunded), and no refund is on its way",
                     f'refund it: POST /v1/orders/{ORDER}/refunds {{"amount": 700}}')


def test_a_refund_the_saga_has_not_tried_yet_is_on_its_way() -> None:
    assert order_money_problem(row("cancelled"), [saga()]) is None


def test_a_refund_that_keeps_failing_or_gave_up_is_a_problem_with_its_remedy() -> None:
    failing = order_money_problem(row("cancelled"), [saga(attempts=3)])
    assert failing is not None
    assert "its refund failed 3 times so far (ProviderError('No such" in failing[0]
    assert failing[1].startswith("the worker retries it")
    dead = order_money_problem(row("cancelled"), [saga(), saga(attempts=8, dead=True)])
    assert dead is not None and "failed every retry" in dead[0]
    assert f"orderline outbox retry {EVENT}" in dead[1]


def test_a_closed_order_with_everything_refunded_agrees() -> None:
    assert order_money_problem(row("cancelled", refunded=1000)) is None
    assert order_money_problem(row("cancelled", received=0)) is None


def test_a_paid_order_must_have_received_its_total_and_keep_no_more() -> None:
    assert order_money_problem(row("paid")) is None
    assert order_money_problem(row("shipped", refunded=400)) is None  # a partial refund
    short = order_money_problem(row("paid", received=600))
    assert short is not None and short[1].startswith("400 of the total never arrived")
    twice = order_money_problem(row("delivered", received=2000))
    assert twice is not None
    assert twice[0] == ("the order is delivered with 2000 USD received (0 refunded) for a "
                        "total of 1000")
    assert twice[1] == ("give back the 1000 kept beyond the total: POST "
                        f'/v1/orders/{ORDER}/refunds {{"amount": 1000}}')
    assert order_money_problem(row("paid", received=2000, refunded=1000)) is None


def test_cash_discrepancies_and_orders_paid_by_hand_are_not_compared() -> None:
    assert order_money_problem(row("delivered", received=900, cash=True)) is None
    assert order_money_problem(row("paid", received=0)) is None
    assert order_money_problem(row("pending_payment", received=300)) is None
