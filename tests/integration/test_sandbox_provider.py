"""The sandbox provider is one provider for every process: its intents and idempotency keys are
in the database, so a call that lands on another process (or after a restart) finds what the
first one did, and the same call sent by two processes at once moves the money once.

Each "process" here is a gateway of its own on its own connection pool (on PostgreSQL a second
engine; SQLite is one process's database, so there they share the engine); the real server
processes are in ``tests/e2e/test_sandbox_across_processes.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.runtime import Runtime
from orderline.orders import status as order_status
from orderline.payments import service as payments
from orderline.payments.providers.base import ProviderError, ProviderStatus
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import SandboxGateway
from orderline.tenancy.rules import CaptureMode
from orderline.wiring import provide_parts
from orderline.worker.handlers import default_relay
from tests.conftest import new_merchant
from tests.integration.test_payments import set_capture_mode
from tests.support.catalog import place, stock_sku

SECRET = "whsec_sandbox_processes"


@pytest.fixture
async def other_db(shared_db: Database, database_url: str) -> AsyncIterator[Database]:
    if shared_db.is_sqlite:
        yield shared_db
        return
    db = Database(async_url(database_url), pool_size=5)
    yield db
    await db.dispose()


def gateway(db: Database) -> SandboxGateway:
    return SandboxGateway(secret=SECRET, db=db)


async def created(gw: SandboxGateway, key: str, *, mode: CaptureMode = CaptureMode.MANUAL,
                  payment_method: str = "pm_card_visa", amount: int = 1000) -> str:
    intent = await gw.create_intent(amount=amount, currency="usd", capture_mode=mode,
                                    idempotency_key=key, metadata={"order_id": key},
                                    payment_method=payment_method)
    return intent.reference


async def test_a_refund_sent_to_another_process_finds_the_intent_and_moves_the_money_once(
        shared_db: Database, other_db: Database) -> None:
    here, there = gateway(shared_db), gateway(other_db)
    reference = await created(here, "refund-elsewhere", mode=CaptureMode.AUTOMATIC)

    first = await there.refund(reference, amount=400, idempotency_key="refund-elsewhere:1")
    again = await here.refund(reference, amount=400, idempotency_key="refund-elsewhere:1")
    assert (again.reference, again.amount, again.status) == (first.reference, 400, "succeeded")
    with pytest.raises(ProviderError) as too_much:
        await here.refund(reference, amount=700, idempotency_key="refund-elsewhere:2")
    assert too_much.value.code == "amount_too_large"
    assert "600 of 1000 is left" in str(too_much.value)
    assert (await there.retrieve_intent(reference)).status is ProviderStatus.CAPTURED
    bodies = [json.loads(body) for _, body in there.drain()]
    assert [(b["type"], b["data"]["object"]["amount"]) for b in bodies] == [
        ("charge.refunded", 400)]  # sent once, by the process that made the call


async def test_the_same_call_sent_by_two_processes_at_once_moves_the_money_once(
        shared_db: Database, other_db: Database) -> None:
    here, there = gateway(shared_db), gateway(other_db)
    reference = await created(here, "capture-twice")

    captures = await asyncio.gather(*(
        gw.capture(reference, amount=1000, idempotency_key="capture-twice:capture")
        for gw in (here, there, here, there)))
    assert {(c.status, c.amount_captured) for c in captures} == {(ProviderStatus.CAPTURED,
                                                                  1000)}
    assert len([b for _, b in here.drain() + there.drain() if b"succeeded" in b]) == 1

    async def refund(n: int) -> bool:
        try:
            await (here, there)[n % 2].refund(reference, amount=300,
                                               idempotency_key=f"capture-twice:refund:{n}")
        except ProviderError as refused:
            assert refused.code == "amount_too_large"
            return False
        return True

    assert sum(await asyncio.gather(*(refund(n) for n in range(8)))) == 3


async def test_a_key_used_in_one_process_is_refused_with_other_arguments_in_another(
        shared_db: Database, other_db: Database) -> None:
    here, there = gateway(shared_db), gateway(other_db)
    reference = await created(here, "key-reuse")
    await here.capture(reference, amount=600, idempotency_key="key-reuse:capture")
    with pytest.raises(ProviderError) as reused:
        await there.capture(reference, amount=1000, idempotency_key="key-reuse:capture")
    assert reused.value.code == "idempotency_key_reused"
    # A failure is saved under its key too, as Stripe saves it: the same call fails the same.
    with pytest.raises(ProviderError) as refused:
        await there.capture(reference, amount=600, idempotency_key="key-reuse:again")
    assert refused.value.code == "already_captured"
    with pytest.raises(ProviderError) as unknown:
        await there.refund("pi_sbx_nobody", amount=1, idempotency_key="key-reuse:nobody")
    assert unknown.value.code == "resource_missing"


async def test_a_restarted_sandbox_still_knows_its_intents(shared_db: Database) -> None:
    before = gateway(shared_db)
    reference = await created(before, "restart", mode=CaptureMode.AUTOMATIC,
                              payment_method="pm_card_3ds")
    after = gateway(shared_db)  # a new process: nothing in memory
    done = await after.complete_action(reference, approve=True)
    assert (done.status, done.amount_captured) == (ProviderStatus.CAPTURED, 1000)
    assert (await before.retrieve_intent(reference)).status is ProviderStatus.CAPTURED


async def worker_runtime(db: Database, database_url: str) -> Runtime:
    """The worker's process: its own runtime and its own sandbox gateway, on ``db``."""
    runtime = provide_parts(Runtime(settings=Settings(database_url=database_url), db=db))
    providers_of(runtime)["sandbox"] = gateway(db)
    return runtime


async def paid_by_3ds_after_cancel(runtime: Runtime, worker: Runtime,
                                   mode: str) -> dict[str, Any]:
    """A buyer is sent to 3-D Secure; the merchant cancels the order; the buyer then finishes
    3-D Secure at the provider (which captures or authorises); then the worker's saga runs."""
    api = gateway(runtime.db)
    providers_of(runtime)["sandbox"] = api
    merchant = await new_merchant(runtime)
    await set_capture_mode(runtime, merchant, mode)
    await stock_sku(runtime, merchant, "LAMP", 3, price=1000)
    order = await place(runtime, merchant, ("LAMP", 1))
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_3ds")
    assert intent["status"] == "requires_action"
    await order_status.cancel_order(runtime, merchant.principal, order["id"])
    await api.complete_action(intent["provider_ref"], approve=True)

    await default_relay(worker).relay_until_idle()
    for headers, body in api.drain():  # the provider's webhooks, late: they change nothing
        await payments.receive_webhook(runtime, "sandbox", headers, body)
    seen = await payments.payments_of_order(runtime, merchant.principal, order["id"])
    return {"intent": seen["data"][0], "ledger": [(m["kind"], m["amount"])
                                                  for m in seen["ledger"]],
            "at_provider": await api.retrieve_intent(intent["provider_ref"])}


async def test_money_captured_after_a_cancel_is_refunded_by_the_saga_in_another_process(
        runtime: Runtime, other_db: Database, database_url: str) -> None:
    worker = await worker_runtime(other_db, database_url)
    seen = await paid_by_3ds_after_cancel(runtime, worker, "automatic")
    intent = seen["intent"]
    assert (intent["amount_captured"], intent["amount_refunded"]) == (1000, 1000)
    assert sorted(seen["ledger"]) == [("authorize", 1000), ("capture", 1000), ("refund", 1000)]


async def test_an_authorisation_after_a_cancel_is_voided_by_the_saga_in_another_process(
        runtime: Runtime, other_db: Database, database_url: str) -> None:
    worker = await worker_runtime(other_db, database_url)
    seen = await paid_by_3ds_after_cancel(runtime, worker, "manual")
    intent = seen["intent"]
    assert (intent["status"], intent["amount_voided"], intent["amount_captured"]) == (
        "cancelled", 1000, 0)
    assert seen["at_provider"].status is ProviderStatus.CANCELLED
