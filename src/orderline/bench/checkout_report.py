"""What ``orderline bench checkout`` found, as a report for people and as JSON for machines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orderline.bench.ceiling import CEILING, share
from orderline.bench.checkout_paths import RAW_STEPS, STEPS, StepTimes
from orderline.bench.load import PhaseResult
from orderline.bench.profile import ProfileOutcome, report_lines
from orderline.bench.report import RAW, against_database, ceiling_json, footer, ms, table
from orderline.bench.statements import StatementCount

HTTP = "HTTP buyer path"
CONFIRM_TARGET = 15  # the target: a confirm in fewer statements than this
# Per step: the service call counted, and who the request authenticates as.
SERVICE_CALLS = {"cart": ("carts.create_cart", "authenticate"),
                 "line": ("carts.add_line", "cart_token"),
                 "checkout": ("checkouts.start_checkout", "cart_token"),
                 "confirm": ("confirm.confirm_checkout", "cart_token")}


@dataclass
class CheckoutReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    results: list[PhaseResult] = field(default_factory=list)
    steps: dict[str, StepTimes] = field(default_factory=dict)  # by path (RAW, HTTP)
    known: dict[str, StatementCount] = field(default_factory=dict)  # by step, and auth
    guest: dict[str, StatementCount] = field(default_factory=dict)
    drifting_levels: int | None = None
    profile: ProfileOutcome | None = None  # --profile: where the server CPU went

    def result(self, path: str) -> PhaseResult | None:
        return next((r for r in self.results if r.path == path), None)

    def ratio(self) -> float | None:
        raw, http = self.result(RAW), self.result(HTTP)
        if raw is None or http is None or raw.orders_per_second == 0:
            return None
        return http.orders_per_second / raw.orders_per_second

    def share_of_database(self, result: PhaseResult) -> float | None:
        ceiling = self.result(CEILING)
        return share(result.orders_per_second, ceiling.orders_per_second if ceiling else None)

    def per_path(self, what: str) -> int | None:
        """Statements, commits or rollbacks of one path's four requests, each with the
        lookup of who sends it (the API key or the cart token); None before counting."""
        if not self.known:
            return None
        total = 0
        for step in STEPS:
            for count in (self.known[step], self.known[SERVICE_CALLS[step][1]]):
                total += (len(count.statements) if what == "statements"
                          else int(getattr(count, what)))
        return total


# --- for people ------------------------------------------------------------------------------

def step_table(steps: dict[str, StepTimes], names: Sequence[str] = STEPS) -> list[str]:
    """p50 and p95 of each of the ``names`` steps, for each path's ``StepTimes``."""
    lines = [f"{'latency per step, ms (successful steps):':<43}"
             + "".join(f"{s:>10}" for s in names)]
    for path, times in steps.items():
        figures = times.percentiles()
        for pct in ("p50_ms", "p95_ms"):
            lines.append(f"  {path:<32} {pct[:3]:<8}" + "".join(
                f"{ms(figures.get(s, {}).get(pct)):>10}" for s in names))
    return lines


def refusals(steps: dict[str, StepTimes]) -> list[str]:
    """The refusals each path's ``StepTimes`` counted, by step, status and error code."""
    counted = [(path, what, n) for path, times in steps.items()
               for what, n in sorted(times.refusals.items())]
    if not counted:
        return ["refused steps (any answer but the step's 2xx, by step and error code): none"]
    return ["refused steps (by step, HTTP status and error code):",
            *(f"  {path}: {what}: {n}" for path, what, n in counted)]


def _statements(report: CheckoutReport, verbose: bool) -> list[str]:
    known, guest = report.known, report.guest
    head = (f"  {'step':<9} {'service call':<26} {'statements':>10} {'transactions':>12}   "
            f"{'per request, with auth':<24} {'raw SQL':>7}")
    lines = ["SQL statements per step, the services run once in-process for a known customer "
             "(counted with SQLAlchemy's before_cursor_execute):", head]
    totals = [0, 0, 0, 0, 0]
    for step in STEPS:
        call, auth = SERVICE_CALLS[step]
        count, way_in = known[step], known[auth]
        raw = sum(len(tx) for tx in RAW_STEPS[step])
        with_auth = (len(count.statements) + len(way_in.statements),
                     count.checkouts + way_in.checkouts)
        for i, n in enumerate((len(count.statements), count.checkouts, *with_auth, raw)):
            totals[i] += n
        lines.append(f"  {step:<9} {call:<26} {len(count.statements):>10} "
                     f"{count.checkouts:>12}   {f'{with_auth[0]} in {with_auth[1]}':<24} "
                     f"{raw:>7}")
    lines.append(f"  {'path':<9} {'':<26} {totals[0]:>10} {totals[1]:>12}   "
                 f"{f'{totals[2]} in {totals[3]}':<24} {totals[4]:>7}")
    confirm_count = known["confirm"]
    groups = " + ".join(str(len(g)) for g in confirm_count.per_checkout)
    n = len(confirm_count.statements)
    lines += [
        f"  the confirm: {n} statements = {groups} (the idempotency-key claim, its own "
        f"transaction; then the conversion); target under {CONFIRM_TARGET}: "
        + ("met" if n < CONFIRM_TARGET else "NOT met"),
        f"  a guest's first path (no customer on the cart; one is made for her): checkout "
        f"{len(guest['checkout'].statements)}, confirm {len(guest['confirm'].statements)} "
        "statements",
        f"  per request, with auth: the API key costs {len(known['authenticate'].statements)} "
        f"statement(s), the X-Cart-Token lookup {len(known['cart_token'].statements)}, each "
        "in a pool checkout of its own, on a server process's first request with them; both "
        "are kept by the process after it (tenancy/key_cache.py, checkout/carts.py)",
        "  not counted: BEGIN/COMMIT/ROLLBACK (not cursor executes), nor the pool_pre_ping "
        "round trip of each pool checkout",
    ]
    if verbose:
        for step in (*STEPS, "authenticate", "cart_token"):
            lines.append(f"  -- {step} ([n]: the pool checkout it ran on):")
            for i, group in enumerate(known[step].per_checkout, 1):
                lines.extend(f"     [{i}] {sql}" for sql in group)
        for step in STEPS:
            lines.append(f"  -- raw SQL, {step} ([n]: the transaction):")
            for i, tx in enumerate(RAW_STEPS[step], 1):
                lines.extend(f"     [{i}] {sql}" for sql in tx)
    return lines


def render(report: CheckoutReport, *, verbose: bool = False) -> str:
    s = report.settings
    lines = [
        f"orderline bench checkout: PostgreSQL {report.server_version or '?'}; "
        f"up to {s['paths']} buyer paths per phase after {s['warmup_paths']} warm-up; "
        f"{s['connections']} in flight; {s['workers']} server processes; {s['skus']} SKUs "
        f"(seed {s['seed']}); {s['customers']} customers"
        + (f"; each phase capped at {s['max_seconds']:g}s" if s["max_seconds"] else ""),
        "a buyer path: create a cart (merchant key), add 1 unit of 1 SKU, start the checkout "
        "(US address, flat shipping, 10% tax), confirm it: one order, so orders = paths",
        "", *table(report.results, {
            CEILING: f"database alone, pgbench {s['connections']} cl",
            RAW: f"asyncpg replay, pool of {s['connections']}",
            HTTP: f"4 requests, {s['workers']} servers"},
            report.share_of_database, ratio_head="of db"), "",
        *against_database("checkout", http=report.result(HTTP), raw=report.result(RAW),
                          ceiling=report.result(CEILING), noun="paths (orders)", unit="path",
                          clients=s["connections"], statements=report.per_path("statements"),
                          commits=report.per_path("commits"),
                          rollbacks=report.per_path("rollbacks") or 0),
        "  database alone: the minimal order transaction of `bench orders` (conditional stock "
        "hold, order, line, outbox event), over the same SKUs; a path also writes its cart, "
        "line, checkout and reservation, which the ceiling leaves out", ""]
    if (ratio := report.ratio()) is not None:
        lines += [f"HTTP throughput as a share of the asyncpg replay: {ratio:.1%}", ""]
    if report.steps:
        lines += [*step_table(report.steps), "", *refusals(report.steps), ""]
    if report.known:
        lines += [*_statements(report, verbose), ""]
    profiled = report.result(HTTP)
    lines += report_lines(report.profile, profiled.server_cpu_seconds if profiled else None)
    lines += footer(report.drifting_levels, "the checkout services")
    return "\n".join(lines)


def as_json(report: CheckoutReport) -> dict[str, Any]:
    ratio = report.ratio()
    return {
        "settings": report.settings, "database": report.database,
        "postgresql": report.server_version,
        "results": [{**r.as_dict(), "paths_per_second": round(r.orders_per_second, 1),
                     "ratio_to_raw": (ratio if r.path == HTTP else
                                      1.0 if r.path == RAW else None),
                     "share_of_database": report.share_of_database(r)}
                    for r in report.results],
        "database_ceiling": ceiling_json(report.result(CEILING),
                                         clients=report.settings["connections"]),
        "per_path": {what: report.per_path(what)
                     for what in ("statements", "commits", "rollbacks")},
        "steps": {path: {"latency": times.percentiles(), "refusals": dict(times.refusals)}
                  for path, times in report.steps.items()},
        "statements": {"known_customer": {k: v.as_dict() for k, v in report.known.items()},
                       "guest_first_path": {k: v.as_dict() for k, v in report.guest.items()},
                       "raw": {step: [list(tx) for tx in txs]
                               for step, txs in RAW_STEPS.items()}},
        "confirm_statement_target": CONFIRM_TARGET,
        "drifting_levels": report.drifting_levels,
        "profile": None if report.profile is None else report.profile.as_json(),
    }
