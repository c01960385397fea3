"""Domain events: their names, what each order change is called, and the pure rules the relay,
the handlers and the webhook deliveries follow (retry schedule, low-stock crossing).

An event names something that happened to one aggregate (an order, a stock level, a webhook
endpoint). Each aggregate numbers its events 1, 2, 3, ... in the order they were committed,
and every consumer sees them in that order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from orderline.core.errors import ValidationFailed


class EventType(StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    ORDER_PAID = "order.paid"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_PARTIALLY_SHIPPED = "order.partially_shipped"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_RETURNED = "order.returned"
    STOCK_LOW = "stock.low"
    STOCK_RECONCILIATION_DRIFT = "stock.reconciliation_drift"
    RESERVATION_EXPIRED = "reservation.expired"
    CHECKOUT_CONVERTED = "checkout.converted"
    PAYMENT_UPDATED = "payment.updated"
    # An order's live payments must be cancelled (or, if already captured, refunded) at the
    # provider: the worker does it, retrying until the provider answers.
    PAYMENT_CANCEL_REQUESTED = "payment.cancel_requested"
    ORDER_REFUNDED = "order.refunded"
    ORDER_PARTIALLY_REFUNDED = "order.partially_refunded"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
    # Manual payments: a proof arrived, was read and scored, or a person (or the
    # auto-approval rule) decided it.
    PAYMENT_PROOF_SUBMITTED = "payment_proof.submitted"
    PAYMENT_PROOF_SCORED = "payment_proof.scored"
    PAYMENT_PROOF_APPROVED = "payment_proof.approved"
    PAYMENT_PROOF_REJECTED = "payment_proof.rejected"
    # Draft orders (a chat sale): built, changed (edited, sent, opened, cancelled), and
    # completed when the checkout its link opened became an order.
    DRAFT_ORDER_CREATED = "draft_order.created"
    DRAFT_ORDER_UPDATED = "draft_order.updated"
    DRAFT_ORDER_COMPLETED = "draft_order.completed"
    # A change of a paid order's lines (order_changes/): made (applied at once, or waiting for
    # the buyer's payment of the difference), applied once paid, lapsed at its deadline, or
    # cancelled by the merchant. The order's own ``order.updated`` follows when it applies.
    ORDER_CHANGE_CREATED = "order_change.created"
    ORDER_CHANGE_APPLIED = "order_change.applied"
    ORDER_CHANGE_LAPSED = "order_change.lapsed"
    ORDER_CHANGE_CANCELLED = "order_change.cancelled"
    # A parcel of an order left (with its tracking), or was delivered.
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_DELIVERED = "shipment.delivered"
    # Returns (RMA): asked for (by the buyer or the merchant), approved, rejected, received
    # (units restocked or written off), refunded.
    RETURN_REQUESTED = "return.requested"
    RETURN_APPROVED = "return.approved"
    RETURN_REJECTED = "return.rejected"
    RETURN_RECEIVED = "return.received"
    RETURN_REFUNDED = "return.refunded"
    RETURN_CANCELLED = "return.cancelled"
    # Shipped units traded back for a replacement order (exchanges/).
    EXCHANGE_CREATED = "exchange.created"
    # Units moved from one location to another (a ledger pair).
    STOCK_TRANSFERRED = "stock.transferred"


class AggregateType(StrEnum):
    ORDER = "order"
    STOCK_LEVEL = "stock_level"
    RESERVATION = "reservation"
    CHECKOUT = "checkout"
    WEBHOOK_ENDPOINT = "webhook_endpoint"
    # Its own aggregate, not the order's: the buyer's order stream must not carry scores.
    PAYMENT_PROOF = "payment_proof"
    DRAFT_ORDER = "draft_order"
    SHIPMENT = "shipment"
    STOCK_TRANSFER = "stock_transfer"
    RETURN = "return"


ORDER_EVENTS = frozenset(t for t in EventType if t.value.startswith("order."))
PROOF_EVENTS = frozenset(t for t in EventType if t.value.startswith("payment_proof."))
SHIPMENT_EVENTS = frozenset(t for t in EventType if t.value.startswith("shipment."))
RETURN_EVENTS = frozenset(t for t in EventType if t.value.startswith("return."))
# What a merchant's live stream (`/v1/stream`) carries by default.
MERCHANT_STREAM_EVENTS = frozenset({*ORDER_EVENTS, *SHIPMENT_EVENTS, *RETURN_EVENTS,
                                    EventType.STOCK_LOW,
                                    EventType.WEBHOOK_ENDPOINT_DISABLED})
# The buyer hears about these (through the notifier, or the business's SMS/WhatsApp sender).
BUYER_NOTIFIED_EVENTS = frozenset({EventType.ORDER_CREATED, EventType.ORDER_PAID,
                                   EventType.ORDER_SHIPPED, EventType.ORDER_DELIVERED,
                                   EventType.ORDER_CANCELLED, EventType.PAYMENT_PROOF_REJECTED,
                                   EventType.SHIPMENT_CREATED, EventType.RETURN_APPROVED,
                                   EventType.RETURN_REJECTED, EventType.RETURN_REFUNDED})

def parse_event_types(names: Sequence[str]) -> list[EventType]:
    """Event type names as a merchant writes them; ``*`` or ``order.*`` select several."""
    chosen: list[EventType] = []
    for name in names:
        if name == "*":
            matched = list(EventType)
        elif name.endswith(".*"):
            matched = [t for t in EventType if t.value.startswith(name[:-1])]
        else:
            matched = [t for t in EventType if t.value == name]
        if not matched:
            raise ValidationFailed(
                f"Unknown event type '{name}'. Known: {', '.join(sorted(EventType))}.",
                details={"event_type": name})
        chosen.extend(t for t in matched if t not in chosen)
    return chosen


def crossed_low_stock(*, before: int, after: int, threshold: int | None) -> bool:
    """True when available stock falls from above the threshold to at or below it.

    Only a fall that crosses counts, so a level that stays low raises one alert, and it is
    armed again once stock rises above the threshold."""
    return threshold is not None and before > threshold >= after


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the outbox holds it, handed to handlers and sinks."""

    event_id: uuid.UUID
    business_id: uuid.UUID
    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    sequence: int
    payload: dict[str, Any]
    created_at: datetime

    def envelope(self) -> dict[str, Any]:
        """The JSON shape every consumer gets (webhooks, NATS, live streams)."""
        return {"id": str(self.event_id), "type": self.type,
                "timestamp": self.created_at.isoformat(),
                "business_id": str(self.business_id),
                "aggregate": {"type": self.aggregate_type, "id": str(self.aggregate_id),
                              "sequence": self.sequence},
                "data": self.payload}
