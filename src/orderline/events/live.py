"""Live updates: who may follow which events, where a stream starts, and the loops that replay
what a client missed and then follow new events as they commit.

Two streams, both read from the outbox (the only source of truth):

- **One order** (``order_events``): the merchant (an API key with ``read``) or the buyer (the
  order's access token). Positions are the order's event ``sequence`` numbers, exact because
  an order's events commit in sequence order. A new stream starts after the last committed
  event; ``from_start`` replays the whole (unpruned) history first. A reconnecting client's
  ``Last-Event-ID`` always wins over ``from_start``, because a browser's EventSource
  reconnects to the same URL.
- **A business** (``merchant_events``): the event types in ``MERCHANT_STREAM_EVENTS`` unless
  the merchant picks others. Positions are ``(txid, id)`` pairs, given out as ``"<txid>-<id>"``:
  on PostgreSQL only events of transactions older than every running one are read, so an
  event that commits late is never behind a position already given out.

Streams are woken through the process's ``EventHub`` (signalled after every local COMMIT with
events, and through the NOTIFY listener for other processes, naming each event's business,
order and outbox row). A fallback poll (``Settings.live_poll_seconds``) means a lost signal
only delays. The database is touched only while reading, never held while waiting.

**Shared reads.** An order stream waits on its own order only (another order's event does not
wake it) and reads that order's events. A process's business streams do not read one by one:
they follow the business's ``BusinessTail`` (``business_tail.py``), one task per process and
business that reads the business's new events once per wake-up and hands each stream, in
memory, the events past the stream's own position that its types let through (its scope was
checked when it opened). A stream that is behind (an old ``Last-Event-ID``, a client too slow
to keep up) reads the outbox itself until it has caught up, then follows again. On PostgreSQL a
signal can arrive while an older, unrelated transaction still runs, hiding the new event for a
moment; while an announced row has not been read (or a signal naming no row found nothing),
the tail re-reads after 0.05, 0.1, ... up to ~1.5 s before falling back to the poll; a
wake-up whose rows were all read already costs no read.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from types import TracebackType

from orderline.core.errors import InvalidLastEventId
from orderline.core.event_hub import EventHub
from orderline.core.runtime import Runtime
from orderline.events import business_tail, outbox_store
from orderline.events.business_tail import (
    BATCH,
    SETTLE_FIRST,
    SETTLE_LAST,
    LiveEvent,
    encode_position,
    live_event,
)
from orderline.events.event_types import MERCHANT_STREAM_EVENTS, PROOF_EVENTS, parse_event_types
from orderline.tenancy.rules import Principal, Scope

__all__ = ["BATCH", "RECONNECT_MILLISECONDS", "LiveEvent", "MerchantStream", "OrderStream",
           "Wakeups", "chosen_types", "decode_position", "decode_sequence", "encode_position",
           "merchant_events", "open_merchant_stream", "order_events"]

RECONNECT_MILLISECONDS = 2000  # the ``retry:`` a browser waits before reconnecting
_MAX_POSITION = 2**63 - 1  # BIGINT
_POSITION = re.compile(r"^([0-9]{1,19})-([0-9]{1,19})$")
_SEQUENCE = re.compile(r"^[0-9]{1,19}$")


@dataclass(frozen=True, slots=True)
class OrderStream:
    business_id: uuid.UUID
    order_id: uuid.UUID
    after_sequence: int


@dataclass(frozen=True, slots=True)
class MerchantStream:
    business_id: uuid.UUID
    types: tuple[str, ...]
    after: tuple[int, int]


def decode_position(raw: str) -> tuple[int, int]:
    """A business stream position as ``encode_position`` gave it out."""
    match = _POSITION.match(raw.strip())
    if match is None or max(int(match[1]), int(match[2])) > _MAX_POSITION:
        raise InvalidLastEventId(
            "Last-Event-ID must be the id of an event this stream sent, such as '812-4051'.",
            details={"last_event_id": raw})
    return int(match[1]), int(match[2])


def decode_sequence(raw: str) -> int:
    """An order stream position: the sequence number of the last event received."""
    text = raw.strip()
    if _SEQUENCE.match(text) is None or int(text) > _MAX_POSITION:
        raise InvalidLastEventId(
            "Last-Event-ID must be the id of an event this stream sent (the order's event "
            "sequence number, such as '3').", details={"last_event_id": raw})
    return int(text)


def chosen_types(names: Sequence[str]) -> tuple[str, ...]:
    """The event types a business stream carries: ``names`` (validated), else the default."""
    if not names:
        return tuple(sorted(MERCHANT_STREAM_EVENTS))
    return tuple(t.value for t in parse_event_types(names))


async def open_merchant_stream(runtime: Runtime, principal: Principal, *,
                               types: Sequence[str], last_event_id: str | None
                               ) -> MerchantStream:
    """A business stream from ``Last-Event-ID``, or from now (after every settled event).
    Payment proof events (scores, who decided) need the verify scope, the rest read."""
    chosen = chosen_types(types)
    principal.require(Scope.VERIFY if PROOF_EVENTS & set(chosen) else Scope.READ)
    if last_event_id is not None:
        after = decode_position(last_event_id)
    else:
        async with runtime.db.read() as conn:
            after = await outbox_store.latest_position(conn, principal.business_id)
    return MerchantStream(business_id=principal.business_id, types=chosen, after=after)


async def order_events(runtime: Runtime, stream: OrderStream) -> AsyncGenerator[LiveEvent, None]:
    """The order's events after ``stream.after_sequence``, then each new one, forever."""
    after = stream.after_sequence
    with Wakeups(runtime.hub, stream.business_id, stream.order_id,
                 poll_seconds=runtime.settings.live_poll_seconds,
                 recheck_unsettled=False) as wakeups:
        while True:
            wakeups.before_read()
            async with runtime.db.read() as conn:
                rows = await outbox_store.aggregate_events_after(
                    conn, business_id=stream.business_id, aggregate_id=stream.order_id,
                    after_sequence=after, limit=BATCH)
            for row in rows:
                after = int(row["sequence"])
                yield live_event(row, str(after))
            if len(rows) < BATCH:
                await wakeups.wait(found=bool(rows))


def merchant_events(runtime: Runtime,
                    stream: MerchantStream) -> AsyncGenerator[LiveEvent, None]:
    """The business's events of ``stream.types`` after ``stream.after``, then each new one
    (through the process's shared reader of the business, ``business_tail.follow``)."""
    return business_tail.follow(runtime, stream.business_id, frozenset(stream.types),
                                stream.after)


class Wakeups:
    """When a stream should read the outbox again: on a hub signal for its business (for one
    aggregate of it, when ``aggregate_id`` is given), a few quick re-reads after a signal that
    found nothing (``recheck_unsettled``), else every ``poll_seconds``. Subscribed while the
    ``with`` block runs."""

    def __init__(self, hub: EventHub, business_id: uuid.UUID,
                 aggregate_id: uuid.UUID | None = None, *, poll_seconds: float,
                 recheck_unsettled: bool) -> None:
        self._hub = hub
        self._business_id = business_id
        self._aggregate_id = aggregate_id
        self._poll = poll_seconds
        self._recheck_unsettled = recheck_unsettled
        self._waiter: asyncio.Event | None = None
        self._recheck = 0.0
        self._signalled = False

    def __enter__(self) -> Wakeups:
        if self._aggregate_id is None:
            self._waiter = self._hub.subscribe(self._business_id)
        else:
            self._waiter = self._hub.subscribe_aggregate(self._business_id, self._aggregate_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._waiter is not None:
            if self._aggregate_id is None:
                self._hub.unsubscribe(self._business_id, self._waiter)
            else:
                self._hub.unsubscribe_aggregate(self._business_id, self._aggregate_id,
                                                self._waiter)
            self._waiter = None

    def before_read(self) -> None:
        """Forget signals so far: the read about to start sees what they announced."""
        assert self._waiter is not None, "use Wakeups in a with block"
        self._waiter.clear()

    async def wait(self, *, found: bool) -> None:
        """Sleep until the next read is due; ``found`` says whether the last read had rows."""
        assert self._waiter is not None, "use Wakeups in a with block"
        if found:
            self._recheck = 0.0
        elif self._signalled and self._recheck_unsettled:
            self._recheck = SETTLE_FIRST
        elif self._recheck:
            self._recheck = self._recheck * 2 if self._recheck * 2 <= SETTLE_LAST else 0.0
        try:
            async with asyncio.timeout(self._recheck or self._poll):
                await self._waiter.wait()
            self._signalled = True
        except TimeoutError:
            self._signalled = False
