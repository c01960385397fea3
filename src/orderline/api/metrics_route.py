"""``GET /metrics``: Prometheus text, without authentication (like /healthz). Every figure is
summed over all businesses: no business id, order or customer appears in it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orderline.api import metrics_figures
from orderline.core import metrics
from orderline.core.http import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}},
                             "description": "Prometheus text exposition format 0.0.4"}})
async def scrape(runtime: RuntimeDep) -> Response:
    body, content_type = await metrics.exposition(
        lambda: metrics_figures.stored_figures(runtime))
    return Response(content=body, media_type=content_type)
