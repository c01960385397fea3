"""What ``orderline bench payments`` found, as a report for people and as JSON for machines."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orderline.bench.checkout_paths import StepTimes
from orderline.bench.checkout_report import refusals, step_table
from orderline.bench.load import PhaseResult
from orderline.bench.report import cpu_note, table
from orderline.bench.statements import StatementCount

CARD = "card path"  # POST /v1/orders, then POST /v1/orders/{id}/payments
FIRST = "first delivery"  # each capture webhook POSTed once: applied
AGAIN = "redelivered"  # the same webhooks POSTed again: all duplicates
CARD_STEPS = ("order", "payment")
CANCEL_REQUESTED = "payment.cancel_requested"


@dataclass(frozen=True, slots=True)
class Counted:
    """The SQL one service call sent, run in-process; ``outcome`` is what it answered."""

    call: str
    case: str
    count: StatementCount
    outcome: str | None = None

    @property
    def label(self) -> str:
        return f"{self.call}, {self.case}" + (f" ({self.outcome})" if self.outcome else "")

    def as_dict(self) -> dict[str, object]:
        return {"call": self.call, "case": self.case, "outcome": self.outcome,
                **self.count.as_dict()}


@dataclass
class PaymentReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    results: list[PhaseResult] = field(default_factory=list)
    steps: dict[str, StepTimes] = field(default_factory=dict)  # by path (CARD, FIRST, AGAIN)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # webhook answers by path
    statuses: dict[str, Counter[str]] = field(default_factory=dict)  # orders' after, by path
    # The webhooks the server's own sandbox sent itself during the card paths.
    server_webhooks: dict[str, float] = field(default_factory=dict)
    counted: list[Counted] = field(default_factory=list)
    # The card path as the server runs it: its requests (with their API key), then the
    # webhooks its sandbox delivers in-process after the answer.
    card_requests: list[Counted] = field(default_factory=list)
    card_webhooks: list[Counted] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)  # outbox events by type

    def result(self, path: str) -> PhaseResult | None:
        return next((r for r in self.results if r.path == path), None)

    def redelivery_ratio(self) -> float | None:
        """Redelivered webhooks/s over first-delivery webhooks/s."""
        first, again = self.result(FIRST), self.result(AGAIN)
        if first is None or again is None or first.orders_per_second == 0:
            return None
        return again.orders_per_second / first.orders_per_second


# --- for people ------------------------------------------------------------------------------

def _paid(statuses: Counter[str] | None) -> str:
    if statuses is None:
        return "not checked"
    others = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items())
                       if status != "paid")
    return (f"{statuses['paid']} of {sum(statuses.values())} paid"
            + (f" (the rest: {others})" if others else ""))


def _outcomes(counter: Counter[str] | None) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{outcome} {n}" for outcome, n in sorted(counter.items()))


def _server_webhooks(report: PaymentReport) -> list[str]:
    w = report.server_webhooks
    if not w:
        return []
    return [f"the server's own sandbox delivered its webhooks in-process: {int(w['recorded'])} "
            f"of {int(w['expected'])} recorded (2 per payment: created, succeeded), the last "
            f"{w['seconds_after']:.2f}s after the last card path"]


def _sum(counted: list[Counted]) -> tuple[int, int]:
    return (sum(len(c.count.statements) for c in counted),
            sum(c.count.checkouts for c in counted))


def _statements(report: PaymentReport, verbose: bool) -> list[str]:
    width = max(len(c.label) for c in report.counted)
    lines = ["SQL statements per call, the services run once in-process (counted with "
             "SQLAlchemy's before_cursor_execute; transactions = pool checkouts):",
             f"  {'call':<{width}} {'statements':>10} {'transactions':>12}"]
    lines += [f"  {c.label:<{width}} {len(c.count.statements):>10} {c.count.checkouts:>12}"
              for c in report.counted]
    (asked, asked_tx), (hooks, hooks_tx) = _sum(report.card_requests), _sum(report.card_webhooks)
    lines += [
        f"  a card path over HTTP: 2 requests (each with its API key) = {asked} statements "
        f"in {asked_tx} transactions; then the server applies "
        f"its sandbox's {len(report.card_webhooks)} webhooks in-process: {hooks} in {hooks_tx} "
        f"more; {asked + hooks} statements in all",
        "  not counted: BEGIN/COMMIT/ROLLBACK (not cursor executes), nor the pool_pre_ping "
        "round trip of each pool checkout"]
    if verbose:
        for c in report.counted:
            lines.append(f"  -- {c.label} ([n]: the pool checkout it ran on):")
            for n, group in enumerate(c.count.per_checkout, 1):
                lines.extend(f"     [{n}] {sql}" for sql in group)
    return lines


def _events(report: PaymentReport) -> list[str]:
    if not report.events:
        return []
    lines = ["outbox events written for the bench's business: " + ", ".join(
        f"{kind} {n}" for kind, n in sorted(report.events.items()))]
    if report.events.get(CANCEL_REQUESTED):
        lines.append(f"  {CANCEL_REQUESTED} {report.events[CANCEL_REQUESTED]}: each asks the "
                     "worker's payment saga to cancel or refund a payment (no worker ran here)")
    return lines


def render(report: PaymentReport, *, verbose: bool = False) -> str:
    s = report.settings
    servers = f"{s['workers']} servers"
    lines = [
        f"orderline bench payments: PostgreSQL {report.server_version or '?'}; "
        f"up to {s['paths']} card paths and {s['webhooks']} webhooks per phase after "
        f"{s['warmup_paths']} and {s['warmup_webhooks']} warm-up; {s['connections']} in flight; "
        f"{s['workers']} server processes; {s['skus']} SKUs"
        + (f"; each phase capped at {s['max_seconds']:g}s" if s["max_seconds"] else ""),
        "a card path: POST /v1/orders (1 unit), then POST /v1/orders/{id}/payments (sandbox, "
        "pm_card_visa, automatic capture: the answer is already captured, the order paid)",
        "", *table([r for r in report.results if r.path == CARD], {CARD: f"2 requests, {servers}"},
                   None, unit="path"), ""]
    if report.steps.get(CARD):
        lines += [*step_table({CARD: report.steps[CARD]}, CARD_STEPS), ""]
    lines += [f"orders of the measured card paths: {_paid(report.statuses.get(CARD))}",
              *_server_webhooks(report), ""]
    lines += [
        "webhooks: a capture of an authorised payment (manual capture) each, signed by an "
        "in-process sandbox with the server's secret and POSTed to "
        "/v1/payments/webhooks/sandbox; then all of them again",
        "", *table([r for r in report.results if r.path != CARD],
                   {FIRST: f"first delivery, {servers}", AGAIN: f"redelivered, {servers}"},
                   None, unit="webhook"), ""]
    if (ratio := report.redelivery_ratio()) is not None:
        lines.append(f"redelivered (all duplicates) at {ratio:.2f}x the first delivery's rate")
    lines += [f"answers: first delivery {_outcomes(report.outcomes.get(FIRST))}; "
              f"redelivered {_outcomes(report.outcomes.get(AGAIN))}",
              f"orders of the measured first deliveries: {_paid(report.statuses.get(FIRST))}",
              "", *refusals(report.steps), ""]
    if report.counted:
        lines += [*_statements(report, verbose), ""]
    lines += _events(report)
    lines.append(cpu_note("path or webhook"))
    return "\n".join(lines)


# --- for machines ----------------------------------------------------------------------------

def as_json(report: PaymentReport) -> dict[str, Any]:
    return {
        "settings": report.settings, "database": report.database,
        "postgresql": report.server_version,
        "results": [{**r.as_dict(), ("paths_per_second" if r.path == CARD else
                                     "webhooks_per_second"): round(r.orders_per_second, 1)}
                    for r in report.results],
        "redelivery_ratio": report.redelivery_ratio(),
        "steps": {path: {"latency": times.percentiles(), "refusals": dict(times.refusals)}
                  for path, times in report.steps.items()},
        "webhook_outcomes": {path: dict(c) for path, c in report.outcomes.items()},
        "order_statuses": {path: dict(c) for path, c in report.statuses.items()},
        "server_webhooks": report.server_webhooks,
        "statements": [c.as_dict() for c in report.counted],
        "card_path_statements": {
            "requests": dict(zip(("statements", "transactions"), _sum(report.card_requests),
                                 strict=True)),
            "webhooks_in_process": dict(zip(("statements", "transactions"),
                                            _sum(report.card_webhooks), strict=True))},
        "outbox_events": report.events,
    }
