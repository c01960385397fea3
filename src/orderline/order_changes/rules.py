"""Edits after payment: which lines a change may touch, and what the order is after it.

Pure: the order's stored figures and lines, the catalog's name and price of SKUs it adds,
and the coupon terms come in; the plan goes out.

- A change names SKUs with their new quantity: added (a SKU the order does not have, or has
  no unit of left, priced at the catalog's price now), changed (another quantity, at the
  order's own unit price) or removed (to 0). A line some of whose units were refunded is not
  touched (refund the rest of it instead), and a change may not leave the order empty (cancel
  the order instead).
- The order after is priced again by the one pricing engine (``cancellations.rules.reprice``:
  the order's unit prices, its coupons in the order they were applied, its tax rates;
  shipping, its discount and its tax kept as the buyer agreed at checkout).
- ``difference`` is the total after minus the total before: the buyer owes it when positive
  (a payment request), gets it back when negative (a refund).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from orderline.cancellations.rules import LineNow, OrderFigures, reprice
from orderline.core.errors import LinePartlyRefunded, OrderNotChangeable, ValidationFailed
from orderline.orders.rules import MAX_LINES_PER_ORDER, OrderStatus
from orderline.pricing.engine import CouponTerms

# Paid (or, for cash on delivery, confirmed) and not shipped: what may change its lines.
CHANGEABLE = frozenset({OrderStatus.CONFIRMED, OrderStatus.PAID, OrderStatus.PROCESSING})
# How long the buyer has to pay for a change by default, and the bounds a merchant may set.
DEFAULT_PAYMENT_HOURS = 48
MIN_PAYMENT_HOURS = 1
MAX_PAYMENT_HOURS = 24 * 14


class ChangeStatus(StrEnum):
    APPLIED = "applied"  # at once (nothing owed by the buyer), or once paid
    AWAITING_PAYMENT = "awaiting_payment"  # its payment request is open, added units held
    LAPSED = "lapsed"  # its deadline passed unpaid: the held units went back
    CANCELLED = "cancelled"  # by the merchant while it waited


class RequestStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"


class LineKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class LineEdit:
    """The line with this SKU is to have ``quantity`` units (0: removed), or, ``add``,
    ``quantity`` units more than it has (a SKU the order does not have: a new line)."""

    sku: str
    quantity: int
    add: bool = False


@dataclass(frozen=True, slots=True)
class CatalogLine:
    """A SKU the order does not have yet, as the catalog sells it now."""

    sku: str
    name: str
    product_id: str
    unit_price: int


@dataclass(frozen=True, slots=True)
class ChangedLine:
    sku: str
    name: str
    kind: LineKind
    unit_price: int
    quantity_before: int
    quantity_after: int
    discount_after: int
    tax_after: int

    @property
    def delta(self) -> int:
        """Units more (positive) or fewer (negative) than before."""
        return self.quantity_after - self.quantity_before

    @property
    def line_total_after(self) -> int:
        return self.unit_price * self.quantity_after


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """The touched lines, every line's new shares, and the figures before and after."""

    changed: tuple[ChangedLine, ...]
    shares: Mapping[str, tuple[int, int]]
    before: OrderFigures
    after: OrderFigures

    @property
    def difference(self) -> int:
        """What the buyer owes (positive) or gets back (negative)."""
        return self.after.total - self.before.total

    def lines_before(self) -> list[dict[str, Any]]:
        return [{"sku": c.sku, "quantity": c.quantity_before} for c in self.changed]

    def lines_after(self) -> list[dict[str, Any]]:
        return [{"sku": c.sku, "quantity": c.quantity_after} for c in self.changed]


def check_edits(edits: Sequence[LineEdit]) -> None:
    """1..MAX lines, each SKU once, quantities not negative."""
    if not edits:
        raise ValidationFailed("Name at least one line to add, change or remove.",
                               details={"field": "lines"})
    if len(edits) > MAX_LINES_PER_ORDER:
        raise ValidationFailed(f"At most {MAX_LINES_PER_ORDER} lines per change.",
                               details={"field": "lines", "max": MAX_LINES_PER_ORDER})
    seen: set[str] = set()
    for edit in edits:
        if edit.quantity < 0 or (edit.add and edit.quantity == 0):
            raise ValidationFailed(f"The quantity of {edit.sku} cannot be negative.",
                                   details={"sku": edit.sku, "quantity": edit.quantity})
        if edit.sku in seen:
            raise ValidationFailed("Each SKU may appear only once in a change.",
                                   details={"duplicate_sku": edit.sku})
        seen.add(edit.sku)


def check_changeable(status: str, *, shipped_units: int) -> None:
    """Paid or confirmed, not shipped (not even a parcel of it)."""
    if OrderStatus(status) not in CHANGEABLE or shipped_units > 0:
        raise OrderNotChangeable(
            "The lines of an order change after payment only while it is paid, confirmed or "
            f"being processed and nothing of it has shipped; it is '{status}'"
            + (f" with {shipped_units} units shipped." if shipped_units else "."),
            details={"current_status": status, "shipped_units": shipped_units})


def payment_deadline(now: datetime, hours: int | None) -> datetime:
    """When the buyer's payment for a change is due."""
    chosen = DEFAULT_PAYMENT_HOURS if hours is None else hours
    if not MIN_PAYMENT_HOURS <= chosen <= MAX_PAYMENT_HOURS:
        raise ValidationFailed(
            f"The buyer's time to pay is {MIN_PAYMENT_HOURS} to {MAX_PAYMENT_HOURS} hours.",
            details={"field": "pay_within_hours", "min": MIN_PAYMENT_HOURS,
                     "max": MAX_PAYMENT_HOURS})
    return now + timedelta(hours=chosen)


def plan_change(before: OrderFigures, lines: Sequence[LineNow], edits: Sequence[LineEdit], *,
                catalog: Mapping[str, CatalogLine],
                coupons: tuple[CouponTerms, ...]) -> ChangePlan:
    """The order after ``edits`` (module docstring). ``catalog`` holds every edited SKU the
    order has no line of (the caller refuses unknown SKUs before)."""
    check_edits(edits)
    by_sku = {line.sku: line for line in lines}
    quantities = {line.sku: line.quantity for line in lines}
    all_lines: list[LineNow] = list(lines)
    changed: list[ChangedLine] = []
    for edit in edits:
        line = by_sku.get(edit.sku)
        if line is None:
            if edit.quantity == 0 or (not edit.add and edit.sku not in catalog):
                raise ValidationFailed(f"This order has no line {edit.sku} to remove.",
                                       details={"sku": edit.sku})
            new = catalog[edit.sku]
            line = LineNow(sku=new.sku, name=new.name, product_id=new.product_id,
                           unit_price=new.unit_price, quantity=0, refunded_quantity=0,
                           cancelled_quantity=0, line_total=0, discount=0, tax=0)
            all_lines.append(line)
        if line.refunded_quantity:
            raise LinePartlyRefunded(
                f"{line.refunded_quantity} units of {edit.sku} were refunded already; refund "
                "the rest of the line instead of changing it.",
                details={"sku": edit.sku, "refunded_quantity": line.refunded_quantity})
        target = line.quantity + edit.quantity if edit.add else edit.quantity
        if target == line.quantity:
            continue
        kind = (LineKind.ADDED if line.quantity == 0 else
                LineKind.REMOVED if target == 0 else LineKind.CHANGED)
        changed.append(ChangedLine(sku=line.sku, name=line.name, kind=kind,
                                   unit_price=line.unit_price, quantity_before=line.quantity,
                                   quantity_after=target, discount_after=0, tax_after=0))
        quantities[line.sku] = target
    if not changed:
        raise ValidationFailed("The order already has these quantities; nothing would change.",
                               details={"field": "lines"})
    if not any(quantities.values()):
        raise ValidationFailed("A change may not remove every unit; cancel the order instead.",
                               details={"field": "lines"})
    if sum(1 for q in quantities.values() if q) > MAX_LINES_PER_ORDER:
        raise ValidationFailed(f"An order has at most {MAX_LINES_PER_ORDER} lines.",
                               details={"field": "lines", "max": MAX_LINES_PER_ORDER})
    repriced = reprice(before, all_lines, quantities, coupons=coupons)
    shared = tuple(
        ChangedLine(sku=c.sku, name=c.name, kind=c.kind, unit_price=c.unit_price,
                    quantity_before=c.quantity_before, quantity_after=c.quantity_after,
                    discount_after=repriced.shares.get(c.sku, (0, 0))[0],
                    tax_after=repriced.shares.get(c.sku, (0, 0))[1])
        for c in changed)
    return ChangePlan(changed=shared, shares=repriced.shares, before=before,
                      after=repriced.after)
