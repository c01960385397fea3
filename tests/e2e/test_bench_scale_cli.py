"""``orderline bench scale`` and ``orderline bench live`` run for real, small, on PostgreSQL.

Only the shape of the output and the counts are checked (every order created, every event
relayed or received), never a speed: the figures depend on the machine.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_bench_cli import assert_dropped, bench_output
from tests.support import postgres
from tests.support.servers import ORDERLINE

pytestmark = pytest.mark.slow


def test_bench_scale_runs_each_cell_of_the_grid_creating_every_order_and_relaying_every_event(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "scale.json"
    out = bench_output("scale", postgres_server.admin_url, "--servers", "1,2", "--workers",
                       "1", "--orders", "40", "--warmup", "5", "--skus", "20",
                       "--connections", "4", "--duration", "0", "--json", str(figures))

    for label in ("1 server x 1 worker", "2 servers x 1 worker"):
        assert re.search(rf"^{label}: 40 orders in [0-9.]+s = [0-9]+ orders/s, 0 failed; "
                         r"40 of 40 events relayed, outbox emptied [0-9.]+s after the load$",
                         out, re.MULTILINE), out
    rows = re.findall(r"^ +([12]) +1 +40 +0 +[0-9.]+ .* 40/40 +[0-9.]+$", out, re.MULTILINE)
    assert rows == ["1", "2"], out
    assert re.search(r"^ +1 s +[0-9.]+$", out, re.MULTILINE), out  # the curve: 1 worker
    assert "every order created and every event relayed" in out

    report = json.loads(figures.read_text())
    assert report["settings"]["servers"] == [1, 2] and report["settings"]["workers"] == [1]
    assert [(c["servers"], c["workers"]) for c in report["cells"]] == [(1, 1), (2, 1)]
    for cell in report["cells"]:
        # Every measured order was answered 201 and made; each wrote its order.created,
        # and a worker relayed every one of them.
        assert cell["completed"] == cell["orders_created"] == 40 and cell["failed"] == 0
        assert cell["events"] == cell["events_relayed"] == 40
        assert cell["p50_ms"] <= cell["p95_ms"] <= cell["p99_ms"]
        lag = cell["outbox_lag_ms"]
        assert lag["p50"] is not None and lag["p50"] <= lag["p95"] <= lag["p99"] <= lag["max"]
        assert cell["server_cpu_ms_per_order"] > 0
        assert cell["worker_cpu_ms_per_event"] > 0
        assert cell["drain_seconds"] >= 0 and cell["load_average"] >= 0
    assert_dropped(out, postgres_server.admin_url)


def test_bench_scale_refuses_a_bad_count_list() -> None:
    run = subprocess.run([ORDERLINE, "bench", "scale", "--servers", "1,x"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "--servers takes counts separated by commas" in run.stderr
    run = subprocess.run([ORDERLINE, "bench", "scale", "--workers", "0"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "--workers takes counts between 1 and 16" in run.stderr


def test_bench_live_times_every_new_order_and_status_change_on_the_other_server(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "live.json"
    out = bench_output("live", postgres_server.admin_url, "--writes", "3", "--subscribers",
                       "2", "--background", "2", "--json", str(figures))

    kinds = ("new order -> business streams", "status change -> order stream",
             "status change -> business streams")
    for phase in ("quiet", "under load"):
        for kind, arrivals in zip(kinds, (6, 3, 6), strict=True):
            assert re.search(rf"^{phase} +{re.escape(kind)} +{arrivals} +0 +-?[0-9.]+ ", out,
                             re.MULTILINE), out
    assert re.search(r"^target (met|NOT met): ", out, re.MULTILINE), out

    report = json.loads(figures.read_text())
    assert report["target_p95_ms"] == 100
    assert [p["name"] for p in report["phases"]] == ["quiet", "under load"]
    for phase in report["phases"]:
        assert phase["writes"] == 3
        # Each new order reached both business streams, each payment its order's stream and
        # both business streams: nothing missed, on another server process.
        assert {k: (v["arrivals"], v["missed"]) for k, v in phase["kinds"].items()} == {
            kinds[0]: (6, 0), kinds[1]: (3, 0), kinds[2]: (6, 0)}
        for figures_of_kind in phase["kinds"].values():
            spread = figures_of_kind["from_answer_ms"]
            assert spread["p50"] <= spread["p95"] <= spread["p99"] <= spread["max"]
            # The write's own time comes before its answer, so "from sent" is the larger.
            assert figures_of_kind["from_sent_ms"]["max"] >= spread["max"]
        assert set(phase["oldest_write_transaction_seconds"]) == {"this_database",
                                                                   "other_databases"}
    assert report["phases"][1]["background_orders_per_second"] > 0
    assert_dropped(out, postgres_server.admin_url)
