"""The ``orderline`` command as an operator uses it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from orderline.catalog.tables import StockLevel
from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.payments.providers.configured import providers_of
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.wiring import provide_parts
from tests.conftest import IN_CI, new_merchant
from tests.support import postgres
from tests.support.catalog import place, stock_sku
from tests.support.servers import ORDERLINE


def orderline(*args: str, database_url: str, cwd: Path | None = None
              ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url}
    return subprocess.run([ORDERLINE, *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=cwd, check=False)


async def test_business_create_prints_a_working_key_once(runtime: Runtime,
                                                         database_url: str) -> None:
    done = orderline("business", "create", "Corner Shop", "--currency", "EUR",
                     database_url=database_url)
    assert done.returncode == 0, done.stderr
    key = next(line.split()[-1] for line in done.stdout.splitlines()
               if line.startswith("api key:"))
    principal = await tenancy.authenticate(runtime, key)
    assert principal.currency == "EUR"
    assert {"read", "write", "admin"} <= principal.scopes


def test_business_create_refuses_a_bad_currency_with_a_readable_error(database_url: str) -> None:
    done = orderline("business", "create", "Bad", "--currency", "euro",
                     database_url=database_url)
    assert done.returncode == 2
    assert "validation_error" in done.stderr and "ISO 4217" in done.stderr


async def test_reconcile_passes_on_a_clean_ledger_and_reports_drift(runtime: Runtime,
                                                                   database_url: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "DRIFT-ME", 5)
    business = str(merchant.principal.business_id)
    clean = orderline("reconcile", "--business", business, database_url=database_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "balanced" in clean.stdout

    levels = table_of(StockLevel)
    async with runtime.db.write() as conn:  # a change behind the ledger's back
        await conn.execute(update(levels).where(
            levels.c.business_id == merchant.principal.business_id).values(on_hand=7))
    drifted = orderline("reconcile", "--business", business, database_url=database_url)
    assert drifted.returncode == 1
    assert "DRIFT DRIFT-ME@main: on_hand=7 ledger=5" in drifted.stdout


def test_embedded_default_needs_no_setup(tmp_path: Path) -> None:
    """With no database URL at all, a SQLite file under ./data is created and migrated."""
    env = {k: v for k, v in os.environ.items() if k != "ORDERLINE_DATABASE_URL"}
    done = subprocess.run([ORDERLINE, "business", "create", "Fresh"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "orderline.db").exists()
    again = subprocess.run([ORDERLINE, "worker", "--once"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert "cancelled 0 unpaid orders" in again.stdout


def test_several_server_processes_are_refused_on_sqlite(tmp_path: Path) -> None:
    done = orderline("serve", "--workers", "2",
                     database_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 2
    assert "postgresql" in done.stderr.lower()


async def test_outbox_status_flags_dead_events_and_retry_requeues_them(
        runtime: Runtime, database_url: str) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "DEAD-ONE", 5)
    await place(runtime, merchant, ("DEAD-ONE", 1))
    outbox = table_of(OutboxEvent)
    async with runtime.db.write() as conn:  # as a handler that failed every retry leaves it
        event_id = (await conn.execute(
            update(outbox).where(outbox.c.business_id == merchant.principal.business_id)
            .values(status="dead", attempts=8, last_error="boom")
            .returning(outbox.c.event_id))).scalar_one()

    status = orderline("outbox", "status", database_url=database_url)
    assert status.returncode == 1, status.stdout + status.stderr
    assert "orderline outbox retry" in status.stdout
    assert int(status.stdout.split("dead ")[1].split()[0]) >= 1

    assert orderline("outbox", "retry", "not-a-uuid", database_url=database_url).returncode == 2
    retried = orderline("outbox", "retry", str(event_id), database_url=database_url)
    assert retried.returncode == 0 and "requeued 1 dead events" in retried.stdout
    async with runtime.db.read() as conn:
        assert await conn.scalar(select(outbox.c.status).where(
            outbox.c.event_id == event_id)) == "pending"


async def test_payments_reconcile_passes_on_a_clean_ledger_and_reports_a_mismatch(
        runtime: Runtime, database_url: str) -> None:
    from orderline.payments import service as payments
    from orderline.payments.providers.sandbox import SandboxGateway
    from orderline.payments.tables import PaymentIntent
    from tests.support.catalog import place

    providers_of(runtime)["sandbox"] = SandboxGateway(secret="whsec_cli", db=runtime.db)
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "PAID-ME", 5, price=400)
    order = await place(runtime, merchant, ("PAID-ME", 1))
    intent = await payments.start_payment(runtime, merchant.principal, order["id"],
                                          provider="sandbox", payment_method="pm_card_visa")
    business = str(merchant.principal.business_id)
    clean = orderline("payments", "reconcile", "--business", business, database_url=database_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "payments balanced" in clean.stdout
    intents = table_of(PaymentIntent)
    await runtime.db.run(lambda conn: conn.execute(update(intents).where(
        intents.c.id == intent["id"]).values(amount_authorized=401)))
    broken = orderline("payments", "reconcile", "--business", business, database_url=database_url)
    assert broken.returncode == 1
    assert f"PROBLEM order {order['number']}" in broken.stdout
    assert "amount_authorized is 401 but its authorize ledger rows sum to 400" in broken.stdout


async def test_payments_reconcile_flags_orders_whose_money_disagrees_with_their_status(
        runtime: Runtime, database_url: str) -> None:
    from orderline.events.event_types import EventType
    from orderline.orders import status as order_status
    from orderline.orders.tables import Order
    from orderline.payments import service as payments
    from orderline.payments.providers.sandbox import SandboxGateway
    from orderline.payments.reconcile import reconcile_payments
    from orderline.worker import outbox_admin
    from orderline.worker.handlers import default_relay

    gateway = SandboxGateway(secret="whsec_cli", db=runtime.db)
    providers_of(runtime)["sandbox"] = gateway
    merchant = await new_merchant(runtime)
    business = merchant.principal.business_id
    await stock_sku(runtime, merchant, "MONEY", 9, price=1000)
    # Late: the buyer finishes 3-D Secure after the merchant cancelled; the capture is booked
    # and the saga is asked to give it back.
    late = await place(runtime, merchant, ("MONEY", 1))
    attempt = await payments.start_payment(runtime, merchant.principal, late["id"],
                                           provider="sandbox", payment_method="pm_card_3ds")
    await order_status.cancel_order(runtime, merchant.principal, late["id"])
    await gateway.complete_action(attempt["provider_ref"], approve=True)
    for headers, body in gateway.drain():
        await payments.receive_webhook(runtime, "sandbox", headers, body)
    assert await reconcile_payments(runtime, business) == []  # its refund is on its way
    # Kept: cancelled behind the ledger's back while paid (as the old cancel did).
    kept = await place(runtime, merchant, ("MONEY", 1))
    await payments.start_payment(runtime, merchant.principal, kept["id"], provider="sandbox",
                                 payment_method="pm_card_visa")
    # Overpaid: its total went down after it was paid.
    over = await place(runtime, merchant, ("MONEY", 1))
    await payments.start_payment(runtime, merchant.principal, over["id"], provider="sandbox",
                                 payment_method="pm_card_visa")
    orders, outbox = table_of(Order), table_of(OutboxEvent)
    async with runtime.db.write() as conn:
        await conn.execute(update(orders).where(orders.c.id == kept["id"]).values(
            status="cancelled"))
        await conn.execute(update(orders).where(orders.c.id == over["id"]).values(total=900))
        dead = list((await conn.execute(  # as a saga that failed every retry leaves them
            update(outbox).where(outbox.c.aggregate_id == late["id"],
                                 outbox.c.type == EventType.PAYMENT_CANCEL_REQUESTED.value)
            .values(status="dead", attempts=8, last_error="No such payment intent")
            .returning(outbox.c.event_id))).scalars())

    found = orderline("payments", "reconcile", "--business", str(business),
                      database_url=database_url)
    assert found.returncode == 1, found.stdout + found.stderr
    out = found.stdout
    assert (f"PROBLEM order {late['number']}: the order is cancelled but holds 1000 USD of "
            "the buyer's money (1000 received, 0 refunded); its refund failed every retry "
            "(No such payment intent)") in out
    assert "orderline outbox retry" in out and any(str(e) in out for e in dead)
    assert (f"PROBLEM order {kept['number']}: the order is cancelled but holds 1000 USD of "
            "the buyer's money (1000 received, 0 refunded), and no refund is on its way\n"
            f'  what to do: refund it: POST /v1/orders/{kept["id"]}/refunds {{"amount": 1000}}'
            ) in out
    assert (f"PROBLEM order {over['number']}: the order is paid with 1000 USD received (0 "
            "refunded) for a total of 900\n  what to do: give back the 100 kept beyond the "
            "total") in out
    assert out.count("PROBLEM") == 3

    # Each done as the operator was told: the saga requeued, the two refunds made.
    await outbox_admin.retry_dead(runtime, dead)
    await default_relay(runtime).relay_until_idle()
    await payments.refund_payment(runtime, merchant.principal, kept["id"], amount=1000)
    await payments.refund_payment(runtime, merchant.principal, over["id"], amount=100)
    clean = orderline("payments", "reconcile", "--business", str(business),
                      database_url=database_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "payments balanced" in clean.stdout


@pytest.fixture
def own_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database on this backend, for a check over the whole database that other
    tests' rows must not answer for."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
        return
    with postgres.own_database(in_ci=IN_CI) as url:
        yield url


async def test_outbox_status_exits_0_without_dead_events_and_1_with_one(
        own_database_url: str) -> None:
    url = own_database_url
    db = Database(async_url(url))
    try:
        await upgrade_to_head(db)
        runtime = provide_parts(Runtime(settings=Settings(database_url=url), db=db))
        merchant = await new_merchant(runtime)
        await stock_sku(runtime, merchant, "QUIET", 2)
        await place(runtime, merchant, ("QUIET", 1))  # a pending event, not a dead one
        quiet = orderline("outbox", "status", database_url=url)
        assert quiet.returncode == 0, quiet.stdout + quiet.stderr
        assert quiet.stdout.startswith("pending ") and " dead 0 " in quiet.stdout
        outbox = table_of(OutboxEvent)
        async with db.write() as conn:  # as handlers that failed every retry leave them
            await conn.execute(update(outbox).values(status="dead", attempts=8,
                                                     last_error="boom"))
        loud = orderline("outbox", "status", database_url=url)
        assert loud.returncode == 1, loud.stdout + loud.stderr
        assert " dead 0 " not in loud.stdout and "orderline outbox retry" in loud.stdout
    finally:
        await db.dispose()


def test_production_refuses_to_serve_with_the_sandbox_and_says_what_to_set(
        database_url: str) -> None:
    env = {**os.environ, "ORDERLINE_DATABASE_URL": database_url,
           "ORDERLINE_ENVIRONMENT": "production"}
    for command in (["serve", "--port", "1"], ["worker"], ["migrate"]):
        done = subprocess.run([ORDERLINE, *command], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "ORDERLINE_SANDBOX_ENABLED=false" in done.stderr
        assert "ORDERLINE_PROOF_MASTER_KEYS" in done.stderr
        assert "Traceback" not in done.stderr
