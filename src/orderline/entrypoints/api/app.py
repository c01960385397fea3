"""The FastAPI application: wiring only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orderline import __version__
from orderline.adapters.db.listener import hub_listener
from orderline.adapters.db.migrate import upgrade_to_head
from orderline.bootstrap import Runtime, build_runtime
from orderline.config import Settings
from orderline.entrypoints import worker
from orderline.entrypoints.api.errors import install_error_handlers
from orderline.entrypoints.api.limits import BodySizeLimit, RouteLimit
from orderline.entrypoints.api.request_ids import RequestIds
from orderline.entrypoints.api.routes import (
    business,
    carts,
    catalog,
    checkouts,
    cod,
    coupons,
    health,
    inventory,
    manual_payments,
    orders,
    payments,
    personal_data,
    shipping,
    streams,
    verifications,
)
from orderline.entrypoints.api.routes import metrics as metrics_routes
from orderline.entrypoints.api.routes import webhooks as webhook_routes
from orderline.entrypoints.logs import configure_logging


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or build_runtime(settings)
        if own and rt.db.is_sqlite:
            await upgrade_to_head(rt.db)  # the embedded default migrates itself
        app.state.runtime = rt
        stop = asyncio.Event()
        sweeper = None
        if settings.embedded_worker:
            sweeper = asyncio.create_task(worker.run(rt, stop=stop, listen=False))
        # Other processes' events reach this one's live streams through NOTIFY (PostgreSQL).
        listener = (None if rt.db.is_sqlite
                    else asyncio.create_task(hub_listener(rt.db.url, rt.hub).run(stop)))
        try:
            yield
        finally:
            stop.set()
            if sweeper is not None:
                await sweeper
            if listener is not None:
                await listener
            if own:
                await rt.close()

    configure_logging(settings.log_level)
    app = FastAPI(title="Orderline", version=__version__, lifespan=lifespan,
                  description="Orders, inventory and reservations that never oversell. "
                              "Authenticate with `Authorization: Bearer <API key>`.")
    install_error_handlers(app)

    for module in (health, orders, catalog, inventory, business, carts, checkouts, shipping,
                   coupons, payments, cod, manual_payments, verifications, personal_data):
        app.include_router(module.router)
    app.include_router(metrics_routes.router)
    app.include_router(streams.router)
    app.include_router(webhook_routes.router)
    # A proof upload is a file: its own limit (plus room for a multipart form's headers).
    proof_upload = RouteLimit(re.compile(r"^/v1/orders/[^/]+/payment-proof$"),
                              settings.proof_upload_max_bytes + 64 * 1024, "file_too_large",
                              "Payment proof files are")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, routes=[proof_upload])
    app.add_middleware(RequestIds)
    return app


def app_factory() -> FastAPI:
    """Entry for ``uvicorn --factory`` (each server process builds its own app)."""
    return create_app()
