"""Payment intents and the money ledger: the rules money moves by.

An order has payment intents (one per attempt). Each intent moves through a strict status
table; provider webhooks may arrive late, twice or out of order, so applying a reported status
is decided by ``next_status``: forward moves apply, a report of a status the intent has already
passed is stale and ignored, anything else is an anomaly (kept, not applied).

The ledger is the sum of an intent's money movements. Its invariants hold at every commit:
captured <= authorized, refunded <= captured, voided <= authorized - captured; an order is paid
only when what was captured (or collected on delivery) equals its total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from orderline.core.errors import DomainError


class IntentStatus(StrEnum):
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    CANCELLED = "cancelled"


class MovementKind(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    COLLECT = "collect"  # cash collected on delivery


S = IntentStatus
FINAL = frozenset({S.CAPTURED, S.FAILED, S.CANCELLED})
# Attempts that may still move money: cancel them when their order will not be paid.
LIVE_INTENTS = frozenset({S.REQUIRES_ACTION, S.PROCESSING, S.AUTHORIZED})
ALLOWED: dict[IntentStatus, frozenset[IntentStatus]] = {
    S.REQUIRES_ACTION: frozenset({S.PROCESSING, S.AUTHORIZED, S.CAPTURED, S.FAILED,
                                  S.CANCELLED}),
    S.PROCESSING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.FAILED,
                             S.CANCELLED}),
    S.AUTHORIZED: frozenset({S.CAPTURED, S.CANCELLED}),
    S.CAPTURED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Money received outside any provider (cash collected, a transfer the merchant verified) is
# given back outside it too: a refund of it is booked, and the merchant sends the money; no
# saga can.
# A replacement order's credit from the units traded back in an exchange (``exchanges/``):
# money that came from the original order's payment, booked as collected on this intent.
CREDIT_PROVIDER = "exchange"
OFFLINE_PROVIDERS = frozenset({"cod", "manual", CREDIT_PROVIDER})


class RefundMethod(StrEnum):
    """How money goes back to the buyer (``payments.shares.refund_source`` decides it)."""

    NONE = "none"  # nothing to give back (nothing was paid, or a fee took it all)
    CARD = "card"  # through the payment provider
    BY_HAND = "by_hand"  # cash or a transfer: booked as given back by the merchant


# How far along the happy path a status is: a report of an earlier one is stale.
_PROGRESS = {S.REQUIRES_ACTION: 0, S.PROCESSING: 1, S.AUTHORIZED: 2, S.CAPTURED: 3,
             S.FAILED: 3, S.CANCELLED: 3}


class Apply(StrEnum):
    MOVE = "move"  # apply the new status
    SAME = "same"  # already there (a duplicate)
    STALE = "stale"  # the intent has moved past it (an event that arrived late)
    ANOMALY = "anomaly"  # not a move the table allows, and not stale: keep it for a human


def next_status(current: IntentStatus, reported: IntentStatus) -> Apply:
    if reported == current:
        return Apply.SAME
    if reported in ALLOWED[current]:
        return Apply.MOVE
    if _PROGRESS[reported] <= _PROGRESS[current]:
        return Apply.STALE
    return Apply.ANOMALY


class LedgerViolation(DomainError):
    """A movement would break the ledger's invariants; nothing is recorded."""

    code = "payment_ledger_violation"


@dataclass(frozen=True, slots=True)
class Ledger:
    authorized: int = 0
    captured: int = 0
    voided: int = 0
    refunded: int = 0
    collected: int = 0

    @staticmethod
    def of(movements: Iterable[tuple[MovementKind | str, int]]) -> Ledger:
        sums = {kind: 0 for kind in MovementKind}
        for kind, amount in movements:
            sums[MovementKind(kind)] += amount
        return Ledger(authorized=sums[MovementKind.AUTHORIZE],
                      captured=sums[MovementKind.CAPTURE], voided=sums[MovementKind.VOID],
                      refunded=sums[MovementKind.REFUND], collected=sums[MovementKind.COLLECT])

    @property
    def received(self) -> int:
        """Money the merchant received: captured by card plus collected in cash."""
        return self.captured + self.collected

    @property
    def capturable(self) -> int:
        return self.authorized - self.captured - self.voided

    @property
    def refundable(self) -> int:
        return self.received - self.refunded

    def problems(self) -> list[str]:
        found = []
        if min(self.authorized, self.captured, self.voided, self.refunded,
               self.collected) < 0:
            found.append("a movement total is negative")
        if self.captured > self.authorized:
            found.append(f"captured {self.captured} > authorized {self.authorized}")
        if self.voided > self.authorized - self.captured:
            found.append(f"voided {self.voided} > authorized - captured "
                         f"{self.authorized - self.captured}")
        if self.refunded > self.received:
            found.append(f"refunded {self.refunded} > received {self.received}")
        return found

    def plus(self, kind: MovementKind, amount: int) -> Ledger:
        """The ledger after one more movement; raises ``LedgerViolation`` if it would break an
        invariant (or the amount is not a positive integer)."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise LedgerViolation(f"A {kind} needs a positive whole amount in minor units.",
                                  details={"kind": str(kind), "amount": amount})
        field_name = {MovementKind.AUTHORIZE: "authorized", MovementKind.CAPTURE: "captured",
                      MovementKind.VOID: "voided", MovementKind.REFUND: "refunded",
                      MovementKind.COLLECT: "collected"}[kind]
        after = Ledger(**{**{f: getattr(self, f) for f in
                             ("authorized", "captured", "voided", "refunded", "collected")},
                          field_name: getattr(self, field_name) + amount})
        problems = after.problems()
        if problems:
            raise LedgerViolation(f"This {kind} of {amount} would leave the ledger wrong: "
                                  + "; ".join(problems) + ".",
                                  details={"kind": str(kind), "amount": amount,
                                           "problems": problems})
        return after


def credit_of(intents: Iterable[tuple[str, int]]) -> int:
    """What an order's credit intents (``CREDIT_PROVIDER``: provider, money held) pay of
    its total; a payment of the order is for the rest."""
    return sum(max(0, held) for provider, held in intents if provider == CREDIT_PROVIDER)


def is_paid(order_total: int, ledger: Ledger) -> bool:
    """Paid exactly when the money received equals the order's total."""
    return ledger.received == order_total


def line_refund_amount(*, net: int, quantity: int, refunded_before: int, units: int) -> int:
    """What refunding ``units`` more units of a line gives back: its share of the line's net
    amount (after discounts, with tax), so that refunding every unit, in any number of steps,
    gives back exactly the net amount; never a unit more."""
    if not 0 < units <= quantity - refunded_before:
        raise LedgerViolation(f"Only {quantity - refunded_before} units of this line are left "
                              "to refund.", details={"units": units, "quantity": quantity,
                                                     "refunded": refunded_before})
    return net * (refunded_before + units) // quantity - net * refunded_before // quantity
