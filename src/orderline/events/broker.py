"""Publishing events to other services of the merchant: the interface and the default of not
publishing (the embedded mode has no broker)."""

from __future__ import annotations

from typing import Protocol

from orderline.core.runtime import Part, Runtime
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


def build_publisher(runtime: Runtime) -> EventPublisher:
    """NATS JetStream when a URL is configured, else nothing is published."""
    if runtime.settings.nats_url:
        from orderline.events.nats_publisher import NatsPublisher

        return NatsPublisher.from_settings(runtime.settings)
    return NoPublisher()


async def _close_publisher(publisher: EventPublisher) -> None:
    await publisher.close()


PUBLISHER: Part[EventPublisher] = Part("event publisher", build=build_publisher,
                                       close=_close_publisher)


def publisher_of(runtime: Runtime) -> EventPublisher:
    return runtime.get(PUBLISHER)
