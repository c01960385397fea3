"""Low-stock alerts: one ``stock.low`` event and one merchant notice each time a SKU's free
stock falls from above its threshold to at or below it; staying low is quiet, and restocking
arms the alert again. Disabled webhook endpoints are announced to the merchant the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from orderline.catalog import inventory
from orderline.catalog.rules import MovementReason
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.events.tables import OutboxEvent
from orderline.notifications import store as notification_store
from orderline.notifications.service import send_due
from orderline.tenancy.tables import Business
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant
from tests.support.catalog import place, stock, stock_sku


async def low_stock_events(rt: Runtime, merchant: Merchant) -> list[dict[str, Any]]:
    outbox = table_of(OutboxEvent)
    async with rt.db.read() as conn:
        rows = await conn.execute(
            select(outbox.c.payload).where(outbox.c.business_id == merchant.principal.business_id,
                                           outbox.c.type == EventType.STOCK_LOW.value)
            .order_by(outbox.c.id))
        return [dict(r.payload) for r in rows]


async def merchant_notices(rt: Runtime, merchant: Merchant) -> list[Any]:
    async with rt.db.read() as conn:
        rows = await notification_store.of_business(conn, merchant.principal.business_id)
    return [r for r in rows if r["kind"].startswith("merchant:")]


async def test_falling_to_the_threshold_alerts_once_and_restocking_arms_the_alert_again(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "LOW-1", 10, threshold=3)
    relay = default_relay(runtime)

    await place(runtime, merchant, ("LOW-1", 3))  # 7 free
    await place(runtime, merchant, ("LOW-1", 3))  # 4 free: still above
    await relay.relay_until_idle()
    assert await low_stock_events(runtime, merchant) == []
    assert await merchant_notices(runtime, merchant) == []

    await place(runtime, merchant, ("LOW-1", 1))  # 3 free: at the threshold
    await place(runtime, merchant, ("LOW-1", 2))  # 1 free: stays low, no second alert
    await relay.relay_until_idle()
    await relay.relay_until_idle()
    assert [(e["sku"], e["available"], e["threshold"])
            for e in await low_stock_events(runtime, merchant)] == [("LOW-1", 3, 3)]
    [notice] = await merchant_notices(runtime, merchant)
    assert (notice["kind"], notice["recipient"], notice["channel"], notice["status"]) == (
        "merchant:stock.low", "merchant", "log", "queued")
    assert "LOW-1" in notice["subject"] and "3 left" in notice["subject"]

    await inventory.adjust_stock(runtime, merchant.principal, sku="LOW-1", location=None,
                                 reason=MovementReason.RECEIPT, note="restock", delta=10)
    assert (await stock(runtime, merchant, "LOW-1"))["available"] == 11
    await place(runtime, merchant, ("LOW-1", 5))  # 6 free: above again
    await place(runtime, merchant, ("LOW-1", 4))  # 2 free: crosses again
    await relay.relay_until_idle()

    assert [(e["available"]) for e in await low_stock_events(runtime, merchant)] == [3, 2]
    notices = await merchant_notices(runtime, merchant)
    assert [n["kind"] for n in notices] == ["merchant:stock.low"] * 2
    while await send_due(runtime):
        pass
    assert [n["status"] for n in await merchant_notices(runtime, merchant)] == ["sent"] * 2


async def test_a_business_with_an_alert_email_is_told_there(
        runtime: Runtime, merchant: Merchant) -> None:
    # No service sets the alert email yet; the test writes the column the handler reads.
    businesses = table_of(Business)
    address = f"owner-{uuid.uuid4().hex[:8]}@shop.example"
    await runtime.db.run(lambda conn: conn.execute(
        update(businesses).where(businesses.c.id == merchant.principal.business_id)
        .values(alert_email=address)))
    await stock_sku(runtime, merchant, "LOW-2", 2, threshold=1)
    await place(runtime, merchant, ("LOW-2", 1))
    await default_relay(runtime).relay_until_idle()

    [notice] = await merchant_notices(runtime, merchant)
    # The runtime's notifier is the log, so the address is recorded on the log channel.
    assert (notice["recipient"], notice["channel"]) == (address, "log")


async def test_a_disabled_webhook_endpoint_is_announced_to_the_merchant(
        runtime: Runtime, merchant: Merchant) -> None:
    endpoint_id = uuid.uuid4()

    async def disable(conn: Any) -> None:
        await emit(conn, business_id=merchant.principal.business_id,
                   type=EventType.WEBHOOK_ENDPOINT_DISABLED,
                   aggregate_type=AggregateType.WEBHOOK_ENDPOINT, aggregate_id=endpoint_id,
                   payload={"webhook": {
                       "id": str(endpoint_id), "url": "https://hooks.example/in",
                       "enabled": False, "disabled_reason": "Disabled after 8 failed "
                       "delivery attempts in a row; the last: HTTP 500"}},
                   now=runtime.clock.now(), new_aggregate=True)

    await runtime.db.run(disable)
    await default_relay(runtime).relay_until_idle()

    [notice] = await merchant_notices(runtime, merchant)
    assert notice["kind"] == "merchant:webhook_endpoint.disabled"
    assert notice["recipient"] == "merchant"
    assert "https://hooks.example/in" in notice["body"] and "HTTP 500" in notice["body"]
