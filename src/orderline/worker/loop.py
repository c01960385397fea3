"""The background worker: loops that each do one job every few seconds, until stopped.

- relay: runs internal handlers on new outbox events (woken at once by new events);
- sweep: cancels unpaid orders past their payment deadline;
- reconcile: checks the stock ledger, and announces drift as an event;
- prune: deletes relayed events older than the retention window;
- notifications: sends queued buyer and merchant messages (email, SMS, WhatsApp or the log);
- webhooks: sends due merchant webhook deliveries (signed POSTs, retried with backoff);
- proofs: reads and scores payment proofs (OCR), auto-approving above a business threshold;
- proof retention: deletes proof files past their business's retention;
- rollups: sums closed days of orders for the overview, and stale days again;
- documents: draws the PDFs of issued invoices.

Several workers may run at once (on PostgreSQL): every job is safe to run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from orderline.catalog import inventory
from orderline.checkout import checkouts
from orderline.core import metrics
from orderline.core.runtime import Runtime
from orderline.documents.drawing import draw_all_due, draw_due
from orderline.events.listener import hub_listener
from orderline.events.relay import Relay
from orderline.manual_payments.retention import delete_expired_files
from orderline.manual_payments.scoring import score_due
from orderline.notifications import service as notifications
from orderline.order_changes import paying as change_payments
from orderline.order_changes import service as order_changes
from orderline.orders.rollups import roll_up
from orderline.orders.status import cancel_lapsed_orders
from orderline.webhooks import service as webhooks
from orderline.wiring import start_metrics_at_zero
from orderline.worker import outbox_admin
from orderline.worker.handlers import default_handlers

log = logging.getLogger("orderline.worker")


async def sweep_once(runtime: Runtime) -> int:
    """Cancel unpaid orders past their payment deadline, close checkouts past their
    reservation deadline and lapse order changes whose payment request is past its deadline
    (their stock goes back); returns the orders cancelled."""
    cancelled = await cancel_lapsed_orders(runtime)
    if cancelled:
        log.info("payment deadline sweep cancelled orders", extra={"count": cancelled})
    await checkouts.expire_lapsed_checkouts(runtime)
    await change_payments.settle_card_payments(runtime)
    lapsed = await order_changes.lapse_due_requests(runtime)
    if lapsed:
        log.info("payment deadline sweep lapsed order changes", extra={"count": lapsed})
    return cancelled


async def reconcile_once(runtime: Runtime) -> int:
    drift = await inventory.reconcile_and_announce(runtime)
    for d in drift:
        log.error("stock ledger drift", extra={"drift": d.as_dict()})
    return len(drift)


@dataclass
class Loop:
    """One job run every ``every`` seconds, or sooner when ``wake`` is set."""

    name: str
    every: float
    step: Callable[[], Awaitable[int]]
    wake: asyncio.Event | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            if self.wake is not None:
                self.wake.clear()
            try:
                done = await self.step()
            except Exception:  # a bad round must not stop the worker; the next round retries
                log.exception("worker job failed; retrying next round",
                              extra={"job": self.name})
                done = 0
            if done:
                continue  # more may be waiting: go again at once
            await _sleep(stop, self.wake, self.every - (time.monotonic() - started))


async def _sleep(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=max(seconds, 0.0),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w


def configured_relay(runtime: Runtime) -> Relay:
    settings = runtime.settings
    return Relay(runtime, handlers=default_handlers(settings),
                 lease_seconds=settings.relay_lease_seconds,
                 max_aggregates=settings.relay_batch_size,
                 concurrency=settings.relay_concurrency)


def loops(runtime: Runtime, *, interval: float | None = None,
          reconcile_every: float | None = None) -> list[Loop]:
    settings = runtime.settings
    relay = configured_relay(runtime)
    wake = runtime.hub.subscribe(None)
    return [
        Loop("relay", settings.relay_interval_seconds, relay.relay_once, wake),
        Loop("sweep", interval or settings.sweep_interval_seconds,
             lambda: _no_repeat(sweep_once(runtime))),
        Loop("reconcile", reconcile_every or settings.reconcile_interval_seconds,
             lambda: _no_repeat(reconcile_once(runtime))),
        Loop("prune", settings.outbox_prune_interval_seconds,
             lambda: outbox_admin.prune_relayed(runtime)),
        Loop("notifications", settings.notification_interval_seconds,
             lambda: notifications.send_due(runtime)),
        Loop("webhooks", settings.webhook_sender_interval_seconds,
             lambda: webhooks.deliver_due(runtime)),
        Loop("proofs", settings.proof_scoring_interval_seconds, lambda: score_due(runtime)),
        Loop("proof_retention", settings.proof_retention_interval_seconds,
             lambda: _no_repeat(delete_expired_files(runtime))),
        Loop("rollups", settings.rollup_interval_seconds,
             lambda: _no_repeat(roll_up(runtime))),
        # Woken by nothing: a round every relay interval draws what the relay issued.
        Loop("documents", settings.relay_interval_seconds, lambda: draw_due(runtime)),
    ]


async def _no_repeat(step: Awaitable[int]) -> int:
    """Jobs that do all their work in one round report 0, so the loop waits its interval."""
    await step
    return 0


async def run(runtime: Runtime, *, stop: asyncio.Event, interval: float | None = None,
              reconcile_every: float | None = None, listen: bool = True) -> None:
    """Run every loop until ``stop`` is set. On PostgreSQL the worker also LISTENs for
    events other processes commit, so the relay wakes at once (``listen=False`` when the
    process already runs a listener, as the API does)."""
    jobs = loops(runtime, interval=interval, reconcile_every=reconcile_every)
    running = [job.run(stop) for job in jobs]
    if listen and not runtime.db.is_sqlite:
        running.append(hub_listener(runtime.db.url, runtime.hub).run(stop))
    await asyncio.gather(*running)


async def run_once(runtime: Runtime) -> dict[str, int]:
    """One round of every job, relaying until nothing is due (``orderline worker --once``)."""
    done = {"cancelled": await sweep_once(runtime),
            "drifting_levels": await reconcile_once(runtime)}
    done["relayed"] = await configured_relay(runtime).relay_until_idle()  # their events too
    done["notified"] = await notifications.send_due(runtime)
    done["webhooks_sent"] = await webhooks.deliver_due(runtime)
    done["pruned"] = await outbox_admin.prune_relayed(runtime)
    done["proofs_read"] = 0
    while (read := await score_due(runtime)):
        done["proofs_read"] += read
    done["proof_files_deleted"] = await delete_expired_files(runtime)
    done["businesses_rolled_up"] = await roll_up(runtime)
    done["relayed"] += await configured_relay(runtime).relay_until_idle()
    done["documents_drawn"] = await draw_all_due(runtime)
    return done


async def run_until_signalled(runtime: Runtime, *, interval: float | None = None,
                              reconcile_every: float | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    start_metrics_at_zero()
    if runtime.settings.worker_metrics_port:
        metrics.serve_process_counters(runtime.settings.worker_metrics_port)
        log.info("worker metrics served", extra={"port": runtime.settings.worker_metrics_port})
    log.info("worker started")
    await run(runtime, stop=stop, interval=interval, reconcile_every=reconcile_every)
    log.info("worker stopped")
