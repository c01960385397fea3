"""Webhook delivery end to end on each database: events fan out into deliveries, the sender
POSTs them to a real receiver on 127.0.0.1 (signed; the receiver checks each signature with
its own Standard Webhooks code), failures are retried on the schedule, an endpoint that
keeps failing is disabled with an event, and a rotated secret's predecessor signs too until
the overlap ends.

The clock is a ManualClock, so "the retry is due" is a step of the test, not a sleep.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from orderline.core.clock import ManualClock
from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.handler import HandlerContext
from orderline.events.outbox import stored_event
from orderline.orders import status as order_status
from orderline.tenancy import service as tenancy
from orderline.webhooks import service as webhooks
from orderline.webhooks.rules import DeliveryStatus, new_signing_secret
from orderline.webhooks.service import deliver_due
from orderline.wiring import provide_parts
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku
from tests.support.webhook_receiver import (
    Received,
    Receiver,
    receiver,
    standard_webhooks_signature_ok,
)

RETRY_AFTER = 1.0  # seconds, in the tests' settings (jitter keeps it under 1.2)
STEP = 2.0  # advancing the clock this far makes any scheduled retry due


def configured(runtime: Runtime, clock: ManualClock, **settings: Any) -> Runtime:
    values: dict[str, Any] = {"webhook_retry_delays": (RETRY_AFTER,) * 3,
                              "webhook_timeout_seconds": 3.0,
                              "webhook_disable_after_failures": 100, **settings}
    return provide_parts(Runtime(settings=runtime.settings.model_copy(update=values), db=runtime.db,
                   clock=clock))


@pytest.fixture
async def shop(runtime: Runtime) -> AsyncIterator[Merchant]:
    """A business in development mode (its receiver is on 127.0.0.1); its endpoints are
    deleted afterwards, so no later test's sender finds their deliveries due."""
    merchant = await new_merchant(runtime, name="Hook shop")
    await tenancy.update_settings(runtime, merchant.principal, development_mode=True)
    yield merchant
    for endpoint in await webhooks.list_endpoints(runtime, merchant.principal):
        await webhooks.delete_endpoint(runtime, merchant.principal, endpoint["id"])


async def subscribe(rt: Runtime, shop: Merchant, hook: Receiver,
                    *event_types: str) -> dict[str, Any]:
    endpoint = await webhooks.create_endpoint(rt, shop.principal, url=hook.url,
                                              event_types=list(event_types))
    hook.secret = endpoint["secret"]  # from now on the receiver refuses bad signatures
    return endpoint


async def deliveries(rt: Runtime, shop: Merchant, endpoint: dict[str, Any],
                     status: DeliveryStatus | None = None) -> list[dict[str, Any]]:
    return await webhooks.list_deliveries(rt, shop.principal, endpoint_id=endpoint["id"],
                                          status=status, limit=100, before=None)


async def endpoint_now(rt: Runtime, shop: Merchant, endpoint: dict[str, Any]) -> dict[str, Any]:
    return await webhooks.get_endpoint(rt, shop.principal, endpoint["id"])


def types_of(hook: Receiver) -> list[str]:
    return sorted(json.loads(r.body)["type"] for r in hook.received)


async def test_a_paid_order_reaches_the_receiver_signed_as_standard_webhooks_says(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.*")
        await stock_sku(rt, shop, "HOOK-MUG", 5)
        order = await place(rt, shop, ("HOOK-MUG", 1))
        await order_status.confirm_payment(rt, shop.principal, order["id"])
        await default_relay(rt).relay_until_idle()
        await deliver_due(rt)

        # ... and the invoice number the worker then gives the paid order (order.updated).
        assert types_of(hook) == ["order.created", "order.paid", "order.updated"]
        assert all(r.signature_ok for r in hook.received)
        paid = next(r for r in hook.received if json.loads(r.body)["type"] == "order.paid")
        assert standard_webhooks_signature_ok(endpoint["secret"], paid.headers, paid.body)
        assert not standard_webhooks_signature_ok(new_signing_secret(b"x" * 24),
                                                  paid.headers, paid.body)
        envelope = json.loads(paid.body)
        assert envelope["business_id"] == str(shop.principal.business_id)
        assert envelope["aggregate"]["type"] == "order"
        assert envelope["aggregate"]["id"] == str(order["id"])
        assert envelope["data"]["order"]["status"] == "paid"
        assert paid.headers["webhook-id"] == envelope["id"]
        assert int(paid.headers["webhook-timestamp"]) == int(clock.now().timestamp())
        assert paid.headers["content-type"] == "application/json"
        assert paid.headers["user-agent"].startswith("Orderline-Webhooks/")
        assert paid.path == "/hooks/orderline"

        sent = await deliveries(rt, shop, endpoint)
        assert {d["event_id"] for d in sent} == {
            uuid.UUID(json.loads(r.body)["id"]) for r in hook.received}
        assert [(d["status"], [(a["attempt"], a["status_code"], a["succeeded"])
                               for a in d["attempts"]]) for d in sent] == [
            ("succeeded", [(1, 200, True)])] * 3
        await deliver_due(rt)
        assert len(hook.received) == 3  # nothing is sent twice


async def test_a_receiver_that_fails_three_times_gets_the_event_once_it_succeeds(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        hook.fail_next(3)
        await stock_sku(rt, shop, "HOOK-CUP", 5)
        await place(rt, shop, ("HOOK-CUP", 1))
        await default_relay(rt).relay_until_idle()

        await deliver_due(rt)
        assert [r.answered for r in hook.received] == [500]
        await deliver_due(rt)
        assert len(hook.received) == 1  # the retry waits for its delay
        assert (await endpoint_now(rt, shop, endpoint))["consecutive_failures"] == 1
        for _ in range(4):
            clock.advance(STEP)
            await deliver_due(rt)

        assert [r.answered for r in hook.received] == [500, 500, 500, 200]
        assert len(hook.succeeded()) == 1
        assert len({r.body for r in hook.received}) == 1  # the same bytes every time
        assert len({r.headers["webhook-id"] for r in hook.received}) == 1
        stamps = [int(r.headers["webhook-timestamp"]) for r in hook.received]
        assert stamps == sorted(stamps) and len(set(stamps)) == 4  # signed afresh each time
        assert all(r.signature_ok for r in hook.received)
        [delivery] = await deliveries(rt, shop, endpoint)
        assert delivery["status"] == "succeeded" and delivery["last_error"] is None
        assert [(a["attempt"], a["status_code"], a["succeeded"], a["error"])
                for a in delivery["attempts"]] == [
            (1, 500, False, "HTTP 500: receiver says no"),
            (2, 500, False, "HTTP 500: receiver says no"),
            (3, 500, False, "HTTP 500: receiver says no"),
            (4, 200, True, None)]
        assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
        assert (await endpoint_now(rt, shop, endpoint))["consecutive_failures"] == 0


async def test_a_receiver_that_always_fails_leaves_a_dead_delivery_after_the_last_try(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        hook.fail_always(503)
        await stock_sku(rt, shop, "HOOK-PEN", 5)
        await place(rt, shop, ("HOOK-PEN", 1))
        await default_relay(rt).relay_until_idle()
        for _ in range(6):
            await deliver_due(rt)
            clock.advance(STEP)

        assert [r.answered for r in hook.received] == [503] * 4  # 1 + 3 retries
        [dead] = await deliveries(rt, shop, endpoint, DeliveryStatus.DEAD)
        assert dead["dead_at"] is not None and dead["next_attempt_at"] is None
        assert dead["last_status_code"] == 503
        letters = await webhooks.list_deliveries(rt, shop.principal, endpoint_id=None,
                                                 status=DeliveryStatus.DEAD, limit=10,
                                                 before=None)
        assert [d["id"] for d in letters] == [dead["id"]]


async def test_an_endpoint_that_keeps_failing_is_disabled_announced_and_sent_nothing_more(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock, webhook_retry_delays=(RETRY_AFTER,) * 6,
                    webhook_disable_after_failures=3)
    with receiver() as failing, receiver() as watcher:
        broken = await subscribe(rt, shop, failing, "*")
        failing.fail_always()
        watching = await subscribe(rt, shop, watcher, "webhook_endpoint.disabled")
        await stock_sku(rt, shop, "HOOK-INK", 5)
        await place(rt, shop, ("HOOK-INK", 1))
        await default_relay(rt).relay_until_idle()
        for _ in range(3):
            await deliver_due(rt)
            clock.advance(STEP)

        disabled = await endpoint_now(rt, shop, broken)
        assert disabled["enabled"] is False and disabled["disabled_at"] is not None
        assert disabled["consecutive_failures"] == 3
        assert "3 failed delivery attempts in a row" in disabled["disabled_reason"]
        assert watcher.received == []

        await default_relay(rt).relay_until_idle()  # the disabled event fans out
        await deliver_due(rt)
        [notice] = watcher.received
        assert notice.signature_ok
        envelope = json.loads(notice.body)
        assert envelope["type"] == "webhook_endpoint.disabled"
        assert envelope["aggregate"] == {"type": "webhook_endpoint", "id": str(broken["id"]),
                                         "sequence": 1}
        assert envelope["data"]["webhook"]["id"] == str(broken["id"])
        assert envelope["data"]["webhook"]["enabled"] is False
        assert broken["secret"] not in notice.body.decode() and "secret" not in envelope["data"][
            "webhook"]
        # Nothing more goes to the disabled endpoint: not its own notice, not new events,
        # not the retries of what it already had.
        assert [d["event_type"] for d in await deliveries(rt, shop, broken)] == ["order.created"]
        await place(rt, shop, ("HOOK-INK", 1))
        await default_relay(rt).relay_until_idle()
        clock.advance(STEP)
        await deliver_due(rt)
        assert len(failing.received) == 3
        assert [d["event_type"] for d in await deliveries(rt, shop, broken)] == ["order.created"]
        assert len(await deliveries(rt, shop, watching)) == 1

        failing.recover()
        enabled = await webhooks.enable_endpoint(rt, shop.principal, broken["id"])
        assert (enabled["enabled"], enabled["consecutive_failures"]) == (True, 0)
        assert enabled["disabled_reason"] is None
        await deliver_due(rt)
        assert [r.answered for r in failing.received] == [500, 500, 500, 200]
        [waited] = await deliveries(rt, shop, broken)
        assert waited["status"] == "succeeded"


async def test_the_address_is_checked_again_when_sending(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        await tenancy.update_settings(rt, shop.principal, development_mode=False)
        await stock_sku(rt, shop, "HOOK-CAP", 5)
        await place(rt, shop, ("HOOK-CAP", 1))
        await default_relay(rt).relay_until_idle()
        await deliver_due(rt)

        assert hook.received == []
        [delivery] = await deliveries(rt, shop, endpoint)
        assert delivery["status"] == "retrying"
        [attempt] = delivery["attempts"]
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("unsafe_webhook_url: ")
        assert "127.0.0.1 (loopback)" in attempt["error"]


async def test_redirects_are_not_followed_and_count_as_failures(
        runtime: Runtime, shop: Merchant) -> None:
    rt = configured(runtime, ManualClock())
    with receiver() as hook, receiver() as elsewhere:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        hook.redirect_to(elsewhere.url)
        await stock_sku(rt, shop, "HOOK-HAT", 5)
        await place(rt, shop, ("HOOK-HAT", 1))
        await default_relay(rt).relay_until_idle()
        await deliver_due(rt)

        assert [r.answered for r in hook.received] == [307]
        assert elsewhere.received == []
        [delivery] = await deliveries(rt, shop, endpoint)
        assert delivery["status"] == "retrying"
        assert delivery["attempts"][0]["error"] == (
            "HTTP 307: redirects are not followed; give the final URL.")


async def test_a_receiver_slower_than_the_time_limit_is_a_failed_attempt(
        runtime: Runtime, shop: Merchant) -> None:
    rt = configured(runtime, ManualClock(), webhook_timeout_seconds=0.5)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        hook.answer_after(4)
        await stock_sku(rt, shop, "HOOK-BAG", 5)
        await place(rt, shop, ("HOOK-BAG", 1))
        await default_relay(rt).relay_until_idle()
        await deliver_due(rt)

        [delivery] = await deliveries(rt, shop, endpoint)
        [attempt] = delivery["attempts"]
        assert (attempt["status_code"], attempt["error"]) == (None, "No answer within 0.5 s.")
        # It gave up at its limit instead of waiting for the answer (4 s later).
        assert 400 <= attempt["latency_ms"] < 4000


async def test_concurrent_senders_send_each_delivery_exactly_once(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        await subscribe(rt, shop, hook, "order.created")
        await stock_sku(rt, shop, "HOOK-TOY", 20)
        for n in range(6):
            await place(rt, shop, ("HOOK-TOY", 1), phone=f"+1 555 02{n:02d}")
        await default_relay(rt).relay_until_idle()
        await asyncio.gather(*(deliver_due(rt, limit=2) for _ in range(4)))
        for _ in range(3):  # whatever a sender skipped (rows another held) goes now
            await deliver_due(rt)

        ids = [r.headers["webhook-id"] for r in hook.received]
        assert len(ids) == 6 and len(set(ids)) == 6
        assert all(r.answered == 200 for r in hook.received)


async def test_fanning_out_the_same_event_twice_queues_one_delivery_with_its_envelope(
        runtime: Runtime, shop: Merchant) -> None:
    rt = configured(runtime, ManualClock())
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        await stock_sku(rt, shop, "HOOK-BOX", 5)
        order = await place(rt, shop, ("HOOK-BOX", 1))
        async with rt.db.read() as conn:
            [row] = await outbox_store.events_of_aggregate(conn, order["id"])
        event = stored_event(row)
        for _ in range(2):
            await rt.db.run(lambda conn: webhooks.fan_out(HandlerContext(rt, rt.clock.now()),
                                                          conn, event))

        [queued] = await deliveries(rt, shop, endpoint)
        assert (queued["event_id"], queued["status"]) == (event.event_id, "pending")
        detail = await webhooks.get_delivery(rt, shop.principal, endpoint["id"], queued["id"])
        assert detail["payload"] == event.envelope()


# --- rotating the signing secret ---------------------------------------------------------------

def signatures(request: Received) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def signed_by(secret: str, request: Received, position: int) -> bool:
    """Whether the header's signature at ``position``, on its own, verifies with ``secret``."""
    alone = {**request.headers, "webhook-signature": signatures(request)[position]}
    return standard_webhooks_signature_ok(secret, alone, request.body)


async def order_created_event(rt: Runtime, shop: Merchant, sku: str) -> None:
    await place(rt, shop, (sku, 1))
    await default_relay(rt).relay_until_idle()


async def test_after_a_rotation_a_receiver_on_the_old_secret_loses_nothing_until_the_overlap_ends(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        old = endpoint["secret"]
        rotated = await webhooks.rotate_secret(rt, shop.principal, endpoint["id"],
                                               overlap_seconds=3600)
        new = rotated["secret"]
        assert new != old and new.startswith("whsec_")
        assert rotated["previous_secret_expires_at"] == clock.now() + timedelta(hours=1)
        await stock_sku(rt, shop, "HOOK-KEY", 5)

        # The receiver has not switched yet: it still checks with the old secret.
        await order_created_event(rt, shop, "HOOK-KEY")
        await deliver_due(rt)
        [during] = hook.received
        assert (during.answered, during.signature_ok) == (200, True)
        assert len(signatures(during)) == 2 and all(
            s.startswith("v1,") for s in signatures(during))
        assert signed_by(new, during, 0) and signed_by(old, during, 1)
        assert not signed_by(old, during, 0) and not signed_by(new, during, 1)

        clock.advance(3600)  # the overlap ends: from this moment the old secret signs nothing
        await order_created_event(rt, shop, "HOOK-KEY")
        await deliver_due(rt)
        after = hook.received[-1]
        assert len(signatures(after)) == 1
        assert standard_webhooks_signature_ok(new, after.headers, after.body)
        assert not standard_webhooks_signature_ok(old, after.headers, after.body)
        assert after.answered == 401  # the receiver that never switched now refuses

        hook.secret = new
        clock.advance(STEP)
        await deliver_due(rt)
        assert (hook.received[-1].answered, hook.received[-1].signature_ok) == (200, True)
        assert hook.received[-1].body == after.body


async def test_a_rotation_without_overlap_signs_the_next_attempt_with_the_new_secret_only(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        hook.fail_next(1)
        await stock_sku(rt, shop, "HOOK-LOCK", 5)
        await order_created_event(rt, shop, "HOOK-LOCK")
        await deliver_due(rt)
        [first] = hook.received
        assert first.answered == 500 and first.signature_ok

        rotated = await webhooks.rotate_secret(rt, shop.principal, endpoint["id"],
                                               overlap_seconds=0)
        assert rotated["previous_secret_expires_at"] is None
        hook.secret = rotated["secret"]
        clock.advance(STEP)
        await deliver_due(rt)  # the retry of a delivery queued before the rotation

        _, retry = hook.received
        assert (retry.answered, retry.body) == (200, first.body)
        assert len(signatures(retry)) == 1
        assert standard_webhooks_signature_ok(rotated["secret"], retry.headers, retry.body)
        assert not standard_webhooks_signature_ok(endpoint["secret"], retry.headers, retry.body)


async def test_rotating_again_during_an_overlap_keeps_only_the_current_and_the_one_before(
        runtime: Runtime, shop: Merchant) -> None:
    clock = ManualClock()
    rt = configured(runtime, clock)
    with receiver() as hook:
        endpoint = await subscribe(rt, shop, hook, "order.created")
        second = await webhooks.rotate_secret(rt, shop.principal, endpoint["id"],
                                              overlap_seconds=3600)
        clock.advance(60)
        third = await webhooks.rotate_secret(rt, shop.principal, endpoint["id"],
                                             overlap_seconds=600)
        hook.secret = third["secret"]
        await stock_sku(rt, shop, "HOOK-BOLT", 5)
        await order_created_event(rt, shop, "HOOK-BOLT")
        await deliver_due(rt)

        [got] = hook.received
        assert (got.answered, got.signature_ok) == (200, True)
        assert len(signatures(got)) == 2
        assert signed_by(third["secret"], got, 0) and signed_by(second["secret"], got, 1)
        assert not standard_webhooks_signature_ok(endpoint["secret"], got.headers, got.body)
        assert (await endpoint_now(rt, shop, endpoint))["previous_secret_expires_at"] == (
            clock.now() + timedelta(seconds=600))
