"""Steps other capabilities take inside the confirm's own transaction, once a checkout became
an order.

Draft orders build on checkout (their link opens a cart and a checkout), so checkout cannot
import them. Instead they offer their step, ``orderline.wiring`` puts it in this part of the
runtime, and the confirm runs it after writing the order, in the same transaction: a draft is
``completed`` exactly when its order exists. The steps run only for a cart another capability
made (``carts.made_by``: a draft's link marks its cart), so a cart made through /v1/carts costs
its confirm no statement of theirs. A runtime that was not given its hooks refuses
loudly rather than placing an order that leaves its draft open.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Part, Runtime


@dataclass(frozen=True, slots=True)
class CartConverted:
    """A checkout of ``cart_id`` became the order ``order_id``, by ``actor`` at ``now``."""

    business_id: uuid.UUID
    cart_id: uuid.UUID
    checkout_id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    actor: str
    now: datetime


Step = Callable[[AsyncConnection, CartConverted], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CheckoutHooks:
    # The order is written (and its cart closed): run before the transaction commits.
    converted: Sequence[Step] = ()


CHECKOUT_HOOKS: Part[CheckoutHooks] = Part("checkout hooks")


async def run_converted(runtime: Runtime, conn: AsyncConnection, done: CartConverted) -> None:
    for step in runtime.get(CHECKOUT_HOOKS).converted:
        await step(conn, done)
