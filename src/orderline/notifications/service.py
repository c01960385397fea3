"""Telling people what happened: handlers that queue messages, and the sender that delivers
them.

The handlers run in the relay's transaction for each event (recorded in the inbox, so each
event queues its message once, however often the relay sees it). They only write a
``notifications`` row; nothing is sent while a transaction is open.

``send_due`` claims due messages in one short transaction (a lease: ``next_attempt_at`` moves
forward), sends each through the notifier of its channel with no transaction open, and then
records the outcome: sent, due again later (NOTIFICATION_RETRIES), or failed with its last
error. A sender that dies mid-send leaves the message to be taken again when the lease ends,
so delivery is at least once; the lease is long enough to cover a batch of slow sends.

Channels: each message records the channel it goes by when it is queued (the configured
notifier's, e.g. ``email``, or ``log``). A buyer who left a phone number is texted when the
business has an SMS or WhatsApp sender (channels ``sms`` and ``whatsapp``, sent with the
business's own account: ``messaging.py``); otherwise a buyer who left only a phone number
cannot be reached by email, so with the SMTP notifier their messages go to the log channel
rather than failing at the mail server (see ``messaging_rules.route_to_buyer``). A sender
claims messages of channels it can deliver: its notifier's, the log, which every process
has, and SMS and WhatsApp, whose accounts are in the database. A provider's refusal that
another try would not change (``MessageRefused``) fails the message at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from datetime import timedelta

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.notifier import LogNotifier, Message, Notifier
from orderline.core.runtime import Runtime
from orderline.events.event_types import BUYER_NOTIFIED_EVENTS, EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.notifications import messaging
from orderline.notifications import store as notification_store
from orderline.notifications.messaging_providers import MessageRefused
from orderline.notifications.messaging_rules import (
    MESSAGING_CHANNELS,
    route_to_buyer,
    template_parameters,
)
from orderline.notifications.rules import (
    LOG_CHANNEL,
    NOTIFICATION_RETRIES,
    Text,
    buyer_message,
    channel_for,
    endpoint_disabled_message,
    low_stock_message,
    merchant_recipient,
)

log = logging.getLogger("orderline.notifications")

SEND_BATCH = 20
SEND_CONCURRENCY = 4
# Covers a whole batch of slow sends (each SMTP step may take up to its timeout).
SEND_LEASE_SECONDS = 300.0


async def _queue(ctx: HandlerContext, conn: AsyncConnection, event: StoredEvent, *,
                 kind: str, recipient: str, text: Text, order_id: uuid.UUID | None) -> None:
    await notification_store.queue(
        conn, business_id=event.business_id, event_id=event.event_id, order_id=order_id,
        kind=kind, recipient=recipient,
        channel=channel_for(recipient, ctx.runtime.notifier.channel),
        subject=text.subject, body=text.body, now=ctx.now)


async def queue_buyer_notification(ctx: HandlerContext, conn: AsyncConnection,
                                   event: StoredEvent) -> None:
    """Placed (the order confirmation), paid, shipped, delivered, cancelled, a payment proof
    refused: the buyer hears of it by SMS or WhatsApp when the business has a sender and they
    gave a phone number, else by email (or the log)."""
    order = event.payload["order"]
    proof = event.payload.get("proof")
    shipment = event.payload.get("shipment")
    # A parcel of an order is told by phone with the "shipped" template, its carrier and
    # tracking being the order's latest.
    kind = (EventType.ORDER_SHIPPED.value if event.type == EventType.SHIPMENT_CREATED
            else event.type)
    sender = await messaging.sender_view(conn, event.business_id)
    route = route_to_buyer(order.get("customer") or {}, kind, sender=sender,
                           notifier_channel=ctx.runtime.notifier.channel)
    if route is None:
        return
    shop, _ = await notification_store.business_contact(conn, event.business_id)
    text = buyer_message(event.type, order, shop=shop, proof=proof, shipment=shipment,
                         rma=event.payload.get("return"))
    if text is None:
        return
    texted = route.channel in MESSAGING_CHANNELS
    await notification_store.queue(
        conn, business_id=event.business_id, event_id=event.event_id,
        order_id=uuid.UUID(str(order["id"])), kind=f"buyer:{event.type}",
        recipient=route.recipient, channel=route.channel, subject=text.subject, body=text.body,
        now=ctx.now, provider=route.provider, template=route.template,
        params=template_parameters(kind, order, shop=shop, proof=proof)
        if texted else None)


async def queue_merchant_notice(ctx: HandlerContext, conn: AsyncConnection,
                                event: StoredEvent) -> None:
    """Low stock and disabled webhook endpoints: the merchant hears of it at the business's
    alert email, or in the log when it has none."""
    shop, alert_email = await notification_store.business_contact(conn, event.business_id)
    if event.type == EventType.STOCK_LOW:
        text = low_stock_message(event.payload, shop=shop)
    else:
        text = endpoint_disabled_message(event.payload, shop=shop)
    recipient = merchant_recipient(alert_email)
    await _queue(ctx, conn, event, kind=f"merchant:{event.type}", recipient=recipient,
                 text=text, order_id=None)


BUYER_NOTIFICATIONS = Handler("buyer_notifications", frozenset(BUYER_NOTIFIED_EVENTS),
                              queue_buyer_notification)
LOW_STOCK_ALERT = Handler("low_stock_alert",
                          frozenset({EventType.STOCK_LOW, EventType.WEBHOOK_ENDPOINT_DISABLED}),
                          queue_merchant_notice)


def notifiers_by_channel(runtime: Runtime) -> dict[str, Notifier]:
    """The notifiers this process can send through: its own, and always the log."""
    notifiers: dict[str, Notifier] = {LOG_CHANNEL: LogNotifier()}
    notifiers[runtime.notifier.channel] = runtime.notifier
    return notifiers


async def send_due(runtime: Runtime, *, limit: int = SEND_BATCH,
                   lease_seconds: float = SEND_LEASE_SECONDS) -> int:
    """Send the queued messages that are due; returns how many were sent."""
    notifiers = notifiers_by_channel(runtime)
    now = runtime.clock.now()

    async def claim(conn: AsyncConnection) -> list[RowMapping]:
        return await notification_store.claim_due(
            conn, now=now, lease_until=now + timedelta(seconds=lease_seconds),
            channels=sorted({*notifiers, *MESSAGING_CHANNELS}), limit=limit)

    claimed = await runtime.db.run(claim)  # committed: the lease holds while we send
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(row: RowMapping) -> bool:
        async with gate:
            return await _send_one(runtime, notifiers.get(row["channel"]), row)

    return sum(await asyncio.gather(*(one(row) for row in claimed)))


async def _send_one(runtime: Runtime, notifier: Notifier | None, row: RowMapping) -> bool:
    """Send one claimed message by its channel's notifier, or for SMS and WhatsApp
    (``notifier`` None) by its business's sender."""
    error: str | None = None
    final = False
    provider_message_id: str | None = None
    try:
        if notifier is None:
            _, provider_message_id = await messaging.send_queued(runtime, row)
        else:
            await notifier.send(Message(recipient=row["recipient"], subject=row["subject"],
                                        body=row["body"]))
    except MessageRefused as refused:  # another try would be refused the same way
        error, final = f"MessageRefused: {refused}", True
    except Exception as failure:  # any other failure of the channel is retried later
        error = f"{type(failure).__name__}: {failure}"
    now = runtime.clock.now()
    if error is None:
        async def sent(conn: AsyncConnection) -> bool:
            return await notification_store.mark_sent(
                conn, row["id"], attempts=row["attempts"], now=now,
                provider_message_id=provider_message_id)

        if not await runtime.db.run(sent):
            log.warning("notification sent after its lease ran out; another sender took it",
                        extra={"notification_id": row["id"]})
        return True
    reason = error
    delay = None if final else NOTIFICATION_RETRIES.next_delay(row["attempts"],
                                                               random.uniform(-1, 1))
    retry_at = None if delay is None else now + timedelta(seconds=delay)

    async def not_sent(conn: AsyncConnection) -> bool:
        return await notification_store.mark_not_sent(conn, row["id"], attempts=row["attempts"],
                                                      error=reason, retry_at=retry_at)

    await runtime.db.run(not_sent)
    log.log(logging.ERROR if retry_at is None else logging.WARNING,
            "notification not sent" + (" and given up" if retry_at is None else ""),
            extra={"notification_id": row["id"], "channel": row["channel"],
                   "attempts": row["attempts"], "error": reason,
                   "retry_at": retry_at.isoformat() if retry_at else None})
    return False
