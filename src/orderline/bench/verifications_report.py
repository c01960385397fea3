"""What ``orderline bench verifications`` found, as a table for people and as JSON for
machines: per target, p50/p95/p99/max, CPU per request, and pass or OVER."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderline.bench.console import PageFigures
from orderline.bench.load import percentile
from orderline.bench.report import ms
from orderline.core.config import Settings

QUEUE_TARGET_MS, EVENT_TARGET_MS, UPLOAD_TARGET_MS = 2000.0, 100.0, 5000.0
UPLOAD_CAP = int(Settings.model_fields["proof_upload_max_bytes"].default)


def spread(values: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of values sorted ascending."""
    return {"p50": percentile(values, 50), "p95": percentile(values, 95),
            "p99": percentile(values, 99), "max": values[-1] if values else None}


def _per(seconds: float | None, count: int) -> float | None:
    return None if seconds is None or not count else seconds * 1000 / count


@dataclass
class DecisionFigures:
    decisions: int = 0
    sessions: int = 0
    answered_ms: list[float] = field(default_factory=list)  # the approve's round trip
    to_queue_ms: list[float] = field(default_factory=list)  # event timestamp -> a queue
    to_buyer_ms: list[float] = field(default_factory=list)  # event timestamp -> the buyer
    answer_to_queue_ms: list[float] = field(default_factory=list)  # answer -> a queue
    answer_to_buyer_ms: list[float] = field(default_factory=list)
    missed_queue: int = 0  # (decision, session) pairs whose event never came
    missed_buyer: int = 0
    decider_cpu_seconds: float | None = None
    pages_cpu_seconds: float | None = None
    bench_cpu_seconds: float | None = None  # this process: reading the streams
    outbox_reads: int | None = None  # scans of outbox_events meanwhile (pg_stat_user_tables)
    db_cpu_seconds: float | None = None

    @property
    def worst_p95(self) -> float | None:
        found = [v for v in (percentile(self.to_queue_ms, 95), percentile(self.to_buyer_ms, 95))
                 if v is not None]
        return max(found) if found else None

    def as_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "sessions": self.sessions,
                "target_p95_ms": EVENT_TARGET_MS,
                "commit_time": "the event's timestamp (the server's clock as the decision "
                               "began, before COMMIT): an upper bound; answer_to_* from the "
                               "approve answer's arrival: a lower bound",
                "events_expected": {"queue": self.decisions * self.sessions,
                                    "buyer": self.decisions},
                "events_received": {"queue": len(self.to_queue_ms),
                                    "buyer": len(self.to_buyer_ms)},
                "missed": {"queue": self.missed_queue, "buyer": self.missed_buyer},
                "approve_answered_ms": spread(self.answered_ms),
                "to_queue_ms": spread(self.to_queue_ms),
                "to_buyer_ms": spread(self.to_buyer_ms),
                "answer_to_queue_ms": spread(self.answer_to_queue_ms),
                "answer_to_buyer_ms": spread(self.answer_to_buyer_ms),
                "outbox_reads_per_decision": (None if self.outbox_reads is None
                                              else self.outbox_reads / self.decisions),
                "cpu_ms_per_decision": {
                    "deciding_server": _per(self.decider_cpu_seconds, self.decisions),
                    "page_servers": _per(self.pages_cpu_seconds, self.decisions),
                    "bench": _per(self.bench_cpu_seconds, self.decisions),
                    "postgres": _per(self.db_cpu_seconds, self.decisions)},
                "passed": self.passed}

    @property
    def passed(self) -> bool:
        worst = self.worst_p95
        return (worst is not None and worst <= EVENT_TARGET_MS and not self.missed_queue
                and not self.missed_buyer)


@dataclass
class UploadFigures:
    uploads: int = 0
    bytes_each: float = 0.0
    limit_bytes: int = UPLOAD_CAP
    limit_raised: bool = False
    client_ms: list[float] = field(default_factory=list)  # request start -> 201
    server_ms: list[float] = field(default_factory=list)  # Server-Timing
    server_cpu_seconds: float | None = None
    db_cpu_seconds: float | None = None

    @property
    def passed(self) -> bool:
        p95 = percentile(self.client_ms, 95)
        return p95 is not None and p95 <= UPLOAD_TARGET_MS and len(self.client_ms) == self.uploads

    def as_dict(self) -> dict[str, Any]:
        return {"uploads": self.uploads, "bytes_each": self.bytes_each,
                "limit_bytes": self.limit_bytes, "limit_raised": self.limit_raised,
                "target_p95_ms": UPLOAD_TARGET_MS, "client_ms": spread(self.client_ms),
                "server_ms": spread(self.server_ms),
                "cpu_ms_per_upload": {"server": _per(self.server_cpu_seconds, self.uploads),
                                      "postgres": _per(self.db_cpu_seconds, self.uploads)},
                "passed": self.passed}


@dataclass
class VerificationReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    queue: dict[str, Any] = field(default_factory=dict)
    sessions_open: int = 0
    load_average: list[float] = field(default_factory=list)  # 1-minute, before and after
    pages: list[PageFigures] = field(default_factory=list)
    decisions: DecisionFigures | None = None
    uploads: UploadFigures | None = None


def _page_passed(page: PageFigures) -> bool:
    p95 = percentile(page.server_ms, 95)
    return p95 is not None and p95 <= page.target_ms and not page.failed


def _verdict(passed: bool) -> str:
    return "pass" if passed else "OVER"


def render(report: VerificationReport, *, verbose: bool = False) -> str:
    q, s = report.queue, report.settings
    lines = [f"orderline bench verifications: PostgreSQL {report.server_version}; "
             f"{q.get('pending', 0):,} proofs waiting ({q.get('templates', 0)} sent through "
             f"the services and copied in SQL; set up in {q.get('seconds', 0):.0f}s); "
             f"{s['workers']} page server processes; this machine's load average "
             + " -> ".join(f"{v:.1f}" for v in report.load_average) + " (1 min, before and "
             "after the measures)", "",
             f"1. the queue, one request at a time, {report.sessions_open} verifier sessions "
             f"holding its live stream (target p95 {QUEUE_TARGET_MS:.0f} ms)",
             "page                         requests  server p50    p95    p99    max | CPU "
             "ms/request server postgres | SQL database alone | target"]
    for p in report.pages:
        lines.append(
            f"{p.page:<29}{len(p.server_ms):>8} {ms(percentile(p.server_ms, 50)):>11} "
            f"{ms(percentile(p.server_ms, 95)):>6} {ms(percentile(p.server_ms, 99)):>6} "
            f"{ms(p.server_ms[-1] if p.server_ms else None):>6} | "
            f"{ms(p.per_request(p.server_cpu_seconds)):>17} "
            f"{ms(p.per_request(p.db_cpu_seconds)):>8} | {p.statements or '-':>3} "
            f"{ms(p.database_ms):>14} | {_verdict(_page_passed(p))}"
            + (f" ({p.failed} failed)" if p.failed else ""))
        if verbose:
            lines.append(f"    e.g. {p.example}")
    d = report.decisions
    if d is not None:
        lines += ["", f"2. decisions: {d.decisions} approvals one at a time through another "
                      f"server process; {d.sessions} queues and each order's buyer listening "
                      f"(target p95 {EVENT_TARGET_MS:.0f} ms)",
                  "                                     received    p50    p95    p99    max"]

        def row(label: str, values: list[float], expected: int | None = None) -> str:
            got = f"{len(values)}/{expected}" if expected is not None else str(len(values))
            return (f"{label:<37}{got:>8} {ms(percentile(values, 50)):>6} "
                    f"{ms(percentile(values, 95)):>6} {ms(percentile(values, 99)):>6} "
                    f"{ms(values[-1] if values else None):>6}")

        lines += [row("approve answered (round trip)", d.answered_ms),
                  row("decided -> another queue's stream", d.to_queue_ms,
                      d.decisions * d.sessions),
                  row("decided -> the buyer's order stream", d.to_buyer_ms, d.decisions),
                  row("  answer -> another queue (floor)", d.answer_to_queue_ms),
                  row("  answer -> the buyer (floor)", d.answer_to_buyer_ms),
                  f"events missed: queues {d.missed_queue}, buyers {d.missed_buyer}; "
                  f"CPU ms per decision: deciding server "
                  f"{ms(_per(d.decider_cpu_seconds, d.decisions))}, page servers (the "
                  f"listeners) {ms(_per(d.pages_cpu_seconds, d.decisions))}, postgres "
                  f"{ms(_per(d.db_cpu_seconds, d.decisions))}, the bench reading the streams "
                  f"{ms(_per(d.bench_cpu_seconds, d.decisions))}; {_verdict(d.passed)}",
                  "reads of the outbox per decision: "
                  + ("-" if d.outbox_reads is None
                     else f"{d.outbox_reads / max(d.decisions, 1):.0f}")
                  + f" ({d.sessions + d.decisions} streams open; all of the table's scans, "
                  "the relay's too)",
                  "'decided' is the event's timestamp, the server's clock as the decision "
                  "began (before its COMMIT: an upper bound); 'answer' is when the approve's "
                  "answer reached the bench (after the COMMIT: a lower bound)."]
    u = report.uploads
    if u is not None:
        raised = (f"; the upload limit raised to {u.limit_bytes:,} bytes for this run"
                  if u.limit_raised else f"; under the {u.limit_bytes:,}-byte default limit")
        lines += ["", f"3. uploads: {u.uploads} JPEG photos of {u.bytes_each / 1e6:.2f} MB, "
                      f"one at a time, by the buyer's token (target p95 "
                      f"{UPLOAD_TARGET_MS:.0f} ms){raised}",
                  "                                     uploads    p50    p95    p99    max",
                  f"{'request start -> 201 (client)':<37}{len(u.client_ms):>8} "
                  f"{ms(percentile(u.client_ms, 50)):>6} {ms(percentile(u.client_ms, 95)):>6} "
                  f"{ms(percentile(u.client_ms, 99)):>6} "
                  f"{ms(u.client_ms[-1] if u.client_ms else None):>6}",
                  f"{'server (Server-Timing)':<37}{len(u.server_ms):>8} "
                  f"{ms(percentile(u.server_ms, 50)):>6} {ms(percentile(u.server_ms, 95)):>6} "
                  f"{ms(percentile(u.server_ms, 99)):>6} "
                  f"{ms(u.server_ms[-1] if u.server_ms else None):>6}",
                  f"CPU ms per upload: server {ms(_per(u.server_cpu_seconds, u.uploads))}, "
                  f"postgres {ms(_per(u.db_cpu_seconds, u.uploads))}; {_verdict(u.passed)}"]
    lines += ["", "server: from the request's arrival to the start of the answer (the "
                  "Server-Timing header); database alone: pgbench replaying the SQL one render "
                  "sends, one client; CPU from /proc over all requests of a row."]
    return "\n".join(lines)


def as_json(report: VerificationReport) -> dict[str, Any]:
    return {"bench": "verifications", "database": report.database,
            "settings": report.settings, "postgres": report.server_version,
            "queue": report.queue, "sessions_open": report.sessions_open,
            "load_average": report.load_average,
            "pages": [{**p.as_dict(), "passed": _page_passed(p)} for p in report.pages],
            "decisions": report.decisions.as_dict() if report.decisions else None,
            "uploads": report.uploads.as_dict() if report.uploads else None}
