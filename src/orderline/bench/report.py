"""What ``orderline bench orders`` found, as a table for people and as JSON for machines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orderline.bench import ceiling as bench_ceiling
from orderline.bench import raw as bench_raw
from orderline.bench.ceiling import CEILING, describe_share, share
from orderline.bench.load import PhaseResult
from orderline.bench.profile import ProfileOutcome, report_lines
from orderline.bench.statements import StatementCount

RAW = "raw SQL"
HTTP = "POST /v1/orders"
# The spread scenario again over HTTP, its orders arriving at half of the closed-loop rate.
PACED = "half-peak"
P99_TARGET_MS = 200.0  # issue 15: order creation p99 under 200 ms at half of peak


@dataclass
class Report:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    results: list[PhaseResult] = field(default_factory=list)
    new_customer: StatementCount = field(default_factory=StatementCount)
    returning: StatementCount = field(default_factory=StatementCount)
    authenticate: StatementCount = field(default_factory=StatementCount)  # key already kept
    first_authenticate: StatementCount = field(default_factory=StatementCount)
    drifting_levels: int | None = None  # stock levels whose books do not balance
    profile: ProfileOutcome | None = None  # --profile: where the server CPU went

    def result(self, scenario: str, path: str) -> PhaseResult | None:
        return next((r for r in self.results if (r.scenario, r.path) == (scenario, path)), None)

    def ratio(self, scenario: str) -> float | None:
        """HTTP orders/s over raw orders/s for the scenario."""
        raw, http = self.result(scenario, RAW), self.result(scenario, HTTP)
        if raw is None or http is None or raw.orders_per_second == 0:
            return None
        return http.orders_per_second / raw.orders_per_second

    def share_of_database(self, result: PhaseResult) -> float | None:
        """The result's rate as a share of its scenario's database ceiling."""
        ceiling = self.result(result.scenario, CEILING)
        return share(result.orders_per_second, ceiling.orders_per_second if ceiling else None)

    @property
    def statements_per_request(self) -> int:
        return len(self.returning.statements) + len(self.authenticate.statements)

    @property
    def commits_per_request(self) -> int:
        return self.returning.commits + self.authenticate.commits

    @property
    def rollbacks_per_request(self) -> int:
        return self.returning.rollbacks + self.authenticate.rollbacks


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(report: Report) -> list[str]:
    s = report.settings
    paths = {CEILING: f"database alone, pgbench {s['connections']} cl",
             RAW: f"asyncpg replay, pool of {s['connections']}",
             HTTP: f"POST /v1/orders, {s['workers']} servers"}
    return table(report.results, paths, report.share_of_database, ratio_head="of db")


def table(results: list[PhaseResult], paths: dict[str, str],
          ratio_of: Callable[[PhaseResult], float | None] | None, *,
          unit: str = "order", ratio_head: str = "of raw") -> list[str]:
    """One row per phase: ``paths`` names each path, ``ratio_of`` gives the share in the
    ``ratio_head`` column (None: no such column), ``unit`` is what one placement makes (an
    order, a path, ...)."""
    done, rate = f"{unit}s", f"{unit}s/s"
    done_width, rate_width = max(6, len(done)), max(8, len(rate))
    head = (f"{'scenario':<9} {'path':<30} {done:>{done_width}} {'failed':>6} "
            f"{rate:>{rate_width}} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
            + ("" if ratio_of is None else f" {ratio_head:>6}"))
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
        f"{returning.checkouts} pool checkout{'s' if returning.checkouts != 1 else ''})",
        f"  new customer:       {len(new.statements)} statements",
        f"  the stock row is locked for {returning.holding('stock_levels') or '-'} of them and "
        "the COMMIT (from its conditional UPDATE on): what every buyer of a hot SKU waits for",
        f"  POST /v1/orders also authenticates the API key: +{len(auth.statements)} = "
        f"{per_request} statements and {returning.checkouts + auth.checkouts} pool checkouts "
        "per request, once the server process keeps the key (tenancy/key_cache.py); its first "
        f"request with the key: +{len(report.first_authenticate.statements)} and "
        f"{report.first_authenticate.checkouts} pool checkout",
        "  not counted above: BEGIN/COMMIT/ROLLBACK are not cursor executes (create_order: "
        f"{returning.begins} BEGIN, {returning.commits} COMMIT, {returning.rollbacks} ROLLBACK), "
        "nor the pool_pre_ping round trips of each checkout",
        f"  asyncpg replay: {len(bench_raw.STATEMENTS)} statements in 1 transaction (hold "
        "stock, number the order, insert order, line, reservation, history entry, stream "
        "counter, outbox event)",
        f"  database alone (pgbench): {len(bench_ceiling.STATEMENTS)} statements + BEGIN/COMMIT"
        " in 1 transaction (conditional stock hold, order, line, outbox event)",
    ]
    if verbose:
        for title, count in (("create_order, returning customer", returning),
                             ("create_order, new customer", new),
                             ("authenticate", auth)):
            lines.append(f"  -- {title} ([n]: the pool checkout it ran on):")
            for n, group in enumerate(count.per_checkout, 1):
                lines.extend(f"     [{n}] {sql}" for sql in group)
        lines.append("  -- asyncpg replay:")
        lines.extend(f"     {sql}" for sql in bench_raw.STATEMENTS)
        lines.append("  -- database alone, the pgbench script:")
        lines.extend(f"     {sql}" for sql in bench_ceiling.order_script().splitlines())
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
    for scenario in dict.fromkeys(r.scenario for r in report.results if r.scenario != PACED):
        lines += against_database(
            scenario, http=report.result(scenario, HTTP), raw=report.result(scenario, RAW),
            ceiling=report.result(scenario, CEILING), noun="orders", unit="order",
            clients=s["connections"], statements=report.statements_per_request,
            commits=report.commits_per_request, rollbacks=report.rollbacks_per_request)
    lines += _paced(report)
    ratios = [f"{scenario} {ratio:.1%}" for scenario in dict.fromkeys(
        r.scenario for r in report.results) if (ratio := report.ratio(scenario)) is not None]
    if ratios:
        lines += ["", "HTTP throughput as a share of the asyncpg replay: " + ", ".join(ratios)]
    lines.append("")
    failures = [f"  {r.scenario} {r.path}: {r.first_failure}" for r in report.results
                if r.first_failure]
    if failures:
        lines += ["first failure of each phase that had failures:", *failures, ""]
    if report.returning.per_checkout:
        lines += [*_statements(report, verbose), ""]
    profiled = report.result("spread", HTTP)
    lines += report_lines(report.profile, profiled.server_cpu_seconds if profiled else None)
    lines += footer(report.drifting_levels, "create_order")
    return "\n".join(lines)


def _paced(report: Report) -> list[str]:
    """The open-loop phase at half of the peak rate, against the p99 target."""
    paced, peak = report.result(PACED, HTTP), report.result("spread", HTTP)
    if paced is None or peak is None:
        return []
    p99 = paced.latency_ms(99)
    verdict = ("-" if p99 is None else
               "met" if p99 < P99_TARGET_MS and not paced.failed else "NOT met")
    offered = paced.completed + paced.failed
    return [f"{PACED}: {offered} spread orders arriving at "
            f"{peak.orders_per_second / 2:.1f}/s (half of the spread phase's "
            f"{peak.orders_per_second:.1f}/s), open loop, each timed from its arrival: "
            f"p50/p95/p99 {ms(paced.latency_ms(50))}/{ms(paced.latency_ms(95))}/{ms(p99)} ms, "
            f"{paced.failed} failed; server CPU "
            f"{ms(paced.cpu_ms_per_order(paced.server_cpu_seconds))} ms per order; "
            f"p99 under {P99_TARGET_MS:.0f} ms: {verdict}"]


def against_database(scenario: str, *, http: PhaseResult | None, raw: PhaseResult | None,
                     ceiling: PhaseResult | None, noun: str, unit: str, clients: int,
                     statements: int | None, commits: int | None,
                     rollbacks: int = 0) -> list[str]:
    """The HTTP phase against the database ceiling (pgbench), then against the asyncpg
    replay, with its server CPU, latency, statements and commits per ``unit``."""
    if http is None:
        return []
    lines = [f"{scenario}: over HTTP {describe_share(noun, http.orders_per_second, ceiling)}"
             + (f" (pgbench, {clients} clients, {len(bench_ceiling.STATEMENTS)} statements and "
                f"{bench_ceiling.COMMITS} commit per transaction)" if ceiling else "")]
    if raw is not None and raw.orders_per_second > 0:
        lines.append(f"  asyncpg replay: {raw.orders_per_second:,.0f} {noun}/s; HTTP is "
                     f"{http.orders_per_second / raw.orders_per_second:.1%} of it")
    ended = f"{commits} COMMIT" + (f" and {rollbacks} ROLLBACK" if rollbacks else "")
    counted = ("" if statements is None else
               f"; {statements} SQL statements, {ended} per {unit}")
    lines.append(f"  over HTTP, per {unit}: server CPU "
                 f"{ms(http.cpu_ms_per_order(http.server_cpu_seconds))} ms; p50/p95/p99 "
                 f"{ms(http.latency_ms(50))}/{ms(http.latency_ms(95))}/"
                 f"{ms(http.latency_ms(99))} ms{counted}")
    return lines


def ceiling_json(ceiling: PhaseResult | None, *, clients: int) -> dict[str, Any] | None:
    """The database ceiling of one scenario, for ``--json``."""
    if ceiling is None:
        return None
    return {"tx_per_second": round(ceiling.orders_per_second, 1), "clients": clients,
            "transactions": ceiling.completed, "failed": ceiling.failed,
            "p50_ms": ceiling.latency_ms(50), "p95_ms": ceiling.latency_ms(95),
            "p99_ms": ceiling.latency_ms(99),
            "postgres_cpu_ms_per_tx": ceiling.cpu_ms_per_order(ceiling.db_cpu_seconds),
            "statements_per_tx": len(bench_ceiling.STATEMENTS),
            "commits_per_tx": bench_ceiling.COMMITS, "pgbench_script": bench_ceiling.order_script()}


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
    return (f"CPU ms per {unit} (Linux /proc): bench = this process, the load generator "
            "(pgbench itself on a database-alone row); "
            "server = the orderline serve processes; pg = this database's PostgreSQL "
            "backends. All share this machine's cores.")


def as_json(report: Report) -> dict[str, Any]:
    return {
        "settings": report.settings, "database": report.database,
        "postgresql": report.server_version,
        "results": [{**r.as_dict(),
                     "ratio_to_raw": (report.ratio(r.scenario) if r.path == HTTP else
                                      1.0 if r.path == RAW else None),
                     "share_of_database": report.share_of_database(r)}
                    for r in report.results],
        "database_ceiling": {
            scenario: ceiling_json(report.result(scenario, CEILING),
                                   clients=report.settings["connections"])
            for scenario in dict.fromkeys(r.scenario for r in report.results)},
        "per_request": {"statements": report.statements_per_request,
                        "commits": report.commits_per_request,
                        "rollbacks": report.rollbacks_per_request},
        "statements": {"create_order_returning_customer": report.returning.as_dict(),
                       "create_order_new_customer": report.new_customer.as_dict(),
                       "authenticate": report.authenticate.as_dict(),
                       "first_authenticate": report.first_authenticate.as_dict(),
                       "raw_transaction": list(bench_raw.STATEMENTS)},
        "drifting_levels": report.drifting_levels,
        "profile": None if report.profile is None else report.profile.as_json(),
    }
