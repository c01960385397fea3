"""Writing a new order: the one place that inserts an order with its lines, its ``created``
history entry and its ``order.created`` event, in the caller's transaction.

``POST /v1/orders`` and the checkout confirm both place orders through ``write_new_order``, so
the stored rows and the event they announce are built the same way for both.
``write_unannounced_order`` leaves the events to be appended last, for a caller that takes
stock after writing the order (``POST /v1/orders``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import FirstEvent, OpenedEvents, open_first_events
from orderline.orders import store as order_store
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
    written = await write_unannounced_order(conn, new, lines, actor=actor, changes=changes,
                                            more_events=more_events)
    await written.announce(conn)
    return written.row, written.shown


@dataclass(frozen=True, slots=True)
class UnannouncedOrder:
    """An order written with everything but its events in the outbox: ``announce`` appends
    them (one statement), later in the same transaction."""

    row: OrderRow
    shown: dict[str, Any]
    events: OpenedEvents

    async def announce(self, conn: AsyncConnection) -> None:
        await self.events.append(conn)


async def write_unannounced_order(conn: AsyncConnection, new: NewOrderRow,
                                  lines: Sequence[NewOrderLine], *, actor: str,
                                  changes: dict[str, Any],
                                  more_events: Sequence[FirstEvent] = ()) -> UnannouncedOrder:
    """``write_new_order`` up to its events, whose streams are opened but which are left to
    ``UnannouncedOrder.announce``: a caller that takes stock after writing the order (so that
    the stock row is locked for as short a time as possible) announces the order after the
    stock's own events, which keeps them in the order the outbox has always had them."""
    row = await order_store.insert_order(conn, new, lines)
    await order_store.add_event(conn, business_id=new.business_id, order_id=new.id,
                                actor=actor, action="created", from_status=None,
                                to_status=new.status, changes=changes,
                                created_at=new.created_at, order_version=row.version)
    shown = shape(row.as_dict(), [line.as_dict() for line in lines])
    events = await open_first_events(conn, business_id=new.business_id, now=new.created_at,
                                     events=[
        FirstEvent(EventType.ORDER_CREATED, AggregateType.ORDER, new.id,
                   {"order": shown, "previous_status": None, "action": "created",
                    "actor": actor, "changes": changes}),
        *more_events])
    return UnannouncedOrder(row=row, shown=shown, events=events)
