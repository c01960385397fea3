"""Invoice numbers: given by the worker once an order's money is in, gapless per business even
when payments and workers run at once and when the worker's transaction rolls back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.events.relay import Relay
from orderline.events.tables import OutboxEvent
from orderline.orders import service as orders
from orderline.orders.invoices import INVOICE_NUMBERS
from orderline.orders.status import confirm_payment
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku


async def invoice_of(runtime: Runtime, merchant: Merchant, order: dict[str, Any]) -> str | None:
    shown = await orders.get_order(runtime, merchant.principal, uuid.UUID(str(order["id"])))
    number: str | None = shown["invoice_number"]
    return number


async def test_a_paid_order_is_invoiced_by_the_worker_and_announced(runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Invoicing shop")
    await stock_sku(runtime, m, "MUG", 10)
    unpaid = await place(runtime, m, ("MUG", 1), phone="+1 555 0001")
    paid = await place(runtime, m, ("MUG", 1), phone="+1 555 0002")
    assert paid["invoice_number"] is None and paid["invoiced_at"] is None
    await confirm_payment(runtime, m.principal, uuid.UUID(str(paid["id"])))
    assert await invoice_of(runtime, m, paid) is None  # not on the buyer's path
    await default_relay(runtime).relay_until_idle()

    shown = await orders.get_order(runtime, m.principal, uuid.UUID(str(paid["id"])))
    assert shown["invoice_number"] == "INV-000001" and shown["invoiced_at"] is not None
    assert await invoice_of(runtime, m, unpaid) is None
    history = await orders.order_history(runtime, m.principal, uuid.UUID(str(paid["id"])))
    assert (history[-1]["action"], history[-1]["changes"]) == (
        "invoiced", {"invoice_number": "INV-000001"})
    outbox = table_of(OutboxEvent)
    async with runtime.db.read() as conn:
        last = (await conn.execute(select(outbox.c.type, outbox.c.payload)
                                   .where(outbox.c.aggregate_id == uuid.UUID(str(paid["id"])))
                                   .order_by(outbox.c.sequence.desc()).limit(1))).one()
    assert last.type == EventType.ORDER_UPDATED
    assert last.payload["order"]["invoice_number"] == "INV-000001"
    assert last.payload["action"] == "invoiced"

    await default_relay(runtime).relay_until_idle()  # its own order.updated: nothing more
    assert await invoice_of(runtime, m, paid) == "INV-000001"


async def test_payments_and_workers_at_once_give_a_gapless_series(runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Busy invoicing shop")
    await stock_sku(runtime, m, "MUG", 100)
    placed = [await place(runtime, m, ("MUG", 1), phone=f"+1 555 {n:04d}") for n in range(24)]
    await asyncio.gather(*(confirm_payment(runtime, m.principal, uuid.UUID(str(o["id"])))
                           for o in placed[:20]))
    # Four relays at once, as four workers would (each claims its own aggregates).
    await asyncio.gather(*(default_relay(runtime).relay_until_idle() for _ in range(4)))
    invoices = [await invoice_of(runtime, m, o) for o in placed]
    assert sorted(n for n in invoices[:20] if n) == [f"INV-{i:06d}" for i in range(1, 21)]
    assert invoices[20:] == [None] * 4


async def test_a_rolled_back_invoicing_gives_its_number_back(runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Unlucky invoicing shop")
    await stock_sku(runtime, m, "MUG", 10)
    placed = [await place(runtime, m, ("MUG", 1), phone=f"+1 555 {n:04d}") for n in range(3)]
    for o in placed:
        await confirm_payment(runtime, m.principal, uuid.UUID(str(o["id"])))

    async def fail_for_this_shop(_ctx: HandlerContext, _conn: Any, event: StoredEvent) -> None:
        if event.business_id == m.principal.business_id:
            raise RuntimeError("a later step of the event's transaction failed")

    # The invoice is taken, then the event's transaction rolls back; the relay runs the
    # invoicing again on its own, and the number it gets is the one given back.
    failing = Handler("fails_after_invoicing", frozenset({EventType.ORDER_PAID}),
                      fail_for_this_shop)
    await Relay(runtime, handlers=[INVOICE_NUMBERS, failing]).relay_until_idle()
    invoices = sorted(n for n in [await invoice_of(runtime, m, o) for o in placed] if n)
    assert invoices == ["INV-000001", "INV-000002", "INV-000003"]
