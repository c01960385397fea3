import uuid
from dataclasses import replace

import pytest

from orderline.cod.rules import (
    OTP_FIRST_ORDER,
    OTP_LARGE_TOTAL,
    CodBuyer,
    CodDecision,
    CodOutcome,
    CodPolicy,
    CollectionResult,
    check_cod,
    check_collected,
    new_buyer,
    trust_after,
)
from orderline.core.errors import (
    CodDisabled,
    CodTooManyOpenOrders,
    CodTotalAboveLimit,
    CodTrustTooLow,
    CodUnavailable,
    CodZoneNotAllowed,
    CollectedAmountMismatch,
    DomainError,
    ValidationFailed,
)

CITY = uuid.UUID("00000000-0000-0000-0000-00000000c171")
COUNTRYSIDE = uuid.UUID("00000000-0000-0000-0000-0000000c0a57")
CUSTOMER = uuid.UUID("00000000-0000-0000-0000-0000000000b1")

POLICY = CodPolicy(enabled=True, zone_ids=frozenset({CITY}), max_order_total=50_000,
                   max_open_orders_per_customer=2, min_trust_score=-5, otp_above_total=20_000,
                   otp_for_first_order=True)
REGULAR = CodBuyer(customer_id=CUSTOMER, trust_score=4, open_cod_orders=0,
                   delivered_cod_orders=3)


def refusal(policy: CodPolicy = POLICY, *, zone_id: uuid.UUID | None = CITY,
            total: int = 10_000, buyer: CodBuyer = REGULAR) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_cod(policy, zone_id=zone_id, total=total, buyer=buyer)
    return caught.value


def test_a_trusted_regular_buyer_in_an_allowed_zone_may_pay_cash_without_a_code() -> None:
    decision = check_cod(POLICY, zone_id=CITY, total=10_000, buyer=REGULAR)
    assert decision == CodDecision(otp_required=False, reasons=())


def test_the_default_policy_offers_no_cash_on_delivery() -> None:
    error = refusal(CodPolicy())
    assert isinstance(error, CodDisabled)
    assert error.code == "cod_disabled"
    assert error.message == "This business does not offer cash on delivery."


def test_disabled_is_reported_before_any_other_refusal() -> None:
    error = refusal(replace(POLICY, enabled=False), zone_id=None, total=99_999,
                    buyer=replace(REGULAR, trust_score=-50, open_cod_orders=9))
    assert isinstance(error, CodDisabled)


def test_a_zone_the_business_does_not_list_is_refused() -> None:
    error = refusal(zone_id=COUNTRYSIDE)
    assert isinstance(error, CodZoneNotAllowed)
    assert error.code == "cod_zone_not_allowed"
    assert error.details == {"zone_id": str(COUNTRYSIDE)}


def test_an_address_in_no_zone_is_refused() -> None:
    error = refusal(zone_id=None)
    assert isinstance(error, CodZoneNotAllowed)
    assert error.details == {"zone_id": None}


def test_an_enabled_policy_without_zones_allows_no_zone() -> None:
    assert isinstance(refusal(CodPolicy(enabled=True)), CodZoneNotAllowed)


def test_a_total_above_the_limit_is_refused_with_limit_and_total() -> None:
    error = refusal(total=50_001)
    assert isinstance(error, CodTotalAboveLimit)
    assert error.code == "cod_total_above_limit"
    assert error.details == {"max_order_total": 50_000, "total": 50_001}
    assert "50000" in error.message and "50001" in error.message


def test_a_total_exactly_at_the_limit_is_allowed() -> None:
    assert check_cod(POLICY, zone_id=CITY, total=50_000, buyer=REGULAR).otp_required


def test_no_total_limit_allows_any_total() -> None:
    policy = replace(POLICY, max_order_total=None, otp_above_total=None)
    assert check_cod(policy, zone_id=CITY, total=10**9, buyer=REGULAR) == CodDecision(
        otp_required=False, reasons=())


def test_a_buyer_with_as_many_open_cash_orders_as_the_limit_is_refused() -> None:
    error = refusal(buyer=replace(REGULAR, open_cod_orders=2))
    assert isinstance(error, CodTooManyOpenOrders)
    assert error.code == "cod_too_many_open_orders"
    assert error.details == {"limit": 2, "open": 2}


def test_a_buyer_one_open_order_below_the_limit_may_place_another() -> None:
    decision = check_cod(POLICY, zone_id=CITY, total=100,
                         buyer=replace(REGULAR, open_cod_orders=1))
    assert decision.otp_required is False


def test_a_score_below_the_minimum_is_refused_with_score_and_minimum() -> None:
    error = refusal(buyer=replace(REGULAR, trust_score=-6))
    assert isinstance(error, CodTrustTooLow)
    assert error.code == "cod_trust_too_low"
    assert error.details == {"score": -6, "minimum": -5}


def test_a_score_exactly_at_the_minimum_is_allowed() -> None:
    assert not check_cod(POLICY, zone_id=CITY, total=100,
                         buyer=replace(REGULAR, trust_score=-5)).otp_required


def test_open_orders_are_reported_before_a_low_score() -> None:
    error = refusal(buyer=replace(REGULAR, trust_score=-50, open_cod_orders=5))
    assert isinstance(error, CodTooManyOpenOrders)


def test_every_cod_refusal_can_be_caught_as_cod_unavailable() -> None:
    for error in (refusal(CodPolicy()), refusal(zone_id=None), refusal(total=60_000),
                  refusal(buyer=replace(REGULAR, open_cod_orders=3)),
                  refusal(buyer=replace(REGULAR, trust_score=-99))):
        assert isinstance(error, CodUnavailable)


def test_a_first_cash_order_needs_a_code() -> None:
    first = replace(REGULAR, delivered_cod_orders=0)
    assert check_cod(POLICY, zone_id=CITY, total=100, buyer=first) == CodDecision(
        otp_required=True, reasons=(OTP_FIRST_ORDER,))
    assert OTP_FIRST_ORDER == "first_cod_order"


def test_an_unknown_buyer_is_always_on_a_first_order() -> None:
    guest = replace(REGULAR, customer_id=None)
    assert check_cod(POLICY, zone_id=CITY, total=100, buyer=guest).reasons == (OTP_FIRST_ORDER,)


def test_a_first_order_needs_no_code_when_the_business_turns_that_off() -> None:
    policy = replace(POLICY, otp_for_first_order=False)
    first = replace(REGULAR, delivered_cod_orders=0)
    assert check_cod(policy, zone_id=CITY, total=100, buyer=first) == CodDecision(
        otp_required=False, reasons=())


def test_a_total_above_the_code_threshold_needs_a_code_but_one_at_it_does_not() -> None:
    above = check_cod(POLICY, zone_id=CITY, total=20_001, buyer=REGULAR)
    assert above == CodDecision(otp_required=True, reasons=(OTP_LARGE_TOTAL,))
    assert OTP_LARGE_TOTAL == "total_above_otp_threshold"
    assert check_cod(POLICY, zone_id=CITY, total=20_000, buyer=REGULAR).otp_required is False


def test_a_large_first_order_gives_both_reasons_in_a_fixed_order() -> None:
    guest = new_buyer(POLICY)
    decision = check_cod(POLICY, zone_id=CITY, total=30_000, buyer=guest)
    assert decision == CodDecision(otp_required=True, reasons=(OTP_FIRST_ORDER, OTP_LARGE_TOTAL))


def test_a_new_buyer_starts_at_the_policy_score_with_no_orders() -> None:
    policy = replace(POLICY, starting_trust_score=3)
    assert new_buyer(policy, CUSTOMER) == CodBuyer(customer_id=CUSTOMER, trust_score=3,
                                                    open_cod_orders=0, delivered_cod_orders=0)
    assert new_buyer(policy).customer_id is None


@pytest.mark.parametrize("total", [-1, 10.5, True])
def test_a_total_that_is_not_a_whole_non_negative_amount_is_invalid(total: object) -> None:
    error = refusal(total=total)  # type: ignore[arg-type]
    assert isinstance(error, ValidationFailed)
    assert error.details == {"field": "total", "value": total}


def test_a_zero_total_is_a_valid_amount() -> None:
    assert check_cod(POLICY, zone_id=CITY, total=0, buyer=REGULAR).otp_required is False


def test_the_policy_defaults_match_the_documented_values() -> None:
    policy = CodPolicy()
    assert (policy.enabled, policy.zone_ids, policy.max_order_total,
            policy.max_open_orders_per_customer, policy.min_trust_score, policy.otp_above_total,
            policy.otp_for_first_order, policy.starting_trust_score, policy.trust_on_delivered,
            policy.trust_on_failed_delivery) == (False, frozenset(), None, 2, 0, None, True, 0,
                                                 1, -3)


@pytest.mark.parametrize(("changes", "field"), [
    ({"max_order_total": -1}, "max_order_total"),
    ({"otp_above_total": -1}, "otp_above_total"),
    ({"max_open_orders_per_customer": 0}, "max_open_orders_per_customer"),
    ({"min_trust_score": -101}, "min_trust_score"),
    ({"starting_trust_score": 101}, "starting_trust_score"),
])
def test_a_policy_with_an_impossible_setting_is_refused_naming_it(
        changes: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        CodPolicy(**changes)  # type: ignore[arg-type]
    assert caught.value.details["field"] == field


def test_a_delivered_cash_order_adds_trust() -> None:
    assert trust_after(POLICY, 4, CodOutcome.DELIVERED) == 5


@pytest.mark.parametrize("outcome", [CodOutcome.FAILED_DELIVERY, CodOutcome.REFUSED])
def test_a_refused_or_failed_delivery_takes_trust_away(outcome: CodOutcome) -> None:
    assert trust_after(POLICY, 4, outcome) == 1


def test_trust_uses_the_business_amounts() -> None:
    policy = replace(POLICY, trust_on_delivered=5, trust_on_failed_delivery=-20)
    assert trust_after(policy, 0, CodOutcome.DELIVERED) == 5
    assert trust_after(policy, 0, CodOutcome.REFUSED) == -20


def test_trust_stays_between_minus_100_and_100() -> None:
    assert trust_after(POLICY, 100, CodOutcome.DELIVERED) == 100
    assert trust_after(POLICY, -99, CodOutcome.FAILED_DELIVERY) == -100


def test_two_refusals_take_a_new_buyer_below_a_minimum_of_minus_five() -> None:
    score = trust_after(POLICY, 0, CodOutcome.REFUSED)
    assert score == -3
    check_cod(POLICY, zone_id=CITY, total=100, buyer=replace(REGULAR, trust_score=score))
    score = trust_after(POLICY, score, CodOutcome.REFUSED)
    assert score == -6
    assert isinstance(refusal(buyer=replace(REGULAR, trust_score=score)), CodTrustTooLow)


def test_collecting_exactly_the_total_has_no_discrepancy() -> None:
    assert check_collected(12_345, 12_345, allow_discrepancy=False) == CollectionResult(0)


def test_a_different_amount_is_refused_with_expected_and_collected() -> None:
    with pytest.raises(CollectedAmountMismatch) as caught:
        check_collected(12_345, 12_000, allow_discrepancy=False)
    assert caught.value.code == "collected_amount_mismatch"
    assert caught.value.details == {"expected": 12_345, "collected": 12_000}


def test_when_discrepancies_are_allowed_a_shortfall_is_negative_and_a_surplus_positive() -> None:
    assert check_collected(12_345, 12_000, allow_discrepancy=True) == CollectionResult(-345)
    assert check_collected(12_345, 12_500, allow_discrepancy=True) == CollectionResult(155)


@pytest.mark.parametrize("collected", [-1, 100.0, False, "100"])
def test_a_collected_amount_that_is_not_a_whole_non_negative_amount_is_invalid(
        collected: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_collected(100, collected, allow_discrepancy=True)  # type: ignore[arg-type]
    assert caught.value.details == {"field": "collected", "value": collected}


def test_collecting_nothing_on_a_free_order_is_fine() -> None:
    assert check_collected(0, 0, allow_discrepancy=False).discrepancy == 0
