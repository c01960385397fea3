"""``orderline bench payments``: card payments through the sandbox gateway, over HTTP.

One run creates a throw-away database on the given server (``bench.throwaway_database``),
migrates it and opens a shop through the services: ``skus`` SKUs of one product, and
``bench.BUYERS`` customers (one order each, in-process), so that every order the phases place
is a returning customer's. Orders take one unit each, of the SKUs in turn. Then:

1. Card paths against ``orderline serve --workers W``, ``connections`` in flight: each places an
   order (``POST /v1/orders``) and pays it (``POST /v1/orders/{id}/payments``, the server's own
   sandbox, ``pm_card_visa``). The business captures automatically, so the answer is already
   ``captured`` and the order ``paid``. The sandbox then sends its two webhooks (created,
   succeeded) to the same server process, in-process, where they are applied as duplicates of
   the answer; the bench waits for them (they are kept in ``provider_events``), then GETs the
   order of every measured path and counts the paid ones.
2. Webhooks: the business switches to manual capture. ``webhooks`` orders are placed and their
   payments authorised in-process through a ``SandboxGateway`` of this process, with the
   server's webhook secret: an intent lives in the memory of the gateway that made it, so the
   server's own sandbox could not capture these. Each is captured at that gateway, and its
   ``payment_intent.succeeded`` webhook POSTed to ``/v1/payments/webhooks/sandbox``,
   ``connections`` in flight: the server verifies it, books the capture and pays the order.
   Then every webhook delivered is POSTed again: all duplicates. A webhook is signed as it is
   sent, as a provider signs each delivery, so a long phase never outlives the signature's
   five-minute tolerance.
3. The SQL statements of each call above, the services run once in-process
   (``bench_statements``), and the outbox events written, by type, at the end.

Warm-ups of ``WARMUP`` (fewer if fewer are measured) are not measured; a measured phase stops
taking new work after ``max_seconds``. The database is dropped at the end, also after a failure
or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import typer

from orderline.bench import http as bench_http
from orderline.bench.checkout_paths import StepRefused, StepTimes, post_step
from orderline.bench.load import PhaseResult, drive
from orderline.bench.orders import (
    BUYERS,
    BenchRefused,
    CpuMeter,
    LoadOptions,
    buyer,
    check_sizes,
    measured_phase,
    place_in_process,
    run_bench,
    staged,
)
from orderline.bench.payments_report import (
    AGAIN,
    CARD,
    CARD_STEPS,
    FIRST,
    Counted,
    PaymentReport,
    as_json,
    render,
)
from orderline.bench.statements import counting
from orderline.catalog import products as catalog
from orderline.core.runtime import Runtime
from orderline.payments import service as payments
from orderline.payments.providers.configured import providers_of
from orderline.payments.providers.sandbox import PM_APPROVE, SandboxGateway, sign
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

__all__ = ["PaymentBenchOptions", "PaymentReport", "run"]

WARMUP = 50
SETUP_CONCURRENCY = 8
PRICE = 1000
PAYMENT = {"provider": "sandbox", "payment_method": PM_APPROVE}
WEBHOOKS_URL = "/v1/payments/webhooks/sandbox"
SERVER_WEBHOOKS_WAIT_SECONDS = 60.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PaymentBenchOptions(LoadOptions):
    paths: int = 1000  # card paths measured, after the warm-up
    webhooks: int = 1000  # capture webhooks measured in each delivery, after the warm-up
    skus: int = 100  # the orders take them in turn

    def check(self) -> None:
        check_sizes((("--paths", self.paths, 1_000_000),
                     ("--webhooks", self.webhooks, 100_000),
                     ("--connections", self.connections, 64),
                     ("--workers", self.workers, 16),
                     ("--skus", self.skus, 1000)), self.max_seconds)

    @property
    def settings(self) -> dict[str, Any]:
        return {"paths": self.paths, "warmup_paths": warmup(self.paths),
                "webhooks": self.webhooks, "warmup_webhooks": warmup(self.webhooks),
                "connections": self.connections, "workers": self.workers, "skus": self.skus,
                "max_seconds": self.max_seconds}

    @property
    def orders(self) -> int:
        """Every order the run places: customers, counted calls, both phases."""
        return (BUYERS + 2 + warmup(self.paths) + self.paths + warmup(self.webhooks)
                + self.webhooks)


def warmup(measured: int) -> int:
    """How many go before the ``measured`` ones, unmeasured."""
    return min(WARMUP, measured)


def run(options: PaymentBenchOptions,
        say: Callable[[str], None] = typer.echo) -> PaymentReport:
    """Run the whole bench, print its report, and drop its database whatever happens."""
    return run_bench(options, say, PaymentReport,
                     lambda url, report: _bench(options, url, report, say), render, as_json)


# --- the shop, in-process --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Webhook:
    """A captured payment's ``payment_intent.succeeded`` webhook, and the order it pays."""

    order_id: uuid.UUID
    body: bytes


@dataclass
class Shop:
    """The bench's business through the services, paying with this process's sandbox; its
    orders take one unit each, of the ``skus`` in turn."""

    runtime: Runtime
    principal: Principal
    gateway: SandboxGateway
    skus: list[str]
    _placed: Iterator[int] = field(default_factory=itertools.count)

    def sku(self, i: int) -> str:
        return self.skus[i % len(self.skus)]

    async def place(self) -> dict[str, Any]:
        i = next(self._placed)
        return await place_in_process(self.runtime, self.principal, i, self.sku(i))

    async def make_customers(self) -> None:
        """``BUYERS`` orders, one per buyer: every later order is a returning customer's."""
        async def first_order(_: int) -> None:
            await self.place()

        made = await drive(range(BUYERS), scenario="setup", path="in-process",
                           concurrency=SETUP_CONCURRENCY, place=first_order)
        if made.failed:
            raise BenchRefused(f"Could not make the bench's customers: {made.first_failure}")

    async def pay(self, order_id: uuid.UUID) -> dict[str, Any]:
        return await payments.start_payment(self.runtime, self.principal, order_id,
                                            provider="sandbox", payment_method=PM_APPROVE)

    async def capture(self, authorised: Sequence[dict[str, Any]]) -> list[Webhook]:
        """Capture each authorised intent at the sandbox, as a merchant's dashboard would;
        the webhooks the captures send, in order. Those sent before are dropped."""
        self.gateway.drain()
        for intent in authorised:
            if intent["status"] != "authorized":
                raise BenchRefused(f"A payment to capture is {intent['status']}, not "
                                   "authorized: is the business on manual capture?")
            await self.gateway.capture(intent["provider_ref"],
                                       amount=intent["amount_authorized"],
                                       idempotency_key=f"capture:{intent['id']}")
        return [Webhook(intent["order_id"], body) for intent, (_, body)
                in zip(authorised, self.gateway.drain(), strict=True)]


async def _count_card_path(shop: Shop, key: str, report: PaymentReport) -> None:
    """A card path's calls in-process (automatic capture), then the sandbox's webhooks."""
    engine = shop.runtime.db.engine
    with counting(engine) as auth:
        await tenancy.authenticate(shop.runtime, key)
    with counting(engine) as create:
        order = await shop.place()
    with counting(engine) as start:
        intent = await shop.pay(order["id"])
    requests = [Counted("tenancy.authenticate", "each request's API key", auth),
                Counted("orders.create_order", "returning customer", create),
                Counted("payments.start_payment", "automatic capture", start,
                         intent["status"])]
    for headers, body in shop.gateway.drain():
        with counting(engine) as count:
            outcome = await payments.receive_webhook(shop.runtime, "sandbox", headers, body)
        report.card_webhooks.append(Counted(
            "payments.receive_webhook", f"{json.loads(body)['type']} after the answer", count,
            outcome))
    report.card_requests = [requests[0], requests[1], requests[0], requests[2]]
    report.counted += [*requests, *report.card_webhooks]


async def _count_capture(shop: Shop, report: PaymentReport) -> None:
    """A manual-capture payment in-process, then its capture's webhook twice."""
    engine = shop.runtime.db.engine
    order = await shop.place()
    with counting(engine) as start:
        intent = await shop.pay(order["id"])
    [hook] = await shop.capture([intent])
    headers = sign(hook.body, secret=_secret(shop.runtime), timestamp=int(time.time()))
    with counting(engine) as applied:
        first = await payments.receive_webhook(shop.runtime, "sandbox", headers, hook.body)
    with counting(engine) as again:
        second = await payments.receive_webhook(shop.runtime, "sandbox", headers, hook.body)
    report.counted += [
        Counted("payments.start_payment", "manual capture", start, intent["status"]),
        Counted("payments.receive_webhook", "the capture's payment_intent.succeeded", applied,
                 first),
        Counted("payments.receive_webhook", "the same webhook again", again, second)]


async def _authorised(shop: Shop, count: int) -> list[dict[str, Any]]:
    """``count`` orders, each with a payment authorised (the business on manual capture)."""
    intents: list[dict[str, Any]] = []

    async def authorise(_: int) -> None:
        order = await shop.place()
        intents.append(await shop.pay(order["id"]))

    made = await drive(range(count), scenario="setup", path="in-process",
                       concurrency=SETUP_CONCURRENCY, place=authorise)
    if made.failed:
        raise BenchRefused(f"Could not authorise the webhooks' payments: {made.first_failure}")
    return intents


def _secret(runtime: Runtime) -> str:
    # The server processes read the same environment: ORDERLINE_SANDBOX_WEBHOOK_SECRET.
    return runtime.settings.sandbox_webhook_secret.get_secret_value()


# --- over HTTP -------------------------------------------------------------------------------

class HttpCardPath:
    """The two requests of a card path, as a storefront's backend sends them."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.times = StepTimes(ms={step: [] for step in CARD_STEPS})
        self.order_ids: list[str] = []

    async def pay(self, order: bench_http.HttpOrder) -> None:
        placed = await post_step(self.client, self.times, "order", "/v1/orders", 201,
                                 body=order.body())
        self.order_ids.append(placed["id"])
        intent = await post_step(self.client, self.times, "payment",
                                 f"/v1/orders/{placed['id']}/payments", 201, body=PAYMENT)
        if intent["status"] != "captured":
            self.times.refusals[f"payment 201 {intent['status']}"] += 1
            raise StepRefused(f"201 {intent['status']}", "the payment is not captured")


class WebhookSender:
    """POSTs webhooks as the provider would, keeping the answers and what was delivered."""

    def __init__(self, client: httpx.AsyncClient, secret: str) -> None:
        self.client = client
        self.secret = secret
        self.times = StepTimes(ms={"webhook": []})
        self.outcomes: Counter[str] = Counter()
        self.delivered: list[Webhook] = []

    async def send(self, hook: Webhook) -> None:
        headers = sign(hook.body, secret=self.secret, timestamp=int(time.time()))
        answer = await post_step(self.client, self.times, "webhook", WEBHOOKS_URL, 200,
                                 headers=headers, content=hook.body)
        self.outcomes[str(answer["outcome"])] += 1
        self.delivered.append(hook)


async def _statuses(client: httpx.AsyncClient, order_ids: Sequence[str],
                    connections: int) -> Counter[str]:
    """The status of each order, read with ``GET /v1/orders/{id}``."""
    found: Counter[str] = Counter()

    async def look(order_id: str) -> None:
        response = await client.get(f"/v1/orders/{order_id}")
        response.raise_for_status()
        found[str(response.json()["status"])] += 1

    read = await drive(order_ids, scenario="check", path="GET", concurrency=connections,
                       place=look)
    if read.failed:
        found["(not read)"] += read.failed
    return found


async def _recorded_webhooks(monitor: Any, business_id: uuid.UUID) -> int:
    return int(await monitor.fetchval(
        "SELECT count(*) FROM provider_events WHERE business_id = $1", business_id))


async def _server_webhooks(monitor: Any, business_id: uuid.UUID, *, before: int,
                           expected: int) -> dict[str, float]:
    """Wait (a while) for the webhooks the server's sandbox sends itself after each answer."""
    began = time.perf_counter()
    while True:
        recorded = await _recorded_webhooks(monitor, business_id) - before
        if recorded >= expected or time.perf_counter() - began > SERVER_WEBHOOKS_WAIT_SECONDS:
            break
        await asyncio.sleep(0.05)
    return {"expected": expected, "recorded": recorded,
            "seconds_after": round(time.perf_counter() - began, 3)}


# --- the run ---------------------------------------------------------------------------------

async def _bench(options: PaymentBenchOptions, url: str, report: PaymentReport,
                 say: Callable[[str], None]) -> None:
    started = time.perf_counter()
    # The servers start up while the shop is set up, and are ready before any phase.
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, server, monitor = stage.runtime, stage.server, stage.monitor
        report.server_version = stage.server_version
        # This process's sandbox keeps its webhooks for drain(), signed with the server's
        # secret.
        gateway = SandboxGateway(secret=_secret(runtime))
        providers_of(runtime)["sandbox"] = gateway
        created = await tenancy.create_business(runtime, name="Payment bench shop",
                                                currency="USD")
        key = created.api_key.key
        shop = Shop(runtime, await tenancy.authenticate(runtime, key), gateway,
                    [f"PAY-{i:04d}" for i in range(options.skus)])
        units = -(-options.orders // options.skus) + 1
        await catalog.create_product(runtime, shop.principal, name="Payment bench product",
                                     description="", variants=[
                                         catalog.NewVariant(sku=sku, name=f"Variant {sku}",
                                                            price=PRICE, initial_stock=units)
                                         for sku in shop.skus])
        await shop.make_customers()
        await _count_card_path(shop, key, report)
        await server.wait_ready()
        say(f"setup: {options.skus} SKUs ({units} units each), {BUYERS} customers (one order "
            f"each, in-process), {options.workers} server processes ready "
            f"({time.perf_counter() - started:.1f}s)")
        start = report.card_requests[-1].count
        say(f"statements: start_payment sends {len(start.statements)} SQL statements in "
            f"{start.checkouts} transactions (automatic capture)")
        async with bench_http.api_client(server.base_url, key,
                                         connections=options.connections) as client:
            await _card_phase(options, client, monitor, shop, report, stage.meter, say)
            await tenancy.update_settings(runtime, shop.principal, capture_mode="manual")
            began = time.perf_counter()
            await _count_capture(shop, report)
            hooks = await shop.capture(await _authorised(
                shop, warmup(options.webhooks) + options.webhooks))
            say(f"webhooks: {len(hooks)} payments authorised in-process (manual capture), then "
                f"captured at this process's sandbox ({time.perf_counter() - began:.1f}s)")
            await _webhook_phases(options, client, _secret(runtime), hooks, report,
                                  stage.meter, say)
        report.events = {str(row["type"]): int(row["n"]) for row in await monitor.fetch(
            "SELECT type, count(*) AS n FROM outbox_events WHERE business_id = $1 "
            "GROUP BY type", shop.principal.business_id)}


async def _card_phase(options: PaymentBenchOptions, client: httpx.AsyncClient, monitor: Any,
                      shop: Shop, report: PaymentReport, meter: CpuMeter,
                      say: Callable[[str], None]) -> None:
    planned = [bench_http.HttpOrder(shop.sku(i), *buyer(i))
               for i in range(warmup(options.paths) + options.paths)]
    warm, measured = HttpCardPath(client), HttpCardPath(client)
    before = await _recorded_webhooks(monitor, shop.principal.business_id)
    report.results.append(await _phase(options, "http card", "paths", CARD, planned,
                                       warmup(options.paths), warm.pay, measured.pay, meter,
                                       say))
    report.steps[CARD] = measured.times
    answered = len(warm.times.ms["payment"]) + len(measured.times.ms["payment"])
    report.server_webhooks = await _server_webhooks(
        monitor, shop.principal.business_id, before=before, expected=2 * answered)
    report.statuses[CARD] = await _statuses(client, measured.order_ids, options.connections)


async def _webhook_phases(options: PaymentBenchOptions, client: httpx.AsyncClient,
                          secret: str, hooks: list[Webhook], report: PaymentReport,
                          meter: CpuMeter, say: Callable[[str], None]) -> None:
    delivered: list[Webhook] = []
    for path, planned in ((FIRST, hooks), (AGAIN, delivered)):
        warm, measured = WebhookSender(client, secret), WebhookSender(client, secret)
        report.results.append(await _phase(
            options, f"http webhooks, {path}", "webhooks", path, planned,
            min(warmup(options.webhooks), len(planned)), warm.send, measured.send, meter, say))
        report.steps[path] = measured.times
        report.outcomes[path] = measured.outcomes
        if path == FIRST:
            delivered.extend(warm.delivered + measured.delivered)
            report.statuses[FIRST] = await _statuses(
                client, [str(h.order_id) for h in measured.delivered], options.connections)


async def _phase(options: PaymentBenchOptions, label: str, noun: str, path: str,
                 planned: Sequence[T], unmeasured: int, warm: Callable[[T], Awaitable[None]],
                 place: Callable[[T], Awaitable[None]], meter: CpuMeter,
                 say: Callable[[str], None]) -> PhaseResult:
    return await measured_phase(
        label=label, noun=noun, scenario="card" if path == CARD else "webhooks", path=path,
        planned=planned, warmup=unmeasured, warm=warm, place=place,
        connections=options.connections, max_seconds=options.max_seconds, meter=meter,
        say=say, servers=True)
