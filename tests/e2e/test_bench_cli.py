"""``orderline bench orders`` run for real, small, against PostgreSQL.

Only the shape of the output is checked, never a speed: the figures depend on the machine.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from orderline.config import driver_free_url
from tests.conftest import IN_CI
from tests.support import postgres
from tests.support.servers import ORDERLINE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    server = postgres.server_or_skip(in_ci=IN_CI)
    try:
        yield server
    finally:
        server.stop()


def database_exists(admin_url: str, name: str) -> bool:
    async def look() -> bool:
        conn = await asyncpg.connect(driver_free_url(admin_url))
        try:
            return bool(await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name))
        finally:
            await conn.close()

    return asyncio.run(look())


def test_bench_reports_both_scenarios_and_paths_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    run = subprocess.run(
        [ORDERLINE, "bench", "orders", "--database-url", postgres_server.admin_url,
         "--orders", "50", "--skus", "100", "--workers", "2", "--connections", "4",
         "--duration", "0", "--json", str(figures)],
        capture_output=True, text=True, timeout=600, check=False)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr

    for path in ("raw", "http"):
        for scenario in ("hot-sku", "spread"):
            assert re.search(rf"^{path} {scenario}: 50 orders in [0-9.]+s = [0-9]+ orders/s, "
                             r"0 failed$", out, re.MULTILINE), out
    table_rows = re.findall(r"^(hot-sku|spread) +(raw SQL|POST /v1/orders)\b.*$", out,
                            re.MULTILINE)
    assert sorted(table_rows) == sorted([("hot-sku", "raw SQL"), ("spread", "raw SQL"),
                                         ("hot-sku", "POST /v1/orders"),
                                         ("spread", "POST /v1/orders")]), out
    assert "HTTP throughput as a share of the raw ceiling: hot-sku " in out

    statements = re.search(r"returning customer: (\d+) statements", out)
    assert statements is not None and int(statements[1]) > 0, out
    assert "BEGIN/COMMIT/ROLLBACK are not cursor executes" in out

    report = json.loads(figures.read_text())
    assert {(r["scenario"], r["path"]) for r in report["results"]} == {
        ("hot-sku", "raw SQL"), ("spread", "raw SQL"), ("hot-sku", "POST /v1/orders"),
        ("spread", "POST /v1/orders")}
    assert all(r["completed"] == 50 and r["failed"] == 0 and r["orders_per_second"] > 0
               and r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] for r in report["results"])
    assert report["statements"]["create_order_returning_customer"]["statements"] == int(
        statements[1])
    assert report["drifting_levels"] == 0

    created = re.search(r"^database (orderline_bench_[0-9a-f]+) created", out, re.MULTILINE)
    assert created is not None, out
    assert f"database {created[1]} dropped" in out
    assert not database_exists(postgres_server.admin_url, created[1])


def test_bench_refuses_sqlite_with_a_clear_message() -> None:
    run = subprocess.run([ORDERLINE, "bench", "orders", "--database-url", "sqlite:///x.db"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert "SQLite" in run.stderr and "postgresql://" in run.stderr


def test_bench_events_reports_relay_rates_and_the_lag_then_drops_its_database(
        postgres_server: postgres.PostgresServer) -> None:
    run = subprocess.run(
        [ORDERLINE, "bench", "events", "--database-url", postgres_server.admin_url,
         "--events", "100", "--workers", "1,2", "--load-seconds", "2"],
        capture_output=True, text=True, timeout=600, check=False)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    for workers in (1, 2):
        row = re.search(rf"^ +{workers} +([0-9]+) +[0-9.]+ +[0-9]+$", out, re.M)
        assert row is not None, out
        # Timed from the first commit the workers make, so the events of that first commit
        # (one batch, a few dozen at most) are not in the count; the rest all are.
        assert 50 <= int(row.group(1)) <= 100, out
    assert re.search(r"^  p50 [0-9.]+s   p95 [0-9.]+s   max [0-9.]+s", out, re.M), out
    name = re.search(r"database (orderline_bench_[0-9a-f]+) dropped", out)
    assert name is not None, out
    assert not database_exists(postgres_server.admin_url, name.group(1))


def test_bench_events_refuses_a_bad_worker_list(
        postgres_server: postgres.PostgresServer) -> None:
    run = subprocess.run(
        [ORDERLINE, "bench", "events", "--database-url", postgres_server.admin_url,
         "--workers", "one"], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "--workers takes worker counts" in run.stderr


def test_bench_checkout_reports_buyer_paths_steps_and_statements_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "checkout.json"
    run = subprocess.run(
        [ORDERLINE, "bench", "checkout", "--database-url", postgres_server.admin_url,
         "--paths", "20", "--skus", "5", "--workers", "1", "--connections", "2",
         "--duration", "0", "--json", str(figures)],
        capture_output=True, text=True, timeout=600, check=False)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr

    for path in ("raw", "http"):
        assert re.search(rf"^{path} checkout: 20 paths in [0-9.]+s = [0-9]+ paths/s, 0 failed$",
                         out, re.MULTILINE), out
    rows = re.findall(r"^checkout +(raw SQL, asyncpg pool of 2|4 requests, 1 servers) ", out,
                      re.MULTILINE)
    assert sorted(rows) == ["4 requests, 1 servers", "raw SQL, asyncpg pool of 2"], out
    assert "HTTP throughput as a share of the raw ceiling: " in out
    assert "refused steps (any answer but the step's 2xx, by step and error code): none" in out
    confirm = re.search(r"the confirm: (\d+) statements = 1 \+ (\d+) \(the idempotency-key "
                        r"claim", out)
    assert confirm is not None, out
    for step in ("cart", "line", "checkout", "confirm"):
        assert re.search(rf"^  {step} +[a-z_.]+ +[1-9][0-9]* +[1-9] ", out, re.MULTILINE), out

    report = json.loads(figures.read_text())
    assert {r["path"] for r in report["results"]} == {"raw SQL", "HTTP buyer path"}
    assert all(r["completed"] == 20 and r["failed"] == 0 and r["paths_per_second"] > 0
               for r in report["results"])
    for path in ("raw SQL", "HTTP buyer path"):
        steps = report["steps"][path]
        assert steps["refusals"] == {}
        assert set(steps["latency"]) == {"cart", "line", "checkout", "confirm"}
        assert all(s["p50_ms"] <= s["p95_ms"] for s in steps["latency"].values())
    counted = report["statements"]["known_customer"]["confirm"]
    assert counted["statements"] == int(confirm[1]) == 1 + int(confirm[2])
    assert counted["per_checkout"] == [1, int(confirm[2])]
    assert counted["sql"][0].startswith("INSERT INTO idempotency_keys")
    assert report["drifting_levels"] == 0

    name = re.search(r"^database (orderline_bench_[0-9a-f]+) dropped", out, re.MULTILINE)
    assert name is not None, out
    assert not database_exists(postgres_server.admin_url, name[1])


def test_bench_checkout_refuses_sizes_out_of_range_before_touching_a_database() -> None:
    run = subprocess.run([ORDERLINE, "bench", "checkout", "--connections", "0",
                          "--database-url", "postgresql://nobody@127.0.0.1:1/none"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert "--connections must be between 1 and 64, not 0." in run.stderr
