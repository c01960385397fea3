"""/v1/business, /v1/channels, /v1/api-keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from orderline.core.http import RuntimeDep, parse_id, refusals
from orderline.tenancy import service as tenancy
from orderline.tenancy.deps import PrincipalDep
from orderline.tenancy.schemas import (
    ApiKeyCreate,
    ApiKeyList,
    ApiKeyOut,
    BusinessOut,
    BusinessUpdate,
    ChannelCreate,
    ChannelList,
    ChannelOut,
    IssuedApiKey,
)

router = APIRouter(prefix="/v1", tags=["business"])


@router.get("/business", response_model=BusinessOut, responses=refusals(401, 403))
async def get_business(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await tenancy.get_business(runtime, principal)


@router.patch("/business", response_model=BusinessOut, responses=refusals(401, 403))
async def update_business(body: BusinessUpdate, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await tenancy.update_settings(runtime, principal, **body.model_dump())


@router.get("/channels", response_model=ChannelList, responses=refusals(401, 403))
async def list_channels(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": await tenancy.list_channels(runtime, principal)}


@router.post("/channels", status_code=status.HTTP_201_CREATED, response_model=ChannelOut,
             responses=refusals(401, 403, 409))
async def add_channel(body: ChannelCreate, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    return await tenancy.add_channel(runtime, principal, code=body.code, name=body.name)


@router.get("/api-keys", response_model=ApiKeyList, responses=refusals(401, 403))
async def list_api_keys(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": await tenancy.list_api_keys(runtime, principal)}


@router.post("/api-keys", status_code=status.HTTP_201_CREATED,
             response_model=IssuedApiKey, responses=refusals(401, 403))
async def create_api_key(body: ApiKeyCreate, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """The key is in this answer only; it is stored hashed and cannot be shown again."""
    issued = await tenancy.create_api_key(runtime, principal, name=body.name, scopes=body.scopes)
    return {"id": issued.id, "key": issued.key, "prefix": issued.prefix,
            "scopes": list(issued.scopes)}


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, responses=refusals(401, 403))
async def revoke_api_key(key_id: str, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    return await tenancy.revoke_api_key(runtime, principal, parse_id("api_key", key_id))
