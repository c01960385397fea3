"""What ``orderline bench orders`` found, as a table for people and as JSON for machines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orderline.bench import raw as bench_raw
from orderline.bench.load import PhaseResult
from orderline.bench.statements import StatementCount

RAW = "raw SQL"
HTTP = "POST /v1/orders"


@dataclass
class Report:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    results: list[PhaseResult] = field(default_factory=list)
    new_customer: StatementCount = field(default_factory=StatementCount)
    returning: StatementCount = field(default_factory=StatementCount)
    authenticate: StatementCount = field(default_factory=StatementCount)
    drifting_levels: int | None = None  # stock levels whose books do not balance

    def result(self, scenario: str, path: str) -> PhaseResult | None:
        return next((r for r in self.results if (r.scenario, r.path) == (scenario, path)), None)

    def ratio(self, scenario: str) -> float | None:
        """HTTP orders/s over raw orders/s for the scenario."""
        raw, http = self.result(scenario, RAW), self.result(scenario, HTTP)
        if raw is None or http is None or raw.orders_per_second == 0:
            return None
        return http.orders_per_second / raw.orders_per_second


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(report: Report) -> list[str]:
    s = report.settings
    paths = {RAW: f"raw SQL, asyncpg pool of {s['connections']}",
             HTTP: f"POST /v1/orders, {s['workers']} servers"}
    return table(report.results, paths,
                 lambda r: report.ratio(r.scenario) if r.path == HTTP else 1.0)


def table(results: list[PhaseResult], paths: dict[str, str],
          ratio_of: Callable[[PhaseResult], float | None] | None, *,
          unit: str = "order") -> list[str]:
    """One row per phase: ``paths`` names each path, ``ratio_of`` gives the "of raw" share
    (None: no such column), ``unit`` is what one placement makes (an order, a path, ...)."""
    done, rate = f"{unit}s", f"{unit}s/s"
    done_width, rate_width = max(6, len(done)), max(8, len(rate))
    head = (f"{'scenario':<9} {'path':<30} {done:>{done_width}} {'failed':>6} "
            f"{rate:>{rate_width}} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
            + ("" if ratio_of is None else f" {'of raw':>6}"))
    cpu = f"{'bench':>6} {'server':>6} {'pg':>6}"
    lines = [f"{'':<{len(head)}}  CPU ms per {unit}:", f"{head}  {cpu}",
             "-" * (len(head) + 2 + len(cpu))]
    for r in results:
        ratio = None if ratio_of is None else ratio_of(r)
        lines.append(
            f"{r.scenario:<9} {paths[r.path]:<30} {r.completed:>{done_width}} {r.failed:>6} "
            f"{r.orders_per_second:>{rate_width}.1f} {ms(r.latency_ms(50)):>7} "
            f"{ms(r.latency_ms(95)):>7} {ms(r.latency_ms(99)):>7}"
            + ("" if ratio_of is None else f" {'-' if ratio is None else f'{ratio:.0%}':>6}")
            + f"  {ms(r.cpu_ms_per_order(r.client_cpu_seconds)):>6} "
            f"{ms(r.cpu_ms_per_order(r.server_cpu_seconds)):>6} "
            f"{ms(r.cpu_ms_per_order(r.db_cpu_seconds)):>6}")
    return lines


def _statements(report: Report, verbose: bool) -> list[str]:
    new, returning, auth = report.new_customer, report.returning, report.authenticate
    groups = " + ".join(str(len(g)) for g in returning.per_checkout)
    per_request = len(returning.statements) + len(auth.statements)
    lines = [
        "SQL statements per order creation (checkout.direct_orders.create_order, counted with "
        "SQLAlchemy's before_cursor_execute):",
        f"  returning customer: {len(returning.statements)} statements ({groups} over "
        f"{returning.checkouts} pool checkouts: the order's transaction, then reading it back)",
        f"  new customer:       {len(new.statements)} statements",
        f"  POST /v1/orders also authenticates the API key: +{len(auth.statements)} = "
        f"{per_request} statements and {returning.checkouts + auth.checkouts} pool checkouts "
        "per request",
        "  not counted above: BEGIN/COMMIT/ROLLBACK are not cursor executes (create_order: "
        f"{returning.begins} BEGIN, {returning.commits} COMMIT, {returning.rollbacks} ROLLBACK), "
        "nor the pool_pre_ping round trips of each checkout",
        f"  raw ceiling: {len(bench_raw.STATEMENTS)} statements in 1 transaction (hold stock, "
        "number the order, insert order, line, reservation, history entry, stream counter, "
        "outbox event)",
    ]
    if verbose:
        for title, count in (("create_order, returning customer", returning),
                             ("create_order, new customer", new),
                             ("authenticate", auth)):
            lines.append(f"  -- {title} ([n]: the pool checkout it ran on):")
            for n, group in enumerate(count.per_checkout, 1):
                lines.extend(f"     [{n}] {sql}" for sql in group)
        lines.append("  -- raw ceiling:")
        lines.extend(f"     {sql}" for sql in bench_raw.STATEMENTS)
    return lines


def render(report: Report, *, verbose: bool = False) -> str:
    s = report.settings
    lines = [
        f"orderline bench orders: PostgreSQL {report.server_version or '?'}; "
        f"up to {s['orders']} orders per phase after {s['warmup_orders']} warm-up; "
        f"{s['connections']} in flight; {s['workers']} server processes; "
        f"spread over {s['skus']} SKUs (seed {s['seed']}); 1 line x 1 unit per order"
        + (f"; each phase capped at {s['max_seconds']:g}s" if s["max_seconds"] else ""),
        "", *_table(report), ""]
    ratios = [f"{scenario} {ratio:.1%}" for scenario in dict.fromkeys(
        r.scenario for r in report.results) if (ratio := report.ratio(scenario)) is not None]
    if ratios:
        lines += ["HTTP throughput as a share of the raw ceiling: " + ", ".join(ratios), ""]
    failures = [f"  {r.scenario} {r.path}: {r.first_failure}" for r in report.results
                if r.first_failure]
    if failures:
        lines += ["first failure of each phase that had failures:", *failures, ""]
    if report.returning.per_checkout:
        lines += [*_statements(report, verbose), ""]
    lines += footer(report.drifting_levels, "create_order")
    return "\n".join(lines)


def footer(drifting_levels: int | None, writer: str) -> list[str]:
    """Whether the stock books balance after the run, and what the CPU columns mean."""
    lines = []
    if drifting_levels is not None:
        lines.append("stock books after the run: " + (
            "balanced (on every level, reserved = its active reservations, on_hand = its ledger)"
            if not drifting_levels else
            f"{drifting_levels} levels DRIFT: the raw SQL no longer writes what {writer} "
            "writes"))
    lines.append(cpu_note("order"))
    return lines


def cpu_note(unit: str) -> str:
    """What the CPU columns of ``table`` mean."""
    return (f"CPU ms per {unit} (Linux /proc): bench = this process, the load generator; "
            "server = the orderline serve processes; pg = this database's PostgreSQL "
            "backends. All share this machine's cores.")


def as_json(report: Report) -> dict[str, Any]:
    return {
        "settings": report.settings, "database": report.database,
        "postgresql": report.server_version,
        "results": [{**r.as_dict(), "ratio_to_raw": (report.ratio(r.scenario)
                                                     if r.path == HTTP else 1.0)}
                    for r in report.results],
        "statements": {"create_order_returning_customer": report.returning.as_dict(),
                       "create_order_new_customer": report.new_customer.as_dict(),
                       "authenticate": report.authenticate.as_dict(),
                       "raw_transaction": list(bench_raw.STATEMENTS)},
        "drifting_levels": report.drifting_levels,
    }
