"""Checking the money: every intent's amounts equal the sums of its ledger rows, the ledger's
invariants hold, and every order paid through a provider received exactly its total.

``orderline payments reconcile`` prints each problem and exits 1 if there is any.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from orderline.core.runtime import Runtime
from orderline.orders.rules import REVENUE_STATUSES
from orderline.payments import store as payment_store
from orderline.payments.rules import Ledger
from orderline.payments.store import LedgerRow


@dataclass(frozen=True, slots=True)
class PaymentProblem:
    business_id: uuid.UUID
    order_number: str
    intent_id: uuid.UUID
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"business_id": str(self.business_id), "order": self.order_number,
                "intent_id": str(self.intent_id), "problem": self.problem}


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
    found += ledger.problems()
    # Cash may be collected with a recorded discrepancy (a business setting); cards may not.
    if row.provider != "cod" and row.order_status in REVENUE_STATUSES \
            and row.status == "captured" and ledger.received != row.order_total:
        found.append(f"the order is {row.order_status} with {ledger.received} received "
                     f"for a total of {row.order_total}")
    return found


async def reconcile_payments(runtime: Runtime,
                             business_id: uuid.UUID | None = None) -> list[PaymentProblem]:
    async with runtime.db.read() as conn:
        rows = await payment_store.ledger_rows(conn, business_id)
    return [PaymentProblem(r.business_id, r.number, r.id, problem)
            for r in rows for problem in problems_of(r)]
