"""Checking the money: every intent's amounts equal the sums of its ledger rows and the
ledger's invariants hold; and every order's money agrees with its status, by its ledger: a
cancelled or returned order keeps none of the buyer's money unless its refund is on its way,
and a paid order received exactly its total.

``orderline payments reconcile`` prints each problem with what to do, and exits 1 if there is
any.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.event_types import EventType
from orderline.orders.rules import REVENUE_STATUSES, OrderStatus
from orderline.payments import store as payment_store
from orderline.payments.rules import Ledger
from orderline.payments.store import LedgerRow, OrderMoneyRow

# Done to an intent whose amounts and ledger rows disagree.
LEDGER_TODO = ("the intent's amounts and its ledger disagree (a change made behind the "
               "ledger's back, or a bug): compare both with the provider's dashboard and "
               "correct the wrong one by hand")
CLOSED_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED})


@dataclass(frozen=True, slots=True)
class PaymentProblem:
    business_id: uuid.UUID
    order_number: str
    intent_id: uuid.UUID | None  # None: a problem of the order's money as a whole
    problem: str
    todo: str = LEDGER_TODO

    def as_dict(self) -> dict[str, str]:
        return {"business_id": str(self.business_id), "order": self.order_number,
                "intent_id": str(self.intent_id or ""), "problem": self.problem,
                "todo": self.todo}


@dataclass(frozen=True, slots=True)
class RefundOnItsWay:
    """A ``payment.cancel_requested`` not relayed yet: the saga will give the money back,
    unless it keeps failing (``attempts``) or has given up (``dead``)."""

    event_id: uuid.UUID
    dead: bool
    attempts: int
    last_error: str | None

    @classmethod
    def of(cls, row: RowMapping) -> RefundOnItsWay:
        return cls(event_id=row["event_id"], dead=row["status"] == outbox_store.DEAD,
                   attempts=int(row["attempts"]), last_error=row["last_error"])


def problems_of(row: LedgerRow) -> list[str]:
    # (kind, the intent's column, its amount, what its ledger rows of that kind sum to)
    compared = (("authorize", "amount_authorized", row.amount_authorized, row.ledger_authorize),
                ("capture", "amount_captured", row.amount_captured, row.ledger_capture),
                ("void", "amount_voided", row.amount_voided, row.ledger_void),
                ("collect", "amount_collected", row.amount_collected, row.ledger_collect))
    found = [f"{column} is {amount} but its {kind} ledger rows sum to {booked}"
             for kind, column, amount, booked in compared if amount != booked]
    # Refunds are counted on the intent when taken, and booked when the provider agreed:
    # the booked ones can never be more than the taken ones.
    if row.ledger_refund > row.amount_refunded:
        found.append(f"refund ledger rows sum to {row.ledger_refund}, more than the "
                     f"{row.amount_refunded} taken")
    ledger = Ledger(authorized=row.ledger_authorize, captured=row.ledger_capture,
                    voided=row.ledger_void, refunded=row.ledger_refund,
                    collected=row.ledger_collect)
    return found + ledger.problems()


def order_money_problem(row: OrderMoneyRow,
                        on_its_way: Sequence[RefundOnItsWay] = ()) -> tuple[str, str] | None:
    """What is wrong with the order's money for its status, and what to do; None if they
    agree. Amounts are in minor units of the order's currency."""
    held = row.received - row.refunded
    refund = f"POST /v1/orders/{row.order_id}/refunds {{\"amount\": {held}}}"
    if row.status in CLOSED_STATUSES and held > 0:
        kept = (f"the order is {row.status} but holds {held} {row.currency} of the buyer's "
                f"money ({row.received} received, {row.refunded} refunded)")
        dead = [e for e in on_its_way if e.dead]
        failing = [e for e in on_its_way if not e.dead and e.attempts > 0]
        if dead:
            return (f"{kept}; its refund failed every retry ({dead[-1].last_error})",
                    "fix the cause (see the worker log), then requeue it: orderline outbox "
                    f"retry {dead[-1].event_id}; or refund by hand: {refund}")
        if failing:
            return (f"{kept}; its refund failed {failing[-1].attempts} times so far "
                    f"({failing[-1].last_error})",
                    "the worker retries it: fix the cause (see the worker log), or refund by "
                    f"hand: {refund}")
        if on_its_way:
            return None  # the saga has it and has not failed: the money is on its way back
        return (f"{kept}, and no refund is on its way", f"refund it: {refund}")
    # Paid: the total arrived (a partial refund later is the merchant's choice), and no more
    # than the total is kept. Cash may be collected with a recorded discrepancy; an order
    # marked paid by hand has nothing in the ledger to compare.
    if row.status not in REVENUE_STATUSES or row.cash or row.received == 0:
        return None
    paid = (f"the order is {row.status} with {row.received} {row.currency} received "
            f"({row.refunded} refunded) for a total of {row.total}")
    if row.received < row.total:
        return (paid, f"{row.total - row.received} of the total never arrived: check the "
                      "payments at the provider, and collect the rest from the buyer")
    if held > row.total:
        extra = held - row.total
        return (paid, f"give back the {extra} kept beyond the total: POST "
                      f"/v1/orders/{row.order_id}/refunds {{\"amount\": {extra}}}")
    return None


async def reconcile_payments(runtime: Runtime,
                             business_id: uuid.UUID | None = None) -> list[PaymentProblem]:
    async with runtime.db.read() as conn:
        rows = await payment_store.ledger_rows(conn, business_id)
        orders = await payment_store.order_money_rows(conn, business_id)
        unfinished = await outbox_store.unfinished_of_type(
            conn, EventType.PAYMENT_CANCEL_REQUESTED.value, business_id)
    on_its_way: dict[uuid.UUID, list[RefundOnItsWay]] = {}
    for event in unfinished:
        on_its_way.setdefault(event["aggregate_id"], []).append(RefundOnItsWay.of(event))
    found = [PaymentProblem(r.business_id, r.number, r.id, problem)
             for r in rows for problem in problems_of(r)]
    for order in orders:
        wrong = order_money_problem(order, on_its_way.get(order.order_id, ()))
        if wrong is not None:
            found.append(PaymentProblem(order.business_id, order.number, None, *wrong))
    return found
