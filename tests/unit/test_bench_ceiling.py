"""The pure parts of ``orderline bench``'s database ceiling: reading pgbench, the share."""

from __future__ import annotations

import pytest

from orderline.bench.ceiling import (
    CEILING,
    STATEMENTS,
    aborted_clients,
    describe_share,
    log_latencies_ms,
    order_script,
    parse_summary,
    share,
)
from orderline.bench.load import PhaseResult

PGBENCH_15 = """\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: /tmp/orderline-ceiling-x/order.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 1
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 21034
number of failed transactions: 0 (0.000%)
latency average = 7.601 ms
initial connection time = 41.250 ms
tps = 2104.975300 (without initial connection time)
"""


def test_the_summary_gives_transactions_failures_and_the_rate() -> None:
    assert parse_summary(PGBENCH_15) == (21034, 0, 2104.9753)


def test_a_summary_without_the_failed_line_counts_no_failure() -> None:
    older = PGBENCH_15.replace("number of failed transactions: 0 (0.000%)\n", "")
    assert parse_summary(older) == (21034, 0, 2104.9753)


def test_output_that_is_not_a_summary_is_refused() -> None:
    with pytest.raises(ValueError, match="not a pgbench summary"):
        parse_summary("pgbench: error: connection to server failed")


def test_aborted_clients_are_picked_out_of_pgbench_errors() -> None:
    stderr = ("pgbench: error: client 3 script 0 aborted in command 2 query 0: expected one "
              "row, got 0\npgbench: error: Run was aborted; the above results are incomplete.")
    assert aborted_clients(stderr) == [stderr.splitlines()[0]]
    assert aborted_clients("") == []


def test_log_latencies_are_milliseconds_of_the_successful_transactions_sorted() -> None:
    lines = ["0 1 7500 0 1765000000 123", "1 1 2500 0 1765000000 456",
             "2 1 failed 0 1765000000 789", "", "3 1 10000 0 1765000001 12"]
    assert log_latencies_ms(lines) == [2.5, 7.5, 10.0]


def test_the_share_is_the_rate_over_the_ceiling_and_none_without_one() -> None:
    assert share(55, 2100) == pytest.approx(0.02619, rel=1e-3)
    assert share(55, None) is None
    assert share(55, 0) is None


def ceiling_of(tx_per_second: float) -> PhaseResult:
    return PhaseResult(scenario="spread", path=CEILING, completed=int(tx_per_second * 10),
                       failed=0, wall_seconds=10.0, client_cpu_seconds=0.0, latencies_ms=(),
                       first_failure=None)


def test_the_share_is_said_in_the_words_of_the_report() -> None:
    assert describe_share("orders", 55, ceiling_of(2100)) == (
        "55 orders/s = 2.6% of what the database does alone: 2,100 tx/s")
    assert describe_share("orders", 55, None) == "55 orders/s (no database ceiling measured)"


def test_the_script_picks_a_sku_then_runs_one_transaction_with_the_conditional_hold() -> None:
    lines = order_script().splitlines()
    assert lines[0] == "\\set n random(:first, :last)"
    assert lines[1] == "BEGIN;" and lines[-1] == "COMMIT;"
    assert lines[2:-1] == list(STATEMENTS)
    assert "on_hand - stock_levels.reserved >= 1" in lines[2]
    assert [line.split()[2] for line in lines[3:-1]] == ["orders", "order_lines",
                                                         "outbox_events"]
