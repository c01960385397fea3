"""What ``orderline bench scale`` prints and writes for a grid (``bench/scale_report.py``)."""

from __future__ import annotations

from orderline.bench.load import PhaseResult
from orderline.bench.scale_report import Cell, ScaleReport, as_json, render

SETTINGS = {"orders": 10, "warmup_orders": 2, "connections": 4, "servers": [1, 2],
            "workers": [1], "skus": 5, "buyers": 100, "seed": 1, "max_seconds": None,
            "cpus": 2}


def cell(servers: int, workers: int, *, rate: float, relayed: int = 10) -> Cell:
    result = PhaseResult(scenario=f"{servers}x{workers}", path="POST /v1/orders",
                         completed=10, failed=0, wall_seconds=10 / rate,
                         client_cpu_seconds=0.1, latencies_ms=tuple(float(i) for i in range(10)),
                         first_failure=None, server_cpu_seconds=0.2, db_cpu_seconds=0.05)
    return Cell(servers=servers, workers=workers, result=result, orders_created=10, events=10,
                events_relayed=relayed, lag_ms=(5.0, 7.0, 30.0), drain_seconds=0.1,
                worker_cpu_seconds=0.04, load_average=1.5)


def test_the_report_has_a_row_per_cell_and_the_curve_with_servers_down_and_workers_across(
) -> None:
    report = ScaleReport(database="db", settings=SETTINGS,
                         cells=[cell(1, 1, rate=40.0), cell(2, 1, rate=70.0)])
    text = render(report)
    assert "      1 s     40.0" in text and "      2 s     70.0" in text
    assert "every order created and every event relayed" in text
    figures = as_json(report)
    assert [(c["servers"], c["workers"]) for c in figures["cells"]] == [(1, 1), (2, 1)]
    first = figures["cells"][0]
    assert first["server_cpu_ms_per_order"] == 20.0  # 0.2 s over 10 orders
    assert first["worker_cpu_ms_per_event"] == 4.0  # 0.04 s over 10 events
    assert first["outbox_lag_ms"] == {"p50": 7.0, "p95": 30.0, "p99": 30.0, "max": 30.0}


def test_a_cell_that_left_events_unrelayed_is_named() -> None:
    report = ScaleReport(database="db", settings=SETTINGS,
                         cells=[cell(1, 1, rate=40.0), cell(2, 1, rate=70.0, relayed=8)])
    text = render(report)
    assert "NOT COMPLETE: 2x1: 10 orders created of 10, 8 events relayed of 10" in text
    assert "every order created" not in text
