"""The order pages' pure decisions: money as people read and type it, which actions an order
offers to whom, and who did what in words. No I/O, no framework.

Which actions are *offered* is only a courtesy to the person: the use cases decide again
(scopes, the status machine, money held), and a forced form is refused by them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from orderline.core.money import currency_exponent
from orderline.order_changes.rules import CHANGEABLE
from orderline.order_splits.rules import SPLITTABLE
from orderline.orders.fulfilment.rules import SHIPPABLE
from orderline.orders.rules import ALLOWED_TRANSITIONS, OrderStatus
from orderline.tenancy.rules import Scope

CASH_ON_DELIVERY = "cod"
CARD = "card"

_AMOUNT = re.compile(r"^\d{1,15}([.,]\d{1,3})?$")


def amount_input(amount: int, currency: str) -> str:
    """The value a money field starts with: ``12345, "USD"`` -> ``"123.45"`` (no commas)."""
    exponent = currency_exponent(currency)
    whole, part = divmod(amount, 10 ** exponent)
    return f"{whole}" + (f".{part:0{exponent}d}" if exponent else "")


def parse_amount(text: str, currency: str) -> int | None:
    """What a person typed in a money field, in minor units: ``"12.5"`` USD -> 1250. None when
    it is not an amount of this currency (letters, too many decimals, negative)."""
    cleaned = text.strip().replace(" ", "")
    if not _AMOUNT.match(cleaned):
        return None
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None
    minor = value * (10 ** currency_exponent(currency))
    if minor != minor.to_integral_value():
        return None
    return int(minor)


def money_held(intents: Iterable[Mapping[str, Any]]) -> int:
    """What the order's payments hold of the buyer's money now: taken or collected, less
    what was refunded."""
    return sum(int(i["amount_captured"]) + int(i["amount_collected"]) - int(i["amount_refunded"])
               for i in intents)


def order_actions(order: Mapping[str, Any], intents: Collection[Mapping[str, Any]],
                  scopes: Collection[str], *, held: int | None = None) -> frozenset[str]:
    """The actions the order page offers: ``mark_paid`` (a transfer or e-wallet seen by hand,
    verify scope), ``capture`` (an authorised card payment), ``ship`` (or correct the
    tracking), ``cancel``, ``cancel_units`` (some units, before shipment), ``edit_items``
    (lines of a paid or confirmed order changed before shipment: order_changes/),
    ``refund``, ``cod_collect`` and ``cod_failed``. ``held``: the order's own share of the
    money (an order split off holds a share of its original's payment), else its intents'."""
    status = OrderStatus(order["status"])
    method = str(order["payment_method"])
    write = Scope.WRITE in scopes
    offered: set[str] = set()
    if (Scope.VERIFY in scopes and status == OrderStatus.PENDING_PAYMENT
            and method not in (CARD, CASH_ON_DELIVERY)):
        offered.add("mark_paid")
    if not write:
        return frozenset(offered)
    if any(i["status"] == "authorized" for i in intents):
        offered.add("capture")
    cash_unpaid = method == CASH_ON_DELIVERY and order["paid_at"] is None
    if status == OrderStatus.SHIPPED or (OrderStatus.SHIPPED in ALLOWED_TRANSITIONS[status]
                                          and status != OrderStatus.PENDING_PAYMENT):
        offered.add("ship")
    if status in SHIPPABLE:
        offered.add("ship_part")  # some units, from a chosen location
    # An unpaid cash order is delivered by collecting its cash (below), not parcel by parcel.
    if status == OrderStatus.PARTIALLY_SHIPPED or (status == OrderStatus.SHIPPED
                                                   and not cash_unpaid):
        offered.add("deliver_parcel")
    if OrderStatus.CANCELLED in ALLOWED_TRANSITIONS[status]:
        offered.add("cancel")
        if any(int(line["quantity"]) > 0 and not line.get("refunded_quantity")
               for line in order.get("lines", ())):
            offered.add("cancel_units")  # before shipment: some units (cancellations/)
    if status in CHANGEABLE and not any(i["status"] in ("requires_action", "processing",
                                                         "authorized") for i in intents):
        offered.add("edit_items")
    if (money_held(intents) if held is None else held) > 0:
        offered.add("refund")
    if cash_unpaid and status in (OrderStatus.CONFIRMED, OrderStatus.PROCESSING,
                                  OrderStatus.SHIPPED):
        offered.update({"cod_collect", "cod_failed"})
    return frozenset(offered)


def split_merge_actions(order: Mapping[str, Any], scopes: Collection[str], *,
                        others_unpaid: bool) -> frozenset[str]:
    """``split`` (some unshipped units to a new order: two units or more, before all of it
    ships) and ``merge`` (an unpaid order, when the buyer has another: ``others_unpaid``),
    for a role that may write (``order_splits/``)."""
    if Scope.WRITE not in scopes:
        return frozenset()
    status = OrderStatus(order["status"])
    offered: set[str] = set()
    if status in SPLITTABLE and sum(int(line["quantity"]) for line in order.get("lines", ())) > 1:
        offered.add("split")
    if status == OrderStatus.PENDING_PAYMENT and others_unpaid:
        offered.add("merge")
    return frozenset(offered)
