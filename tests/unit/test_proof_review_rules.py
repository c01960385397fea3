"""Rules of reviewing manual payments: references, holds, settings bounds, queue figures,
and what erasure leaves of a document."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from orderline.core.errors import ValidationFailed
from orderline.manual_payments.review_rules import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    Decided,
    ProofSettings,
    check_proof_settings,
    held_until,
    new_reference,
    queue_figures,
    score_to_bp,
)
from orderline.privacy.rules import ERASED_NAME, scrub

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_references_avoid_characters_that_look_alike() -> None:
    pick = random.Random(7).choice
    refs = {new_reference(pick) for _ in range(500)}
    assert len(refs) == 500
    assert all(len(r) == REFERENCE_LENGTH and set(r) <= set(REFERENCE_ALPHABET) for r in refs)
    assert not set("01OILSB589J") & set(REFERENCE_ALPHABET)
    assert len(set(REFERENCE_ALPHABET)) == len(REFERENCE_ALPHABET)


def test_a_pending_proof_holds_the_order_for_the_review_window_never_less() -> None:
    deadline = T0 + timedelta(hours=24)
    assert held_until(proof_deadline=deadline, now=T0, review_hours=72,
                      proof_pending=True) == T0 + timedelta(hours=72)
    assert held_until(proof_deadline=deadline, now=T0, review_hours=1,
                      proof_pending=True) == deadline
    assert held_until(proof_deadline=deadline, now=T0 + timedelta(hours=30), review_hours=72,
                      proof_pending=False) == deadline


def _settings(**changes: object) -> ProofSettings:
    base: dict[str, object] = {"deadline_minutes": 1440, "review_hours": 72,
                               "max_bytes": 10 * 1024 * 1024, "retention_days": 90,
                               "auto_approve_bp": None}
    return ProofSettings(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "field"), [
    ({"deadline_minutes": 1}, "proof_deadline_minutes"),
    ({"review_hours": 0}, "proof_review_hours"),
    ({"max_bytes": 11 * 1024 * 1024}, "proof_max_bytes"),
    ({"retention_days": 0}, "proof_retention_days"),
    ({"auto_approve_bp": 4000}, "auto_approve_threshold"),
])
def test_each_setting_out_of_bounds_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_proof_settings(_settings(**changes), upload_cap_bytes=10 * 1024 * 1024)
    assert refused.value.details["field"] == field


def test_scores_are_kept_as_basis_points() -> None:
    assert score_to_bp(0.8551) == 8551 and score_to_bp(1.0) == 10_000
    with pytest.raises(ValidationFailed):
        score_to_bp(1.5)


def test_queue_figures_median_rate_and_agreement_of_people_with_the_score() -> None:
    def decided(approved: bool, minutes: int, score: int | None, auto: bool = False) -> Decided:
        return Decided(approved=approved, uploaded_at=T0,
                       decided_at=T0 + timedelta(minutes=minutes), score_bp=score, auto=auto)

    figures = queue_figures([decided(True, 2, 9000), decided(False, 4, 3000),
                             decided(True, 10, 4000), decided(True, 1, 9500, auto=True),
                             decided(False, 6, None)], threshold_bp=7000)
    assert (figures.decided, figures.approved, figures.rejected) == (5, 3, 2)
    assert figures.auto_approved == 1 and figures.approval_rate == 0.6
    assert figures.median_seconds_to_decision == 240.0
    # People only, scored only: 9000 approved (agree), 3000 rejected (agree), 4000 approved
    # (disagree).
    assert figures.scored_decisions == 3 and figures.score_agreement_rate == 0.6667
    empty = queue_figures([], threshold_bp=7000)
    assert empty.approval_rate is None and empty.median_seconds_to_decision is None


def test_scrub_removes_contacts_and_address_lines_and_keeps_money_and_ids() -> None:
    document = {"order": {"id": "o1", "total": 1250, "customer": {
        "id": "c1", "name": "Maria", "phone": "+63", "email": "m@x"},
        "shipping_address": {"name": "Maria", "line1": "1 Rizal", "country": "PH"},
        "note": "call me"}, "changes": [{"customer_name": "Maria", "amount": 5}]}
    clean = scrub(document)
    assert clean["order"]["customer"] == {"id": "c1", "name": ERASED_NAME, "phone": None,
                                          "email": None}
    assert clean["order"]["shipping_address"] == {"country": "PH"}
    assert clean["order"]["note"] is None and clean["order"]["total"] == 1250
    assert clean["changes"] == [{"customer_name": ERASED_NAME, "amount": 5}]
    assert "Maria" not in repr(clean)
    assert document["order"]["customer"]["name"] == "Maria"  # a copy, not in place
