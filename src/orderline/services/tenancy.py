"""Businesses, API keys, channels and business settings."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.adapters.db import tenancy_store as store
from orderline.adapters.db.insert import insert_ignoring_conflict
from orderline.adapters.db.tenancy_store import channels, locations
from orderline.bootstrap import Runtime
from orderline.domain.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from orderline.domain.money import check_currency
from orderline.domain.tenancy import (
    ALL_SCOPES,
    DEFAULT_CHANNELS,
    MAX_RESERVATION_TTL_SECONDS,
    MIN_RESERVATION_TTL_SECONDS,
    Principal,
    Scope,
    display_prefix,
    hash_api_key,
    new_api_key,
)

_CHANNEL_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: uuid.UUID
    key: str  # shown once, never stored
    prefix: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewBusiness:
    id: uuid.UUID
    name: str
    currency: str
    api_key: IssuedKey


def _check_ttl(seconds: int) -> int:
    if not MIN_RESERVATION_TTL_SECONDS <= seconds <= MAX_RESERVATION_TTL_SECONDS:
        raise ValidationFailed(
            f"Reservation time must be {MIN_RESERVATION_TTL_SECONDS} to "
            f"{MAX_RESERVATION_TTL_SECONDS} seconds.", details={"reservation_ttl_seconds": seconds})
    return seconds


def _check_scopes(scopes: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown or not scopes:
        raise ValidationFailed("Scopes must be a non-empty subset of read, write, admin.",
                               details={"unknown_scopes": unknown})
    return tuple(sorted(set(scopes)))


async def _issue_key(runtime: Runtime, conn: AsyncConnection, business_id: uuid.UUID, name: str,
                     scopes: tuple[str, ...]) -> IssuedKey:
    key = new_api_key()
    key_id = uuid.uuid4()
    await store.insert_api_key(conn, {
        "id": key_id, "business_id": business_id, "name": name, "prefix": display_prefix(key),
        "key_hash": hash_api_key(key), "scopes": ",".join(scopes),
        "created_at": runtime.clock.now(), "revoked_at": None})
    return IssuedKey(id=key_id, key=key, prefix=display_prefix(key), scopes=scopes)


async def create_business(runtime: Runtime, *, name: str, currency: str = "USD",
                          reservation_ttl_seconds: int | None = None) -> NewBusiness:
    """A business with its default location, the standard channels and one admin API key."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("A business needs a name of 1 to 200 characters.")
    check_currency(currency)
    ttl = _check_ttl(reservation_ttl_seconds
                     or runtime.settings.default_reservation_ttl_seconds)
    now = runtime.clock.now()
    business_id = uuid.uuid4()

    async def work(conn: AsyncConnection) -> IssuedKey:
        await store.insert_business(conn, {"id": business_id, "name": name, "currency": currency,
                                           "reservation_ttl_seconds": ttl, "created_at": now})
        await conn.execute(locations.insert().values(
            id=uuid.uuid4(), business_id=business_id, code="main", name="Main warehouse",
            is_default=True, created_at=now))
        await conn.execute(channels.insert(), [
            {"id": uuid.uuid4(), "business_id": business_id, "code": code,
             "name": code.capitalize(), "created_at": now} for code in DEFAULT_CHANNELS])
        return await _issue_key(runtime, conn, business_id, "owner", tuple(ALL_SCOPES))

    key = await runtime.db.run(work)
    return NewBusiness(id=business_id, name=name, currency=currency, api_key=key)


async def authenticate(runtime: Runtime, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    async with runtime.db.read() as conn:
        row = await store.find_key_with_business(conn, hash_api_key(token))
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("This API key is unknown or has been revoked.")
    return Principal(business_id=row["business_id"], key_id=row["id"], key_prefix=row["prefix"],
                     scopes=frozenset(row["scopes"].split(",")), currency=row["currency"],
                     reservation_ttl_seconds=row["reservation_ttl_seconds"])


async def create_api_key(runtime: Runtime, principal: Principal, *, name: str,
                         scopes: list[str]) -> IssuedKey:
    principal.require(Scope.ADMIN)
    checked = _check_scopes(scopes)
    return await runtime.db.run(
        lambda conn: _issue_key(runtime, conn, principal.business_id, name, checked))


async def issue_operator_key(runtime: Runtime, business_id: uuid.UUID, *, name: str,
                             scopes: list[str]) -> IssuedKey:
    """A key issued by the operator (CLI, demo) rather than through another key."""
    checked = _check_scopes(scopes)
    return await runtime.db.run(
        lambda conn: _issue_key(runtime, conn, business_id, name, checked))


async def find_business_named(runtime: Runtime, name: str) -> dict[str, Any] | None:
    async with runtime.db.read() as conn:
        row = await store.find_business_by_name(conn, name)
    return dict(row) if row is not None else None


async def list_api_keys(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Scope.ADMIN)
    async with runtime.db.read() as conn:
        return [dict(r) for r in await store.list_api_keys(conn, principal.business_id)]


async def revoke_api_key(runtime: Runtime, principal: Principal,
                         key_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()
    row = await runtime.db.run(
        lambda conn: store.revoke_api_key(conn, principal.business_id, key_id, now))
    if row is None:
        raise NotFound("api_key", key_id)
    return dict(row)


async def get_business(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await store.get_business(conn, principal.business_id)
    if row is None:
        raise NotFound("business", principal.business_id)
    return dict(row)


async def update_settings(runtime: Runtime, principal: Principal, *,
                          name: str | None = None,
                          reservation_ttl_seconds: int | None = None,
                          development_mode: bool | None = None,
                          alert_email: str | None = None) -> dict[str, Any]:
    """Change the given settings. ``alert_email`` "" clears it (alerts go to the log)."""
    principal.require(Scope.ADMIN)
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise ValidationFailed("A business name cannot be empty.")
        values["name"] = name.strip()
    if reservation_ttl_seconds is not None:
        values["reservation_ttl_seconds"] = _check_ttl(reservation_ttl_seconds)
    if development_mode is not None:
        values["development_mode"] = development_mode
    if alert_email is not None:
        values["alert_email"] = alert_email.strip().lower() or None
    if values:
        await runtime.db.run(
            lambda conn: store.update_business(conn, principal.business_id, values))
    return await get_business(runtime, principal)


async def list_channels(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return [dict(r) for r in await store.list_channels(conn, principal.business_id)]


async def add_channel(runtime: Runtime, principal: Principal, *, code: str,
                      name: str | None = None) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    if not _CHANNEL_CODE.match(code):
        raise ValidationFailed("A channel code is 1-40 lowercase letters, digits, '-' or '_'.",
                               details={"code": code})
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> bool:
        return await insert_ignoring_conflict(conn, channels, {
            "id": uuid.uuid4(), "business_id": principal.business_id, "code": code,
            "name": name or code.capitalize(), "created_at": now})

    if not await runtime.db.run(work):
        raise Conflict(f"Channel '{code}' already exists.", details={"code": code})
    return {"code": code, "name": name or code.capitalize(), "created_at": now}
