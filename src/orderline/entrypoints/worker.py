"""The background worker: payment-deadline sweeps and stock reconciliation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from orderline.bootstrap import Runtime
from orderline.services import inventory
from orderline.services.order_status import cancel_lapsed_orders

log = logging.getLogger("orderline.worker")


async def sweep_once(runtime: Runtime) -> int:
    cancelled = await cancel_lapsed_orders(runtime)
    if cancelled:
        log.info("payment deadline sweep cancelled orders", extra={"count": cancelled})
    return cancelled


async def reconcile_once(runtime: Runtime) -> int:
    drift = await inventory.reconcile(runtime)
    for d in drift:
        log.error("stock ledger drift", extra={"drift": d.as_dict()})
    return len(drift)


async def run(runtime: Runtime, *, interval: float, reconcile_every: float,
              stop: asyncio.Event) -> None:
    """Sweep every ``interval`` seconds and reconcile every ``reconcile_every`` until ``stop``."""
    next_reconcile = time.monotonic()
    while not stop.is_set():
        try:
            await sweep_once(runtime)
            if time.monotonic() >= next_reconcile:
                await reconcile_once(runtime)
                next_reconcile = time.monotonic() + reconcile_every
        except Exception:  # a bad round must not stop the worker; the next round retries
            log.exception("worker round failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_until_signalled(runtime: Runtime, *, interval: float,
                              reconcile_every: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started")
    await run(runtime, interval=interval, reconcile_every=reconcile_every, stop=stop)
    log.info("worker stopped")
