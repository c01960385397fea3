"""Rules a checkout must pass before it may become an order (the fingerprint that binds an
idempotency key to one confirm is ``orderline.idempotency.rules``).

The business settings behind these rules (columns of ``businesses``):

- ``min_order_total``: the merchandise after discounts must reach it (``below_minimum_order``);
- ``max_order_total``: the total may not exceed it (``above_maximum_order``); a default
  ceiling always exists, so a typo of a few zeros never becomes an order;
- ``max_line_quantity``: units of one SKU per order (``quantity_above_limit``);
- ``allow_free_orders``: whether a total of 0 may be ordered (``zero_total_order``).
"""

from __future__ import annotations

from dataclasses import dataclass

from orderline.core.errors import (
    AboveMaximumOrder,
    BelowMinimumOrder,
    CartEmpty,
    QuantityAboveLimit,
    ZeroTotalOrder,
)
from orderline.pricing.engine import PriceLine, Quote

# The totals a buyer confirms; ``total`` is required, the others are checked when sent.
CONFIRMABLE_TOTALS = ("subtotal", "discount_total", "shipping", "shipping_discount",
                      "tax_total", "total")


@dataclass(frozen=True, slots=True)
class OrderLimits:
    min_order_total: int = 0
    max_order_total: int = 10**10
    max_line_quantity: int = 100
    allow_free_orders: bool = False


def check_lines(lines: tuple[PriceLine, ...] | list[PriceLine], limits: OrderLimits) -> None:
    if not lines:
        raise CartEmpty("The cart has no lines; add at least one product before checking out.")
    over = [line.sku for line in lines if line.quantity > limits.max_line_quantity]
    if over:
        raise QuantityAboveLimit(
            f"At most {limits.max_line_quantity} units of one product per order: "
            + ", ".join(over) + ".",
            details={"skus": over, "max_line_quantity": limits.max_line_quantity})


def check_quote(quote: Quote, limits: OrderLimits) -> None:
    """The order's amounts are within the business's limits."""
    merchandise = quote.subtotal - quote.discount_total
    if merchandise < limits.min_order_total:
        raise BelowMinimumOrder(
            f"The minimum order is {limits.min_order_total} (minor units) of products after "
            f"discounts; this order has {merchandise}.",
            details={"min_order_total": limits.min_order_total, "merchandise": merchandise})
    if quote.total > limits.max_order_total:
        raise AboveMaximumOrder(
            f"Orders above {limits.max_order_total} (minor units) are not accepted; this one "
            f"comes to {quote.total}. Split it, or ask the merchant.",
            details={"max_order_total": limits.max_order_total, "total": quote.total})
    if quote.total == 0 and not limits.allow_free_orders:
        raise ZeroTotalOrder("This order comes to 0 and the business does not accept free "
                             "orders; remove a coupon or add a product.",
                             details={"total": 0})


def totals_differ(seen: dict[str, int], quote: Quote) -> dict[str, dict[str, int]]:
    """The figures the buyer saw that differ from the quote now: {name: {seen, now}}."""
    now = quote.totals()
    return {name: {"seen": value, "now": now[name]}
            for name, value in seen.items() if now.get(name) != value}
