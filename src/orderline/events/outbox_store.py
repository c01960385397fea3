"""SQL of the transactional outbox: appending events, claiming them for the relay, and reading
them back for live streams and replays.

Claiming keeps each aggregate's events in order across any number of relay workers: a worker
claims an aggregate by locking the row of its oldest pending event (its *head*, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait on each other) and then leases
all its pending events. Another worker sees the head leased and leaves the whole aggregate
alone until the lease ends; a dead worker's lease simply runs out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.engine import WRITTEN_BUSINESSES_KEY
from orderline.core.db.tables import table_of
from orderline.core.event_hub import Written
from orderline.events.tables import EventStream, HandlerInbox, OutboxEvent

outbox = table_of(OutboxEvent)
streams = table_of(EventStream)
inbox = table_of(HandlerInbox)

PENDING, DONE, DEAD = "pending", "done", "dead"


async def next_sequence(conn: AsyncConnection, aggregate_id: uuid.UUID, *,
                        new_aggregate: bool) -> int:
    """The aggregate's next event number. The upsert locks the aggregate's counter row until
    COMMIT, so two transactions can never number (or commit) its events out of order."""
    if new_aggregate:
        await conn.execute(insert(streams).values(aggregate_id=aggregate_id, last_sequence=1))
        return 1
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(streams).values(aggregate_id=aggregate_id, last_sequence=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[streams.c.aggregate_id],
        set_={"last_sequence": streams.c.last_sequence + 1},
    ).returning(streams.c.last_sequence)
    return int((await conn.execute(stmt)).scalar_one())


async def append(conn: AsyncConnection, values: dict[str, Any]) -> int:
    """Insert one event row (``values`` has everything but the relay state); returns its id."""
    stmt = insert(outbox).values(**values, status=PENDING, attempts=0).returning(outbox.c.id)
    event_row_id = int((await conn.execute(stmt)).scalar_one())
    conn.info.setdefault(WRITTEN_BUSINESSES_KEY, set()).add(
        Written(values["business_id"], values["aggregate_id"], event_row_id))
    return event_row_id


async def open_streams(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """The counters of new aggregates whose first events are ``rows`` (one statement)."""
    await conn.execute(_INSERT_STREAMS, [{"aggregate_id": r["aggregate_id"],
                                          "last_sequence": 1} for r in rows])


async def append_opened(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """The first events of aggregates whose streams ``open_streams`` opened (one statement)."""
    await conn.execute(_INSERT_EVENTS, [{**r, "status": PENDING, "attempts": 0} for r in rows])
    note_written(conn, rows)


def note_written(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Announce these events (rows as for ``append``) once ``conn``'s transaction commits."""
    conn.info.setdefault(WRITTEN_BUSINESSES_KEY, set()).update(
        Written(r["business_id"], r["aggregate_id"]) for r in rows)


# Built once: an order's placing runs them every time.
_INSERT_STREAMS = insert(streams)
_INSERT_EVENTS = insert(outbox)


async def claim(conn: AsyncConnection, *, owner: str, now: datetime, lease_until: datetime,
                max_aggregates: int) -> list[RowMapping]:
    """Lease the pending events of up to ``max_aggregates`` aggregates nobody is working on;
    returns them ordered by aggregate, then sequence."""
    earlier = outbox.alias("earlier")
    heads = (
        select(outbox.c.id, outbox.c.aggregate_id)
        .where(outbox.c.status == PENDING,
               or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
               or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
               ~exists().where(earlier.c.aggregate_id == outbox.c.aggregate_id,
                               earlier.c.status == PENDING,
                               earlier.c.sequence < outbox.c.sequence))
        .order_by(outbox.c.id)
        .limit(max_aggregates)
    )
    if conn.dialect.name == "postgresql":
        heads = heads.with_for_update(skip_locked=True, of=outbox)
    aggregate_ids = [row.aggregate_id for row in await conn.execute(heads)]
    if not aggregate_ids:
        return []
    stmt = (update(outbox)
            .where(outbox.c.status == PENDING, outbox.c.aggregate_id.in_(aggregate_ids))
            .values(lease_owner=owner, lease_until=lease_until)
            .returning(*outbox.c))
    rows = list((await conn.execute(stmt)).mappings())
    return sorted(rows, key=lambda r: (str(r["aggregate_id"]), r["sequence"]))


# The relay runs these once or more per event: built once, executed with parameters.
_MARK_DONE = (update(outbox)
              .where(outbox.c.id == bindparam("row_id"), outbox.c.status == PENDING,
                     outbox.c.lease_owner == bindparam("owner"))
              .values(status=DONE, relayed_at=bindparam("now", type_=outbox.c.relayed_at.type),
                      lease_owner=None, lease_until=None, last_error=None)
              .returning(outbox.c.id))
_INBOX_INSERT = {"postgresql": postgresql.insert(inbox).on_conflict_do_nothing(),
                 "sqlite": sqlite.insert(inbox).on_conflict_do_nothing()}


async def mark_done(conn: AsyncConnection, event_row_id: int, *, owner: str,
                    now: datetime) -> bool:
    """Finish an event, only if this worker still holds its lease (else False: another
    worker took over, and this transaction must roll back)."""
    result = await conn.execute(_MARK_DONE, {"row_id": event_row_id, "owner": owner,
                                             "now": now})
    return result.first() is not None


async def mark_failed(conn: AsyncConnection, event_row_id: int, *, owner: str, error: str,
                      retry_at: datetime | None) -> None:
    """Record a failed try; ``retry_at`` None means the event is dead (attempts used up)."""
    values: dict[str, Any] = {"attempts": outbox.c.attempts + 1, "last_error": error[:2000],
                              "lease_owner": None, "lease_until": None,
                              "next_attempt_at": retry_at}
    if retry_at is None:
        values["status"] = DEAD
    await conn.execute(update(outbox)
                       .where(outbox.c.id == event_row_id, outbox.c.status == PENDING,
                              outbox.c.lease_owner == owner)
                       .values(**values))


async def release_leases(conn: AsyncConnection, *, owner: str, row_ids: Sequence[int]) -> None:
    """Give back leases a worker will not use (it stops, or an aggregate stalled)."""
    if row_ids:
        await conn.execute(update(outbox)
                           .where(outbox.c.id.in_(row_ids), outbox.c.lease_owner == owner,
                                  outbox.c.status == PENDING)
                           .values(lease_owner=None, lease_until=None))


async def record_in_inbox(conn: AsyncConnection, *, handler: str, event: RowMapping,
                          now: datetime) -> bool:
    """True the first time ``handler`` sees ``event``; False if it was applied before.

    A concurrent duplicate waits on the unique key until the first commits (then skips) or
    rolls back (then applies)."""
    result = await conn.execute(_INBOX_INSERT[conn.dialect.name], {
        "handler": handler, "event_id": event["event_id"], "business_id": event["business_id"],
        "aggregate_id": event["aggregate_id"], "sequence": event["sequence"],
        "processed_at": now})
    return bool(result.rowcount)


async def retry_dead(conn: AsyncConnection, *, event_ids: Sequence[uuid.UUID] | None,
                     now: datetime) -> int:
    """Put dead events back in the queue (all of them when ``event_ids`` is None)."""
    stmt = update(outbox).where(outbox.c.status == DEAD)
    if event_ids is not None:
        stmt = stmt.where(outbox.c.event_id.in_(event_ids))
    result = await conn.execute(stmt.values(status=PENDING, attempts=0, next_attempt_at=now,
                                            last_error=None))
    return int(result.rowcount)


async def take_turn(conn: AsyncConnection, job: str) -> None:
    """Wait until no other transaction is doing ``job`` (until COMMIT; PostgreSQL only:
    SQLite's single writer already takes turns)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(job))))


async def last_event_at(conn: AsyncConnection, aggregate_id: uuid.UUID,
                        event_type: str) -> datetime | None:
    stmt = select(func.max(outbox.c.created_at)).where(outbox.c.aggregate_id == aggregate_id,
                                                       outbox.c.type == event_type)
    latest: datetime | None = (await conn.execute(stmt)).scalar_one()  # typed by the column
    return latest


async def backlog(conn: AsyncConnection, business_id: uuid.UUID | None = None
                  ) -> dict[str, Any]:
    """Pending and dead counts and the oldest pending event's creation time, of every
    business or of one."""
    stmt = select(outbox.c.status, func.count(), func.min(outbox.c.created_at)).where(
        outbox.c.status.in_([PENDING, DEAD])).group_by(outbox.c.status)
    if business_id is not None:
        stmt = stmt.where(outbox.c.business_id == business_id)
    figures: dict[str, Any] = {"pending": 0, "dead": 0, "oldest_pending_at": None}
    for status, count, oldest in await conn.execute(stmt):
        figures[status] = int(count)
        if status == PENDING:
            figures["oldest_pending_at"] = oldest
    return figures


async def prune(conn: AsyncConnection, *, older_than: datetime, limit: int = 5000) -> int:
    """Delete relayed events older than the retention window (a batch at a time)."""
    victims = (select(outbox.c.id).where(outbox.c.status == DONE,
                                         outbox.c.created_at < older_than)
               .order_by(outbox.c.id).limit(limit).scalar_subquery())
    result = await conn.execute(delete(outbox).where(outbox.c.id.in_(victims)))
    return int(result.rowcount)


async def prune_inbox(conn: AsyncConnection, *, older_than: datetime, limit: int = 5000) -> int:
    """Forget handler runs older than the retention window, unless their event could still
    be relayed (pending or dead): the inbox only has to outlive redelivery."""
    live = select(outbox.c.id).where(outbox.c.event_id == inbox.c.event_id,
                                     outbox.c.status != DONE)
    victims = (select(inbox.c.id).where(inbox.c.processed_at < older_than, ~live.exists())
               .order_by(inbox.c.id).limit(limit).scalar_subquery())
    result = await conn.execute(delete(inbox).where(inbox.c.id.in_(victims)))
    return int(result.rowcount)


def _committed_before_running(conn: AsyncConnection) -> Any:
    """Only events whose transaction is older than every running one: no event with a
    smaller ``(txid, id)`` can still appear after these are read (PostgreSQL; SQLite commits
    one writer at a time, so every visible row is final)."""
    if conn.dialect.name != "postgresql":
        return None
    return outbox.c.txid < literal_column(
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


async def business_events_after(conn: AsyncConnection, *, business_id: uuid.UUID,
                                after: tuple[int, int] | None, types: Sequence[str] | None,
                                limit: int) -> list[RowMapping]:
    """A business's events in commit-safe order after the ``(txid, id)`` position ``after``."""
    conditions: list[Any] = [outbox.c.business_id == business_id]
    settled = _committed_before_running(conn)
    if settled is not None:
        conditions.append(settled)
    if after is not None:
        txid, row_id = after
        conditions.append(or_(outbox.c.txid > txid,
                              and_(outbox.c.txid == txid, outbox.c.id > row_id)))
    if types:
        conditions.append(outbox.c.type.in_(types))
    stmt = (select(outbox.c.id, outbox.c.txid, outbox.c.event_id, outbox.c.business_id,
                   outbox.c.type,
                   outbox.c.aggregate_type, outbox.c.aggregate_id, outbox.c.sequence,
                   outbox.c.payload, outbox.c.created_at)
            .where(*conditions).order_by(outbox.c.txid, outbox.c.id).limit(limit))
    return list((await conn.execute(stmt)).mappings())


async def latest_position(conn: AsyncConnection, business_id: uuid.UUID) -> tuple[int, int]:
    """Where a new live stream starts: after everything already committed and settled."""
    conditions: list[Any] = [outbox.c.business_id == business_id]
    settled = _committed_before_running(conn)
    if settled is not None:
        conditions.append(settled)
    stmt = (select(outbox.c.txid, outbox.c.id).where(*conditions)
            .order_by(outbox.c.txid.desc(), outbox.c.id.desc()).limit(1))
    row = (await conn.execute(stmt)).first()
    return (int(row.txid), int(row.id)) if row else (0, 0)


async def aggregate_events_after(conn: AsyncConnection, *, business_id: uuid.UUID,
                                 aggregate_id: uuid.UUID, after_sequence: int,
                                 limit: int) -> list[RowMapping]:
    """One aggregate's events after ``after_sequence``, in sequence order (exact: an
    aggregate's events commit in sequence order)."""
    stmt = (select(outbox.c.id, outbox.c.event_id, outbox.c.business_id, outbox.c.type,
                   outbox.c.aggregate_type, outbox.c.aggregate_id, outbox.c.sequence,
                   outbox.c.payload, outbox.c.created_at)
            .where(outbox.c.business_id == business_id, outbox.c.aggregate_id == aggregate_id,
                   outbox.c.sequence > after_sequence)
            .order_by(outbox.c.sequence).limit(limit))
    return list((await conn.execute(stmt)).mappings())


async def events_of_aggregate(conn: AsyncConnection,
                              aggregate_id: uuid.UUID) -> list[RowMapping]:
    stmt = select(outbox).where(outbox.c.aggregate_id == aggregate_id).order_by(
        outbox.c.sequence)
    return list((await conn.execute(stmt)).mappings())


async def unfinished_of_type(conn: AsyncConnection, event_type: str,
                             business_id: uuid.UUID | None = None) -> list[RowMapping]:
    """Events of one type not relayed yet (pending, perhaps failing) or given up (dead):
    event_id, aggregate_id, status, attempts, last_error; oldest first."""
    stmt = (select(outbox.c.event_id, outbox.c.aggregate_id, outbox.c.status,
                   outbox.c.attempts, outbox.c.last_error)
            .where(outbox.c.type == event_type, outbox.c.status.in_([PENDING, DEAD]))
            .order_by(outbox.c.id))
    if business_id is not None:
        stmt = stmt.where(outbox.c.business_id == business_id)
    return list((await conn.execute(stmt)).mappings())
