"""What ``orderline bench scale`` found: one row per cell of the grid, the curve, and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderline.bench.load import PhaseResult, percentile
from orderline.bench.report import cpu_note, ms


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of the grid: ``servers`` server processes and ``workers`` worker processes."""

    servers: int
    workers: int
    result: PhaseResult
    orders_created: int  # the orders the business gained during the measured phase
    events: int  # outbox events the measured orders wrote (their order.created)
    events_relayed: int  # ... of which a worker relayed (status done)
    lag_ms: tuple[float, ...]  # from its order's answer to relayed_at, each event, sorted
    drain_seconds: float  # from the load's end until no event was pending
    worker_cpu_seconds: float | None
    load_average: float  # the machine's 1-minute load average at the cell's end
    write_lag_ms: tuple[float, ...] = ()  # relayed_at - created_at, each event, sorted

    def lag(self, percent: float) -> float | None:
        return percentile(self.lag_ms, percent)

    @property
    def worker_cpu_ms_per_event(self) -> float | None:
        if self.worker_cpu_seconds is None or not self.events:
            return None
        return self.worker_cpu_seconds * 1000 / self.events

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {"servers": self.servers, "workers": self.workers,
                **{k: v for k, v in r.as_dict().items() if k not in ("scenario", "path")},
                "server_cpu_ms_per_order": _rounded(r.cpu_ms_per_order(r.server_cpu_seconds)),
                "orders_created": self.orders_created, "events": self.events,
                "events_relayed": self.events_relayed,
                "outbox_lag_ms": {"p50": _rounded(self.lag(50)), "p95": _rounded(self.lag(95)),
                                  "p99": _rounded(self.lag(99)),
                                  "max": _rounded(self.lag_ms[-1] if self.lag_ms else None)},
                "outbox_lag_from_write_ms": {
                    "p50": _rounded(percentile(self.write_lag_ms, 50)),
                    "p95": _rounded(percentile(self.write_lag_ms, 95)),
                    "p99": _rounded(percentile(self.write_lag_ms, 99))},
                "drain_seconds": round(self.drain_seconds, 3),
                "worker_cpu_ms_per_event": _rounded(self.worker_cpu_ms_per_event),
                "load_average": round(self.load_average, 2)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class ScaleReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    cells: list[Cell] = field(default_factory=list)

    def cell(self, servers: int, workers: int) -> Cell | None:
        return next((c for c in self.cells if (c.servers, c.workers) == (servers, workers)),
                    None)


def _table(report: ScaleReport) -> list[str]:
    head = (f"{'servers':>7} {'workers':>7} {'orders':>6} {'failed':>6} {'orders/s':>8} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  {'server':>6} {'pg':>5} "
            f"{'worker':>6}  {'lag p50':>7} {'p95':>6} {'p99':>6} {'drain s':>7} "
            f"{'relayed':>13} {'load':>5}")
    lines = [f"{'':<64}{'CPU ms/order,/event':<21}outbox lag, ms", head, "-" * len(head)]
    for c in report.cells:
        r = c.result
        lines.append(
            f"{c.servers:>7} {c.workers:>7} {r.completed:>6} {r.failed:>6} "
            f"{r.orders_per_second:>8.1f} {ms(r.latency_ms(50)):>7} {ms(r.latency_ms(95)):>7} "
            f"{ms(r.latency_ms(99)):>7}  {ms(r.cpu_ms_per_order(r.server_cpu_seconds)):>6} "
            f"{ms(r.cpu_ms_per_order(r.db_cpu_seconds)):>5} "
            f"{ms(c.worker_cpu_ms_per_event):>6}  {_whole(c.lag(50)):>7} {_whole(c.lag(95)):>6} "
            f"{_whole(c.lag(99)):>6} {c.drain_seconds:>7.2f} "
            f"{f'{c.events_relayed}/{c.events}':>13} {c.load_average:>5.1f}")
    return lines


def _whole(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _curve(report: ScaleReport) -> list[str]:
    """Orders/s with servers down and workers across."""
    servers = list(dict.fromkeys(c.servers for c in report.cells))
    workers = list(dict.fromkeys(c.workers for c in report.cells))
    lines = ["orders/s (servers down, workers across):",
             f"{'':>9}" + "".join(f"{f'{w} w':>9}" for w in workers)]
    for s in servers:
        row = f"{f'{s} s':>9}"
        for w in workers:
            cell = report.cell(s, w)
            row += f"{'-' if cell is None else f'{cell.result.orders_per_second:.1f}':>9}"
        lines.append(row)
    return lines


def render(report: ScaleReport, *, verbose: bool = False) -> str:
    s = report.settings
    lines = [
        f"orderline bench scale: PostgreSQL {report.server_version or '?'}; "
        f"{s['orders']} orders per cell after {s['warmup_orders']} warm-up; "
        f"{s['connections']} in flight; spread over {s['skus']} SKUs (seed {s['seed']}); "
        f"{s['cpus']} CPUs on this machine"
        + (f"; each cell capped at {s['max_seconds']:g}s" if s["max_seconds"] else ""),
        "", *_table(report), "", *_curve(report), ""]
    incomplete = [c for c in report.cells
                  if c.events_relayed < c.events or c.orders_created < c.result.completed]
    lines.append("every order created and every event relayed" if not incomplete else
                 "NOT COMPLETE: " + "; ".join(
                     f"{c.servers}x{c.workers}: {c.orders_created} orders created of "
                     f"{c.result.completed}, {c.events_relayed} events relayed of {c.events}"
                     for c in incomplete))
    failures = [f"  {c.servers}x{c.workers}: {c.result.first_failure}" for c in report.cells
                if c.result.first_failure]
    if failures:
        lines += ["first failure of each cell that had failures:", *failures]
    lines += [
        "outbox lag = from the moment an order's 201 was read (it had committed) to a worker "
        "taking its order.created event (relayed_at; workers poll every 0.2 s and wake on "
        "NOTIFY); drain s = from the load's end until no event was pending.",
        cpu_note("order") + " worker = the orderline worker processes, per event (idle "
        "polling included).",
        "load = the machine's 1-minute load average at the cell's end."]
    return "\n".join(lines)


def as_json(report: ScaleReport) -> dict[str, Any]:
    return {"settings": report.settings, "database": report.database,
            "postgresql": report.server_version,
            "cells": [c.as_dict() for c in report.cells]}
