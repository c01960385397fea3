"""What a proof of transfer for a change's payment request is checked against: its own
reference, and the refusals of a request that no longer takes money or a proof."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orderline.core.errors import (
    OrderChangeClosed,
    PaymentDeadlinePassed,
    ProofDeadlinePassed,
    ProofNotAccepted,
)
from orderline.manual_payments.change_proofs import check_accepts
from orderline.order_changes.paying import RequestForProof, check_payable

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OPEN = RequestForProof(request_id=uuid.uuid4(), change_id=uuid.uuid4(), change_number=3,
                       order_id=uuid.uuid4(), amount=125_000, currency="PHP",
                       deadline=NOW + timedelta(hours=1), status="open",
                       created_at=NOW - timedelta(hours=1))


def test_a_requests_reference_is_the_orders_with_the_change_number() -> None:
    assert OPEN.reference("K7M2XQ9D") == "K7M2XQ9D-C3"
    assert replace(OPEN, change_number=12).reference("K7M2XQ9D") == "K7M2XQ9D-C12"


def test_an_open_request_before_its_deadline_takes_a_proof_and_money() -> None:
    check_accepts(OPEN, NOW)
    check_payable(OPEN, NOW)


@pytest.mark.parametrize("status", ["paid", "lapsed", "cancelled"])
def test_a_closed_request_refuses_a_proof_and_an_approval(status: str) -> None:
    closed = replace(OPEN, status=status)
    with pytest.raises(ProofNotAccepted):
        check_accepts(closed, NOW)
    with pytest.raises(OrderChangeClosed) as refused:
        check_payable(closed, NOW)
    assert refused.value.details["request_status"] == status


def test_a_request_past_its_deadline_refuses_both_even_before_the_sweep() -> None:
    late = OPEN.deadline
    with pytest.raises(ProofDeadlinePassed):
        check_accepts(OPEN, late)
    with pytest.raises(PaymentDeadlinePassed):
        check_payable(OPEN, late)
