"""What an event handler is: a named function subscribed to event types, run by the relay
inside the transaction that records it in the inbox (so it applies once per event).

A handler gets the event and the open connection; it changes the database only through that
connection, and may emit follow-up events there. External effects (mail, webhooks) are
queued as rows and sent by the worker's senders, never from inside the transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.events.event_types import StoredEvent


@dataclass(frozen=True, slots=True)
class HandlerContext:
    runtime: Runtime
    now: datetime


Apply = Callable[[HandlerContext, AsyncConnection, StoredEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Handler:
    name: str  # stable: it keys the inbox, so renaming a handler re-runs it on old events
    event_types: frozenset[str]
    apply: Apply

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types
