"""``orderline bench flash-sale`` run for real, small, against PostgreSQL: 60 buyers released
together for 25 units through 2 server processes.

Only the invariants of a flash sale are checked, from the bench's JSON, never a timing: exactly
25 orders, nothing oversold, no 5xx, every other buyer refused with ``out_of_stock``, and the
stock row and its reservations in agreement with the orders.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import postgres
from tests.support.postgres import database_exists
from tests.support.servers import ORDERLINE

pytestmark = pytest.mark.slow


def test_sixty_buyers_for_twenty_five_units_make_exactly_twenty_five_orders_and_refuse_the_rest(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "flash.json"
    run = subprocess.run([ORDERLINE, "bench", "flash-sale", "--database-url",
                          postgres_server.admin_url, "--buyers", "60", "--units", "25",
                          "--workers", "2", "--json", str(figures)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout

    report = json.loads(figures.read_text())
    assert report["settings"] == {"buyers": 60, "units": 25, "workers": 2}
    assert report["orders_created"] == report["expected_orders"] == 25
    assert report["oversold"] == 0
    assert report["server_errors"] == 0 and report["unanswered"] == 0
    assert report["refusals"] == {"out_of_stock": 35}
    assert report["statuses"] == {"201": 25, "409": 35}
    assert report["stock"] == {"on_hand": 25, "reserved": 25, "available": 0,
                               "active_reservations": 25, "orders": 25, "units_ordered": 25}
    assert report["drifting_levels"] == 0
    assert report["invariants_broken"] == []
    assert report["sell_out_seconds"] is not None
    latency = report["latency_ms"]
    assert latency["p50"] <= latency["p95"] <= latency["p99"]
    assert "invariants: kept" in out
    assert re.search(r"^refusals: +out_of_stock 35$", out, re.MULTILINE), out

    name = re.search(r"^database (orderline_bench_[0-9a-f]+) dropped", out, re.MULTILINE)
    assert name is not None, out
    assert not database_exists(postgres_server.admin_url, name[1])


def test_flash_sale_refuses_more_buyers_than_sockets_allow() -> None:
    run = subprocess.run([ORDERLINE, "bench", "flash-sale", "--buyers", "100000"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert "--buyers must be between 1 and 5000" in run.stderr
