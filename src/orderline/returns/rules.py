"""Returns (RMA): which units may come back, when a buyer may ask, and what the refund is.

Pure: the order's shipped and already-returned units, the business's settings and the clock's
reading come in; a decision or a refusal goes out.

- Only shipped units come back: the units of a line over all its live returns (not rejected
  nor cancelled) never exceed the units of that line that shipped.
- A buyer may ask within the business's return window: ``return_window_days`` after the
  order was delivered (after its last shipment left, for an order never marked delivered);
  0 means buyers may not ask at all. The merchant may always ask on the buyer's behalf.
- The refund of a return is the returned units' exact share of their lines' net amounts
  (``payments.rules.line_refund_amount``: after discounts, with tax; refunding every unit in
  any number of steps gives back exactly the line), less the restocking fee: basis points of
  that value plus a fixed amount, never more than the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from orderline.core.errors import (
    InvalidTransition,
    ReturnExceedsShipped,
    ReturnWindowClosed,
)
from orderline.orders.rules import check_line_units
from orderline.payments.rules import line_refund_amount

MAX_FEE_BP = 10_000
MAX_PHOTOS = 5


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    RECEIVED = "received"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


# A return in one of these no longer holds its units (they may be returned again).
CLOSED_WITHOUT_UNITS = frozenset({ReturnStatus.REJECTED, ReturnStatus.CANCELLED})

NEXT: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    ReturnStatus.REQUESTED: frozenset({ReturnStatus.APPROVED, ReturnStatus.REJECTED,
                                       ReturnStatus.CANCELLED}),
    ReturnStatus.APPROVED: frozenset({ReturnStatus.RECEIVED, ReturnStatus.CANCELLED}),
    ReturnStatus.RECEIVED: frozenset({ReturnStatus.REFUNDED}),
    ReturnStatus.REJECTED: frozenset(),
    ReturnStatus.REFUNDED: frozenset(),
    ReturnStatus.CANCELLED: frozenset(),
}


class ReturnReason(StrEnum):
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_LONGER_NEEDED = "no_longer_needed"
    OTHER = "other"


class RequestedBy(StrEnum):
    BUYER = "buyer"
    STAFF = "staff"


class Condition(StrEnum):
    RESTOCK = "restock"  # back on hand at a location
    DAMAGED = "damaged"  # written off: a ledger row, no unit to sell


@dataclass(frozen=True, slots=True)
class UnitsToReturn:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one returned line: restocked at ``location`` (a code; None: where the
    units shipped from) or written off as damaged."""

    sku: str
    condition: Condition
    location: str | None = None


def ensure_next(current: ReturnStatus, wanted: ReturnStatus) -> None:
    if wanted not in NEXT[current]:
        raise InvalidTransition(
            f"A return that is '{current}' cannot become '{wanted}'.",
            details={"current_status": str(current), "requested_status": str(wanted)})


def check_units(wanted: Sequence[UnitsToReturn]) -> None:
    """1..MAX lines, each SKU once, each quantity at least 1."""
    check_line_units(wanted, verb="return", per="return",
                     none_named="Name at least one line to return.")


def returnable(shipped: Mapping[str, int], returned: Mapping[str, int]) -> dict[str, int]:
    """Units of each line that may still be returned: shipped less those in live returns."""
    return {sku: max(0, units - returned.get(sku, 0)) for sku, units in shipped.items()}


def check_returnable(wanted: Sequence[UnitsToReturn], shipped: Mapping[str, int],
                     returned: Mapping[str, int]) -> None:
    """Refuses more units of a line than shipped and not already returned."""
    check_units(wanted)
    left = returnable(shipped, returned)
    for want in wanted:
        if want.quantity > left.get(want.sku, 0):
            raise ReturnExceedsShipped(
                f"Only {left.get(want.sku, 0)} units of {want.sku} were shipped and not "
                "returned already.",
                details={"sku": want.sku, "quantity": want.quantity,
                         "returnable": left.get(want.sku, 0)})


def window_closes(*, days: int, delivered_at: datetime | None,
                  shipped_at: datetime | None) -> datetime | None:
    """When a buyer can no longer ask for a return (None: buyers cannot ask at all)."""
    start = delivered_at or shipped_at
    if days <= 0 or start is None:
        return None
    return start + timedelta(days=days)


def check_window(*, days: int, delivered_at: datetime | None, shipped_at: datetime | None,
                 now: datetime) -> None:
    closes = window_closes(days=days, delivered_at=delivered_at, shipped_at=shipped_at)
    if closes is None:
        raise ReturnWindowClosed("This shop does not take returns online; contact the shop.",
                                 details={"return_window_days": days})
    if now > closes:
        raise ReturnWindowClosed(
            f"The time to ask for a return ended at {closes.isoformat()}; contact the shop.",
            details={"return_window_days": days, "closed_at": closes})


def restocking_fee(value: int, *, fee_bp: int, fee_fixed: int) -> int:
    """The fee kept from a return worth ``value``: basis points of it (rounded down) plus
    the fixed amount, never more than the value."""
    if value <= 0:
        return 0
    return min(value, value * fee_bp // MAX_FEE_BP + fee_fixed)


@dataclass(frozen=True, slots=True)
class LineShare:
    """An order line as the refund sees it: its net amount (after discounts, with tax), its
    quantity and the units refunded before this refund."""

    sku: str
    net: int
    quantity: int
    refunded_before: int


def units_value(lines: Sequence[LineShare], wanted: Mapping[str, int]) -> int:
    """What refunding ``wanted`` units of each line gives back (the exact line shares)."""
    by_sku = {line.sku: line for line in lines}
    total = 0
    for sku, units in wanted.items():
        line = by_sku[sku]
        total += line_refund_amount(net=line.net, quantity=line.quantity,
                                    refunded_before=line.refunded_before, units=units)
    return total


def return_code(order_number: int | str, number: int) -> str:
    return f"{order_number}-R{number}"

