"""Steps other capabilities take inside an order's own transaction, when the order is paid or
cancelled, or before its lines are edited.

Coupons, payments and manual payments all build on orders (they read and change orders), so
orders cannot import them. Instead each of them offers its steps, ``orderline.wiring`` puts
them in this part of the runtime, and the order's use cases run them at the point where they
used to call them directly, in the same transaction and in the same order. A runtime that was
not given its hooks refuses loudly rather than cancelling an order without asking for its
card payment to be refunded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Part, Runtime
from orderline.orders.rules import CancelReason, OrderStatus
from orderline.orders.store import OrderRow


@dataclass(frozen=True, slots=True)
class OrderChange:
    """Who changes the order, when, and (for a cancellation) why; ``order`` is the row as it
    was before the change, locked by the caller."""

    order: OrderRow
    actor: str
    now: datetime
    reason: CancelReason | None = None

    @property
    def was(self) -> OrderStatus:
        return OrderStatus(self.order.status)


Step = Callable[[AsyncConnection, OrderChange], Awaitable[None]]
BuyerPayment = Callable[[AsyncConnection, OrderRow], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class OrderHooks:
    # The order's money is in: run after its held stock became a sale.
    paid: Sequence[Step] = ()
    # The order is being cancelled: run before its stock is released or put back.
    cancelling: Sequence[Step] = ()
    # The merchant edits the lines: a step raises a domain error to refuse.
    editing_lines: Sequence[Step] = ()
    # What the buyer is told about paying this order by hand (a manual method), or None.
    buyer_payment: BuyerPayment | None = None


ORDER_HOOKS: Part[OrderHooks] = Part("order hooks")


async def run(steps: Sequence[Step], conn: AsyncConnection, change: OrderChange) -> None:
    for step in steps:
        await step(conn, change)


def hooks_of(runtime: Runtime) -> OrderHooks:
    return runtime.get(ORDER_HOOKS)
