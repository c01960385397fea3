"""What ``orderline bench flash-sale`` found: the sale's figures, the stock row after it, and
the invariants a flash sale must keep (checked here, so the command can exit non-zero)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orderline.bench.flash_buyers import Answer, Sale
from orderline.bench.load import percentile
from orderline.bench.report import ms

CREATED = 201
REFUSAL_CODE = "out_of_stock"  # core.errors.OutOfStock.code


@dataclass(frozen=True, slots=True)
class StockAfter:
    """The SKU's stock row and what the database holds against it once the sale is over."""

    on_hand: int
    reserved: int
    active_reservations: int  # units of its reservations in status active
    orders: int  # orders of the shop
    units_ordered: int  # units of the SKU on those orders' lines

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class FlashReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    answers: tuple[Answer, ...] = ()
    released: float = 0.0
    server_cpu_seconds: float | None = None
    db_cpu_seconds: float | None = None
    stock: StockAfter | None = None
    drifting_levels: int | None = None
    failures: list[str] = field(default_factory=list)

    def take(self, sale: Sale) -> None:
        self.answers, self.released = sale.answers, sale.released

    @property
    def buyers(self) -> int:
        return int(self.settings["buyers"])

    @property
    def units(self) -> int:
        return int(self.settings["units"])

    @property
    def expected_orders(self) -> int:
        return min(self.buyers, self.units)

    @property
    def created(self) -> list[Answer]:
        return [a for a in self.answers if a.status == CREATED]

    @property
    def server_errors(self) -> int:
        return sum(1 for a in self.answers if a.status >= 500)

    @property
    def unanswered(self) -> int:
        return sum(1 for a in self.answers if a.status == 0)

    @property
    def refusals(self) -> dict[str, int]:
        """4xx answers by error code (``HTTP <status>`` when the body had none)."""
        return dict(Counter(a.code or f"HTTP {a.status}" for a in self.answers
                            if 400 <= a.status < 500))

    @property
    def server_error_codes(self) -> dict[str, int]:
        """5xx answers by error code (``HTTP <status>`` when the body had none)."""
        return dict(Counter(a.code or f"HTTP {a.status}" for a in self.answers
                            if a.status >= 500))

    @property
    def oversold(self) -> int:
        sold = self.stock.units_ordered if self.stock else len(self.created)
        return max(0, sold - self.units)

    @property
    def sell_out_seconds(self) -> float | None:
        """From the release to the answer of the order that took the last unit."""
        done = sorted(a.done for a in self.created)
        if len(done) < self.expected_orders or not done:
            return None
        return done[self.expected_orders - 1] - self.released

    @property
    def wall_seconds(self) -> float:
        return max((a.done for a in self.answers), default=self.released) - self.released

    def latency_ms(self, percent: float, answers: list[Answer] | None = None) -> float | None:
        chosen = self.answers if answers is None else answers
        return percentile(sorted(a.latency_ms for a in chosen), percent)

    def cpu_ms(self, seconds: float | None, per: int) -> float | None:
        return None if seconds is None or per == 0 else seconds * 1000 / per

    def broken(self) -> list[str]:
        """The invariants the sale broke, in words; empty when it kept them all."""
        found: list[str] = []
        created, expected = len(self.created), self.expected_orders
        if created != expected:
            found.append(f"{created} orders created, not {expected}")
        if self.oversold:
            found.append(f"{self.oversold} units oversold")
        if self.server_errors:
            found.append(f"{self.server_errors} answers were 5xx")
        if self.unanswered:
            found.append(f"{self.unanswered} buyers got no HTTP answer")
        odd = {code: n for code, n in self.refusals.items() if code != REFUSAL_CODE}
        if odd:
            found.append(f"refusals other than {REFUSAL_CODE}: {odd}")
        other = [a.status for a in self.answers if 200 <= a.status < 400 and a.status != CREATED]
        if other:
            found.append(f"{len(other)} answers neither 201 nor a refusal: {sorted(set(other))}")
        s = self.stock
        if s is None:
            found.append("the stock row was not read")
        else:
            if s.orders != created:
                found.append(f"{s.orders} orders in the database, {created} answered 201")
            if s.reserved != created or s.active_reservations != created:
                found.append(f"reserved {s.reserved} and active reservations "
                             f"{s.active_reservations}, not {created}")
            if s.available != self.units - created:
                found.append(f"{s.available} units left available, not {self.units - created}")
        if self.drifting_levels:
            found.append(f"{self.drifting_levels} stock levels' books do not balance")
        return found


def render(report: FlashReport) -> str:
    s, stock = report.settings, report.stock
    created = report.created
    refusals = ", ".join(f"{code} {n}" for code, n in sorted(report.refusals.items())) or "none"
    sell_out = report.sell_out_seconds
    lines = [
        f"orderline bench flash-sale: PostgreSQL {report.server_version or '?'}; "
        f"{s['buyers']} buyers, one connection each, released together; one SKU with "
        f"{s['units']} units; {s['workers']} server processes",
        "",
        f"orders created:  {len(created)} (expected {report.expected_orders})",
        f"oversold:        {report.oversold}",
        f"5xx answers:     {report.server_errors}"
        + "".join(f", {code} {n}" for code, n in sorted(report.server_error_codes.items()))
        + f"; no answer: {report.unanswered}",
        f"refusals:        {refusals}",
        f"latency ms, every buyer (p50/p95/p99): {ms(report.latency_ms(50))}/"
        f"{ms(report.latency_ms(95))}/{ms(report.latency_ms(99))}",
        f"latency ms, buyers who got an order:   {ms(report.latency_ms(50, created))}/"
        f"{ms(report.latency_ms(95, created))}/{ms(report.latency_ms(99, created))}",
        "time to sell out: " + ("not sold out" if sell_out is None else
                                f"{sell_out:.2f}s (release to the answer of the order that "
                                "took the last unit)"),
        f"all answered in: {report.wall_seconds:.2f}s",
        f"server CPU:      {ms(report.cpu_ms(report.server_cpu_seconds, len(created)))} ms "
        f"per order created, {ms(report.cpu_ms(report.server_cpu_seconds, report.buyers))} ms "
        f"per request; PostgreSQL CPU "
        f"{ms(report.cpu_ms(report.db_cpu_seconds, report.buyers))} ms per request",
    ]
    if stock is not None:
        lines.append(f"stock row after: on_hand {stock.on_hand}, reserved {stock.reserved}, "
                     f"available {stock.available}; {stock.orders} orders in the database "
                     f"holding {stock.active_reservations} units")
    if report.drifting_levels is not None:
        lines.append("stock books: " + ("balanced" if not report.drifting_levels else
                                        f"{report.drifting_levels} levels DRIFT"))
    failures = [a.failure for a in report.answers if a.failure]
    if failures:
        lines.append(f"first failure: {failures[0]}")
    broken = report.broken()
    lines += ["", "invariants: " + ("kept" if not broken else "BROKEN")]
    lines += [f"  - {b}" for b in broken]
    return "\n".join(lines)


def as_json(report: FlashReport) -> dict[str, Any]:
    created = report.created
    stock = report.stock
    return {
        "settings": report.settings, "database": report.database,
        "postgresql": report.server_version,
        "orders_created": len(created), "expected_orders": report.expected_orders,
        "oversold": report.oversold, "server_errors": report.server_errors,
        "server_errors_by_code": report.server_error_codes,
        "unanswered": report.unanswered, "refusals": report.refusals,
        "statuses": dict(Counter(str(a.status) for a in report.answers)),
        "latency_ms": {f"p{p}": report.latency_ms(p) for p in (50, 95, 99)},
        "created_latency_ms": {f"p{p}": report.latency_ms(p, created) for p in (50, 95, 99)},
        "sell_out_seconds": report.sell_out_seconds,
        "wall_seconds": report.wall_seconds,
        "server_cpu_ms_per_order": report.cpu_ms(report.server_cpu_seconds, len(created)),
        "server_cpu_ms_per_request": report.cpu_ms(report.server_cpu_seconds, report.buyers),
        "postgres_cpu_ms_per_request": report.cpu_ms(report.db_cpu_seconds, report.buyers),
        "stock": None if stock is None else {
            "on_hand": stock.on_hand, "reserved": stock.reserved, "available": stock.available,
            "active_reservations": stock.active_reservations, "orders": stock.orders,
            "units_ordered": stock.units_ordered},
        "drifting_levels": report.drifting_levels,
        "first_failure": next((a.failure for a in report.answers if a.failure), None),
        "invariants_broken": report.broken(),
    }
