"""Observability over HTTP: ``GET /metrics`` (counters, database gauges, several server
processes) and the JSON log lines a request or a relayed event writes.

Counters live in this test process and the database is shared by every test, so each test
compares a scrape before and after its own actions, on its own business.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, insert

from orderline.core import metrics
from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import ManualClock
from orderline.core.config import Settings, async_url
from orderline.core.db.engine import Database
from orderline.core.db.tables import table_of
from orderline.core.logs import JsonFormatter
from orderline.core.runtime import Runtime
from orderline.events.event_types import StoredEvent
from orderline.events.relay import Relay
from orderline.orders import status as order_status
from orderline.schema.migrate import upgrade_to_head
from orderline.webhooks.tables import WebhookDelivery, WebhookEndpoint
from orderline.wiring import provide_parts
from orderline.worker.handlers import Handler, HandlerContext, default_handlers, default_relay
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, api_client, error_of, ok, order_body, place_order
from tests.support.catalog import place, stock_sku
from tests.support.servers import free_port, running_server, running_worker

CREATED = "orderline_orders_created_total"
CANCELLED = "orderline_orders_cancelled_total"
REFUSED = "orderline_reservations_refused_total"
RELAYED = "orderline_events_relayed_total"
SCRAPE_ERRORS = "orderline_metrics_scrape_errors_total"
GAUGES = ("orderline_outbox_lag_seconds", "orderline_outbox_pending_events",
          "orderline_outbox_dead_events", "orderline_webhook_deliveries",
          "orderline_webhook_dead_letters")


@dataclass
class Scrape:
    """One answer of ``GET /metrics``, parsed as Prometheus parses it."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, response: httpx.Response) -> Scrape:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = {(s.name, frozenset(s.labels.items())): s.value
                   for family in text_string_to_metric_families(response.text)
                   for s in family.samples}
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str) -> bool:
        return any(sample == name for sample, _ in self.samples)

    def total(self, name: str) -> float:
        return sum(v for (sample, _), v in self.samples.items() if sample == name)


async def scrape(client: httpx.AsyncClient) -> Scrape:
    return Scrape.parse(await client.get("/metrics"))


def at(runtime: Runtime, clock: ManualClock) -> Runtime:
    return provide_parts(Runtime(settings=runtime.settings, db=runtime.db, clock=clock,
                   checkpoints=Checkpoints()))


async def test_metrics_answer_prometheus_text_without_an_api_key(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    families = {f.name: f.type for f in text_string_to_metric_families(response.text)}

    assert response.status_code == 200
    assert {"orderline_outbox_lag_seconds": "gauge", "orderline_outbox_pending_events": "gauge",
            "orderline_outbox_dead_events": "gauge", "orderline_webhook_dead_letters": "gauge",
            "orderline_reservations_refused": "counter",
            "orderline_metrics_scrape_errors": "counter"}.items() <= families.items()
    metrics = Scrape.parse(response)
    for status in ("pending", "retrying", "succeeded", "dead"):
        assert ("orderline_webhook_deliveries", frozenset({("status", status)})) in (
            metrics.samples)
    for result in ("succeeded", "failed", "dead"):
        assert ("orderline_webhook_attempts_total", frozenset({("result", result)})) in (
            metrics.samples)


async def test_placing_an_order_counts_exactly_one_created_order_on_its_channel(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    before = await scrape(client)

    await place_order(client, merchant, ("MUG", 1))

    after = await scrape(client)
    assert after.value(CREATED, channel="web") - before.value(CREATED, channel="web") == 1
    assert after.total(CREATED) - before.total(CREATED) == 1
    assert after.value(REFUSED) == before.value(REFUSED)


async def test_an_out_of_stock_refusal_counts_one_refusal_and_no_created_order(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "RARE", 1)
    before = await scrape(client)

    error_of(await client.post("/v1/orders", headers=merchant.headers,
                               json=order_body(("RARE", 2))), 409, "out_of_stock")

    after = await scrape(client)
    assert after.value(REFUSED) - before.value(REFUSED) == 1
    assert after.total(CREATED) == before.total(CREATED)


async def test_an_edit_refused_for_stock_counts_one_refusal(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "RARE", 2)
    order = await place_order(client, merchant, ("RARE", 1))
    before = await scrape(client)

    error_of(await client.put(f"/v1/orders/{order['id']}", headers=merchant.headers,
                              json={"lines": [{"sku": "RARE", "quantity": 3}]}),
             409, "out_of_stock")

    after = await scrape(client)
    assert after.value(REFUSED) - before.value(REFUSED) == 1
    assert after.total(CREATED) == before.total(CREATED)


async def test_a_merchant_cancel_counts_once_by_reason_and_a_refused_cancel_not_at_all(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    before = await scrape(client)

    ok(await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers,
                           params={"reason": "fraud"}))
    error_of(await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers),
             409, "invalid_transition")

    after = await scrape(client)
    assert after.value(CANCELLED, reason="fraud") - before.value(CANCELLED, reason="fraud") == 1
    assert after.total(CANCELLED) - before.total(CANCELLED) == 1


async def test_the_payment_deadline_sweeper_counts_each_order_it_cancels(
        runtime: Runtime) -> None:
    clock = ManualClock()
    late = at(runtime, clock)
    merchant = await new_merchant(late, reservation_ttl_seconds=60)
    await stock_sku(late, merchant, "MUG", 5)
    async with api_client(late) as client:
        await place_order(client, merchant, ("MUG", 1))
        before = await scrape(client)
        clock.advance(61)

        swept = await order_status.cancel_lapsed_orders(late)

        after = await scrape(client)
    assert swept >= 1  # ours, and any other test's unpaid order past its deadline
    assert (after.value(CANCELLED, reason="payment_timeout")
            - before.value(CANCELLED, reason="payment_timeout")) == swept


async def test_outbox_gauges_show_the_pending_event_and_its_age_until_it_is_relayed(
        runtime: Runtime) -> None:
    await default_relay(runtime).relay_until_idle()  # what earlier tests left behind
    # An hour back: every event other tests leave pending is younger than ours, so ours is
    # the oldest, and relaying with this clock leaves theirs alone (not yet due).
    clock = ManualClock(runtime.clock.now() - timedelta(hours=1))
    past = at(runtime, clock)
    merchant = await new_merchant(past)
    await stock_sku(past, merchant, "MUG", 5)
    async with api_client(past) as client:
        idle = await scrape(client)
        order = await place_order(client, merchant, ("MUG", 1))
        clock.advance(90)
        waiting = await scrape(client)

        await default_relay(past).relay_until_idle()
        relayed = await scrape(client)

        ok(await client.delete(f"/v1/orders/{order['id']}", headers=merchant.headers))
        await default_relay(past).relay_until_idle()  # leave no unpaid order or event behind
    pending, lag = "orderline_outbox_pending_events", "orderline_outbox_lag_seconds"
    assert waiting.value(pending) - idle.value(pending) == 1  # order.created
    assert idle.value(lag) == 0
    assert waiting.value(lag) == 90
    assert relayed.value(pending) == idle.value(pending)
    assert relayed.value(lag) == 0


async def test_webhook_delivery_gauges_count_the_stored_deliveries_by_status(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant) -> None:
    endpoints, deliveries = table_of(WebhookEndpoint), table_of(WebhookDelivery)
    now = runtime.clock.now()
    endpoint_id = uuid.uuid4()
    before = await scrape(client)
    async with runtime.db.write() as conn:  # the webhook tables themselves are under test
        await conn.execute(insert(endpoints).values(
            id=endpoint_id, business_id=merchant.principal.business_id,
            url="http://127.0.0.1:9/never-sent", description="", event_types=["order.paid"],
            secret="whsec_dGVzdA==", enabled=False, consecutive_failures=0, created_at=now,
            updated_at=now))
        await conn.execute(insert(deliveries), [
            {"id": uuid.uuid4(), "business_id": merchant.principal.business_id,
             "endpoint_id": endpoint_id, "event_id": uuid.uuid4(), "event_type": "order.paid",
             "body": "{}", "status": status, "attempts": 0,
             "next_attempt_at": now + timedelta(days=365), "created_at": now, "updated_at": now}
            for status in ("retrying", "retrying", "dead", "succeeded")])
    try:
        after = await scrape(client)
    finally:
        async with runtime.db.write() as conn:
            await conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))
    gauge = "orderline_webhook_deliveries"

    def grew(status: str) -> float:
        return after.value(gauge, status=status) - before.value(gauge, status=status)

    assert [grew(s) for s in ("pending", "retrying", "succeeded", "dead")] == [0, 2, 1, 1]
    assert (after.value("orderline_webhook_dead_letters")
            - before.value("orderline_webhook_dead_letters")) == 1


async def test_a_webhook_attempt_is_counted_under_its_result(client: httpx.AsyncClient) -> None:
    before = await scrape(client)

    metrics.webhook_attempt("dead")

    after = await scrape(client)
    attempts = "orderline_webhook_attempts_total"
    assert [after.value(attempts, result=r) - before.value(attempts, result=r)
            for r in ("succeeded", "failed", "dead")] == [0, 0, 1]


async def test_a_database_that_does_not_answer_leaves_the_gauges_out_and_counts_an_error(
        ) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    unreachable = provide_parts(Runtime(settings=Settings(database_url=url),
                                        db=Database(async_url(url))))
    try:
        async with api_client(unreachable) as client:
            first = await scrape(client)
            second = await scrape(client)
    finally:
        await unreachable.db.dispose()

    assert second.value(SCRAPE_ERRORS) - first.value(SCRAPE_ERRORS) == 1
    assert not any(first.has(gauge) for gauge in GAUGES)
    assert second.has(REFUSED) and second.has(SCRAPE_ERRORS)  # the counters still show


# --- JSON logs -----------------------------------------------------------------------------


class Captured(logging.Handler):
    """Every ``orderline`` log line, as the JSON object the server would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.text.append(text)
        self.lines.append(json.loads(text))


@pytest.fixture
def logs(client: httpx.AsyncClient) -> Iterator[Captured]:
    """Capture after ``client`` made the app (which installs the logging configuration)."""
    logger = logging.getLogger("orderline")
    captured, level = Captured(), logger.level
    logger.addHandler(captured)
    logger.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        logger.removeHandler(captured)
        logger.setLevel(level)


async def test_every_request_logs_one_access_line_with_its_request_business_and_order(
        client: httpx.AsyncClient, merchant: Merchant, logs: Captured) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    logs.lines.clear()

    response = await client.get(f"/v1/orders/{order['id']}", headers={
        **merchant.headers, "X-Request-ID": "req-observed-1"})

    assert response.status_code == 200
    [access] = [line for line in logs.lines if line["logger"] == "orderline.access"]
    assert {k: access[k] for k in ("request_id", "business_id", "order_id", "method", "path",
                                   "status")} == {
        "request_id": "req-observed-1", "business_id": str(merchant.principal.business_id),
        "order_id": order["id"], "method": "GET", "path": f"/v1/orders/{order['id']}",
        "status": 200}
    assert access["level"] == "info" and access["duration_ms"] >= 0


async def test_lines_logged_during_a_request_carry_its_ids_and_nothing_leaks_to_the_next(
        client: httpx.AsyncClient, merchant: Merchant, logs: Captured) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))
    logs.lines.clear()

    ok(await client.delete(f"/v1/orders/{order['id']}", headers={
        **merchant.headers, "X-Request-ID": "req-cancel"}))
    ok(await client.get("/healthz", headers={"X-Request-ID": "req-health"}))
    logging.getLogger("orderline.test").info("after the requests")

    by_request = {line.get("request_id"): line for line in logs.lines
                  if line["logger"] == "orderline.access"}
    assert by_request["req-cancel"]["business_id"] == str(merchant.principal.business_id)
    assert by_request["req-cancel"]["order_id"] == order["id"]
    assert by_request["req-cancel"]["status"] == 200
    health = by_request["req-health"]
    assert "business_id" not in health and "order_id" not in health
    assert not {"request_id", "business_id", "order_id"} & set(logs.lines[-1])


async def test_a_refused_request_is_logged_with_its_status_and_an_unknown_caller_without_ids(
        client: httpx.AsyncClient, logs: Captured) -> None:
    await client.get(f"/v1/orders/{uuid.uuid4()}", headers={"Authorization": "Bearer nope"})

    [access] = [line for line in logs.lines if line["logger"] == "orderline.access"]
    assert access["status"] == 401
    assert "business_id" not in access


async def test_an_access_token_in_the_query_string_never_reaches_the_logs(
        client: httpx.AsyncClient, merchant: Merchant, logs: Captured) -> None:
    await add_product(client, merchant, "MUG", 5)
    order = await place_order(client, merchant, ("MUG", 1))

    await client.get(f"/v1/orders/{order['id']}",
                     params={"access_token": order["access_token"]}, headers=merchant.headers)
    await client.get("/metrics", params={"access_token": order["access_token"]})

    assert len([line for line in logs.lines if line["logger"] == "orderline.access"]) >= 2
    written = "\n".join(logs.text)
    assert "access_token=" not in written
    assert order["access_token"] not in written


async def test_the_relay_logs_and_counts_each_event_with_its_business_and_order(
        client: httpx.AsyncClient, runtime: Runtime, merchant: Merchant,
        logs: Captured) -> None:
    async def log_it(_ctx: HandlerContext, _conn: Any, event: StoredEvent) -> None:
        logging.getLogger("orderline.test").info("handled",
                                                 extra={"event_id": str(event.event_id)})

    await add_product(client, merchant, "MUG", 5)
    await default_relay(runtime).relay_until_idle()  # what earlier steps and tests left behind
    order = await place_order(client, merchant, ("MUG", 1))
    before = await scrape(client)
    logs.lines.clear()

    relayed = await Relay(runtime, handlers=[
        *default_handlers(runtime.settings),
        Handler("test_log_context", frozenset({"order.created"}), log_it)]).relay_until_idle()

    after = await scrape(client)
    assert relayed == 1
    assert after.value(RELAYED, type="order.created") - before.value(
        RELAYED, type="order.created") == 1
    assert after.total(RELAYED) - before.total(RELAYED) == 1
    [handled] = [line for line in logs.lines if line["message"] == "handled"]
    assert handled["business_id"] == str(merchant.principal.business_id)
    assert handled["order_id"] == order["id"]


# --- several server processes ----------------------------------------------------------------


@pytest.fixture
async def postgres_runtime(postgres_url: str) -> AsyncIterator[Runtime]:
    """A runtime on the run's PostgreSQL database (whatever backend the other tests use)."""
    db = Database(async_url(postgres_url), pool_size=2)
    await upgrade_to_head(db)
    try:
        yield provide_parts(Runtime(settings=Settings(database_url=postgres_url), db=db))
    finally:
        await db.dispose()


def orders_counted_by_process(metrics_dir: Path) -> dict[str, float]:
    """Orders created per server process, from each process's own counter file."""
    counted: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        counted[path.name] = sum(s.value for family in MultiProcessCollector.merge([str(path)])
                                 for s in family.samples if s.name == CREATED)
    return counted


async def place_until_both_processes_counted(base: str, merchant: Merchant,
                                             metrics_dir: Path) -> int:
    """Place orders 8 at a time, each on a new connection, until both processes placed some;
    returns how many were placed."""
    placed = 0
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, headers=merchant.headers, limits=limits,
                                 timeout=60) as http:
        for _round in range(25):
            responses = await asyncio.gather(*(
                http.post("/v1/orders", json=order_body(("MP", 1), phone=f"+1 555 {n:04d}"))
                for n in range(placed, placed + 8)))
            assert [r.status_code for r in responses] == [201] * 8
            placed += 8
            if sum(1 for n in orders_counted_by_process(metrics_dir).values() if n) >= 2:
                return placed
    raise AssertionError(f"every order landed in one process: "
                         f"{orders_counted_by_process(metrics_dir)}")


async def scrapes_on_new_connections(base: str, times: int) -> list[Scrape]:
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        return [Scrape.parse(r) for r in await asyncio.gather(*(
            http.get("/metrics") for _ in range(times)))]


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_server_processes_report_the_sum_of_their_counters_on_every_scrape(
        postgres_runtime: Runtime, postgres_url: str, tmp_path: Path) -> None:
    merchant = await new_merchant(postgres_runtime)
    await stock_sku(postgres_runtime, merchant, "MP", 10_000)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    subprocess.run([sys.executable, "-c",  # a previous run's counts, to be wiped at start
                    "from orderline.core import metrics\n"
                    "for _ in range(1000): metrics.order_created('web')"],
                   env=env, check=True, timeout=60)
    assert sum(orders_counted_by_process(metrics_dir).values()) == 1000

    with running_server(postgres_url, workers=2,
                        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}) as base:
        placed = await place_until_both_processes_counted(base, merchant, metrics_dir)
        scrapes = await scrapes_on_new_connections(base, 10)

    assert sum(orders_counted_by_process(metrics_dir).values()) == placed
    assert [s.value(CREATED, channel="web") for s in scrapes] == [placed] * 10
    assert all(s.has("orderline_outbox_pending_events") for s in scrapes)


@pytest.mark.slow
@pytest.mark.postgres
async def test_serve_with_workers_counts_in_a_directory_of_its_own_and_removes_it_at_exit(
        postgres_runtime: Runtime, postgres_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    merchant = await new_merchant(postgres_runtime)
    await stock_sku(postgres_runtime, merchant, "MP", 100)

    with running_server(postgres_url, workers=2, extra_env={"TMPDIR": str(tmp_path)}) as base:
        [made] = list(tmp_path.glob("orderline-metrics-*"))
        async with httpx.AsyncClient(base_url=base, headers=merchant.headers) as http:
            for n in range(3):
                response = await http.post("/v1/orders",
                                           json=order_body(("MP", 1), phone=f"+1 555 {n:04d}"))
                assert response.status_code == 201, response.text
        scrapes = await scrapes_on_new_connections(base, 4)
        assert sum(orders_counted_by_process(made).values()) == 3

    assert [s.value(CREATED, channel="web") for s in scrapes] == [3] * 4
    assert not made.exists()


async def test_a_worker_process_serves_its_own_counters_of_the_events_it_relayed(
        runtime: Runtime, merchant: Merchant, database_url: str) -> None:
    await stock_sku(runtime, merchant, "WORKED", 5)
    order = await place(runtime, merchant, ("WORKED", 1))
    await order_status.confirm_payment(runtime, merchant.principal, order["id"])
    port = free_port()
    with running_worker(database_url,
                        extra_env={"ORDERLINE_WORKER_METRICS_PORT": str(port),
                                   "ORDERLINE_RELAY_INTERVAL_SECONDS": "0.1"}):
        paid = 0.0
        for _ in range(300):
            try:
                scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                scraped = ""
            paid = next((s.value for f in text_string_to_metric_families(scraped)
                         for s in f.samples if s.name == "orderline_events_relayed_total"
                         and s.labels == {"type": "order.paid"}), 0.0)
            if paid >= 1:
                break
            await asyncio.sleep(0.1)
    assert paid >= 1
