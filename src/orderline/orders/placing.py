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

from orderline.core.db.json_rows import complete_row
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import (
    FirstEvent,
    OpenedEvents,
    first_event_rows,
    open_first_events,
)
from orderline.events.outbox_store import note_written
from orderline.orders import placing_store
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
    if conn.dialect.name == "postgresql":
        # One round trip for every row, events included (see ``write_unannounced_order``).
        row, shown, events = await _write_at_once(conn, new, lines, actor, changes,
                                                  more_events, announce=True)
        note_written(conn, events)
        return row, shown
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
    stock's own events, which keeps them in the order the outbox has always had them.

    On PostgreSQL the order, its lines, its history entry and its event counters go in one
    statement (``placing_store``): the stored row is worked out before it is written
    (``complete_row``), so nothing is read back."""
    if conn.dialect.name == "postgresql":
        row, shown, rows = await _write_at_once(conn, new, lines, actor, changes, more_events,
                                                announce=False)
        return UnannouncedOrder(row=row, shown=shown, events=OpenedEvents(rows))
    row = await order_store.insert_order(conn, new, lines)
    await order_store.add_event(conn, **_history(new, row, actor, changes))
    shown, first = _shown_and_events(new, row, lines, actor, changes, more_events)
    events = await open_first_events(conn, business_id=new.business_id, now=new.created_at,
                                     events=first)
    return UnannouncedOrder(row=row, shown=shown, events=events)


async def _write_at_once(conn: AsyncConnection, new: NewOrderRow,
                         lines: Sequence[NewOrderLine], actor: str, changes: dict[str, Any],
                         more_events: Sequence[FirstEvent], *, announce: bool
                         ) -> tuple[OrderRow, dict[str, Any], list[dict[str, Any]]]:
    """PostgreSQL: the order's rows in one statement, its outbox events too with
    ``announce``. Returns the row as stored (worked out before it is written), the order as
    shown, and its first events' outbox rows."""
    row = OrderRow(**complete_row(placing_store.orders, new.values()))
    shown, first = _shown_and_events(new, row, lines, actor, changes, more_events)
    events = first_event_rows(business_id=new.business_id, now=new.created_at, events=first)
    await placing_store.insert_order_at_once(
        conn, order=row.as_dict(), order_lines=[line.as_dict() for line in lines],
        history_entry=_history(new, row, actor, changes), events=events, announce=announce)
    return row, shown, events


def _history(new: NewOrderRow, row: OrderRow, actor: str,
             changes: dict[str, Any]) -> dict[str, Any]:
    """The order's ``created`` history entry."""
    return {"business_id": new.business_id, "order_id": new.id, "actor": actor,
            "action": "created", "from_status": None, "to_status": new.status,
            "changes": changes, "created_at": new.created_at, "order_version": row.version}


def _shown_and_events(new: NewOrderRow, row: OrderRow, lines: Sequence[NewOrderLine],
                      actor: str, changes: dict[str, Any], more_events: Sequence[FirstEvent]
                      ) -> tuple[dict[str, Any], list[FirstEvent]]:
    """The order as shown, and the first events: its ``order.created``, then ``more_events``."""
    shown = shape(row.as_dict(), [line.as_dict() for line in lines])
    return shown, [FirstEvent(EventType.ORDER_CREATED, AggregateType.ORDER, new.id,
                              {"order": shown, "previous_status": None, "action": "created",
                               "actor": actor, "changes": changes}),
                   *more_events]
