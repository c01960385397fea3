"""The load driver of ``orderline bench``: a fixed number of requesters in a closed loop.

Each requester takes the next order from a shared list, places it, and only then takes another,
so at most ``concurrency`` orders are in flight. Latency is timed around one placement with
``time.perf_counter``; throughput is completed orders over the wall time of the whole phase.
Failed placements are counted apart and kept out of the latency figures.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What one phase (one scenario through one path) measured."""

    scenario: str
    path: str
    completed: int
    failed: int
    wall_seconds: float
    client_cpu_seconds: float
    latencies_ms: tuple[float, ...]  # successful placements only, sorted
    first_failure: str | None
    # CPU of the server processes and of the PostgreSQL backends, when they can be read.
    server_cpu_seconds: float | None = None
    db_cpu_seconds: float | None = None

    @property
    def orders_per_second(self) -> float:
        return self.completed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def client_cpu_share(self) -> float:
        """CPU time of this (load-generating) process over wall time; 1.0 is one full core."""
        return self.client_cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def cpu_ms_per_order(self, seconds: float | None) -> float | None:
        """``seconds`` of CPU spread over the orders placed (failed ones cost CPU too)."""
        placed = self.completed + self.failed
        return None if seconds is None or not placed else seconds * 1000 / placed

    def latency_ms(self, percent: float) -> float | None:
        return percentile(self.latencies_ms, percent)

    def as_dict(self) -> dict[str, object]:
        return {"scenario": self.scenario, "path": self.path, "completed": self.completed,
                "failed": self.failed, "wall_seconds": round(self.wall_seconds, 4),
                "orders_per_second": round(self.orders_per_second, 1),
                "p50_ms": _rounded(self.latency_ms(50)), "p95_ms": _rounded(self.latency_ms(95)),
                "p99_ms": _rounded(self.latency_ms(99)),
                "client_cpu_share": round(self.client_cpu_share, 3),
                "cpu_ms_per_order": {
                    "bench": _rounded(self.cpu_ms_per_order(self.client_cpu_seconds)),
                    "server": _rounded(self.cpu_ms_per_order(self.server_cpu_seconds)),
                    "postgres": _rounded(self.cpu_ms_per_order(self.db_cpu_seconds))},
                "first_failure": self.first_failure}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def percentile(sorted_values: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile of values sorted ascending; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def drive(orders: Sequence[T], *, scenario: str, path: str, concurrency: int,
                place: Callable[[T], Awaitable[None]],
                max_seconds: float | None = None) -> PhaseResult:
    """Place ``orders`` with ``concurrency`` requesters; stop taking new ones after
    ``max_seconds`` (the orders already in flight still finish and count)."""
    queue = iter(orders)
    latencies: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()
    stop_at = started + max_seconds if max_seconds is not None else math.inf

    async def requester() -> None:
        # One event loop thread: next() on the shared iterator needs no lock.
        for order in queue:
            if time.perf_counter() >= stop_at:
                return
            begun = time.perf_counter()
            try:
                await place(order)
            except Exception as error:  # a failed order is a figure, not a crash
                failures.append(f"{type(error).__name__}: {error}"[:300])
            else:
                latencies.append((time.perf_counter() - begun) * 1000)

    cpu_before = time.process_time()
    await asyncio.gather(*(requester() for _ in range(concurrency)))
    return _result(scenario, path, latencies, failures, started=started, cpu_before=cpu_before)


def _result(scenario: str, path: str, latencies: list[float], failures: list[str], *,
            started: float, cpu_before: float) -> PhaseResult:
    """The phase's figures, from its start (``perf_counter``, ``process_time``) to now."""
    return PhaseResult(scenario=scenario, path=path, completed=len(latencies),
                       failed=len(failures), wall_seconds=time.perf_counter() - started,
                       client_cpu_seconds=time.process_time() - cpu_before,
                       latencies_ms=tuple(sorted(latencies)),
                       first_failure=failures[0] if failures else None)


async def drive_paced(orders: Sequence[T], *, scenario: str, path: str, rate: float,
                      place: Callable[[T], Awaitable[None]]) -> PhaseResult:
    """Place ``orders`` at ``rate`` per second, whatever the earlier ones are doing (an open
    loop: arrivals do not wait for answers, as buyers do not). Each latency runs from the
    order's scheduled arrival, not from when it was sent, so a server that falls behind shows
    in the figures instead of slowing the arrivals down (no coordinated omission)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    latencies: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()

    async def arrive(order: T, due: float) -> None:
        try:
            await place(order)
        except Exception as error:  # a failed order is a figure, not a crash
            failures.append(f"{type(error).__name__}: {error}"[:300])
        else:
            latencies.append((time.perf_counter() - due) * 1000)

    cpu_before = time.process_time()
    arrivals: list[asyncio.Task[None]] = []
    for n, order in enumerate(orders):
        due = started + n / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        arrivals.append(asyncio.create_task(arrive(order, due)))
    await asyncio.gather(*arrivals)
    return _result(scenario, path, latencies, failures, started=started, cpu_before=cpu_before)
