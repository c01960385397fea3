"""The database handle: one engine, transactions that behave alike on SQLite and PostgreSQL.

SQLite is the embedded, single-process default. Its write transactions start with
``BEGIN IMMEDIATE`` (so a transaction never upgrades from reader to writer and dead-locks) and
are queued on an in-process lock instead of busy-polling the file lock. PostgreSQL runs in
READ COMMITTED; stock is taken with conditional UPDATEs and order rows are locked with
``SELECT ... FOR UPDATE``, so concurrent processes serialise on the rows they share only.
Deadlocks and serialisation failures are retried a few times as a whole transaction.

Lists, figures and exports read through ``read_from_replica``, which a read replica may serve
(``core/db/replica.py``: when it is set and has replayed the business's own writes); every
other read and every write uses the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SqlPoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from orderline.core import json_text, metrics
from orderline.core.db.replica import CURRENT_LSN, ReadReplica, WriteMarks, lsn_number
from orderline.core.event_hub import Written
from orderline.core.log_context import business_id_var

T = TypeVar("T")
log = logging.getLogger(__name__)

# conn.info key: the events a transaction wrote (``Written``: business, aggregate, outbox row),
# announced after COMMIT.
WRITTEN_BUSINESSES_KEY = "outbox_businesses"
_RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
# The server would not give a connection: too_many_connections (the server's or a role's
# limit), cannot_connect_now (starting or shutting down). Nothing ran, so nothing changed.
_BUSY_SQLSTATES = {"53300", "57P03"}
MAX_TX_ATTEMPTS = 5
# The write transaction the running task is inside, if any (see ``Database.write_or_join``).
_WRITING: ContextVar[tuple[Database, AsyncConnection] | None] = ContextVar(
    "orderline_writing", default=None)


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (the sqlite3 module would not).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def is_retryable(error: BaseException) -> bool:
    """Dead-locks, serialisation failures and connections that died under us."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in _RETRYABLE_SQLSTATES


def is_database_busy(error: BaseException) -> bool:
    """The database refused or could not give a connection (its connection limit, the pool's
    wait, a server starting up): the request never reached a transaction, so it changed
    nothing and may simply be retried."""
    if isinstance(error, SqlPoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in _BUSY_SQLSTATES


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False,
                 replica: ReadReplica | None = None, marks: WriteMarks | None = None) -> None:
        self.url = url
        # Lists, figures and exports may read here (see ``read_from_replica``); the marks say
        # how far each business's writes went (none: the strict fence).
        self.replica = replica
        self.marks = marks
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": json_text.dumps,
                                  "json_deserializer": json_text.loads}
        if not self.is_sqlite:
            # No pre-ping (a round trip per checkout): a connection found dead is invalidated
            # and the whole transaction retried by ``run``.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
        self._write_lock: asyncio.Lock | None = None
        # Called after a COMMIT that wrote events, with what it wrote (wakes live streams
        # and the relay in this process; other processes learn of it through NOTIFY).
        self.on_events_committed: Callable[[set[Written]], None] | None = None

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def _lock(self) -> asyncio.Lock:
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        return self._write_lock

    @property
    def writers_waiting(self) -> int:
        """How many writers queue on the SQLite write lock (used by interleaving tests)."""
        lock = self._write_lock
        waiters = getattr(lock, "_waiters", None) if lock is not None else None
        return len(waiters) if waiters else 0

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: commits when the block ends, rolls back if it raises."""
        if self.is_sqlite:
            async with self._lock(), self.engine.connect() as conn:
                await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                conn.info.pop(WRITTEN_BUSINESSES_KEY, None)
                token = _WRITING.set((self, conn))
                try:
                    async with conn.begin():
                        yield conn
                finally:
                    _WRITING.reset(token)
                self._announce(conn)
        else:
            async with self.engine.connect() as conn:
                conn.info.pop(WRITTEN_BUSINESSES_KEY, None)
                async with conn.begin():
                    yield conn
                if self.marks is not None and self.replica is not None:
                    await self._mark_written(conn)
                self._announce(conn)

    @asynccontextmanager
    async def write_or_join(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction of its own; but on SQLite, called inside this task's open
        write transaction, a savepoint of that one: SQLite has one writer, and a second
        transaction would wait for the first forever. (The sandbox provider writes this way
        when the payment saga calls it from inside the relay's transaction.)"""
        joined = _WRITING.get()
        if joined is not None and joined[0] is self and not joined[1].closed \
                and joined[1].in_transaction():
            async with joined[1].begin_nested():
                yield joined[1]
            return
        async with self.write() as conn:
            yield conn

    async def _mark_written(self, conn: AsyncConnection) -> None:
        """Note how far the WAL got for the businesses this committed transaction wrote for
        (the one the request or job acts for, those it wrote events for), so their reads
        from the replica wait for it. Read after COMMIT: the position lies past the commit
        record. The write has committed whatever happens here, so a failure is only logged."""
        written: set[Written] = conn.info.get(WRITTEN_BUSINESSES_KEY) or set()
        businesses = {w.business_id for w in written}
        acting_for = business_id_var.get()
        if acting_for:
            with contextlib.suppress(ValueError):
                businesses.add(uuid.UUID(acting_for))
        if not businesses or self.marks is None:
            return
        try:
            lsn = lsn_number(str(await conn.scalar(CURRENT_LSN)))
            await conn.rollback()
            await self.marks.note(businesses, lsn)
        except Exception:  # the write stands; this business may read a moment-old replica
            log.warning("could not note a write's WAL position for the read replica",
                        exc_info=True)

    def _announce(self, conn: AsyncConnection) -> None:
        written = conn.info.pop(WRITTEN_BUSINESSES_KEY, None)
        if written and self.on_events_committed is not None:
            self.on_events_committed(written)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one read statement (who a key or token is): on PostgreSQL in
        autocommit, so the statement goes alone, without the BEGIN and ROLLBACK round trips
        a transaction adds around it; on SQLite as ``read``."""
        async with self.engine.connect() as conn:
            if not self.is_sqlite:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    async def run_statements(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` whose every statement stands on its own (each is atomic, and none
        needs an earlier one undone if a later one fails: an idempotency key's claim). On
        PostgreSQL in autocommit, so no BEGIN and COMMIT round trips go around them; on
        SQLite as ``run``."""
        if self.is_sqlite:
            return await self.run(work)
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await work(conn)

    async def read_from_replica(self, business_id: uuid.UUID,
                                work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` (a read of this business's lists, figures or exports) on the read
        replica when one is set and has replayed this business's writes; else on the primary.
        A replica that is behind, lagging, down or failing mid-read costs a primary read,
        never an error (the read is run again there)."""
        replica = self.replica
        if replica is None:
            return await self._read(work)
        if replica.resting:
            metrics.replica_read("primary", "unreachable")
            return await self._read(work)
        fence = await self._fence(business_id)
        try:
            async with replica.engine.connect() as conn:
                refused = await replica.caught_up(conn, fence)
                if refused is None:
                    result = await work(conn)
                    metrics.replica_read("replica", "caught_up")
                    return result
        except SqlPoolTimeout:  # every replica connection busy: not a failure of the replica
            refused = "busy"
        except (SQLAlchemyError, OSError, TimeoutError):
            replica.failed()
            log.warning("read replica unreachable or failing; reading from the primary for "
                        "%.0f s", replica.policy.rest_seconds, exc_info=True)
            refused = "unreachable"
        if refused == "lagging":
            log.warning("read replica lags past %.0f s; reading from the primary",
                        replica.policy.max_lag_seconds)
        metrics.replica_read("primary", refused)
        return await self._read(work)

    async def _fence(self, business_id: uuid.UUID) -> int | None:
        """The WAL position the replica must have replayed for this business: its last
        write's (from the marks), or without marks (or marks that do not answer) the primary's
        current position."""
        if self.marks is not None:
            try:
                return await self.marks.latest(business_id)
            except Exception:  # Redis down: the strict fence is always right
                log.warning("write marks unavailable; fencing replica reads at the primary's "
                            "current WAL position", exc_info=True)
        async with self.engine.connect() as conn:
            return lsn_number(str(await conn.scalar(CURRENT_LSN)))

    async def _read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self.read() as conn:
            return await work(conn)

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, retrying it whole on deadlock."""
        for attempt in range(1, MAX_TX_ATTEMPTS + 1):
            try:
                async with self.write() as conn:
                    return await work(conn)
            except DBAPIError as error:
                if not is_retryable(error) or attempt == MAX_TX_ATTEMPTS:
                    raise
                log.info("transaction retried after %s (attempt %d)", error.orig, attempt)
                await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.replica is not None:
            await self.replica.dispose()
        if self.marks is not None:
            await self.marks.close()
