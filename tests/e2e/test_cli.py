"""The ``orderline`` command as an operator uses it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import select, update

from orderline.catalog.tables import StockLevel
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.payments.providers.configured import providers_of
from orderline.tenancy import service as tenancy
from tests.conftest import new_merchant
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
