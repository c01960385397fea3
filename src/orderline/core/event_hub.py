"""In-process fan-out of "a business has new events" signals.

Whoever commits events (this process, or another one via PostgreSQL NOTIFY) calls ``signal``
or ``announce``; live streams and the relay wait on ``subscribe`` (a business, or any),
``subscribe_aggregate`` (one order) or ``watch`` (a business, collecting the announced outbox
row ids) and then read the outbox themselves, so the outbox stays the only source of truth and
a missed signal only delays, never loses, an event.

An announcement may name the aggregate and the outbox row of the event: then only that
aggregate's waiters wake (an order's stream is not woken by another order's event), and a
watcher learns which rows it should find. A bare business signal (or ``signal_all``) wakes
every aggregate waiter of the business and tells watchers nothing about rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Written:
    """One committed event, as far as the signaller knows it."""

    business_id: uuid.UUID
    aggregate_id: uuid.UUID | None = None
    row_id: int | None = None


@dataclass(eq=False)
class Watch:
    """A business subscription that also collects what was announced since the last ``take``:
    the outbox row ids, and whether some signal named no row (``unnamed``)."""

    woken: asyncio.Event = field(default_factory=asyncio.Event)
    row_ids: set[int] = field(default_factory=set)
    unnamed: bool = False

    def note(self, row_id: int | None) -> None:
        if row_id is None:
            self.unnamed = True
        else:
            self.row_ids.add(row_id)
        self.woken.set()

    def take(self) -> tuple[set[int], bool]:
        """The announcements so far (and forget them, and the wake-up)."""
        taken, unnamed = self.row_ids, self.unnamed
        self.row_ids, self.unnamed = set(), False
        self.woken.clear()
        return taken, unnamed


class EventHub:
    def __init__(self) -> None:
        self._by_business: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._by_aggregate: dict[uuid.UUID, dict[uuid.UUID, set[asyncio.Event]]] = {}
        self._watches: dict[uuid.UUID, set[Watch]] = {}
        self._any: set[asyncio.Event] = set()

    def signal(self, business_ids: Iterable[uuid.UUID]) -> None:
        """These businesses have new events (which ones unknown): wake all their waiters."""
        self.announce(Written(business_id) for business_id in business_ids)

    def announce(self, written: Iterable[Written]) -> None:
        """These events committed: wake their businesses' waiters and watchers, and the
        waiters of their aggregates (every aggregate of a business when one is unnamed)."""
        woken: set[uuid.UUID] = set()
        for event in written:
            business_id = event.business_id
            if business_id not in woken:
                woken.add(business_id)
                for waiter in self._by_business.get(business_id, ()):
                    waiter.set()
            for watch in self._watches.get(business_id, ()):
                watch.note(event.row_id)
            aggregates = self._by_aggregate.get(business_id)
            if aggregates is None:
                continue
            if event.aggregate_id is None:
                for waiters in aggregates.values():
                    for waiter in waiters:
                        waiter.set()
            else:
                for waiter in aggregates.get(event.aggregate_id, ()):
                    waiter.set()
        for waiter in self._any:
            waiter.set()

    def signal_all(self) -> None:
        """Wake every subscriber: signals may have been lost (the NOTIFY listener
        reconnected), so everyone re-reads the outbox."""
        for waiters in self._by_business.values():
            for waiter in waiters:
                waiter.set()
        for aggregates in self._by_aggregate.values():
            for waiters in aggregates.values():
                for waiter in waiters:
                    waiter.set()
        for watches in self._watches.values():
            for watch in watches:
                watch.note(None)
        for waiter in self._any:
            waiter.set()

    def subscribe(self, business_id: uuid.UUID | None) -> asyncio.Event:
        """An event set whenever ``business_id`` (any business if None) has new events."""
        waiter = asyncio.Event()
        if business_id is None:
            self._any.add(waiter)
        else:
            self._by_business.setdefault(business_id, set()).add(waiter)
        return waiter

    def unsubscribe(self, business_id: uuid.UUID | None, waiter: asyncio.Event) -> None:
        if business_id is None:
            self._any.discard(waiter)
            return
        waiters = self._by_business.get(business_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._by_business[business_id]

    def subscribe_aggregate(self, business_id: uuid.UUID,
                            aggregate_id: uuid.UUID) -> asyncio.Event:
        """An event set when this aggregate (an order) of the business has new events, or
        when the business is signalled without naming its aggregates."""
        waiter = asyncio.Event()
        aggregates = self._by_aggregate.setdefault(business_id, {})
        aggregates.setdefault(aggregate_id, set()).add(waiter)
        return waiter

    def unsubscribe_aggregate(self, business_id: uuid.UUID, aggregate_id: uuid.UUID,
                              waiter: asyncio.Event) -> None:
        aggregates = self._by_aggregate.get(business_id)
        if aggregates is None:
            return
        waiters = aggregates.get(aggregate_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del aggregates[aggregate_id]
        if not aggregates:
            del self._by_aggregate[business_id]

    def watch(self, business_id: uuid.UUID) -> Watch:
        """A ``Watch`` of the business: woken like ``subscribe``, and told the row ids."""
        watch = Watch()
        self._watches.setdefault(business_id, set()).add(watch)
        return watch

    def unwatch(self, business_id: uuid.UUID, watch: Watch) -> None:
        watches = self._watches.get(business_id)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[business_id]

    @property
    def subscribers(self) -> int:
        """Every waiter and watch (a process's business streams share one watch per
        business; each order stream has its own waiter)."""
        return (len(self._any) + sum(len(w) for w in self._by_business.values())
                + sum(len(w) for a in self._by_aggregate.values() for w in a.values())
                + sum(len(w) for w in self._watches.values()))
