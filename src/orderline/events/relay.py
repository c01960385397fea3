"""The outbox relay: takes committed events and runs every subscribed handler on each, in
each aggregate's order, exactly once per handler.

One transaction per event: each handler runs in a savepoint after writing its inbox row
(a handler that already ran is skipped), then the event is marked done, only if this worker
still holds its lease. A crash anywhere rolls the transaction back and the event is taken
again after the lease expires; the inbox makes the second run a no-op for handlers that had
committed. A handler that raises is undone alone; the event is retried later with backoff
(later events of the same aggregate wait), and after the last try it is marked dead.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import random
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core import metrics
from orderline.core.log_context import log_context
from orderline.core.retry import RetrySchedule
from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.event_types import AggregateType
from orderline.events.handler import Handler, HandlerContext
from orderline.events.outbox import stored_event

log = logging.getLogger("orderline.relay")

HANDLER_RETRIES = RetrySchedule(delays=(1, 5, 30, 120, 600, 1800, 3600, 7200))


class LeaseLost(Exception):
    """Another worker took this event over (our lease ran out); our work is rolled back."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Relay:
    runtime: Runtime
    handlers: Sequence[Handler]  # the worker's are orderline.worker.handlers.default_handlers
    owner: str = field(default_factory=worker_name)
    lease_seconds: float = 60.0
    max_aggregates: int = 100
    concurrency: int = 8
    retries: RetrySchedule = HANDLER_RETRIES

    async def relay_once(self) -> int:
        """Claim what is pending and process it; returns how many events were finished."""
        now = self.runtime.clock.now()
        until = now + timedelta(seconds=self.lease_seconds)

        async def claim(conn: AsyncConnection) -> list[RowMapping]:
            return await outbox_store.claim(conn, owner=self.owner, now=now, lease_until=until,
                                            max_aggregates=self.max_aggregates)

        claimed = await self.runtime.db.run(claim)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one_aggregate(events: list[RowMapping]) -> int:
            async with gate:
                return await self._process_aggregate(events)

        groups = [list(g) for _, g in itertools.groupby(claimed, key=lambda r: r["aggregate_id"])]
        return sum(await asyncio.gather(*(one_aggregate(g) for g in groups)))

    async def relay_until_idle(self, *, max_rounds: int = 1000) -> int:
        """Relay until nothing is due (tests, ``worker --once``); returns events finished."""
        total = 0
        for _ in range(max_rounds):
            done = await self.relay_once()
            total += done
            if done == 0:
                break
        return total

    async def _process_aggregate(self, events: list[RowMapping]) -> int:
        finished = 0
        for position, event in enumerate(events):
            try:
                ok = await self._process(event)
            except LeaseLost:
                log.warning("relay lease lost; another worker has this aggregate",
                            extra={"event_id": str(event["event_id"])})
                return finished
            except Exception:
                log.exception("relay could not process an event; it stays pending",
                              extra={"event_id": str(event["event_id"])})
                ok = False
            if not ok:  # keep the aggregate's order: the rest waits for this one
                await self._release([e["id"] for e in events[position + 1:]])
                return finished
            finished += 1
        return finished

    async def _release(self, row_ids: list[int]) -> None:
        async def work(conn: AsyncConnection) -> None:
            await outbox_store.release_leases(conn, owner=self.owner, row_ids=row_ids)

        await self.runtime.db.run(work)

    async def _process(self, row: RowMapping) -> bool:
        """One event in one transaction. Handlers first run together, without savepoints
        (the common case, and fewer round trips); if one raises, that transaction is rolled
        back and the event runs again with each other handler in a savepoint of its own, so
        their effects are kept and only the failing one is retried later (it is not run a
        second time in this round)."""
        event = stored_event(row)
        wanted = [h for h in self.handlers or () if h.wants(event.type)]

        async def apply_once(conn: AsyncConnection, handler: Handler, now: datetime) -> None:
            """Run ``handler`` unless its inbox says it already did; a failure is logged."""
            try:
                if await outbox_store.record_in_inbox(conn, handler=handler.name, event=row,
                                                      now=now):
                    await handler.apply(HandlerContext(self.runtime, now), conn, event)
            except Exception:
                log.warning("event handler failed", exc_info=True,
                            extra={"handler": handler.name, "event_id": str(event.event_id),
                                   "business_id": str(event.business_id)})
                raise

        async def all_at_once(conn: AsyncConnection) -> bool:
            now = self.runtime.clock.now()
            for handler in wanted:
                try:
                    await apply_once(conn, handler, now)
                except Exception as error:
                    raise _HandlerFailed(handler.name, f"{handler.name}: {error!r}") from error
            return await self._finish(conn, row, now)

        async def each_alone(conn: AsyncConnection, *, failed: _HandlerFailed) -> bool:
            now = self.runtime.clock.now()
            failures: list[str] = [failed.error]
            for handler in wanted:
                if handler.name == failed.handler:
                    continue
                try:
                    async with conn.begin_nested():
                        await apply_once(conn, handler, now)
                except Exception as error:
                    failures.append(f"{handler.name}: {error!r}")
            if failures:
                delay = self.retries.next_delay(row["attempts"] + 1, random.uniform(-1, 1))
                retry_at = None if delay is None else now + timedelta(seconds=delay)
                await outbox_store.mark_failed(conn, row["id"], owner=self.owner,
                                               error="; ".join(failures), retry_at=retry_at)
                if retry_at is None:
                    log.error("event dead after its last try",
                              extra={"event_id": str(event.event_id), "errors": failures})
                return False
            return await self._finish(conn, row, now)

        order_id = event.aggregate_id if event.aggregate_type == AggregateType.ORDER else None
        with log_context(business_id=event.business_id, order_id=order_id):
            try:
                done = await self.runtime.db.run(all_at_once)
            except _HandlerFailed as failed:
                done = await self.runtime.db.run(functools.partial(each_alone, failed=failed))
        if done:
            metrics.event_relayed(event.type)  # committed: counted only now
        return done

    async def _finish(self, conn: AsyncConnection, row: RowMapping, now: datetime) -> bool:
        if not await outbox_store.mark_done(conn, row["id"], owner=self.owner, now=now):
            raise LeaseLost(str(row["event_id"]))
        await self.runtime.checkpoints.reach("relay.event_done")
        return True


class _HandlerFailed(Exception):
    """A handler raised while all ran together: run the others again, each in a savepoint."""

    def __init__(self, handler: str, error: str) -> None:
        super().__init__(error)
        self.handler = handler
        self.error = error
