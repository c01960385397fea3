"""In-process fan-out of "a business has new events" signals.

Whoever commits events (this process, or another one via PostgreSQL NOTIFY) calls
``signal``; live streams and the relay wait on ``wait_for``/``subscribe`` and then read the
outbox themselves, so the outbox stays the only source of truth and a missed signal only
delays, never loses, an event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable


class EventHub:
    def __init__(self) -> None:
        self._by_business: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._any: set[asyncio.Event] = set()

    def signal(self, business_ids: Iterable[uuid.UUID]) -> None:
        for business_id in business_ids:
            for waiter in self._by_business.get(business_id, ()):
                waiter.set()
        for waiter in self._any:
            waiter.set()

    def signal_all(self) -> None:
        """Wake every subscriber: signals may have been lost (the NOTIFY listener
        reconnected), so everyone re-reads the outbox."""
        for waiters in self._by_business.values():
            for waiter in waiters:
                waiter.set()
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

    @property
    def subscribers(self) -> int:
        return len(self._any) + sum(len(w) for w in self._by_business.values())
