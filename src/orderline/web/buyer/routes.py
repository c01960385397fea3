"""Every buyer page route, one line per module. Installed by ``web/install.py``; none is in the
OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from orderline.web.buyer import checkout_pages, draft_link_pages, order_pages, return_pages

router = APIRouter(include_in_schema=False)
router.include_router(checkout_pages.router)
router.include_router(order_pages.router)
router.include_router(return_pages.router)
router.include_router(draft_link_pages.router)
