"""Payment intent statuses and the money ledger."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderline.payments.rules import (
    ALLOWED,
    Apply,
    IntentStatus,
    Ledger,
    LedgerViolation,
    MovementKind,
    is_paid,
    line_refund_amount,
    next_status,
)

S = IntentStatus
K = MovementKind


def test_a_forward_report_moves_the_intent() -> None:
    assert next_status(S.REQUIRES_ACTION, S.AUTHORIZED) == Apply.MOVE
    assert next_status(S.AUTHORIZED, S.CAPTURED) == Apply.MOVE
    assert next_status(S.AUTHORIZED, S.CANCELLED) == Apply.MOVE


def test_a_duplicate_report_is_the_same_status() -> None:
    assert next_status(S.CAPTURED, S.CAPTURED) == Apply.SAME


def test_succeeded_before_created_leaves_the_late_created_stale() -> None:
    assert next_status(S.CAPTURED, S.REQUIRES_ACTION) == Apply.STALE
    assert next_status(S.AUTHORIZED, S.PROCESSING) == Apply.STALE


def test_a_final_status_never_moves_again() -> None:
    for final in (S.CAPTURED, S.FAILED, S.CANCELLED):
        assert ALLOWED[final] == frozenset()
    assert next_status(S.CANCELLED, S.CAPTURED) == Apply.STALE
    assert next_status(S.FAILED, S.AUTHORIZED) == Apply.STALE


def test_capturing_more_than_was_authorized_is_refused() -> None:
    ledger = Ledger().plus(K.AUTHORIZE, 1000).plus(K.CAPTURE, 600)
    with pytest.raises(LedgerViolation) as refused:
        ledger.plus(K.CAPTURE, 401)
    assert refused.value.code == "payment_ledger_violation"
    assert ledger.plus(K.CAPTURE, 400).captured == 1000


def test_refunds_never_exceed_what_was_received() -> None:
    ledger = Ledger().plus(K.AUTHORIZE, 1000).plus(K.CAPTURE, 1000).plus(K.REFUND, 300)
    assert ledger.refundable == 700
    with pytest.raises(LedgerViolation):
        ledger.plus(K.REFUND, 701)
    cash = Ledger().plus(K.COLLECT, 500)
    assert cash.plus(K.REFUND, 500).refundable == 0


def test_a_void_takes_only_what_is_still_capturable() -> None:
    ledger = Ledger().plus(K.AUTHORIZE, 1000).plus(K.CAPTURE, 200)
    assert ledger.capturable == 800
    with pytest.raises(LedgerViolation):
        ledger.plus(K.VOID, 801)
    assert ledger.plus(K.VOID, 800).capturable == 0


@pytest.mark.parametrize("amount", [0, -5, True, 1.5])
def test_amounts_are_positive_whole_minor_units(amount: object) -> None:
    with pytest.raises(LedgerViolation):
        Ledger().plus(K.AUTHORIZE, amount)  # type: ignore[arg-type]


def test_an_order_is_paid_only_when_received_equals_its_total() -> None:
    assert not is_paid(1000, Ledger(authorized=1000))
    assert not is_paid(1000, Ledger(authorized=1000, captured=999))
    assert is_paid(1000, Ledger(authorized=1000, captured=1000))
    assert is_paid(1000, Ledger(collected=1000))


def test_a_ledger_is_the_sum_of_its_movements() -> None:
    ledger = Ledger.of([("authorize", 1000), ("capture", 600), ("capture", 400),
                        ("refund", 50)])
    assert (ledger.authorized, ledger.captured, ledger.refunded) == (1000, 1000, 50)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(MovementKind)), st.integers(1, 2000)),
                max_size=30))
def test_any_sequence_of_accepted_movements_keeps_the_invariants(
        moves: list[tuple[MovementKind, int]]) -> None:
    ledger = Ledger()
    for kind, amount in moves:
        try:
            ledger = ledger.plus(kind, amount)
        except LedgerViolation:
            continue
        assert ledger.problems() == []
        assert ledger.captured <= ledger.authorized
        assert ledger.refunded <= ledger.received


def test_refunding_a_line_in_steps_gives_back_exactly_its_net_amount() -> None:
    steps = [line_refund_amount(net=1000, quantity=3, refunded_before=before, units=1)
             for before in range(3)]
    assert steps == [333, 333, 334] and sum(steps) == 1000
    assert line_refund_amount(net=1000, quantity=3, refunded_before=0, units=3) == 1000
    with pytest.raises(LedgerViolation):
        line_refund_amount(net=1000, quantity=3, refunded_before=2, units=2)
