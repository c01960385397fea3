"""Writing a new order: the one place that inserts an order with its lines, its ``created``
history entry and its ``order.created`` event, in the caller's transaction.

``POST /v1/orders`` and the checkout confirm both place orders through ``write_new_order``, so
the stored rows and the event they announce are built the same way for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import FirstEvent, emit_first_events, first_event_rows
from orderline.events.outbox_store import note_written
from orderline.orders import placing_store
from orderline.orders import store as order_store
from orderline.orders.placing_store import complete_row
from orderline.orders.store import NewOrderLine, NewOrderRow, OrderRow
from orderline.orders.views import shape


async def write_new_order(conn: AsyncConnection, new: NewOrderRow,
                          lines: Sequence[NewOrderLine], *, actor: str,
                          changes: dict[str, Any],
                          more_events: Sequence[FirstEvent] = ()
                          ) -> tuple[OrderRow, dict[str, Any]]:
    """Insert the order and its lines, its ``created`` history entry and its ``order.created``
    event (with ``more_events``, first events of other aggregates created in the same
    transaction, in the same two outbox statements). Returns the row as stored and the order
    as shown to callers (the event's ``order``)."""
    history: dict[str, Any] = {"business_id": new.business_id, "order_id": new.id, "actor": actor,
               "action": "created", "from_status": None, "to_status": new.status,
               "changes": changes, "created_at": new.created_at}
    if conn.dialect.name == "postgresql":
        # One round trip: the stored row is known before it is written (complete_row).
        row = OrderRow(**complete_row(placing_store.orders, new.values()))
        shown, first = _created(new, row, lines, actor, changes, more_events)
        events = first_event_rows(business_id=new.business_id, now=new.created_at,
                                  events=first)
        await placing_store.insert_order_at_once(
            conn, order=row.as_dict(), order_lines=[line.as_dict() for line in lines],
            history_entry={**history, "order_version": row.version}, events=events)
        note_written(conn, events)
        return row, shown
    row = await order_store.insert_order(conn, new, lines)
    await order_store.add_event(conn, **history, order_version=row.version)
    shown, first = _created(new, row, lines, actor, changes, more_events)
    await emit_first_events(conn, business_id=new.business_id, now=new.created_at, events=first)
    return row, shown


def _created(new: NewOrderRow, row: OrderRow, lines: Sequence[NewOrderLine], actor: str,
             changes: dict[str, Any], more_events: Sequence[FirstEvent]
             ) -> tuple[dict[str, Any], list[FirstEvent]]:
    """The order as shown, and the first events: its ``order.created``, then ``more_events``."""
    shown = shape(row.as_dict(), [line.as_dict() for line in lines])
    return shown, [FirstEvent(EventType.ORDER_CREATED, AggregateType.ORDER, new.id,
                              {"order": shown, "previous_status": None, "action": "created",
                               "actor": actor, "changes": changes}),
                   *more_events]
