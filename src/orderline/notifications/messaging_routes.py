"""/v1/business/messaging (a business's SMS or WhatsApp sender) and the providers' delivery
reports: /v1/messaging/twilio/status and /v1/messaging/whatsapp/webhook."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from orderline.core.http import RuntimeDep, json_refusals, refusals
from orderline.notifications import messaging
from orderline.notifications.messaging_schemas import (
    MessagingSettingsIn,
    MessagingSettingsOut,
    MessagingSettingsPatch,
    StatusReceipt,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["messaging"])


@router.get("/business/messaging", response_model=MessagingSettingsOut,
            responses=refusals(401, 403))
async def get_messaging(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await messaging.get_settings(runtime, principal)


@router.put("/business/messaging", response_model=MessagingSettingsOut,
            responses=refusals(401, 403))
async def put_messaging(body: MessagingSettingsIn, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    return await messaging.save_settings(runtime, principal, body.model_dump(exclude_unset=True)
                                         | {"provider": body.provider}, replace=True)


@router.patch("/business/messaging", response_model=MessagingSettingsOut,
              responses=refusals(401, 403, 404))
async def patch_messaging(body: MessagingSettingsPatch, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await messaging.save_settings(runtime, principal, body.model_dump(exclude_unset=True),
                                         replace=False)


@router.post("/messaging/twilio/status", response_model=StatusReceipt,
             responses=refusals(401))
async def twilio_status(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Signed by Twilio with the sending business's auth token; checked before it is used."""
    outcome = await messaging.receive_twilio_status(
        runtime, url=str(request.url), headers=dict(request.headers), body=await request.body())
    return {"outcome": outcome}


@router.get("/messaging/whatsapp/webhook", responses=json_refusals(403),
            response_class=PlainTextResponse)
async def whatsapp_handshake(request: Request, runtime: RuntimeDep) -> str:
    """Meta's subscription check: the challenge comes back when the verify token is known."""
    query = request.query_params
    return await messaging.verify_cloud_subscription(
        runtime, mode=query.get("hub.mode", ""), token=query.get("hub.verify_token", ""),
        challenge=query.get("hub.challenge", ""))


@router.post("/messaging/whatsapp/webhook", response_model=StatusReceipt,
             responses=refusals(401))
async def whatsapp_webhook(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Signed with the app secret (X-Hub-Signature-256); checked before it is used."""
    outcome = await messaging.receive_cloud_webhook(runtime, headers=dict(request.headers),
                                                    body=await request.body())
    return {"outcome": outcome}
