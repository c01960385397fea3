import pytest

from orderline.core.errors import InvalidTransition
from orderline.orders.rules import ALLOWED_TRANSITIONS, OrderStatus, ensure_transition

S = OrderStatus


@pytest.mark.parametrize(("current", "requested"), [
    (S.PENDING_PAYMENT, S.PAID), (S.PAID, S.PROCESSING), (S.PROCESSING, S.SHIPPED),
    (S.SHIPPED, S.DELIVERED), (S.PENDING_PAYMENT, S.CANCELLED), (S.PAID, S.CANCELLED),
    (S.PROCESSING, S.CANCELLED), (S.PAID, S.SHIPPED),
])
def test_the_happy_path_and_early_cancellation_are_allowed(current: S, requested: S) -> None:
    ensure_transition(current, requested)


@pytest.mark.parametrize(("current", "requested"), [
    (S.SHIPPED, S.CANCELLED), (S.DELIVERED, S.CANCELLED), (S.CANCELLED, S.PAID),
    (S.PENDING_PAYMENT, S.SHIPPED), (S.PENDING_PAYMENT, S.PROCESSING), (S.PAID, S.PAID),
    (S.DELIVERED, S.SHIPPED), (S.PAID, S.PENDING_PAYMENT),
])
def test_an_illegal_transition_names_current_and_requested_status(current: S,
                                                                    requested: S) -> None:
    with pytest.raises(InvalidTransition) as caught:
        ensure_transition(current, requested)
    assert caught.value.code == "invalid_transition"
    assert caught.value.details["current_status"] == current
    assert caught.value.details["requested_status"] == requested


def test_nothing_can_be_cancelled_once_shipped_and_final_states_have_no_exit() -> None:
    for status in (S.SHIPPED, S.DELIVERED, S.CANCELLED):
        assert S.CANCELLED not in ALLOWED_TRANSITIONS[status]
    # A delivered order only comes back: every unit returned and refunded (returns/).
    assert ALLOWED_TRANSITIONS[S.DELIVERED] == frozenset({S.RETURNED})
    assert ALLOWED_TRANSITIONS[S.RETURNED] == frozenset()
    assert ALLOWED_TRANSITIONS[S.CANCELLED] == frozenset()
    assert set(ALLOWED_TRANSITIONS) == set(S)
