"""Prometheus metrics: the process's counters, and the exposition ``GET /metrics`` serves.

Counters live in this process (prometheus_client objects owned by this module); services call
the small functions below *after* their transaction committed, so a rolled-back change is never
counted. Figures that describe the stored state (outbox backlog, webhook deliveries by status)
are read from the database at scrape time and handed to a collector registered on the registry
being rendered, so they are the same whichever server process answers.

Several server processes (``orderline serve --workers N``) use prometheus_client's multiprocess
mode: each process writes its counters to files under ``PROMETHEUS_MULTIPROC_DIR`` and a scrape
sums them. The mode is chosen when prometheus_client is first imported, so ``serve`` sets that
variable before any server process starts (see ``cli/main.py``).

The exposition is the classic text format (0.0.4).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("orderline.metrics")

# The classic text format, which generate_latest writes (newer prometheus_client versions
# label it 1.0.0 by default; its names and labels here are the same as 0.0.4's).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WebhookResult = Literal["succeeded", "failed", "dead"]
WEBHOOK_RESULTS: tuple[WebhookResult, ...] = ("succeeded", "failed", "dead")
WEBHOOK_STATUSES = ("pending", "retrying", "succeeded", "dead")

_orders_created = Counter("orderline_orders_created", "Orders placed, by sales channel.",
                          ["channel"])
_orders_cancelled = Counter("orderline_orders_cancelled",
                            "Orders cancelled, by reason (merchant cancels and the "
                            "payment-deadline sweeper).", ["reason"])
_reservations_refused = Counter("orderline_reservations_refused",
                                "Orders (new or edited) refused because a line was out of stock.")
_events_relayed = Counter("orderline_events_relayed",
                          "Outbox events whose handlers all ran, by event type.", ["type"])
_webhook_deliveries = Counter("orderline_webhook_attempts",
                              "Webhook delivery attempts, by result (succeeded; failed and "
                              "retried later; dead after the last try).", ["result"])
_replica_reads = Counter("orderline_replica_reads",
                         "Reads of lists, figures and exports when a read replica is set, by "
                         "where they were served (replica or primary) and why: caught_up, "
                         "behind (the business's last write not replayed in time), lagging "
                         "(past replica_max_lag_seconds), busy (no free replica connection), "
                         "unreachable (down, failing or resting after a failure).",
                         ["served_by", "reason"])
_scrape_errors = Counter("orderline_metrics_scrape_errors",
                         "Scrapes whose database figures could not be read (gauges skipped).")



def start_at_zero(*, cancel_reasons: Iterable[str], event_types: Iterable[str]) -> None:
    """Known label values start at zero, so a rate() has a series before the first
    increment. The process that serves or writes metrics calls this once (the values come
    from the capabilities, which this module does not import)."""
    for reason in cancel_reasons:
        _orders_cancelled.labels(reason)
    for event_type in event_types:
        _events_relayed.labels(event_type)
    for result in WEBHOOK_RESULTS:
        _webhook_deliveries.labels(result)


def order_created(channel: str) -> None:
    _orders_created.labels(channel).inc()


def order_cancelled(reason: str) -> None:
    _orders_cancelled.labels(reason).inc()


def reservation_refused() -> None:
    _reservations_refused.inc()


def event_relayed(event_type: str) -> None:
    _events_relayed.labels(event_type).inc()


def replica_read(served_by: Literal["replica", "primary"], reason: str) -> None:
    _replica_reads.labels(served_by, reason).inc()


def webhook_attempt(result: WebhookResult) -> None:
    """One delivery attempt ended: ``succeeded``, ``failed`` (retried later) or ``dead``."""
    _webhook_deliveries.labels(result).inc()


@dataclass(frozen=True, slots=True)
class StoredFigures:
    """What the database holds right now (read at scrape time)."""

    outbox_pending: int
    outbox_dead: int
    outbox_lag_seconds: float
    webhook_deliveries: Mapping[str, int] = field(default_factory=dict)


class StoredFiguresCollector(Collector):
    """Gauges of one scrape's database figures."""

    def __init__(self, figures: StoredFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        yield GaugeMetricFamily("orderline_outbox_lag_seconds",
                                "Age of the oldest event not yet relayed (0 when none).",
                                value=f.outbox_lag_seconds)
        yield GaugeMetricFamily("orderline_outbox_pending_events",
                                "Outbox events waiting to be relayed.", value=f.outbox_pending)
        yield GaugeMetricFamily("orderline_outbox_dead_events",
                                "Outbox events given up after their last try.",
                                value=f.outbox_dead)
        by_status = GaugeMetricFamily("orderline_webhook_deliveries",
                                      "Webhook deliveries by status.", labels=["status"])
        for status in sorted({*WEBHOOK_STATUSES, *f.webhook_deliveries}):
            by_status.add_metric([status], f.webhook_deliveries.get(status, 0))
        yield by_status
        yield GaugeMetricFamily("orderline_webhook_dead_letters",
                                "Webhook deliveries dead after their last try.",
                                value=f.webhook_deliveries.get("dead", 0))


class _ProcessCounters(Collector):
    """This process's default registry, forwarded into a scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def serve_process_counters(port: int) -> None:
    """Serve this process's counters on their own port (a worker has no API to scrape)."""
    start_http_server(port)


def multiprocess_dir() -> str | None:
    """The directory of the counter files when this process counts in multiprocess mode."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def _scrape_registry(figures: StoredFigures | None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        # Every server process's counters, summed (prometheus_client leaves this one untyped).
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessCounters())
    if figures is not None:
        registry.register(StoredFiguresCollector(figures))
    return registry


async def exposition(read_figures: Callable[[], Awaitable[StoredFigures]], *,
                     timeout: float = 5.0) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type. A database that fails (or hangs past
    ``timeout``) leaves the gauges out and counts a scrape error; the counters still show."""
    figures: StoredFigures | None
    try:
        async with asyncio.timeout(timeout):
            figures = await read_figures()
    except Exception:  # the scrape reports what it can; the error is counted and logged
        log.warning("metrics: database figures unavailable; gauges left out", exc_info=True)
        _scrape_errors.inc()
        figures = None
    return generate_latest(_scrape_registry(figures)), CONTENT_TYPE
