"""/v1/webhooks (endpoints, their deliveries, replays) and /v1/webhook-deliveries (every
endpoint's deliveries at once; ``?status=dead`` is the dead-letter list)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id, refusals
from orderline.tenancy.deps import PrincipalDep
from orderline.webhooks import service as webhooks
from orderline.webhooks.rules import DeliveryStatus
from orderline.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookRotate,
    WebhookRotated,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])

StatusQuery = Annotated[DeliveryStatus | None, Query(alias="status")]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated,
             responses=refusals(401, 403))
async def create_webhook(body: WebhookCreate, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """Register an endpoint. The signing secret is in this answer only."""
    return await webhooks.create_endpoint(runtime, principal, url=body.url,
                                          event_types=body.event_types,
                                          description=body.description)


@router.get("/webhooks", response_model=WebhookList, responses=refusals(401, 403))
async def list_webhooks(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": await webhooks.list_endpoints(runtime, principal)}


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, responses=refusals(401, 403))
async def get_webhook(webhook_id: str, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    return await webhooks.get_endpoint(runtime, principal, parse_id("webhook", webhook_id))


@router.delete("/webhooks/{webhook_id}", response_model=WebhookOut, responses=refusals(401, 403))
async def delete_webhook(webhook_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """Delete the endpoint with its queued deliveries and their history."""
    return await webhooks.delete_endpoint(runtime, principal, parse_id("webhook", webhook_id))


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookOut,
             responses=refusals(401, 403))
async def enable_webhook(webhook_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """Switch a disabled endpoint back on (its failure count starts again from zero)."""
    return await webhooks.enable_endpoint(runtime, principal, parse_id("webhook", webhook_id))


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookRotated,
             responses=refusals(401, 403))
async def rotate_webhook_secret(webhook_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                                body: WebhookRotate | None = None) -> dict[str, Any]:
    """Replace the signing secret (the new one is in this answer only). The old one also
    signs deliveries for ``overlap_seconds`` (default a day), while the receiver switches."""
    chosen = body or WebhookRotate()
    return await webhooks.rotate_secret(runtime, principal, parse_id("webhook", webhook_id),
                                        overlap_seconds=chosen.overlap_seconds)


def _page(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None
    return {"data": page, "next_cursor": next_cursor}


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage,
            responses=refusals(401, 403))
async def list_webhook_deliveries(webhook_id: str, runtime: RuntimeDep,
                                  principal: PrincipalDep, status_: StatusQuery = None,
                                  limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """This endpoint's deliveries, newest first, each with its attempts."""
    rows = await webhooks.list_deliveries(
        runtime, principal, endpoint_id=parse_id("webhook", webhook_id), status=status_,
        limit=limit + 1, before=decode_cursor(cursor))
    return _page(rows, limit)


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryDetail,
            responses=refusals(401, 403))
async def get_webhook_delivery(webhook_id: str, delivery_id: str, runtime: RuntimeDep,
                               principal: PrincipalDep) -> dict[str, Any]:
    return await webhooks.get_delivery(runtime, principal, parse_id("webhook", webhook_id),
                                       parse_id("webhook_delivery", delivery_id))


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
             response_model=DeliveryDetail, responses=refusals(401, 403, 409))
async def replay_webhook_delivery(webhook_id: str, delivery_id: str, runtime: RuntimeDep,
                                  principal: PrincipalDep) -> dict[str, Any]:
    """Send a dead or retrying delivery again now, with a fresh set of attempts."""
    return await webhooks.replay_delivery(runtime, principal, parse_id("webhook", webhook_id),
                                          parse_id("webhook_delivery", delivery_id))


@router.get("/webhook-deliveries", response_model=DeliveryPage, responses=refusals(401, 403))
async def list_all_deliveries(runtime: RuntimeDep, principal: PrincipalDep,
                              status_: StatusQuery = None, limit: Limit = 50,
                              cursor: str | None = None) -> dict[str, Any]:
    """Deliveries of every endpoint, newest first; ``?status=dead`` lists the dead letters."""
    rows = await webhooks.list_deliveries(runtime, principal, endpoint_id=None, status=status_,
                                          limit=limit + 1, before=decode_cursor(cursor))
    return _page(rows, limit)
