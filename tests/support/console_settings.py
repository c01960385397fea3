"""For the settings pages' tests: a webhook delivery that failed every try (a dead letter),
made the way it happens (an order's event sent to a receiver that always answers 500, with
one-second retries on a clock the test moves), and the settings sections' URLs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.webhooks import service as webhooks
from orderline.webhooks.rules import DeliveryStatus
from orderline.webhooks.service import deliver_due
from orderline.wiring import provide_parts
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant
from tests.e2e.conftest import add_product, api_client, ok, place_order
from tests.support.webhook_receiver import receiver

SECTIONS = ("", "/business", "/payments", "/cod", "/shipping", "/coupons", "/webhooks",
            "/api-keys", "/staff")


@dataclass(frozen=True)
class DeadLetter:
    endpoint_id: uuid.UUID
    delivery_id: uuid.UUID


async def dead_letter(runtime: Runtime, merchant: Merchant, sku: str) -> DeadLetter:
    """An endpoint of ``merchant`` with one dead delivery (``order.created``)."""
    clock = ManualClock()
    fast = provide_parts(Runtime(settings=runtime.settings.model_copy(update={
        "webhook_retry_delays": (1.0, 1.0, 1.0), "webhook_timeout_seconds": 3.0}),
        db=runtime.db, clock=clock))
    async with api_client(fast) as client:
        with receiver() as hook:
            hook.fail_always()
            ok(await client.patch("/v1/business", headers=merchant.headers,
                                  json={"development_mode": True}))
            endpoint = ok(await client.post("/v1/webhooks", headers=merchant.headers, json={
                "url": hook.url, "event_types": ["order.created"]}), 201)
            await add_product(client, merchant, sku, 3)
            await place_order(client, merchant, (sku, 1))
            await default_relay(fast).relay_until_idle()
            for _ in range(5):
                await deliver_due(fast)
                clock.advance(2.0)
    endpoint_id = uuid.UUID(endpoint["id"])
    [dead] = await webhooks.list_deliveries(fast, merchant.principal, endpoint_id=endpoint_id,
                                            status=DeliveryStatus.DEAD, limit=5, before=None)
    return DeadLetter(endpoint_id=endpoint_id, delivery_id=dead["id"])
