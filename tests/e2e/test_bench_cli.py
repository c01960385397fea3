"""``orderline bench orders`` run for real, small, against PostgreSQL.

Only the shape of the output is checked, never a speed: the figures depend on the machine.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from orderline.bench.profile_stacks import LIBRARY_GROUPS, TRAILING_GROUPS
from tests.conftest import IN_CI
from tests.support import postgres
from tests.support.postgres import database_exists
from tests.support.servers import ORDERLINE

pytestmark = pytest.mark.slow


def bench_output(command: str, admin_url: str, *options: str) -> str:
    """What ``orderline bench <command>`` prints on the test server, once it has succeeded."""
    run = subprocess.run([ORDERLINE, "bench", command, "--database-url", admin_url, *options],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def assert_dropped(out: str, admin_url: str) -> None:
    """The bench says it dropped its database, and the database is gone."""
    name = re.search(r"^database (orderline_bench_[0-9a-f]+) dropped", out, re.MULTILINE)
    assert name is not None, out
    assert not database_exists(admin_url, name[1])


def test_bench_reports_both_scenarios_and_paths_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    out = bench_output("orders", postgres_server.admin_url, "--orders", "50", "--skus", "100",
                       "--workers", "2", "--connections", "4", "--duration", "0",
                       "--ceiling-seconds", "1", "--paced-seconds", "1", "--json",
                       str(figures))

    for path in ("raw", "http"):
        for scenario in ("hot-sku", "spread"):
            assert re.search(rf"^{path} {scenario}: 50 orders in [0-9.]+s = [0-9]+ orders/s, "
                             r"0 failed$", out, re.MULTILINE), out
    for scenario in ("hot-sku", "spread"):
        ran = re.search(rf"^database alone {scenario}: ([0-9]+) transactions = [0-9]+ tx/s, "
                        r"0 failed$", out, re.MULTILINE)
        assert ran is not None and int(ran[1]) > 0, out
        assert re.search(rf"^{scenario}: over HTTP [0-9,]+ orders/s = [0-9.]+% of what the "
                         r"database does alone: [0-9,]+ tx/s \(pgbench, 4 clients, ", out,
                         re.MULTILINE), out
    table_rows = re.findall(
        r"^(hot-sku|spread) +(asyncpg replay|POST /v1/orders|database alone)\b.*$", out,
        re.MULTILINE)
    assert sorted(table_rows) == sorted([
        (scenario, path) for scenario in ("hot-sku", "spread")
        for path in ("asyncpg replay", "POST /v1/orders", "database alone")]), out
    assert "HTTP throughput as a share of the asyncpg replay: hot-sku " in out
    paced = re.search(r"^half-peak: (\d+) spread orders arriving at ([0-9.]+)/s \(half of the "
                      r"spread phase's ([0-9.]+)/s\), open loop, .* p50/p95/p99 [0-9.]+/[0-9.]+/"
                      r"[0-9.]+ ms, 0 failed; server CPU [0-9.]+ ms per order; p99 under 200 "
                      r"ms: (met|NOT met)$", out, re.MULTILINE)
    assert paced is not None and int(paced[1]) > 0, out
    assert float(paced[2]) == pytest.approx(float(paced[3]) / 2, abs=0.1)

    statements = re.search(r"returning customer: (\d+) statements", out)
    assert statements is not None and int(statements[1]) > 0, out
    assert "BEGIN/COMMIT/ROLLBACK are not cursor executes" in out

    report = json.loads(figures.read_text())
    assert {(r["scenario"], r["path"]) for r in report["results"]} == {
        (scenario, path) for scenario in ("hot-sku", "spread")
        for path in ("raw SQL", "POST /v1/orders", "database alone")} | {
        ("half-peak", "POST /v1/orders")}
    assert report["settings"]["paced_seconds"] == 1
    measured = [r for r in report["results"]
                if r["path"] != "database alone" and r["scenario"] != "half-peak"]
    assert all(r["completed"] == 50 and r["failed"] == 0 and r["orders_per_second"] > 0
               and r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] for r in measured)
    for scenario in ("hot-sku", "spread"):
        ceiling = report["database_ceiling"][scenario]
        assert ceiling["clients"] == 4 and ceiling["failed"] == 0
        assert ceiling["transactions"] > 0 and ceiling["tx_per_second"] > 0
        assert ceiling["p50_ms"] <= ceiling["p95_ms"] <= ceiling["p99_ms"]
        assert ceiling["statements_per_tx"] == 4 and ceiling["commits_per_tx"] == 1
        http = next(r for r in report["results"]
                    if (r["scenario"], r["path"]) == (scenario, "POST /v1/orders"))
        assert http["share_of_database"] == pytest.approx(
            http["orders_per_second"] / ceiling["tx_per_second"], rel=0.01)
    assert report["per_request"]["statements"] > 0 and report["per_request"]["commits"] >= 1
    assert report["statements"]["create_order_returning_customer"]["statements"] == int(
        statements[1])
    assert report["drifting_levels"] == 0

    created = re.search(r"^database (orderline_bench_[0-9a-f]+) created", out, re.MULTILINE)
    assert created is not None, out
    assert f"database {created[1]} dropped" in out
    assert not database_exists(postgres_server.admin_url, created[1])


def test_bench_orders_profiles_the_spread_http_phase_of_each_serving_process(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    profile, figures = tmp_path / "profile", tmp_path / "bench.json"
    out = bench_output("orders", postgres_server.admin_url, "--orders", "100", "--skus", "100",
                       "--workers", "2", "--connections", "4", "--duration", "0",
                       "--ceiling-seconds", "1", "--json", str(figures), "--profile",
                       str(profile))

    refused = re.search(r"^profile: (py-spy (?:is not installed|could not attach).*)$", out,
                        re.MULTILINE)
    if refused is not None:
        # py-spy needs ptrace: with CI=true a machine that refuses it fails this test loudly.
        message = f"bench --profile could not use py-spy on this machine: {refused[1]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    summary = (profile / "profile.txt").read_text()
    assert summary.startswith("where the server CPU goes: the http spread phase\n"), summary
    for group in (*LIBRARY_GROUPS, *TRAILING_GROUPS):
        assert re.search(rf"^  {re.escape(group)} +[0-9.]+% +[0-9.]+%$", summary,
                         re.MULTILINE), summary
    assert re.search(r"^top [0-9]+ leaf functions \(self\):$", summary, re.MULTILINE), summary
    assert re.search(r"^where the server CPU goes \(the http spread phase; py-spy, [0-9]+ "
                     r"samples at 250/s from 2 server processes", out, re.MULTILINE), out

    recorded = json.loads(figures.read_text())["profile"]
    # The two uvicorn workers, not the supervisor that spawned them nor its resource tracker.
    assert recorded["refused"] is None and len(recorded["pids"]) == 2, recorded
    assert sorted(p.name for p in profile.glob("py-spy-*.txt")) == sorted(
        f"py-spy-{pid}.txt" for pid in recorded["pids"])
    assert set(recorded["summary"]["self"]) >= {*LIBRARY_GROUPS, *TRAILING_GROUPS}
    assert_dropped(out, postgres_server.admin_url)


def test_bench_refuses_sqlite_with_a_clear_message() -> None:
    run = subprocess.run([ORDERLINE, "bench", "orders", "--database-url", "sqlite:///x.db"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert "SQLite" in run.stderr and "postgresql://" in run.stderr


def test_bench_events_reports_relay_rates_and_the_lag_then_drops_its_database(
        postgres_server: postgres.PostgresServer) -> None:
    out = bench_output("events", postgres_server.admin_url, "--events", "100", "--workers",
                       "1,2", "--load-seconds", "2")
    for workers in (1, 2):
        row = re.search(rf"^ +{workers} +([0-9]+) +[0-9.]+ +[0-9]+$", out, re.M)
        assert row is not None, out
        # Timed from the first commit the workers make, so the events of that first commit
        # (one batch, a few dozen at most) are not in the count; the rest all are.
        assert 50 <= int(row.group(1)) <= 100, out
    assert re.search(r"^  p50 [0-9.]+s   p95 [0-9.]+s   max [0-9.]+s", out, re.M), out
    assert_dropped(out, postgres_server.admin_url)


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
    out = bench_output("checkout", postgres_server.admin_url, "--paths", "20", "--skus", "5",
                       "--workers", "1", "--connections", "2", "--duration", "0",
                       "--ceiling-seconds", "1", "--json", str(figures))

    for path in ("raw", "http"):
        assert re.search(rf"^{path} checkout: 20 paths in [0-9.]+s = [0-9]+ paths/s, 0 failed$",
                         out, re.MULTILINE), out
    ran = re.search(r"^database alone checkout: ([0-9]+) transactions = [0-9]+ tx/s, 0 failed$",
                    out, re.MULTILINE)
    assert ran is not None and int(ran[1]) > 0, out
    rows = re.findall(r"^checkout +(asyncpg replay, pool of 2|4 requests, 1 servers|database "
                      r"alone, pgbench 2 cl) ", out, re.MULTILINE)
    assert sorted(rows) == ["4 requests, 1 servers", "asyncpg replay, pool of 2",
                            "database alone, pgbench 2 cl"], out
    assert re.search(r"^checkout: over HTTP [0-9,]+ paths \(orders\)/s = [0-9.]+% of what the "
                     r"database does alone: [0-9,]+ tx/s \(pgbench, 2 clients, ", out,
                     re.MULTILINE), out
    assert "HTTP throughput as a share of the asyncpg replay: " in out
    assert "refused steps (any answer but the step's 2xx, by step and error code): none" in out
    confirm = re.search(r"the confirm: (\d+) statements = 1 \+ (\d+) \(the idempotency-key "
                        r"claim", out)
    assert confirm is not None, out
    for step in ("cart", "line", "checkout", "confirm"):
        assert re.search(rf"^  {step} +[a-z_.]+ +[1-9][0-9]* +[1-9] ", out, re.MULTILINE), out

    report = json.loads(figures.read_text())
    assert {r["path"] for r in report["results"]} == {"raw SQL", "HTTP buyer path",
                                                      "database alone"}
    assert all(r["completed"] == 20 and r["failed"] == 0 and r["paths_per_second"] > 0
               for r in report["results"] if r["path"] != "database alone")
    ceiling = report["database_ceiling"]
    assert ceiling["clients"] == 2 and ceiling["failed"] == 0
    assert ceiling["transactions"] > 0 and ceiling["tx_per_second"] > 0
    http = next(r for r in report["results"] if r["path"] == "HTTP buyer path")
    assert http["share_of_database"] == pytest.approx(
        http["paths_per_second"] / ceiling["tx_per_second"], rel=0.01)
    assert report["per_path"]["statements"] > 0 and report["per_path"]["commits"] >= 4
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
    assert_dropped(out, postgres_server.admin_url)


@pytest.mark.parametrize("command, option, refusal", [
    ("checkout", "--connections", "--connections must be between 1 and 64, not 0."),
    ("orders", "--ceiling-seconds", "--ceiling-seconds must be between 1 and 600, not 0."),
    ("payments", "--webhooks", "--webhooks must be between 1 and 100000, not 0.")])
def test_a_bench_refuses_sizes_out_of_range_before_touching_a_database(
        command: str, option: str, refusal: str) -> None:
    run = subprocess.run([ORDERLINE, "bench", command, option, "0",
                          "--database-url", "postgresql://nobody@127.0.0.1:1/none"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert refusal in run.stderr


def test_bench_payments_reports_card_paths_webhook_rates_and_statements_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "payments.json"
    out = bench_output("payments", postgres_server.admin_url, "--paths", "20", "--webhooks",
                       "20", "--skus", "5", "--workers", "1", "--connections", "2",
                       "--duration", "0", "--json", str(figures))

    assert re.search(r"^http card: 20 paths in [0-9.]+s = [0-9]+ paths/s, 0 failed$", out,
                     re.MULTILINE), out
    for path in ("first delivery", "redelivered"):
        assert re.search(rf"^http webhooks, {path}: 20 webhooks in [0-9.]+s = [0-9]+ "
                         r"webhooks/s, 0 failed$", out, re.MULTILINE), out
    rows = re.findall(r"^(card|webhooks) +(2 requests|first delivery|redelivered), 1 servers +20 ",
                      out, re.MULTILINE)
    assert rows == [("card", "2 requests"), ("webhooks", "first delivery"),
                    ("webhooks", "redelivered")], out
    assert "orders of the measured card paths: 20 of 20 paid\n" in out
    assert "answers: first delivery applied 20; redelivered duplicate 20\n" in out
    assert "orders of the measured first deliveries: 20 of 20 paid\n" in out
    assert "refused steps (any answer but the step's 2xx, by step and error code): none" in out
    start = re.search(r"^  payments\.start_payment, automatic capture \(captured\) +(\d+) +\d+$",
                      out, re.MULTILINE)
    applied = re.search(r"^  payments\.receive_webhook, the capture's payment_intent\.succeeded "
                        r"\(applied\) +(\d+) +1$", out, re.MULTILINE)
    again = re.search(r"^  payments\.receive_webhook, the same webhook again \(duplicate\) +(\d+) "
                      r"+1$", out, re.MULTILINE)
    assert start is not None and applied is not None and again is not None, out
    assert 0 < int(again[1]) < int(applied[1]), out

    report = json.loads(figures.read_text())
    assert [r["path"] for r in report["results"]] == ["card path", "first delivery",
                                                       "redelivered"]
    assert all(r["completed"] == 20 and r["failed"] == 0 and r["p50_ms"] <= r["p95_ms"]
               for r in report["results"])
    assert report["results"][0]["paths_per_second"] > 0
    assert all(r["webhooks_per_second"] > 0 for r in report["results"][1:])
    assert report["steps"]["card path"]["refusals"] == {}
    assert set(report["steps"]["card path"]["latency"]) == {"order", "payment"}
    assert report["webhook_outcomes"] == {"first delivery": {"applied": 20},
                                          "redelivered": {"duplicate": 20}}
    assert report["order_statuses"] == {"card path": {"paid": 20},
                                        "first delivery": {"paid": 20}}
    # The warm-up's 20 payments and the 20 measured each send the server two webhooks.
    assert report["server_webhooks"]["recorded"] == report["server_webhooks"]["expected"] == 80
    counted = {(s["call"], s["case"]): s for s in report["statements"]}
    assert counted[("payments.start_payment", "automatic capture")]["statements"] == int(
        start[1])
    assert counted[("payments.receive_webhook", "the same webhook again")]["outcome"] == \
        "duplicate"
    assert_dropped(out, postgres_server.admin_url)


@pytest.mark.usefixtures("tesseract")
def test_bench_proofs_reports_upload_rates_sql_and_ocr_times_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "proofs.json"
    out = bench_output("proofs", postgres_server.admin_url, "--small", "6", "--large", "1",
                       "--ocr", "2", "--workers", "1", "--connections", "2", "--duration", "0",
                       "--json", str(figures))

    for size, count in (("200 KB png", 6), ("10 MB jpeg", 1)):
        assert re.search(rf"^http uploads, {size}: {count} uploads in [0-9.]+s = [0-9]+ "
                         r"uploads/s, 0 failed$", out, re.MULTILINE), out
        assert re.search(rf"^{size}: [0-9.]+ MB/s of proofs \([0-9.]+ MB each\); one upload "
                         r"sends [0-9]+ SQL statements", out, re.MULTILINE), out
    assert re.search(r"OCR call p50 [0-9.]+s, p95 [0-9.]+s; whole job per proof", out), out
    assert "receipts scored 2/2" in out
    report = json.loads(figures.read_text())
    assert [r["path"] for r in report["results"]] == ["200 KB png", "10 MB jpeg"]
    assert report["results"][1]["bytes_per_upload"] > 9_000_000
    assert len(report["ocr"]["job_seconds"]) == 2
    assert_dropped(out, postgres_server.admin_url)


def test_bench_console_reports_every_page_and_the_live_part_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "console.json"
    out = bench_output("console", postgres_server.admin_url, "--orders", "300", "--samples",
                       "3", "--live", "3", "--consoles", "2", "--workers", "1", "--json",
                       str(figures))

    # The dashboards summed live first, then (after the worker's first round of daily
    # rollups) every page.
    pages = ["dashboard (a week, no rollups)", "dashboard (a year, no rollups)",
             "dashboard (a week)", "dashboard (a year)", "orders: first page",
             "orders: next page", "orders: paid, WhatsApp", "orders: search a phone",
             "orders: search a number", "order page"]
    for page in pages:  # each asked for 3 times, none failed, with its SQL replayed
        assert re.search(rf"^{re.escape(page)} +3 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+ +\|",
                         out, re.MULTILINE), out
    assert "failed)" not in out
    report = json.loads(figures.read_text())
    assert report["shop"]["orders"] >= 300 > report["shop"]["templates"]
    assert report["shop"]["rollup_seconds"] > 0 and report["settings"]["rollups"] is True
    assert "daily rollups summed in" in out
    assert [p["page"] for p in report["pages"]] == pages
    for page in report["pages"]:
        assert page["requests"] == 3 and page["failed"] == 0
        assert 0 < page["server_ms"]["p50"] <= page["server_ms"]["p95"] <= page["server_ms"]["max"]
        assert page["sql_statements"] > 0
        assert page["database_alone_ms"] is not None and page["database_alone_ms"] > 0
    live = report["live"]
    # Every order reached both consoles, through another server process, and its row rendered.
    assert live["orders"] == 3 and live["consoles"] == 2 and live["missed"] == 0
    assert live["to_event_ms"]["p50"] is not None and live["to_row_ms"]["max"] is not None
    assert re.search(r"^  events missed: 0$", out, re.MULTILINE), out
    assert_dropped(out, postgres_server.admin_url)


def test_bench_verifications_reports_the_queue_decisions_and_uploads_then_drops_its_database(
        postgres_server: postgres.PostgresServer, tmp_path: Path) -> None:
    figures = tmp_path / "verifications.json"
    out = bench_output("verifications", postgres_server.admin_url, "--proofs", "200",
                       "--sessions", "5", "--samples", "3", "--decisions", "2", "--uploads",
                       "2", "--upload-mb", "1", "--workers", "1", "--json", str(figures))

    pages = ["queue: first page", "queue: a page mid-queue", "queue: rows (live refresh)"]
    for page in pages:  # each asked for 3 times with its SQL replayed, against its target
        assert re.search(rf"^{re.escape(page)} +3 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ \| .* \| "
                         r"(pass|OVER)$", out, re.MULTILINE), out
    assert re.search(r"^decided -> another queue's stream +10/10 ", out, re.MULTILINE), out
    assert re.search(r"^decided -> the buyer's order stream +2/2 ", out, re.MULTILINE), out
    assert re.search(r"^events missed: queues 0, buyers 0; ", out, re.MULTILINE), out
    assert re.search(r"^request start -> 201 \(client\) +2 ", out, re.MULTILINE), out
    report = json.loads(figures.read_text())
    assert report["bench"] == "verifications"
    # Every proof seeded waits in the queue, and every verifier's stream was open.
    assert report["queue"]["pending"] == 200 and report["sessions_open"] == 5
    assert [p["page"] for p in report["pages"]] == pages
    for page in report["pages"]:
        assert page["requests"] == 3 and page["failed"] == 0
        assert 0 < page["server_ms"]["p50"] <= page["server_ms"]["p99"] <= page["server_ms"]["max"]
        assert page["sql_statements"] > 0 and page["database_alone_ms"] > 0
        assert page["target_p95_ms"] == 2000 and isinstance(page["passed"], bool)
    # Every decision's event reached all five queues and its buyer, through another process.
    decisions = report["decisions"]
    assert decisions["decisions"] == 2 and decisions["sessions"] == 5
    assert decisions["events_received"] == decisions["events_expected"] == {"queue": 10,
                                                                             "buyer": 2}
    assert decisions["missed"] == {"queue": 0, "buyer": 0}
    assert decisions["outbox_reads_per_decision"] > 0  # the listeners read the outbox
    assert decisions["to_queue_ms"]["p50"] is not None
    assert decisions["to_buyer_ms"]["max"] >= decisions["to_buyer_ms"]["p50"]
    uploads = report["uploads"]
    assert uploads["uploads"] == 2 and 950_000 <= uploads["bytes_each"] <= 1_000_000
    assert uploads["client_ms"]["p50"] is not None and not uploads["limit_raised"]
    # The three approved (one to warm up) left the queue; the three uploaded joined it.
    assert report["queue"]["pending_after"] == 200 - 3 + 3
    assert_dropped(out, postgres_server.admin_url)
