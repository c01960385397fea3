"""SQL for a customer's personal data: finding everything that names them, and wiping it
from the rows that must stay (orders and payments are financial records)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.checkout.tables import Checkout
from orderline.cod.tables import CodOtp
from orderline.core.db.tables import table_of
from orderline.events.tables import OutboxEvent
from orderline.manual_payments.tables import PaymentProof
from orderline.notifications.tables import Notification
from orderline.orders.tables import Customer, Order, OrderEvent

customers = table_of(Customer)
orders = table_of(Order)
checkouts = table_of(Checkout)
otps = table_of(CodOtp)
notifications = table_of(Notification)
order_events = table_of(OrderEvent)
outbox = table_of(OutboxEvent)
proofs = table_of(PaymentProof)


async def lock_customer(conn: AsyncConnection, business_id: uuid.UUID,
                        customer_id: uuid.UUID) -> RowMapping | None:
    stmt = (select(customers).where(customers.c.business_id == business_id,
                                    customers.c.id == customer_id).with_for_update())
    return (await conn.execute(stmt)).mappings().first()


async def orders_of(conn: AsyncConnection, customer_id: uuid.UUID) -> list[RowMapping]:
    stmt = select(orders).where(orders.c.customer_id == customer_id).order_by(orders.c.created_at)
    return list((await conn.execute(stmt)).mappings())


async def checkouts_of(conn: AsyncConnection, customer_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(checkouts.c.id, checkouts.c.status, checkouts.c.customer_name,
                   checkouts.c.customer_phone, checkouts.c.customer_email, checkouts.c.address,
                   checkouts.c.created_at)
            .where(checkouts.c.customer_id == customer_id).order_by(checkouts.c.created_at))
    return list((await conn.execute(stmt)).mappings())


async def notifications_of(conn: AsyncConnection,
                           order_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not order_ids:
        return []
    stmt = (select(notifications.c.kind, notifications.c.recipient, notifications.c.channel,
                   notifications.c.subject, notifications.c.status, notifications.c.created_at)
            .where(notifications.c.order_id.in_(order_ids)).order_by(notifications.c.id))
    return list((await conn.execute(stmt)).mappings())


async def proofs_of(conn: AsyncConnection, order_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not order_ids:
        return []
    stmt = select(proofs).where(proofs.c.order_id.in_(order_ids)).order_by(proofs.c.uploaded_at)
    return list((await conn.execute(stmt)).mappings())


async def anonymise(conn: AsyncConnection, customer_id: uuid.UUID, order_ids: Sequence[uuid.UUID],
                    *, name: str, values: dict[str, Any]) -> None:
    """Contacts, addresses, notes and one-time codes go; amounts, lines, taxes and the
    address's country (which the tax on the invoice depends on) stay."""
    await conn.execute(update(customers).where(customers.c.id == customer_id).values(
        name=name, phone=None, email=None, **values))
    checkout_ids = [r.id for r in await conn.execute(
        select(checkouts.c.id).where(checkouts.c.customer_id == customer_id))]
    if checkout_ids:
        await conn.execute(update(checkouts).where(checkouts.c.id.in_(checkout_ids)).values(
            customer_name=name, customer_phone=None, customer_email=None, address={}))
        await conn.execute(update(otps).where(otps.c.checkout_id.in_(checkout_ids))
                           .values(phone=""))
    if not order_ids:
        return
    for row in list((await conn.execute(
            select(orders.c.id, orders.c.shipping_address).where(orders.c.id.in_(order_ids))
    )).mappings()):
        address = row["shipping_address"]
        kept = {"country": address["country"]} if address and "country" in address else None
        await conn.execute(update(orders).where(orders.c.id == row["id"]).values(
            customer_name=name, customer_phone=None, customer_email=None, note="",
            shipping_address=kept))
    await conn.execute(delete(notifications).where(notifications.c.order_id.in_(order_ids)))


async def events_naming(conn: AsyncConnection, order_ids: Sequence[uuid.UUID]
                        ) -> tuple[list[RowMapping], list[RowMapping]]:
    """The order history entries and outbox events of these orders (their JSON may carry
    the contact as it was)."""
    if not order_ids:
        return [], []
    history = list((await conn.execute(select(order_events.c.id, order_events.c.changes).where(
        order_events.c.order_id.in_(order_ids)))).mappings())
    events = list((await conn.execute(select(outbox.c.id, outbox.c.payload).where(
        outbox.c.aggregate_id.in_(order_ids)))).mappings())
    return history, events


async def rewrite_history(conn: AsyncConnection, entry_id: int, changes: dict[str, Any]) -> None:
    await conn.execute(update(order_events).where(order_events.c.id == entry_id)
                       .values(changes=changes))


async def rewrite_event(conn: AsyncConnection, event_id: int, payload: dict[str, Any]) -> None:
    await conn.execute(update(outbox).where(outbox.c.id == event_id).values(payload=payload))


async def proof_events(conn: AsyncConnection, proof_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    if not proof_ids:
        return []
    return list((await conn.execute(select(outbox.c.id, outbox.c.payload).where(
        outbox.c.aggregate_id.in_(proof_ids)))).mappings())
