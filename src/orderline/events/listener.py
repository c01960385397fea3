"""PostgreSQL LISTEN for outbox inserts, so every process hears of events another one commits.

A trigger on ``outbox_events`` calls ``pg_notify('orderline_outbox', '<business_id>
<aggregate_id> <row id>')``; PostgreSQL delivers it only when the writing transaction commits.
The listener holds one dedicated asyncpg connection (a pooled SQLAlchemy connection would be
handed to other work), and turns each notification into a wake-up of that business's live
streams and of the relay in this process. The payload's aggregate and row id go along: an
order's stream wakes only for its own order, and the business's shared reader knows which row
to look for.

Notifications are hints, never the data: whoever is woken reads the outbox itself. So when the
connection drops, notifications sent meanwhile are lost, and after reconnecting the listener
wakes everyone once to re-read. A connection that dies silently (a network partition sends no
FIN) is found by a small query every ``check_every`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping

import asyncpg  # type: ignore[import-untyped]  # no type information shipped

from orderline.core.config import driver_free_url
from orderline.core.event_hub import EventHub, Written

CHANNEL = "orderline_outbox"
log = logging.getLogger(__name__)


class OutboxListener:
    def __init__(self, url: str, *, on_businesses: Callable[[set[uuid.UUID]], None],
                 on_listening: Callable[[], None],
                 on_events: Callable[[Written], None] | None = None,
                 also: Mapping[str, Callable[[str], None]] | None = None,
                 check_every: float = 10.0,
                 first_backoff: float = 0.1, max_backoff: float = 5.0,
                 application_name: str = "orderline-listener") -> None:
        """``url`` is a PostgreSQL URL (a SQLAlchemy driver suffix is dropped).
        ``on_businesses`` gets the business of each notification; ``on_listening`` is called
        each time LISTEN is (re)established, since notifications may have been missed.
        With ``on_events``, each notification goes there instead, with its aggregate and
        outbox row id. ``also`` listens on more channels on the same connection, each
        notification's payload going to its channel's handler."""
        self._url = driver_free_url(url)
        self._on_businesses = on_businesses
        self._on_listening = on_listening
        self._on_events = on_events
        self._also = dict(also or {})
        self._check_every = check_every
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._application_name = application_name
        self._backend_pid: int | None = None
        self.listening = asyncio.Event()  # set while LISTEN is active (tests wait on it)
        self.connections = 0  # how many times LISTEN was established

    @property
    def backend_pid(self) -> int | None:
        """The server process of the current LISTEN connection, if any."""
        return self._backend_pid

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, reconnecting with backoff whenever the connection
        fails; returns once the connection is closed."""
        backoff = self._first_backoff
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(
                    self._url, timeout=5,
                    server_settings={"application_name": self._application_name})
            except (OSError, TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError) as error:
                log.warning("outbox listener cannot connect; retrying in %.1fs: %s",
                            backoff, error)
            else:
                try:
                    await self._listen(conn, stop)
                    backoff = self._first_backoff  # it worked until the connection was lost
                except Exception as error:  # a listener must outlive any one connection
                    log.warning("outbox listener connection lost; reconnecting: %s", error)
                finally:
                    self.listening.clear()
                    self._backend_pid = None
                    await _close(conn)
            if not stop.is_set():
                await _wait(stop, backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        for channel, handler in self._also.items():
            await conn.add_listener(channel, _payload_to(handler))
        self._backend_pid = conn.get_server_pid()
        self.connections += 1
        self.listening.set()
        self._on_listening()
        while not stop.is_set():
            if await _wait_either(stop, lost, self._check_every):
                if lost.is_set():
                    raise ConnectionError("the server closed the LISTEN connection")
                return
            await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=5)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        parts = payload.split(" ")
        try:
            business_id = uuid.UUID(parts[0])
            aggregate_id = uuid.UUID(parts[1]) if len(parts) > 1 else None
            row_id = int(parts[2]) if len(parts) > 2 else None
        except ValueError:
            log.warning("outbox listener ignored a malformed notification: %r", payload)
            return
        if self._on_events is None:
            self._on_businesses({business_id})
        else:
            self._on_events(Written(business_id, aggregate_id, row_id))


def hub_listener(url: str, hub: EventHub, *,
                 also: Mapping[str, Callable[[str], None]] | None = None) -> OutboxListener:
    """A listener that wakes ``hub``'s subscribers (live streams, the relay); ``also`` as in
    ``OutboxListener``."""
    return OutboxListener(url, on_businesses=hub.signal, on_listening=hub.signal_all,
                          on_events=lambda written: hub.announce((written,)), also=also)


def _payload_to(handler: Callable[[str], None]) -> Callable[[object, int, str, str], None]:
    def notified(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        handler(payload)
    return notified


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=2)
    except Exception:  # already broken: drop the socket without a goodbye
        conn.terminate()
    except BaseException:  # cancelled: the same, then let the cancellation go on
        conn.terminate()
        raise


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_either(first: asyncio.Event, second: asyncio.Event, seconds: float) -> bool:
    """True once either event is set, False after ``seconds``."""
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    return bool(done)
