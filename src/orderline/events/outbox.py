"""Writing domain events: every service calls ``emit`` inside the transaction of its change,
so the event exists exactly when the change does (a rollback takes both away)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events import outbox_store
from orderline.events.event_types import AggregateType, EventType, StoredEvent


async def emit(conn: AsyncConnection, *, business_id: uuid.UUID, type: EventType,
               aggregate_type: AggregateType, aggregate_id: uuid.UUID,
               payload: dict[str, Any], now: datetime, new_aggregate: bool = False) -> uuid.UUID:
    """Append one event to the outbox in ``conn``'s transaction; returns its event id.

    ``new_aggregate`` says the aggregate was created in this transaction (its first event
    needs no lock to be numbered)."""
    event_id = uuid.uuid4()
    sequence = await outbox_store.next_sequence(conn, aggregate_id, new_aggregate=new_aggregate)
    await outbox_store.append(conn, {
        "event_id": event_id, "business_id": business_id, "type": type.value,
        "aggregate_type": aggregate_type.value, "aggregate_id": aggregate_id,
        "sequence": sequence, "payload": to_jsonable_python(payload), "created_at": now})
    return event_id


@dataclass(frozen=True, slots=True)
class FirstEvent:
    type: EventType
    aggregate_type: AggregateType
    aggregate_id: uuid.UUID
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenedEvents:
    """First events whose aggregates' streams are open, not yet in the outbox: ``append``
    them later in the same transaction (one statement), so that an event written in
    between, such as ``stock.low``, comes before them in the outbox."""

    rows: list[dict[str, Any]]

    async def append(self, conn: AsyncConnection) -> list[uuid.UUID]:
        await outbox_store.append_opened(conn, self.rows)
        return [r["event_id"] for r in self.rows]


async def open_first_events(conn: AsyncConnection, *, business_id: uuid.UUID,
                            events: list[FirstEvent], now: datetime) -> OpenedEvents:
    """The first events of aggregates created in this transaction: open their streams (one
    statement) and return the events, to append with ``OpenedEvents.append`` (one statement,
    later in the same transaction, or at once)."""
    rows = first_event_rows(business_id=business_id, events=events, now=now)
    await outbox_store.open_streams(conn, rows)
    return OpenedEvents(rows)


def first_event_rows(*, business_id: uuid.UUID, events: list[FirstEvent],
                     now: datetime) -> list[dict[str, Any]]:
    """The outbox rows of ``events``, the first of their aggregates, as relayed (pending)."""
    return [{"event_id": uuid.uuid4(), "business_id": business_id, "type": e.type.value,
             "aggregate_type": e.aggregate_type.value, "aggregate_id": e.aggregate_id,
             "sequence": 1, "payload": to_jsonable_python(e.payload), "created_at": now,
             "status": outbox_store.PENDING, "attempts": 0}
            for e in events]


def stored_event(row: RowMapping) -> StoredEvent:
    return StoredEvent(event_id=row["event_id"], business_id=row["business_id"],
                       type=row["type"], aggregate_type=row["aggregate_type"],
                       aggregate_id=row["aggregate_id"], sequence=row["sequence"],
                       payload=row["payload"], created_at=row["created_at"])
