"""A placed order as written (``orders.placing``): on PostgreSQL its rows go in one statement
whose stored order is worked out before it is written (``core.db.json_rows.complete_row``); on
SQLite one statement per table. Either way, what the order answer and its ``order.created``
event show must be what the database holds, column for column, and every row of the order
(lines, history entry, event counter, outbox event) must be there."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select

from orderline.checkout import direct_orders
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import EventStream, OutboxEvent
from orderline.orders import store as order_store
from orderline.orders.rules import RequestedLine
from orderline.orders.tables import OrderEvent
from orderline.orders.views import shape
from tests.conftest import new_merchant
from tests.support.catalog import stock_sku


async def test_what_an_order_answers_and_announces_is_what_is_stored(runtime: Runtime) -> None:
    merchant = await new_merchant(runtime, "Written at once")
    await stock_sku(runtime, merchant, "MUG", 10, price=1250)
    await stock_sku(runtime, merchant, "CUP", 10, price=300)
    answer = await direct_orders.create_order(runtime, merchant.principal, direct_orders.NewOrder(
        customer=direct_orders.Contact(name="Ana Lim", phone="+65 8123 4567",
                                       email="ana@example.com"),
        channel="web", payment_method="card", note="Ring twice",
        lines=[RequestedLine("MUG", 2), RequestedLine("CUP", 1)]))
    order_id = uuid.UUID(str(answer["id"]))

    history, outbox, streams = (table_of(OrderEvent), table_of(OutboxEvent),
                                table_of(EventStream))
    async with runtime.db.read() as conn:
        stored = await order_store.load_order(conn, merchant.principal.business_id, order_id)
        lines = await order_store.load_lines(conn, [order_id])
        entries = list((await conn.execute(select(history).where(
            history.c.order_id == order_id))).mappings())
        events = list((await conn.execute(select(outbox).where(
            outbox.c.aggregate_id == order_id))).mappings())
        counter = (await conn.execute(select(streams.c.last_sequence).where(
            streams.c.aggregate_id == order_id))).scalar_one()
    assert stored is not None
    as_stored = to_jsonable_python(shape(stored.as_dict(), [ln.as_dict() for ln in lines]))

    answered = {k: v for k, v in to_jsonable_python(answer).items()
                if k not in {"access_token", "manual_payment"}}  # the answer's own additions
    assert answered == as_stored
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.line_total, ln.refunded_quantity)
            for ln in lines] == [("MUG", 2, 1250, 2500, 0), ("CUP", 1, 300, 300, 0)]
    assert stored.total == 2800 and stored.version == 1 and stored.discount_total == 0
    assert stored.paid_at is None and stored.prices_include_tax is False

    [entry] = entries
    assert (entry["action"], entry["from_status"], entry["to_status"], entry["order_version"]) \
        == ("created", None, stored.status, 1)
    assert entry["changes"] == {"lines": [{"sku": "MUG", "quantity": 2},
                                          {"sku": "CUP", "quantity": 1}], "total": 2800}
    assert entry["created_at"] == stored.created_at

    [event] = events
    payload: dict[str, Any] = event["payload"]
    assert (event["type"], event["sequence"], event["status"], event["attempts"]) \
        == ("order.created", 1, "pending", 0)
    assert payload["order"] == as_stored
    assert event["business_id"] == merchant.principal.business_id
    assert event["created_at"] == stored.created_at
    assert counter == 1
    if not runtime.db.is_sqlite:
        assert event["txid"] > 0  # the database's own, as for any other event
