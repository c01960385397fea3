"""Every console route: one line per area module, each with its own ``router`` whose paths are
relative to ``/console`` (``@router.get("/orders")``). Installed by ``web/install.py``.

(The prefix is given on each line, not to this router: FastAPI refuses an included router's
empty path under an empty prefix, and the dashboard is ``/console`` itself.)
"""

from __future__ import annotations

from fastapi import APIRouter

from orderline.web.console import (
    account_pages,
    auth_pages,
    cancel_items_pages,
    catalog_pages,
    csv_pages,
    customer_pages,
    dashboard_pages,
    draft_pages,
    edit_items_pages,
    exchange_pages,
    invitation_pages,
    order_pages,
    order_split_pages,
    phone_app,
    return_pages,
    settings_pages,
    stock_pages,
    stream,
    verification_pages,
    verification_stats_pages,
)

PREFIX = "/console"

router = APIRouter(include_in_schema=False)
router.include_router(auth_pages.router, prefix=PREFIX)
router.include_router(phone_app.router, prefix=PREFIX)
router.include_router(dashboard_pages.router, prefix=PREFIX)
router.include_router(account_pages.router, prefix=PREFIX)
router.include_router(invitation_pages.router, prefix=PREFIX)
router.include_router(verification_stats_pages.router, prefix=PREFIX)  # before {proof_id}
router.include_router(verification_pages.router, prefix=PREFIX)
router.include_router(stream.router, prefix=PREFIX)
router.include_router(csv_pages.router, prefix=PREFIX)  # before /orders/{order_id}
router.include_router(order_pages.router, prefix=PREFIX)
router.include_router(draft_pages.router, prefix=PREFIX)
router.include_router(cancel_items_pages.router, prefix=PREFIX)
router.include_router(edit_items_pages.router, prefix=PREFIX)
router.include_router(return_pages.router, prefix=PREFIX)
router.include_router(order_split_pages.router, prefix=PREFIX)
router.include_router(exchange_pages.router, prefix=PREFIX)
router.include_router(stock_pages.router, prefix=PREFIX)
router.include_router(catalog_pages.router, prefix=PREFIX)
router.include_router(customer_pages.router, prefix=PREFIX)
router.include_router(settings_pages.router, prefix=PREFIX)
