"""Buyer notifications end to end through a real SMTP server (``aiosmtpd``, started here):
each order event is mailed once, however often the relay and the sender run, and a mail
server that is down only delays the message.

Every test gives its buyer a fresh address and counts only the mail sent to it: the database
is shared with other tests, whose messages the sender may deliver too.
"""

from __future__ import annotations

import asyncio
import email
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import update

from orderline.checkout import direct_orders
from orderline.core.clock import Clock, ManualClock, SystemClock
from orderline.core.config import Settings
from orderline.core.db.tables import table_of
from orderline.core.notifier import Message
from orderline.core.runtime import Runtime
from orderline.events.broker import NoPublisher, publisher_of
from orderline.events.nats_publisher import NatsPublisher
from orderline.events.tables import OutboxEvent
from orderline.notifications import store as notification_store
from orderline.notifications.service import send_due
from orderline.notifications.smtp_notifier import NotAnEmailAddress, SmtpNotifier
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.rules import CancelReason, RequestedLine
from orderline.wiring import build_runtime, provide_parts
from orderline.worker import loop as worker
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant
from tests.support.catalog import stock_sku
from tests.support.servers import free_port


@dataclass
class Inbox:
    """What the SMTP server received (aiosmtpd calls ``handle_DATA`` per message)."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append(email.message_from_bytes(content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def mail_server(port: int) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1:``port`` for the block (in its own thread)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def mailing_runtime(runtime: Runtime, port: int, clock: Clock | None = None) -> Runtime:
    """The test's runtime, sending email through the SMTP server on ``port``."""
    notifier = SmtpNotifier(host="127.0.0.1", port=port, sender="shop@orderline.test",
                            starttls=False, timeout=5)
    return provide_parts(Runtime(settings=runtime.settings, db=runtime.db,
                                 clock=clock or SystemClock(), notifier=notifier))


def new_address() -> str:
    return f"buyer-{uuid.uuid4().hex[:10]}@example.com"


async def place_for(rt: Runtime, merchant: Merchant, sku: str, *, email_address: str | None,
                    phone: str | None = None) -> dict[str, Any]:
    return await direct_orders.create_order(rt, merchant.principal, direct_orders.NewOrder(
        customer=orders.Contact(name="Ada", email=email_address, phone=phone), channel="web",
        lines=[RequestedLine(sku, 1)], payment_method="card"))


async def send_everything_due(rt: Runtime) -> None:
    """Run the sender until a round sends nothing (other tests may have left messages)."""
    while await send_due(rt):
        pass


async def notifications_of(rt: Runtime, merchant: Merchant,
                           order_id: uuid.UUID | None = None) -> list[Any]:
    async with rt.db.read() as conn:
        return await notification_store.of_business(conn, merchant.principal.business_id,
                                                    order_id=order_id)


async def redeliver(rt: Runtime, order_ids: list[uuid.UUID]) -> None:
    """Put the orders' events back in the relay's queue, as if a worker had died after
    handling them but before marking them done (the case the inbox exists for)."""
    outbox = table_of(OutboxEvent)

    async def work(conn: Any) -> None:
        await conn.execute(update(outbox).where(outbox.c.aggregate_id.in_(order_ids))
                           .values(status="pending", relayed_at=None, lease_owner=None,
                                   lease_until=None))

    await rt.db.run(work)


async def test_paid_shipped_and_cancelled_orders_are_each_mailed_to_the_buyer_exactly_once(
        runtime: Runtime, merchant: Merchant) -> None:
    port = free_port()
    rt = mailing_runtime(runtime, port)
    address = new_address()
    await stock_sku(rt, merchant, "MAIL-1", 10, price=1250)
    shipped = await place_for(rt, merchant, "MAIL-1", email_address=address)
    cancelled = await place_for(rt, merchant, "MAIL-1", email_address=address)
    await order_status.confirm_payment(rt, merchant.principal, shipped["id"])
    await order_status.set_shipping(rt, merchant.principal, shipped["id"], carrier="DHL",
                                    tracking_number="JD0001", tracking_url=None)
    await order_status.cancel_order(rt, merchant.principal, cancelled["id"],
                                    reason=CancelReason.BUYER)

    with mail_server(port) as inbox:
        await default_relay(rt).relay_until_idle()
        await redeliver(rt, [shipped["id"], cancelled["id"]])
        assert await default_relay(rt).relay_until_idle() >= 5  # every event seen a second time
        await asyncio.gather(send_everything_due(rt), send_everything_due(rt))  # two senders
        await send_everything_due(rt)

    mails = inbox.to(address)
    assert sorted(m["Subject"] for m in mails) == sorted([
        f"Test shop: we received your order {shipped['number']}",
        f"Test shop: we received your order {cancelled['number']}",
        f"Test shop: payment received for order {shipped['number']}",
        f"Test shop: order {shipped['number']} has shipped",
        f"Test shop: order {cancelled['number']} was cancelled"])
    bodies = {m["Subject"]: m.get_payload() for m in mails}
    assert "12.50 USD" in bodies[f"Test shop: payment received for order {shipped['number']}"]
    assert "DHL" in bodies[f"Test shop: order {shipped['number']} has shipped"]
    assert "JD0001" in bodies[f"Test shop: order {shipped['number']} has shipped"]
    assert "you asked us to cancel it" in bodies[
        f"Test shop: order {cancelled['number']} was cancelled"]
    assert all(m["From"] == "shop@orderline.test" for m in mails)
    rows = await notifications_of(rt, merchant)
    assert [(r["status"], r["channel"], r["recipient"], r["attempts"]) for r in rows] == [
        ("sent", "email", address, 1)] * 5
    assert all(r["sent_at"] is not None for r in rows)


async def test_a_mail_server_that_is_down_delays_the_message_until_it_is_back(
        runtime: Runtime, merchant: Merchant) -> None:
    port = free_port()  # nothing listens here yet: connection refused
    clock = ManualClock()
    rt = mailing_runtime(runtime, port, clock)
    address = new_address()
    await stock_sku(rt, merchant, "MAIL-2", 5)
    order = await place_for(rt, merchant, "MAIL-2", email_address=address)
    await order_status.confirm_payment(rt, merchant.principal, order["id"])
    await default_relay(rt).relay_until_idle()

    await send_everything_due(rt)
    rows = await notifications_of(rt, merchant, order["id"])  # the confirmation, and paid
    assert [r["kind"] for r in rows] == ["buyer:order.created", "buyer:order.paid"]
    for row in rows:
        assert (row["status"], row["attempts"], row["sent_at"]) == ("queued", 1, None)
        assert row["last_error"] and "SMTP" in row["last_error"]
        assert row["next_attempt_at"] > clock.now()

    with mail_server(port) as inbox:
        await send_everything_due(rt)  # the retry is not due yet
        assert inbox.to(address) == []
        clock.advance(15)  # the first retry comes 10 s (+-20 %) after the failure
        await send_everything_due(rt)
        await send_everything_due(rt)

    assert len(inbox.to(address)) == 2
    rows = await notifications_of(rt, merchant, order["id"])
    assert [(r["status"], r["attempts"], r["last_error"]) for r in rows] == [
        ("sent", 2, None)] * 2


async def test_a_message_is_failed_with_its_last_error_after_six_tries(
        runtime: Runtime, merchant: Merchant) -> None:
    clock = ManualClock()
    rt = mailing_runtime(runtime, free_port(), clock)  # never answers
    await stock_sku(rt, merchant, "MAIL-3", 5)
    order = await place_for(rt, merchant, "MAIL-3", email_address=new_address())
    await order_status.confirm_payment(rt, merchant.principal, order["id"])
    await default_relay(rt).relay_until_idle()

    for _ in range(8):
        await send_everything_due(rt)
        clock.advance(2 * 3600)

    rows = await notifications_of(rt, merchant, order["id"])
    assert len(rows) == 2  # the confirmation, and paid
    for row in rows:
        assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 6, None)
        assert row["last_error"] and "SMTP" in row["last_error"]


async def test_a_buyer_with_only_a_phone_number_is_recorded_in_the_log_not_mailed(
        runtime: Runtime, merchant: Merchant) -> None:
    port = free_port()
    rt = mailing_runtime(runtime, port)
    phone = f"+1 555 {uuid.uuid4().int % 10**7:07d}"
    await stock_sku(rt, merchant, "MAIL-4", 5)
    order = await place_for(rt, merchant, "MAIL-4", email_address=None, phone=phone)
    await order_status.confirm_payment(rt, merchant.principal, order["id"])

    with mail_server(port) as inbox:
        await default_relay(rt).relay_until_idle()
        await send_everything_due(rt)

    rows = await notifications_of(rt, merchant, order["id"])  # the confirmation, and paid
    assert [(r["recipient"], r["channel"], r["status"]) for r in rows] == [
        (phone, "log", "sent")] * 2
    assert [m for m in inbox.messages if m["To"] == phone] == []


def test_the_smtp_notifier_refuses_a_recipient_that_is_not_an_email_address() -> None:
    notifier = SmtpNotifier(host="127.0.0.1", sender="shop@orderline.test")
    with pytest.raises(NotAnEmailAddress, match="not an email address"):
        notifier.compose(Message(recipient="+1 555 0100", subject="s", body="b"))


async def test_smtp_and_nats_are_wired_in_only_when_their_settings_are_given(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = build_runtime(Settings(database_url=database_url))
    monkeypatch.setenv("ORDERLINE_SMTP_HOST", "mail.example")
    monkeypatch.setenv("ORDERLINE_SMTP_FROM", "shop@example.com")
    monkeypatch.setenv("ORDERLINE_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("ORDERLINE_NATS_URL", "nats://127.0.0.1:4222")
    configured = build_runtime(Settings(database_url=database_url))
    try:
        assert plain.notifier.channel == "log"
        assert isinstance(publisher_of(plain), NoPublisher)
        assert "nats" not in [h.name for h in default_relay(plain).handlers]
        assert isinstance(configured.notifier, SmtpNotifier)
        assert (configured.notifier.host, configured.notifier.port) == ("mail.example", 587)
        assert "hunter2" not in repr(configured.settings)
        assert isinstance(publisher_of(configured), NatsPublisher)
        assert "nats" in [h.name for h in default_relay(configured).handlers]
        assert "notifications" in [loop.name for loop in worker.loops(configured)]
    finally:
        await plain.close()
        await configured.close()
