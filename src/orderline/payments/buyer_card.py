"""A buyer paying their own order by card (the hosted checkout's card step): the payment
attempt their browser completes at the provider.

With Stripe the browser needs the attempt's client secret for Stripe's Payment Element, and
reloading the page must not open a second attempt: the order's live attempt at that provider
is handed back while it still waits for the buyer, else a new one is started (without a
payment method, so the buyer's card goes to Stripe straight from the browser).
"""

from __future__ import annotations

import uuid
from typing import Any

from orderline.core.runtime import Runtime
from orderline.payments import store as payment_store
from orderline.payments.rules import IntentStatus
from orderline.payments.service import intent_view, start_payment_for


async def attempt_for_browser(runtime: Runtime, business_id: uuid.UUID, order_id: uuid.UUID,
                              *, provider: str, actor: str) -> dict[str, Any]:
    """The order's attempt at ``provider`` still waiting for the buyer, or a new one."""
    async with runtime.db.read() as conn:
        intents = await payment_store.intents_of_order(conn, business_id, order_id)
    for intent in intents:
        if (intent.provider == provider and intent.status == IntentStatus.REQUIRES_ACTION
                and intent.client_secret):
            return intent_view(intent)
    return await start_payment_for(runtime, business_id, order_id, actor=actor,
                                   provider=provider, payment_method=None)
