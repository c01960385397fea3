"""Publishing events to other services of the merchant: the interface and the default of not
publishing (the embedded mode has no broker)."""

from __future__ import annotations

from typing import Protocol

from orderline.events.event_types import StoredEvent


class EventPublisher(Protocol):
    async def publish(self, event: StoredEvent) -> None:
        """Publish at least once; the event id lets the broker drop duplicates."""

    async def close(self) -> None: ...


class NoPublisher:
    """Used when no broker is configured: events stay in the outbox, webhooks and streams."""

    async def publish(self, event: StoredEvent) -> None:
        return None

    async def close(self) -> None:
        return None
