"""Cash on delivery: whether a buyer may pay the courier, and what the courier brought back.

A business opts in (``CodPolicy.enabled``) and names the shipping zones where couriers collect
cash. Each buyer carries a trust score that rises with every delivered cash order and falls
with every refused or failed one; buyers below the business's minimum, or with too many cash
orders still open, are refused. A one-time code (see ``orderline.cod.otp_rules``) confirms the
buyer's phone for a first cash order and for large totals, because a fake order costs the
merchant a courier trip both ways.

Counts and scores come in as arguments: the service reads them inside its transaction, so
these rules stay pure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from orderline.core.errors import (
    CodDisabled,
    CodTooManyOpenOrders,
    CodTotalAboveLimit,
    CodTrustTooLow,
    CodUnavailable,
    CodZoneNotAllowed,
    CollectedAmountMismatch,
    ValidationFailed,
)

MIN_TRUST_SCORE = -100
MAX_TRUST_SCORE = 100

# Why a one-time code is needed, as stable strings the API can show.
OTP_FIRST_ORDER = "first_cod_order"
OTP_LARGE_TOTAL = "total_above_otp_threshold"


class CodOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED_DELIVERY = "failed_delivery"  # nobody home, wrong address, courier gave up
    REFUSED = "refused"  # the buyer turned the parcel away at the door


@dataclass(frozen=True, slots=True)
class CodPolicy:
    """A business's cash-on-delivery settings. Amounts are minor units; ``None`` is no limit."""

    enabled: bool = False
    zone_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)  # empty: no zone
    max_order_total: int | None = None
    max_open_orders_per_customer: int = 2
    min_trust_score: int = 0  # scores below this are refused
    otp_above_total: int | None = None
    otp_for_first_order: bool = True
    starting_trust_score: int = 0
    trust_on_delivered: int = 1
    trust_on_failed_delivery: int = -3  # refused or failed delivery

    def __post_init__(self) -> None:
        for name in ("max_order_total", "otp_above_total"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValidationFailed(f"The COD setting {name} must be zero or more.",
                                       details={"field": name, "value": value})
        if not _is_int(self.max_open_orders_per_customer) or self.max_open_orders_per_customer < 1:
            raise ValidationFailed("The COD setting max_open_orders_per_customer must be 1 or "
                                   "more.", details={"field": "max_open_orders_per_customer",
                                                     "value": self.max_open_orders_per_customer})
        for name in ("min_trust_score", "starting_trust_score"):
            value = getattr(self, name)
            if not _is_int(value) or not MIN_TRUST_SCORE <= value <= MAX_TRUST_SCORE:
                raise ValidationFailed(
                    f"The COD setting {name} must be between {MIN_TRUST_SCORE} and "
                    f"{MAX_TRUST_SCORE}.", details={"field": name, "value": value})


@dataclass(frozen=True, slots=True)
class CodBuyer:
    """What the business knows of a buyer's cash orders. ``customer_id`` is ``None`` for a buyer
    the business cannot recognise (a guest): such a buyer is always on a first order."""

    customer_id: uuid.UUID | None
    trust_score: int
    open_cod_orders: int  # placed, not yet delivered, refused or cancelled
    delivered_cod_orders: int


@dataclass(frozen=True, slots=True)
class CodDecision:
    """Cash on delivery may be offered; ``reasons`` says why a one-time code is needed."""

    otp_required: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CollectionResult:
    """``discrepancy`` is collected minus expected: negative when the courier brought less."""

    discrepancy: int


def new_buyer(policy: CodPolicy, customer_id: uuid.UUID | None = None) -> CodBuyer:
    """A buyer with no cash orders yet, at the business's starting trust score."""
    return CodBuyer(customer_id=customer_id, trust_score=policy.starting_trust_score,
                    open_cod_orders=0, delivered_cod_orders=0)


def cod_refusals(policy: CodPolicy, *, zone_id: uuid.UUID | None, total: int,
                 buyer: CodBuyer) -> list[CodUnavailable]:
    """Every reason the policy refuses cash on delivery for this order, in a fixed order
    (disabled, zone, total, open orders, trust); empty when it may be paid in cash.

    ``zone_id`` is the shipping zone the delivery address falls in (``None``: no zone, such as
    a pickup); ``total`` is the order's grand total in minor units.
    """
    if not _is_int(total) or total < 0:
        raise ValidationFailed("The order total must be a whole number of minor units, zero "
                               "or more.", details={"field": "total", "value": total})
    refusals: list[CodUnavailable] = []
    if not policy.enabled:
        refusals.append(CodDisabled("This business does not offer cash on delivery."))
    if zone_id is None or zone_id not in policy.zone_ids:
        refusals.append(CodZoneNotAllowed(
            "Cash on delivery is not available for this delivery address.",
            details={"zone_id": None if zone_id is None else str(zone_id)}))
    if policy.max_order_total is not None and total > policy.max_order_total:
        refusals.append(CodTotalAboveLimit(
            f"Cash on delivery is available for orders up to {policy.max_order_total}; this "
            f"order totals {total}.",
            details={"max_order_total": policy.max_order_total, "total": total}))
    if buyer.open_cod_orders >= policy.max_open_orders_per_customer:
        refusals.append(CodTooManyOpenOrders(
            f"This customer already has {buyer.open_cod_orders} cash-on-delivery orders "
            f"awaiting delivery; the limit is {policy.max_open_orders_per_customer}.",
            details={"limit": policy.max_open_orders_per_customer,
                     "open": buyer.open_cod_orders}))
    if buyer.trust_score < policy.min_trust_score:
        refusals.append(CodTrustTooLow(
            "Cash on delivery is not available to this customer after earlier refused or "
            "failed deliveries.",
            details={"score": buyer.trust_score, "minimum": policy.min_trust_score}))
    return refusals


def check_cod(policy: CodPolicy, *, zone_id: uuid.UUID | None, total: int,
              buyer: CodBuyer) -> CodDecision:
    """Whether this order may be paid in cash on delivery, or the first refusal of
    ``cod_refusals`` (so the same order always gets the same answer)."""
    refusals = cod_refusals(policy, zone_id=zone_id, total=total, buyer=buyer)
    if refusals:
        raise refusals[0]
    reasons: list[str] = []
    first_order = buyer.customer_id is None or buyer.delivered_cod_orders == 0
    if policy.otp_for_first_order and first_order:
        reasons.append(OTP_FIRST_ORDER)
    if policy.otp_above_total is not None and total > policy.otp_above_total:
        reasons.append(OTP_LARGE_TOTAL)
    return CodDecision(otp_required=bool(reasons), reasons=tuple(reasons))


def trust_after(policy: CodPolicy, score: int, outcome: CodOutcome) -> int:
    """The buyer's trust score once a cash order ends with ``outcome``, kept within
    -100..100 so one long good streak cannot hide a run of refusals forever."""
    change = (policy.trust_on_delivered if outcome is CodOutcome.DELIVERED
              else policy.trust_on_failed_delivery)
    return max(MIN_TRUST_SCORE, min(MAX_TRUST_SCORE, score + change))


def check_collected(expected_total: int, collected: int, *,
                    allow_discrepancy: bool) -> CollectionResult:
    """Compare what the courier collected with what the order asked for.

    With ``allow_discrepancy`` the difference is recorded (the merchant settles it by hand);
    without it a different amount is refused, so a typo does not mark an order paid.
    """
    if not _is_int(collected) or collected < 0:
        raise ValidationFailed("The collected amount must be a whole number of minor units, "
                               "zero or more.", details={"field": "collected", "value": collected})
    discrepancy = collected - expected_total
    if discrepancy and not allow_discrepancy:
        raise CollectedAmountMismatch(
            f"The courier collected {collected} but the order expects {expected_total}.",
            details={"expected": expected_total, "collected": collected})
    return CollectionResult(discrepancy=discrepancy)


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is not an amount.
    return isinstance(value, int) and not isinstance(value, bool)
