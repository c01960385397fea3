"""One outbox reader per business and process, shared by that process's business streams.

A process may hold hundreds of streams of one business (every open verification queue, every
console page). Rather than each reading the outbox when woken, they *follow* the business's
``BusinessTail``: one task that reads the business's new events (all types) once per wake-up,
from its own position ``head``, and hands each follower the events past the follower's own
position that its types let through. Each event is rendered to its SSE text once.

Invariants (positions are ``(txid, id)`` pairs, compared as tuples):

- the tail has read every settled event of the business up to ``head`` (a read returns every
  settled event after ``head`` up to the batch size, and ``head`` moves to the last one);
- a follower's ``cursor``: every event of its types up to it has been sent or is in its buffer.

A follower *in step* has ``cursor >= head`` when the tail starts a read, so the read covers
everything it lacks. A follower that is behind (it resumed from an old ``Last-Event-ID``, joined
after the tail read further, or its client was too slow and its buffer filled) reads the outbox
itself, as before, until a read that is not full: then it has everything of its types up to the
head it saw before that read, and falls in step again. Waking: the tail ``watch``es the hub;
when the announcements name rows it has already read, it does not read again; when an
announced row is not there yet (an older transaction still runs, PostgreSQL) it re-reads after
0.05, 0.1, then every 0.2 s until the row is read (it is committed, so it comes once the older
transactions end; after 30 s of that it leaves the row to the poll); when a signal named no row
and the read found nothing, it re-reads after 0.05, 0.1, ... up to ~1.5 s, then falls back to the
poll. A failed read ends every follower's stream with the error (clients reconnect with
``Last-Event-ID``), and the next follower starts a new tail.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import RowMapping

from orderline.core.runtime import Part, Runtime
from orderline.events import outbox_store
from orderline.events.outbox import stored_event

BATCH = 100
SETTLE_FIRST, SETTLE_LAST = 0.05, 0.2  # re-reads for an announced row not readable yet
SETTLE_UNNAMED = 1.0  # how long a signal that named no row is re-read for
SETTLE_GIVE_UP = 30.0  # seconds of re-reads for announced rows before leaving them to the poll
MAX_BUFFERED = 1000  # events waiting for a slow client before it reads for itself instead
_REMEMBERED = 4096  # row ids the tail remembers having read (to skip needless re-reads)

Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event as a stream sends it: SSE ``id``, ``event`` and ``data`` (the envelope)."""

    id: str
    type: str
    data: str


def encode_position(position: Position) -> str:
    txid, row_id = position
    return f"{txid}-{row_id}"


def live_event(row: RowMapping, event_id: str) -> LiveEvent:
    envelope: dict[str, Any] = stored_event(row).envelope()
    return LiveEvent(id=event_id, type=row["type"],
                     data=json.dumps(envelope, separators=(",", ":"), ensure_ascii=False))


def position_of(row: RowMapping) -> Position:
    return int(row["txid"]), int(row["id"])


@dataclass(eq=False)
class Follower:
    """One business stream following a tail."""

    types: frozenset[str]
    cursor: Position
    in_step: bool = False
    buffer: deque[LiveEvent] = field(default_factory=deque)
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None


class BusinessTail:
    def __init__(self, runtime: Runtime, business_id: uuid.UUID, head: Position) -> None:
        self._runtime = runtime
        self.business_id = business_id
        self.head = head
        self.followers: set[Follower] = set()
        self.reads = 0  # outbox reads so far (tests count them) ...
        self.empty_reads = 0  # ... and those that found nothing (settle re-reads, polls)
        self.loop = asyncio.get_running_loop()
        self.task: asyncio.Task[None] | None = None
        self._read_ids: deque[int] = deque(maxlen=_REMEMBERED)
        self._read_set: set[int] = set()

    def start(self, on_end: Callable[[BusinessTail], None]) -> None:
        self.task = asyncio.create_task(self._run(), name=f"live tail {self.business_id}")
        self.task.add_done_callback(lambda _task: on_end(self))

    async def _run(self) -> None:
        hub = self._runtime.hub
        watch = hub.watch(self.business_id)
        poll = self._runtime.settings.live_poll_seconds
        settle = not self._runtime.db.is_sqlite
        try:
            awaiting: set[int] = set()  # announced rows not read yet
            unnamed = False  # a signal named no row since the last read
            recheck = 0.0
            waited = 0.0  # seconds spent re-reading for the rows awaited now
            while True:
                announced, unnamed_now = watch.take()
                unnamed = unnamed or unnamed_now
                awaiting |= announced - self._read_set
                rows = await self._read()
                unnamed_read, unnamed = unnamed, False
                for row in rows:
                    awaiting.discard(int(row["id"]))
                if len(rows) >= BATCH:
                    continue
                if settle and awaiting and waited < SETTLE_GIVE_UP:
                    # An announced row is committed, so it will be readable once the older
                    # transactions still running end: keep re-reading, at most every
                    # SETTLE_LAST, rather than leave it to the poll (and, should the row never
                    # come, as one read long ago and forgotten would not, stop after a while).
                    recheck = min(SETTLE_LAST, SETTLE_FIRST if not recheck else recheck * 2)
                    waited += recheck
                elif settle and unnamed_read and not rows:
                    recheck = SETTLE_FIRST if not recheck else recheck * 2
                    if recheck > SETTLE_UNNAMED:  # a signal that named no row: the poll goes on
                        recheck = 0.0
                else:
                    recheck, awaiting, waited = 0.0, set(), 0.0
                while True:  # wait until a read is worth it
                    try:
                        async with asyncio.timeout(recheck or poll):
                            await watch.woken.wait()
                    except TimeoutError:
                        break
                    announced, unnamed_now = watch.take()
                    unnamed = unnamed or unnamed_now
                    awaiting |= announced - self._read_set
                    if unnamed or awaiting:
                        break
        except Exception as error:  # the followers' streams end with it; clients reconnect
            for follower in self.followers:
                follower.error = error
                follower.woken.set()
        finally:
            hub.unwatch(self.business_id, watch)

    async def _read(self) -> list[RowMapping]:
        start = self.head
        async with self._runtime.db.read() as conn:
            rows = await outbox_store.business_events_after(
                conn, business_id=self.business_id, after=start, types=None, limit=BATCH)
        self.reads += 1
        if rows:
            self._hand_out(start, rows)
        else:
            self.empty_reads += 1
        return rows

    def _hand_out(self, start: Position, rows: list[RowMapping]) -> None:
        """Give each follower in step the events past its cursor (no await in here: a
        follower's state never changes halfway)."""
        events = [(position_of(row), row) for row in rows]
        head = events[-1][0]
        rendered: dict[Position, LiveEvent] = {}
        for follower in self.followers:
            if not follower.in_step or follower.cursor < start:
                follower.in_step = False  # behind: it reads for itself
                follower.woken.set()
                continue
            wanted = [(p, row) for p, row in events
                      if p > follower.cursor and row["type"] in follower.types]
            if len(follower.buffer) + len(wanted) > MAX_BUFFERED:
                follower.in_step = False  # a slow client: it catches up from the database
                follower.woken.set()
                continue
            for p, row in wanted:
                event = rendered.get(p)
                if event is None:
                    event = rendered[p] = live_event(row, encode_position(p))
                follower.buffer.append(event)
            follower.cursor = max(follower.cursor, head)
            if wanted:
                follower.woken.set()
        self.head = max(self.head, head)
        for p, _row in events:
            if len(self._read_ids) == self._read_ids.maxlen:
                self._read_set.discard(self._read_ids[0])
            self._read_ids.append(p[1])
            self._read_set.add(p[1])


class Tails:
    """The process's tails, one per business with followers (kept in the runtime)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._by_business: dict[uuid.UUID, BusinessTail] = {}

    def get(self, business_id: uuid.UUID) -> BusinessTail | None:
        return self._by_business.get(business_id)

    def join(self, business_id: uuid.UUID, follower: Follower) -> BusinessTail:
        tail = self._by_business.get(business_id)
        if tail is None or tail.loop is not asyncio.get_running_loop() or (
                tail.task is not None and tail.task.done()):
            tail = BusinessTail(self._runtime, business_id, follower.cursor)
            self._by_business[business_id] = tail
            tail.start(self._ended)
        follower.in_step = follower.cursor >= tail.head
        tail.followers.add(follower)
        return tail

    def leave(self, tail: BusinessTail, follower: Follower) -> None:
        tail.followers.discard(follower)
        if not tail.followers:
            if self._by_business.get(tail.business_id) is tail:
                del self._by_business[tail.business_id]
            if tail.task is not None and not tail.task.done() \
                    and tail.loop is asyncio.get_running_loop():
                tail.task.cancel()

    def _ended(self, tail: BusinessTail) -> None:
        if self._by_business.get(tail.business_id) is tail:
            del self._by_business[tail.business_id]

    async def close(self) -> None:
        tails, self._by_business = list(self._by_business.values()), {}
        running = asyncio.get_running_loop()
        for tail in tails:
            if tail.task is not None and tail.loop is running:
                tail.task.cancel()
                await asyncio.gather(tail.task, return_exceptions=True)


TAILS: Part[Tails] = Part("live business tails", build=Tails, close=Tails.close)


async def follow(runtime: Runtime, business_id: uuid.UUID, types: frozenset[str],
                 after: Position) -> AsyncGenerator[LiveEvent, None]:
    """The business's events of ``types`` after ``after``, then each new one, forever."""
    tails = runtime.get(TAILS)
    follower = Follower(types=types, cursor=after)
    tail = tails.join(business_id, follower)
    try:
        while True:
            if follower.error is not None:
                raise follower.error
            if follower.buffer:
                yield follower.buffer.popleft()
                continue
            if not follower.in_step:
                if tail.task is not None and tail.task.done():  # ended: follow a new one
                    tails.leave(tail, follower)
                    tail = tails.join(business_id, follower)
                    continue
                if follower.cursor >= tail.head:
                    follower.in_step = True
                    continue
                follower.buffer.extend(await _catch_up(runtime, business_id, follower, tail))
                continue
            follower.woken.clear()
            await follower.woken.wait()
    finally:
        tails.leave(tail, follower)


async def _catch_up(runtime: Runtime, business_id: uuid.UUID, follower: Follower,
                    tail: BusinessTail) -> list[LiveEvent]:
    """One read of the outbox for a follower that is behind the tail (its cursor moves on)."""
    seen_head = tail.head
    async with runtime.db.read() as conn:
        rows = await outbox_store.business_events_after(
            conn, business_id=business_id, after=follower.cursor,
            types=sorted(follower.types), limit=BATCH)
    events = [live_event(row, encode_position(position_of(row))) for row in rows]
    if rows:
        follower.cursor = position_of(rows[-1])
    if len(rows) < BATCH:  # every event of its types up to the head seen before is read
        follower.cursor = max(follower.cursor, seen_head)
    return events
