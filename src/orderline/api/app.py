"""The FastAPI application: wiring only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orderline import __version__
from orderline.api import health
from orderline.api import metrics_route as metrics_routes
from orderline.api.control_characters import ControlCharacters
from orderline.api.cors import Cors
from orderline.api.errors import install_error_handlers
from orderline.api.limits import BodySizeLimit, RouteLimit
from orderline.api.openapi import install_openapi
from orderline.api.request_ids import RequestIds
from orderline.api.unexpected import UnexpectedErrors
from orderline.cancellations import routes as cancellation_routes
from orderline.catalog import import_routes as stock_imports
from orderline.catalog import inventory_routes as inventory
from orderline.catalog import routes as catalog
from orderline.catalog.import_rules import MAX_IMPORT_BYTES
from orderline.checkout import cart_routes as carts
from orderline.checkout import cash_code_routes, direct_order_routes
from orderline.checkout import checkout_routes as checkouts
from orderline.cod import routes as cod
from orderline.core.config import Settings
from orderline.core.logs import configure_logging
from orderline.core.runtime import Runtime
from orderline.coupons import routes as coupons
from orderline.documents import routes as document_routes
from orderline.drafts import routes as draft_orders
from orderline.events import routes as streams
from orderline.events.listener import hub_listener
from orderline.exchanges import routes as exchange_routes
from orderline.exports import routes as export_routes
from orderline.manual_payments import routes as manual_payments
from orderline.manual_payments import verification_routes as verifications
from orderline.notifications import messaging_routes
from orderline.order_changes import routes as order_change_routes
from orderline.order_splits import routes as order_split_routes
from orderline.orders import customer_routes
from orderline.orders import routes as orders
from orderline.orders import stream_routes as order_stream_routes
from orderline.orders.fulfilment import routes as shipment_routes
from orderline.overview import routes as overview_routes
from orderline.payments import routes as payments
from orderline.payments import shipping_routes as order_shipping_routes
from orderline.privacy import routes as personal_data
from orderline.returns import routes as return_routes
from orderline.schema.migrate import upgrade_to_head
from orderline.shipping import routes as shipping
from orderline.staff import routes as staff_routes
from orderline.tenancy import audit_routes
from orderline.tenancy import routes as business
from orderline.tenancy.key_cache import KEY_CACHE, KEYS_CHANNEL
from orderline.web.errors import PageErrors
from orderline.web.install import install_pages
from orderline.web.security import PageSecurityHeaders
from orderline.webhooks import routes as webhook_routes
from orderline.wiring import build_runtime, start_metrics_at_zero
from orderline.worker import loop as worker


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
        listener = None
        if not rt.db.is_sqlite:
            # ... and API keys revoked in other processes leave this one's cache.
            keys = rt.get(KEY_CACHE)
            listening = hub_listener(rt.db.url, rt.hub, also={KEYS_CHANNEL: keys.notified})
            keys.trust_while(listening.listening, lambda: listening.connections)
            listener = asyncio.create_task(listening.run(stop))
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
    start_metrics_at_zero()
    # /docs and /redoc are the pages' own (orderline.web): vendored files, no CDN.
    app = FastAPI(title="Orderline", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Orders, inventory and reservations that never oversell. "
                              "Authenticate with `Authorization: Bearer <API key>`.")
    install_error_handlers(app)
    install_openapi(app)

    # A request is matched against the routers in this order, each router's routes one by
    # one: the buyer path's routes (an order, a cart, a checkout) come first, so the calls
    # made most often try the fewest routes. No two routers' paths overlap, so the order
    # changes nothing else.
    app.include_router(direct_order_routes.router)  # POST /v1/orders, before the order routes
    app.include_router(carts.router)
    app.include_router(checkouts.router)
    app.include_router(cash_code_routes.router)
    app.include_router(customer_routes.router)
    for module in (health, orders, catalog, inventory, business, shipping,
                   coupons, payments, cod, manual_payments, verifications, personal_data):
        app.include_router(module.router)
    app.include_router(metrics_routes.router)
    app.include_router(order_stream_routes.router)
    app.include_router(order_shipping_routes.router)
    app.include_router(document_routes.router)
    app.include_router(shipment_routes.router)
    app.include_router(cancellation_routes.router)
    app.include_router(order_change_routes.router)
    app.include_router(return_routes.router)
    app.include_router(order_split_routes.router)
    app.include_router(exchange_routes.router)
    app.include_router(streams.router)
    app.include_router(webhook_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(messaging_routes.router)
    app.include_router(overview_routes.router)
    app.include_router(staff_routes.router)
    app.include_router(draft_orders.router)
    app.include_router(export_routes.router)
    app.include_router(stock_imports.router)
    install_pages(app)  # /, /docs, /redoc, /static; HTML error pages for browsers
    # A proof upload is a file: its own limit (plus room for a multipart form's headers).
    proof_upload = RouteLimit(re.compile(r"^/v1/orders/[^/]+/payment-proof$"),
                              settings.proof_upload_max_bytes + 64 * 1024, "file_too_large",
                              "Payment proof files are")
    # An import is a CSV file (API or console form): its own limit (plus room for a multipart
    # form's headers).
    csv_import = RouteLimit(re.compile(r"^/(v1/imports/|console/(stock|catalog)-import$)"),
                            MAX_IMPORT_BYTES + 64 * 1024,
                            "import_too_large", "Import files are")
    app.add_middleware(PageErrors)  # innermost: a page's unexpected error is the HTML 500 page
    app.add_middleware(UnexpectedErrors)  # answers any other error the routes raise
    app.add_middleware(PageSecurityHeaders)  # CSP and the rest on every HTML answer
    app.add_middleware(ControlCharacters)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       routes=[proof_upload, csv_import])
    app.add_middleware(RequestIds)
    app.add_middleware(Cors)  # outermost: a preflight is answered before anything else runs
    return app


def app_factory() -> FastAPI:
    """Entry for ``uvicorn --factory`` (each server process builds its own app)."""
    return create_app()
