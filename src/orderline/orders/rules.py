"""Orders: the status machine, line rules and totals.

The transition table is the single source of truth for which status may follow which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from orderline.core.errors import InvalidTransition, ValidationFailed
from orderline.core.limits import MAX_LINE_QUANTITY, MAX_ORDER_TOTAL
from orderline.events.event_types import EventType

MAX_LINES_PER_ORDER = 100


class UnitsOfLine(Protocol):
    """Some units of one line, named by its SKU (to cancel, move, return...)."""

    @property
    def sku(self) -> str: ...

    @property
    def quantity(self) -> int: ...


def check_line_units(wanted: Sequence[UnitsOfLine], *, verb: str, per: str,
                     none_named: str) -> None:
    """1..MAX lines, each SKU once, each quantity at least 1; the sentences say what the
    units are for: "The quantity to {verb} of SKU...", "At most N lines per {per}.", and
    ``none_named`` when no line is named."""
    if not wanted:
        raise ValidationFailed(none_named, details={"field": "lines"})
    if len(wanted) > MAX_LINES_PER_ORDER:
        raise ValidationFailed(f"At most {MAX_LINES_PER_ORDER} lines per {per}.",
                               details={"field": "lines", "max": MAX_LINES_PER_ORDER})
    seen: set[str] = set()
    for want in wanted:
        if want.quantity < 1:
            raise ValidationFailed(f"The quantity to {verb} of {want.sku} must be at least 1.",
                                   details={"sku": want.sku, "quantity": want.quantity})
        if want.sku in seen:
            raise ValidationFailed("Each SKU may appear only once; add the quantities up.",
                                   details={"duplicate_sku": want.sku})
        seen.add(want.sku)
ORDER_NUMBER_PREFIX = "OL-"
INVOICE_NUMBER_PREFIX = "INV-"


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    # Cash on delivery: placed and its stock sold, the money to be collected on delivery.
    CONFIRMED = "confirmed"
    PAID = "paid"
    PROCESSING = "processing"
    # Some of its units left in shipments, the rest wait (``orders/fulfilment``).
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    # Shipped, then refused or undeliverable (cash on delivery): the goods came back.
    RETURNED = "returned"


S = OrderStatus
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.PAID, S.PROCESSING, S.PARTIALLY_SHIPPED, S.SHIPPED,
                            S.CANCELLED}),
    S.PAID: frozenset({S.PROCESSING, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    S.PROCESSING: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    # Units already left: the order can no longer be cancelled as a whole; it is shipped
    # once its last units leave (a cash-on-delivery order's cash is collected after that).
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.RETURNED}),
    # Every unit that shipped came back in returns and was refunded (``returns``).
    S.DELIVERED: frozenset({S.RETURNED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}

# Statuses in which the buyer's money counts as revenue.
REVENUE_STATUSES = frozenset({S.PAID, S.PROCESSING, S.PARTIALLY_SHIPPED, S.SHIPPED,
                              S.DELIVERED})


class CancelReason(StrEnum):
    MERCHANT = "merchant"
    BUYER = "buyer"
    PAYMENT_TIMEOUT = "payment_timeout"
    OUT_OF_STOCK = "out_of_stock"
    FRAUD = "fraud"
    DELIVERY_FAILED = "delivery_failed"  # cash on delivery: refused or undeliverable
    MERGED = "merged"  # its lines joined another order of the same buyer (order_splits/)
    OTHER = "other"


def ensure_transition(current: OrderStatus, requested: OrderStatus) -> None:
    """Raise ``InvalidTransition`` unless the table allows ``current -> requested``."""
    if requested not in ALLOWED_TRANSITIONS[current]:
        allowed = sorted(ALLOWED_TRANSITIONS[current])
        raise InvalidTransition(
            f"An order in status '{current}' cannot move to '{requested}'."
            + (f" Allowed next: {', '.join(allowed)}." if allowed else " It is final."),
            details={"current_status": str(current), "requested_status": str(requested),
                     "allowed": allowed},
        )


@dataclass(frozen=True, slots=True)
class RequestedLine:
    sku: str
    quantity: int


def check_requested_lines(lines: Sequence[RequestedLine]) -> None:
    """An order needs 1..MAX_LINES lines, each SKU once, each quantity in 1..MAX_LINE_QUANTITY."""
    if not lines:
        raise ValidationFailed("An order needs at least one line.", details={"field": "lines"})
    if len(lines) > MAX_LINES_PER_ORDER:
        raise ValidationFailed(f"An order may have at most {MAX_LINES_PER_ORDER} lines.",
                               details={"field": "lines", "max": MAX_LINES_PER_ORDER})
    seen: set[str] = set()
    duplicates: list[str] = []
    for line in lines:
        if not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise ValidationFailed(
                f"Quantity for {line.sku} must be a whole number from 1 to {MAX_LINE_QUANTITY}.",
                details={"sku": line.sku, "quantity": line.quantity})
        if line.sku in seen:
            duplicates.append(line.sku)
        seen.add(line.sku)
    if duplicates:
        raise ValidationFailed("Each SKU may appear only once in an order; merge the quantities.",
                               details={"duplicate_skus": sorted(set(duplicates))})


def line_total(unit_price: int, quantity: int) -> int:
    return unit_price * quantity


def check_order_total(total: int) -> int:
    if total > MAX_ORDER_TOTAL:
        raise ValidationFailed(f"An order total may be at most {MAX_ORDER_TOTAL} minor units.",
                               details={"total": total, "max": MAX_ORDER_TOTAL})
    return total


def format_order_number(sequence: int) -> str:
    """``OL-000042``: unique and increasing per business, with gaps where a numbered order
    was rolled back (see docs/guides/orders.md)."""
    return f"{ORDER_NUMBER_PREFIX}{sequence:06d}"


def format_invoice_number(sequence: int) -> str:
    """``INV-000042``: gapless per business, given once the order's money is in."""
    return f"{INVOICE_NUMBER_PREFIX}{sequence:06d}"


def needs_invoice_number(*, paid_at: datetime | None, invoice_number: str | None) -> bool:
    """An order is invoiced once its money is in (``paid_at`` set: paid by card or transfer,
    or cash collected on delivery), and only once."""
    return paid_at is not None and invoice_number is None


_BY_NEW_STATUS = {
    OrderStatus.PAID: EventType.ORDER_PAID,
    OrderStatus.CANCELLED: EventType.ORDER_CANCELLED,
    OrderStatus.PARTIALLY_SHIPPED: EventType.ORDER_PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED: EventType.ORDER_SHIPPED,
    OrderStatus.DELIVERED: EventType.ORDER_DELIVERED,
    OrderStatus.RETURNED: EventType.ORDER_RETURNED,
}


def order_event_type(from_status: OrderStatus | None, to_status: OrderStatus) -> EventType:
    """The event an order change is: created, a status reached, or another update."""
    if from_status is None:
        return EventType.ORDER_CREATED
    if from_status != to_status and to_status in _BY_NEW_STATUS:
        return _BY_NEW_STATUS[to_status]
    return EventType.ORDER_UPDATED


def conversion_rate(started: int, placed: int) -> float | None:
    """Orders placed per checkout started (4 decimals); None when no checkout started."""
    return round(placed / started, 4) if started else None
