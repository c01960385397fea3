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

Each stream waits on the process's ``EventHub`` (signalled after every local COMMIT with
events, and through the NOTIFY listener for other processes) and re-reads when woken. A
fallback poll (``Settings.live_poll_seconds``) means a lost signal only delays. The database
is touched only while reading, never held while waiting. On PostgreSQL a signal can arrive
while an older, unrelated transaction still runs, hiding the new event from the business
stream for a moment; a signalled read that finds nothing re-reads after 0.05, 0.1, ... up to
~1.5 s before falling back to the poll.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy.engine import RowMapping

from orderline.core.errors import InvalidLastEventId
from orderline.core.event_hub import EventHub
from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.event_types import MERCHANT_STREAM_EVENTS, PROOF_EVENTS, parse_event_types
from orderline.events.outbox import stored_event
from orderline.tenancy.rules import Principal, Scope

RECONNECT_MILLISECONDS = 2000  # the ``retry:`` a browser waits before reconnecting
BATCH = 100
_SETTLE_FIRST, _SETTLE_LAST = 0.05, 1.0
_MAX_POSITION = 2**63 - 1  # BIGINT
_POSITION = re.compile(r"^([0-9]{1,19})-([0-9]{1,19})$")
_SEQUENCE = re.compile(r"^[0-9]{1,19}$")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event as a stream sends it: SSE ``id``, ``event`` and ``data`` (the envelope)."""

    id: str
    type: str
    data: str


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


def encode_position(position: tuple[int, int]) -> str:
    txid, row_id = position
    return f"{txid}-{row_id}"


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


def _live_event(row: RowMapping, event_id: str) -> LiveEvent:
    envelope: dict[str, Any] = stored_event(row).envelope()
    return LiveEvent(id=event_id, type=row["type"],
                     data=json.dumps(envelope, separators=(",", ":"), ensure_ascii=False))


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
    with Wakeups(runtime.hub, stream.business_id,
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
                yield _live_event(row, str(after))
            if len(rows) < BATCH:
                await wakeups.wait(found=bool(rows))


async def merchant_events(runtime: Runtime,
                          stream: MerchantStream) -> AsyncGenerator[LiveEvent, None]:
    """The business's events of ``stream.types`` after ``stream.after``, then each new one."""
    after = stream.after
    with Wakeups(runtime.hub, stream.business_id,
                 poll_seconds=runtime.settings.live_poll_seconds,
                 recheck_unsettled=not runtime.db.is_sqlite) as wakeups:
        while True:
            wakeups.before_read()
            async with runtime.db.read() as conn:
                rows = await outbox_store.business_events_after(
                    conn, business_id=stream.business_id, after=after, types=stream.types,
                    limit=BATCH)
            for row in rows:
                after = (int(row["txid"]), int(row["id"]))
                yield _live_event(row, encode_position(after))
            if len(rows) < BATCH:
                await wakeups.wait(found=bool(rows))


class Wakeups:
    """When a stream should read the outbox again: on a hub signal for its business, a few
    quick re-reads after a signal that found nothing (``recheck_unsettled``), else every
    ``poll_seconds``. Subscribed while the ``with`` block runs."""

    def __init__(self, hub: EventHub, business_id: uuid.UUID, *, poll_seconds: float,
                 recheck_unsettled: bool) -> None:
        self._hub = hub
        self._business_id = business_id
        self._poll = poll_seconds
        self._recheck_unsettled = recheck_unsettled
        self._waiter: asyncio.Event | None = None
        self._recheck = 0.0
        self._signalled = False

    def __enter__(self) -> Wakeups:
        self._waiter = self._hub.subscribe(self._business_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._waiter is not None:
            self._hub.unsubscribe(self._business_id, self._waiter)
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
            self._recheck = _SETTLE_FIRST
        elif self._recheck:
            self._recheck = self._recheck * 2 if self._recheck * 2 <= _SETTLE_LAST else 0.0
        try:
            async with asyncio.timeout(self._recheck or self._poll):
                await self._waiter.wait()
            self._signalled = True
        except TimeoutError:
            self._signalled = False
