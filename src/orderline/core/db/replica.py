"""A PostgreSQL read replica for lists, figures and exports, and the fence that lets a business
read its own writes from it.

With ``ORDERLINE_DATABASE_READ_URL`` set, ``Database.read_from_replica(business_id, work)``
runs ``work`` on a connection to the replica when the replica has replayed everything that
business is known to have written; else (behind after a short wait, lagging past a bound, down
or failing) on the primary, logged and counted (``orderline_replica_reads``), never an error.
Without it (and always on SQLite) those reads go to the primary as every other read does.

Read-your-writes is kept per business (an API key, a staff member, the worker acting for it
all count as that business):

- After a write transaction commits, its business's WAL position is noted: the primary's
  ``pg_current_wal_insert_lsn()`` read on the same connection right after COMMIT, so it lies
  past the commit record (read before COMMIT it would not). The business is the one the
  request or job acts for (``log_context.business_id_var``) and every business the
  transaction wrote outbox events for.
- The marks live in Redis when ``ORDERLINE_REDIS_URL`` is set (``RedisWriteMarks``: the highest
  position per business, kept by a Lua compare-and-set, so every server process sees every
  other's writes), and in this process's memory too.
- Without Redis there is no place every process can see, so no marks are kept and the fence
  is strict: the primary's current WAL position, asked for on each replica read. A business
  then reads every committed write, its own included, at the cost of one small query to the
  primary per read, and of waits (or primary reads) while the replica trails under writes.
- A read asks the replica ``pg_last_wal_replay_lsn()`` on the connection it then reads with
  (replay only moves forward, so the read sees at least that), and waits up to
  ``replica_wait_seconds`` for it to pass the fence.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from orderline.core import json_text

log = logging.getLogger(__name__)

CURRENT_LSN = text("SELECT pg_current_wal_insert_lsn()::text")
# Where the replica is: the WAL it replayed, and how old its replay is when WAL it received
# waits unreplayed (0 when it replayed all it received; NULL on a server not in recovery).
_REPLICA_POSITION = text(
    "SELECT pg_last_wal_replay_lsn()::text AS replayed, "
    "CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() "
    "THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag")


def lsn_number(lsn: str) -> int:
    """A PostgreSQL LSN (``16/B374D848``) as one integer, so positions compare as numbers."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class WriteMarks(Protocol):
    """The highest WAL position each business's writes reached, as far as readers can know."""

    async def note(self, business_ids: Iterable[uuid.UUID], lsn: int) -> None: ...

    async def latest(self, business_id: uuid.UUID) -> int | None: ...

    async def close(self) -> None: ...


class MemoryWriteMarks:
    """Marks in this process only: right for one process (and tests); several processes need
    ``RedisWriteMarks``, or no marks at all (the strict fence)."""

    def __init__(self) -> None:
        self._marks: dict[uuid.UUID, int] = {}

    async def note(self, business_ids: Iterable[uuid.UUID], lsn: int) -> None:
        for business_id in business_ids:
            self._marks[business_id] = max(lsn, self._marks.get(business_id, 0))

    async def latest(self, business_id: uuid.UUID) -> int | None:
        return self._marks.get(business_id)

    async def close(self) -> None:
        return None


# Keeps the higher of the stored and the given position (fixed-width hex compares as text;
# Lua's numbers are doubles, too narrow for a 64-bit LSN).
_NOTE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if (not current) or ARGV[1] > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class RedisWriteMarks:
    """Marks shared by every process on one Redis, and kept in this process's memory as well
    (a read after this process's own write needs no answer from Redis to know it must wait).
    A mark lasts a day past a business's last write: far longer than any replica the reads
    accept (``replica_max_lag_seconds``) may trail."""

    def __init__(self, url: str, *, prefix: str = "orderline:written-lsn",
                 ttl_seconds: int = 86_400) -> None:
        self._client: Redis = Redis.from_url(url, socket_timeout=1.0,
                                             socket_connect_timeout=1.0)
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._local = MemoryWriteMarks()

    async def note(self, business_ids: Iterable[uuid.UUID], lsn: int) -> None:
        ids = list(business_ids)
        await self._local.note(ids, lsn)
        for business_id in ids:
            await self._client.eval(_NOTE_SCRIPT, 1,  # type: ignore[misc]  # redis's typing
                                    f"{self._prefix}:{business_id}", f"{lsn:016X}", self._ttl)

    async def latest(self, business_id: uuid.UUID) -> int | None:
        local = await self._local.latest(business_id)
        stored = await self._client.get(f"{self._prefix}:{business_id}")
        shared = int(stored, 16) if stored else None
        known = [mark for mark in (local, shared) if mark is not None]
        return max(known) if known else None

    async def close(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, slots=True)
class ReplicaPolicy:
    wait_seconds: float = 0.05  # for the replica to replay the business's last write
    max_lag_seconds: float = 30.0  # older replay than this: read the primary
    rest_seconds: float = 5.0  # after the replica failed, leave it alone this long
    poll_seconds: float = 0.005


class ReadReplica:
    """The replica's engine, what reads accept of it, and whether it failed a moment ago."""

    def __init__(self, url: str, *, pool_size: int = 10,
                 policy: ReplicaPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or ReplicaPolicy()
        # A replica that does not answer must not hold a read up for long: the primary can.
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
            pool_timeout=2, connect_args={"timeout": 2}, json_serializer=json_text.dumps,
            json_deserializer=json_text.loads)
        self._resting_until = 0.0

    @property
    def resting(self) -> bool:
        return time.monotonic() < self._resting_until

    def failed(self) -> None:
        self._resting_until = time.monotonic() + self.policy.rest_seconds

    async def caught_up(self, conn: AsyncConnection, fence: int | None) -> str | None:
        """None when the replica may serve a read fenced at ``fence`` on ``conn``, else why
        not (``lagging``, ``behind``) once ``wait_seconds`` have passed."""
        deadline = time.monotonic() + self.policy.wait_seconds
        while True:
            row: Any = (await conn.execute(_REPLICA_POSITION)).one()
            if row.replayed is None:  # not in recovery: a primary (promoted) is current
                return None
            if float(row.lag or 0) > self.policy.max_lag_seconds:
                return "lagging"
            if fence is None or lsn_number(row.replayed) >= fence:
                return None
            if time.monotonic() >= deadline:
                return "behind"
            await asyncio.sleep(self.policy.poll_seconds)

    async def dispose(self) -> None:
        await self.engine.dispose()
