"""Exchanges: what the returned units are worth against the replacement, and who owes whom.

Pure. The returned units' value is their exact share of their lines (``returns.rules.
units_value``, as a return's refund computes it) with **no restocking fee**: the merchant
agreed to the exchange, and the units' value goes, whole, to the replacement. The credit is
the part of that value that pays the replacement order (never more than its total); the
buyer owes the rest of the replacement's total, or is refunded the rest of the value once the
returned units are received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orderline.core.errors import ValidationFailed
from orderline.orders.rules import RequestedLine, check_requested_lines
from orderline.returns.rules import UnitsToReturn, check_units

# order_links kinds an exchange writes: on the original, and on the replacement order.
EXCHANGE_TO = "exchange_to"
EXCHANGE_FROM = "exchange_from"


@dataclass(frozen=True, slots=True)
class Settlement:
    value: int  # the returned units' exact share of their lines
    price: int  # the replacement order's total
    credit: int  # what of the value pays the replacement (moves between the orders' money)
    owed: int  # what the buyer still pays for the replacement
    refund: int  # what the buyer gets back once the returned units are received

    def as_dict(self) -> dict[str, int]:
        return {"value": self.value, "price": self.price, "credit": self.credit,
                "owed": self.owed, "refund": self.refund}


def settle(*, value: int, price: int) -> Settlement:
    """credit + owed = price and credit + refund = value, none negative."""
    if value < 0 or price < 0:
        raise ValueError("value and price are never negative")
    credit = min(value, price)
    return Settlement(value=value, price=price, credit=credit, owed=price - credit,
                      refund=value - credit)


def check_exchange(wanted: Sequence[UnitsToReturn],
                   replacement: Sequence[RequestedLine]) -> None:
    """Units going back (as a return takes them) and replacement lines (as an order takes
    them): both named, each SKU once, each quantity at least 1."""
    check_units(wanted)
    if not replacement:
        raise ValidationFailed("Name at least one replacement line.",
                               details={"field": "replacement"})
    check_requested_lines(replacement)
