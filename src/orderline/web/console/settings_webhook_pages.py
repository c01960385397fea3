"""Settings pages for webhooks: the endpoints (a new one's signing secret is shown once, in
the answer that made it, as is a rotated one), switching an endpoint back on after it was
switched off for failing, its deliveries with their status, the dead letters, and replaying
a delivery. Each calls the use case the API's ``/v1/webhooks`` routes call.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from orderline.core.errors import DomainError
from orderline.core.http import get_runtime
from orderline.events.event_types import EventType
from orderline.web.console.pages import console_page
from orderline.web.console.settings_forms import (
    AdminDep,
    PostedDep,
    cursor_of,
    field_errors,
    form_status,
    ident,
    page_of,
)
from orderline.webhooks import service as webhooks
from orderline.webhooks.rules import REPLAYABLE_STATUSES, DeliveryStatus
from orderline.webhooks.schemas import WebhookCreate

router = APIRouter()

ENDPOINT_FIELDS = ("url", "event_types", "description")
EVENT_CHOICES = ["*", "order.*", *[e.value for e in EventType]]
DELIVERY_PAGE = 50
DEAD_LETTERS = 20


async def _webhooks_page(request: Request, staff: AdminDep, *, errors: Any = (),
                         values: dict[str, Any] | None = None, created: Any = None) -> Response:
    runtime = get_runtime(request)
    endpoints = await webhooks.list_endpoints(runtime, staff.principal)
    dead = await webhooks.list_deliveries(runtime, staff.principal, endpoint_id=None,
                                          status=DeliveryStatus.DEAD, limit=DEAD_LETTERS,
                                          before=None)
    return console_page(request, staff, "console/settings/webhooks.html",
                        status_code=form_status(errors), errors=errors,
                        endpoints=endpoints, dead=dead, event_choices=EVENT_CHOICES,
                        values=values or {"event_types": ["*"]}, created=created,
                        done=request.query_params.get("done"))


@router.get("/webhooks")
async def webhooks_page(request: Request, staff: AdminDep) -> Response:
    return await _webhooks_page(request, staff)


@router.post("/webhooks")
async def create_endpoint(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        body = WebhookCreate.model_validate({
            "url": form.text("url"), "event_types": form.many("event_types"),
            "description": form.text("description")})
        created = await webhooks.create_endpoint(
            get_runtime(request), staff.principal, url=body.url,
            event_types=body.event_types, description=body.description)
    except (DomainError, ValidationError) as error:
        return await _webhooks_page(
            request, staff, values={**form.values(), "event_types": form.many("event_types")},
            errors=field_errors(error, fields=ENDPOINT_FIELDS, by_code={
                "invalid_webhook_url": "url", "unsafe_webhook_url": "url",
                "validation_error": "event_types"}))
    # The signing secret is in this answer only.
    return await _webhooks_page(request, staff, created=created)


async def _endpoint_page(request: Request, staff: AdminDep, endpoint_id: str, *,
                         errors: Any = (), rotated: Any = None) -> Response:
    runtime, endpoint = get_runtime(request), ident("webhook", endpoint_id)
    wanted = request.query_params.get("status")
    status = next((s for s in DeliveryStatus if s.value == wanted), None)
    try:
        shown = await webhooks.get_endpoint(runtime, staff.principal, endpoint)
    except DomainError as error:
        field_errors(error, fields=())  # another business's endpoint: the 404 page
        raise
    deliveries, older = page_of(await webhooks.list_deliveries(
        runtime, staff.principal, endpoint_id=endpoint, status=status, limit=DELIVERY_PAGE + 1,
        before=cursor_of(request)), DELIVERY_PAGE)
    return console_page(request, staff, "console/settings/webhook.html",
                        status_code=form_status(errors), errors=errors, endpoint=shown,
                        deliveries=deliveries, older=older,
                        statuses=[s.value for s in DeliveryStatus],
                        status=status.value if status else "", rotated=rotated,
                        replayable=[s.value for s in REPLAYABLE_STATUSES],
                        done=request.query_params.get("done"))


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(request: Request, staff: AdminDep, endpoint_id: str) -> Response:
    return await _endpoint_page(request, staff, endpoint_id)


@router.post("/webhooks/{endpoint_id}/{action}")
async def change_endpoint(request: Request, staff: AdminDep, endpoint_id: str,
                          action: str) -> Response:
    runtime, endpoint = get_runtime(request), ident("webhook", endpoint_id)
    try:
        if action == "rotate":
            rotated = await webhooks.rotate_secret(runtime, staff.principal, endpoint)
            return await _endpoint_page(request, staff, endpoint_id, rotated=rotated)
        if action == "enable":
            await webhooks.enable_endpoint(runtime, staff.principal, endpoint)
        elif action == "delete":
            await webhooks.delete_endpoint(runtime, staff.principal, endpoint)
            return RedirectResponse("/console/settings/webhooks?done=endpoint-deleted",
                                    status_code=303)
        else:
            raise HTTPException(status_code=404)
    except DomainError as error:
        return await _endpoint_page(request, staff, endpoint_id,
                                    errors=field_errors(error, fields=()))
    return RedirectResponse(f"/console/settings/webhooks/{endpoint}?done=endpoint-{action}",
                            status_code=303)


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay")
async def replay_delivery(request: Request, staff: AdminDep, endpoint_id: str,
                          delivery_id: str) -> Response:
    endpoint = ident("webhook", endpoint_id)
    try:
        await webhooks.replay_delivery(get_runtime(request), staff.principal, endpoint,
                                       ident("webhook_delivery", delivery_id))
    except DomainError as error:
        return await _endpoint_page(request, staff, endpoint_id,
                                    errors=field_errors(error, fields=()))
    return RedirectResponse(f"/console/settings/webhooks/{endpoint}?done=delivery-replayed",
                            status_code=303)
