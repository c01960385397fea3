"""Payment request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from orderline.core.schemas import Body, MinorUnits, Quantity, Sku
from orderline.orders.schemas import HistoryEntry, OrderOut
from orderline.payments.service import RefundLine


class PaymentStart(Body):
    provider: Annotated[str | None, Field(
        min_length=1, max_length=20,
        description="a configured provider such as 'sandbox'; the business's card_provider "
                    "if omitted")] = None
    payment_method: Annotated[str | None, Field(
        max_length=100, description="the provider's payment method token (e.g. 'pm_card_visa')"
    )] = None


class CaptureRequest(Body):
    amount: MinorUnits | None = None


class RefundLineIn(Body):
    sku: Sku
    quantity: Quantity
    restock: bool | None = Field(default=None, description=(
        "put this line's refunded units back in stock; omitted: the request's ``restock``"))


class RefundRequest(Body):
    """An ``amount``, or ``lines`` (each line's share of its net amount, with tax)."""

    amount: Annotated[MinorUnits | None, Field(gt=0)] = None
    lines: Annotated[list[RefundLineIn] | None, Field(min_length=1, max_length=100)] = None
    restock: bool = Field(default=False, description="put the refunded lines' units back in "
                                                     "stock (a return); each line may say "
                                                     "otherwise with its own ``restock``")
    reason: Annotated[str, Field(max_length=500)] = ""

    def to_lines(self) -> list[RefundLine] | None:
        return None if self.lines is None else [
            RefundLine(sku=line.sku, quantity=line.quantity, restock=line.restock)
            for line in self.lines]


# --- answers ---------------------------------------------------------------------------------

class PaymentIntentOut(BaseModel):
    """One payment attempt and where its money stands, in minor units."""

    id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    provider_ref: str | None
    status: str
    capture_mode: str
    currency: str
    amount: int
    amount_authorized: int
    amount_captured: int
    amount_voided: int
    amount_refunded: int
    amount_collected: int
    client_secret: str | None
    next_action: dict[str, Any] | None = Field(description=(
        "what the buyer must do next, as the provider says it, e.g. "
        "{\"type\": \"redirect\", \"url\": ...}"))
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime


class LedgerEntry(BaseModel):
    """One row of the order's money ledger."""

    id: int
    intent_id: uuid.UUID
    kind: str = Field(description="authorize, capture, void, refund or collect")
    amount: int
    source: str
    actor: str
    created_at: datetime


class OrderPayments(BaseModel):
    data: list[PaymentIntentOut]
    ledger: list[LedgerEntry]


class OrderDetail(BaseModel):
    """Everything the console's order page shows, read at one moment."""

    order: OrderOut
    history: list[HistoryEntry] = Field(description="the order's timeline, oldest first: who "
                                                    "did what, with their notes")
    payments: OrderPayments
    held: int = Field(description="the buyer's money this order may give back, in minor units: "
                                  "what its payments hold less what orders split from it own "
                                  "(an order split off: its share of the original's payment)")


class WebhookReceipt(BaseModel):
    outcome: str = Field(description="what the event did, e.g. applied, duplicate, stale")
