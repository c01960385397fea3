"""The sandbox provider behind real server processes and a real worker: a refund landing on
another process than the one that took the payment, and a merchant's cancel racing a card
payment on one order, ten times, through four server processes on PostgreSQL (one on SQLite,
the embedded mode), with ``orderline worker`` running the saga in a process of its own.

Every order ends paid, or cancelled with every captured unit refunded; the test waits for that
with a generous cap, never for a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from orderline.core.config import Settings
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import OutboxEvent
from orderline.payments.providers.sandbox import PM_3DS, PM_APPROVE, SandboxGateway
from tests.conftest import new_merchant
from tests.e2e.test_cli import orderline
from tests.support.catalog import stock_sku
from tests.support.servers import running_server, running_worker

pytestmark = pytest.mark.slow

ORDERS = 10
SETTLED_WITHIN = 120.0  # seconds: a cap on waiting, not an expectation of how long it takes


@pytest.fixture(scope="module")
def servers(database_url: str, shared_db: Any) -> Iterator[list[str]]:
    """Four server processes on PostgreSQL, one on SQLite (``shared_db``: migrated first)."""
    count = 1 if database_url.startswith("sqlite") else 4
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_server(database_url)) for _ in range(count)]


def order_body(sku: str, n: int) -> dict[str, Any]:
    return {"customer": {"name": f"Buyer {n}", "phone": f"+1 555 {n:04d}"}, "channel": "web",
            "lines": [{"sku": sku, "quantity": 1}], "payment_method": "card"}


def card(payment_method: str) -> dict[str, str]:
    return {"provider": "sandbox", "payment_method": payment_method}


async def test_a_refund_on_another_process_than_the_payment_succeeds(
        runtime: Runtime, database_url: str, shared_db: Any) -> None:
    """Before: 503 payment_provider_unavailable, "No such payment intent" (the intent lived
    in the memory of the process that created it)."""
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "TEAPOT", 3, price=1000)
    with running_server(database_url) as first:
        async with httpx.AsyncClient(base_url=first, headers=merchant.headers,
                                     timeout=60) as api:
            order = (await api.post("/v1/orders", json=order_body("TEAPOT", 1))).json()
            paid = await api.post(f"/v1/orders/{order['id']}/payments", json=card(PM_APPROVE))
            assert paid.status_code == 201 and paid.json()["status"] == "captured", paid.text
        # SQLite is one process's database: the second process comes after a restart.
        with contextlib.ExitStack() as stack:
            if database_url.startswith("sqlite"):
                stack.close()
            second = stack.enter_context(running_server(database_url))
            async with httpx.AsyncClient(base_url=second, headers=merchant.headers,
                                         timeout=60) as api:
                refunded = await api.post(f"/v1/orders/{order['id']}/refunds",
                                          json={"amount": 400, "reason": "chipped"})
                assert refunded.status_code == 201, refunded.text
                again = await api.post(f"/v1/orders/{order['id']}/refunds",
                                       json={"amount": 600})
                assert again.status_code == 201, again.text
                seen = (await api.get(f"/v1/orders/{order['id']}/payments")).json()
    assert seen["data"][0]["amount_refunded"] == 1000
    assert [(m["kind"], m["amount"]) for m in seen["ledger"]] == [
        ("authorize", 1000), ("capture", 1000), ("refund", 400), ("refund", 600)]


async def test_a_cancel_racing_a_card_payment_ends_paid_or_cancelled_with_everything_refunded(
        runtime: Runtime, database_url: str, servers: list[str]) -> None:
    merchant = await new_merchant(runtime)
    await stock_sku(runtime, merchant, "RACE", ORDERS, price=1000)
    clients = [httpx.AsyncClient(base_url=base, headers=merchant.headers, timeout=60)
               for base in servers]
    # The buyer's bank: 3-D Secure is finished at the provider (the sandbox's tables), and
    # its webhooks are POSTed to a server, as the provider would.
    bank = SandboxGateway(secret=Settings().sandbox_webhook_secret.get_secret_value(),
                          db=runtime.db, deliver=webhook_to(clients[-1]))
    try:
        with running_worker(database_url, interval=0.2):
            orders = [(await clients[n % len(clients)].post(
                "/v1/orders", json=order_body("RACE", n))).json() for n in range(ORDERS)]
            answers = await asyncio.gather(*(
                race(n, order, clients, bank) for n, order in enumerate(orders)))
            settled = await wait_until_settled(clients[0], [o["id"] for o in orders])
        await bank.wait_for_deliveries()
    finally:
        await bank.aclose()
        for client in clients:
            await client.aclose()

    for n, (order, ledger) in enumerate(settled):
        received = sum(a for kind, a in ledger if kind == "capture")
        refunded = sum(a for kind, a in ledger if kind == "refund")
        if order["status"] == "paid":
            assert (received, refunded) == (1000, 0), (n, answers[n], ledger)
        else:
            assert order["status"] == "cancelled", (n, answers[n], order["status"])
            assert refunded == received, (n, answers[n], ledger)
    for pay, cancel in answers:
        assert pay in {"201", "402", "409 invalid_transition", "3ds done", "3ds refused"}, pay
        assert cancel in {"200", "409 refund_first"}, cancel
    assert not await unfinished_events(runtime, [o["id"] for o in orders])
    checked = orderline("payments", "reconcile", "--business",
                        str(merchant.principal.business_id), database_url=database_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def webhook_to(client: httpx.AsyncClient) -> Any:
    async def deliver(headers: dict[str, str], body: bytes) -> None:
        answer = await client.post("/v1/payments/webhooks/sandbox", headers=headers,
                                   content=body)
        assert answer.status_code == 200, answer.text

    return deliver


async def race(n: int, order: dict[str, Any], clients: list[httpx.AsyncClient],
               bank: SandboxGateway) -> tuple[str, str]:
    """Odd orders: the card payment (captured at once) against the cancel, each sent to
    another process. Even orders: the buyer was sent to 3-D Secure, and finishing it at the
    bank (which captures) races the cancel."""
    payer, canceller = clients[n % len(clients)], clients[(n + 1) % len(clients)]
    path = f"/v1/orders/{order['id']}"

    async def cancel() -> str:
        answer = await canceller.patch(f"{path}/status", json={"status": "cancelled"})
        return _outcome(answer)

    if n % 2:
        paid, cancelled = await asyncio.gather(
            payer.post(f"{path}/payments", json=card(PM_APPROVE)), cancel())
        return _outcome(paid), cancelled

    started = await payer.post(f"{path}/payments", json=card(PM_3DS))
    assert started.status_code == 201, started.text
    reference = started.json()["provider_ref"]

    async def finish_3ds() -> str:
        try:
            await bank.complete_action(reference, approve=True)
        except Exception as refused:  # the saga cancelled it at the provider first
            assert getattr(refused, "code", None) == "payment_intent_unexpected_state"
            return "3ds refused"
        return "3ds done"

    done, cancelled = await asyncio.gather(finish_3ds(), cancel())
    return done, cancelled


def _outcome(answer: httpx.Response) -> str:
    if answer.status_code in (200, 201, 402):
        return str(answer.status_code)
    return f"{answer.status_code} {answer.json()['error']['code']}"


async def wait_until_settled(client: httpx.AsyncClient, order_ids: list[str]
                             ) -> list[tuple[dict[str, Any], list[tuple[str, int]]]]:
    """Each order paid with its money and nothing live, or cancelled with every captured
    unit refunded and nothing live; waits up to ``SETTLED_WITHIN`` seconds."""
    deadline = time.monotonic() + SETTLED_WITHIN
    while True:
        seen = []
        for order_id in order_ids:
            order = (await client.get(f"/v1/orders/{order_id}")).json()
            payments = (await client.get(f"/v1/orders/{order_id}/payments")).json()
            seen.append((order, payments))
        if all(_settled(order, payments) for order, payments in seen):
            return [(order, [(m["kind"], m["amount"]) for m in payments["ledger"]])
                    for order, payments in seen]
        if time.monotonic() > deadline:
            raise AssertionError("not settled: " + repr([
                (o["status"], [(i["status"], i["amount_captured"], i["amount_refunded"])
                               for i in p["data"]]) for o, p in seen if not _settled(o, p)]))
        await asyncio.sleep(0.25)


def _settled(order: dict[str, Any], payments: dict[str, Any]) -> bool:
    intents = payments["data"]
    if any(i["status"] in ("requires_action", "processing", "authorized") for i in intents):
        return False
    booked = {kind: sum(m["amount"] for m in payments["ledger"] if m["kind"] == kind)
              for kind in ("capture", "refund")}
    if order["status"] == "paid":
        return booked == {"capture": order["total"], "refund": 0}
    return bool(order["status"] == "cancelled" and booked["refund"] == booked["capture"])


async def unfinished_events(runtime: Runtime, order_ids: list[str]) -> int:
    """The orders' events given up, and their saga requests not yet relayed."""
    outbox = table_of(OutboxEvent)
    async with runtime.db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.aggregate_id.in_([uuid.UUID(i) for i in order_ids]),
            (outbox.c.status == "dead") | ((outbox.c.type == "payment.cancel_requested")
                                           & (outbox.c.status != "done")))) or 0)
