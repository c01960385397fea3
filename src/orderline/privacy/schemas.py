"""What /v1/customers/{id}/personal-data answers: the export and the erasure's summary.

Addresses stay open objects here: an export carries everything held, as it is held.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from orderline.manual_payments.schemas import BuyerProofOut, ReceiptReading
from orderline.orders.schemas import StoredCustomer


class OrderHeld(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    channel: str
    customer_name: str
    customer_phone: str | None
    customer_email: str | None
    shipping_address: dict[str, Any] | None
    note: str
    currency: str
    total: int
    payment_method: str
    payment_reference: str | None
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None


class CheckoutHeld(BaseModel):
    id: uuid.UUID
    status: str
    customer_name: str
    customer_phone: str | None
    customer_email: str | None
    address: dict[str, Any]
    created_at: datetime


class NotificationHeld(BaseModel):
    kind: str
    recipient: str
    channel: str
    subject: str
    status: str
    created_at: datetime


class ProofHeld(BuyerProofOut):
    order_id: uuid.UUID
    sha256: str
    read: ReceiptReading | None


class PersonalData(BaseModel):
    """Everything held about one customer."""

    customer: StoredCustomer
    exported_at: datetime
    orders: list[OrderHeld]
    checkouts: list[CheckoutHeld]
    notifications: list[NotificationHeld]
    payment_proofs: list[ProofHeld]


class Erasure(BaseModel):
    customer_id: uuid.UUID
    erased_at: datetime
    orders: int
    proof_files_deleted: int
