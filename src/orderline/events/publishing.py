"""Publishing every event to the merchant's broker (NATS JetStream), as an internal handler.

The handler runs in the relay's transaction and waits for the broker's acknowledgement, so
an event is marked relayed only after the broker stored it. If the transaction then fails
(or the worker dies), the relay runs the handler again and the broker drops the duplicate by
its id (``Nats-Msg-Id``): at least once from here, exactly once in the stream. A broker that
is down makes the handler raise, and the relay retries the event with backoff.

Registered by ``handlers.default_handlers`` only when ``ORDERLINE_NATS_URL`` is set.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events.broker import publisher_of
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext


async def publish_event(ctx: HandlerContext, conn: AsyncConnection, event: StoredEvent) -> None:
    await publisher_of(ctx.runtime).publish(event)


NATS_PUBLISHING = Handler("nats", frozenset(EventType), publish_event)
