"""Businesses, API keys, channels and business settings."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from orderline.core.limits import MAX_LINE_QUANTITY, MAX_ORDER_TOTAL
from orderline.core.money import check_currency
from orderline.core.runtime import Part, Runtime
from orderline.tenancy import store
from orderline.tenancy.key_cache import KEY_CACHE, forget_business_keys
from orderline.tenancy.key_use import note_key_used
from orderline.tenancy.rules import (
    ALL_SCOPES,
    DEFAULT_CHANNEL_NAMES,
    DEFAULT_CHANNELS,
    MAX_RESERVATION_TTL_SECONDS,
    MIN_RESERVATION_TTL_SECONDS,
    CaptureMode,
    Principal,
    Scope,
    check_origins,
    display_prefix,
    hash_api_key,
    new_api_key,
)
from orderline.tenancy.store import channels, locations

_CHANNEL_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")

# Bounds of the checkout settings (see checkout/rules.py for what they mean).
CHECKOUT_SETTING_BOUNDS: dict[str, tuple[int, int]] = {
    "min_order_total": (0, MAX_ORDER_TOTAL),
    "max_order_total": (1, MAX_ORDER_TOTAL),
    "max_line_quantity": (1, MAX_LINE_QUANTITY),
    "price_max_age_seconds": (10, 86_400),
    "confirms_per_minute": (1, 1000),
}
# Returns (orderline.returns): the buyer's window in days after delivery (0: buyers may not
# ask), the restocking fee in basis points of the returned units' value and a fixed amount.
RETURN_SETTING_BOUNDS: dict[str, tuple[int, int]] = {
    "return_window_days": (0, 365),
    "restocking_fee_bp": (0, 10_000),
    "restocking_fee_fixed": (0, MAX_ORDER_TOTAL),
}


# The names of the card payment providers this deployment has (the payments capability knows
# them; tenancy sits below it, so orderline.wiring hands them over).
CARD_PROVIDERS: Part[Callable[[], list[str]]] = Part("card provider names")


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
                     scopes: tuple[str, ...], *, by: Principal | None,
                     audited: bool = True) -> IssuedKey:
    """A new key; ``by`` is the key that asked for it (None: the operator). The audit entry
    names the new key by id, prefix and scopes; the key and its hash are never in it."""
    key = new_api_key()
    key_id = uuid.uuid4()
    now = runtime.clock.now()
    values = {"id": key_id, "business_id": business_id, "name": name,
              "prefix": display_prefix(key), "key_hash": hash_api_key(key),
              "scopes": ",".join(scopes), "created_at": now, "revoked_at": None}
    await store.insert_api_key(conn, values)
    if audited:
        await audit.record(conn, by, business_id=business_id, entity_type=EntityType.API_KEY,
                           entity_id=key_id, action=Action.CREATED, before=None,
                           after={k: v for k, v in values.items() if k != "key_hash"}, now=now)
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
             "name": DEFAULT_CHANNEL_NAMES[code], "created_at": now}
            for code in DEFAULT_CHANNELS])
        # The business's first key comes with the business itself: nothing to audit yet.
        return await _issue_key(runtime, conn, business_id, "owner", tuple(ALL_SCOPES),
                                by=None, audited=False)

    key = await runtime.db.run(work)
    return NewBusiness(id=business_id, name=name, currency=currency, api_key=key)


async def authenticate(runtime: Runtime, token: str | None) -> Principal:
    """The principal of a bearer key: from this process's ``KeyCache`` when it holds the key,
    else looked up (and kept)."""
    if not token:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    key_hash = hash_api_key(token)
    cache = runtime.get(KEY_CACHE)
    principal = cache.get(key_hash)
    if principal is None:
        async with runtime.db.lookup() as conn:
            row = await store.find_key_with_business(conn, key_hash)
        if row is None or row["revoked_at"] is not None:
            raise Unauthorized("This API key is unknown or has been revoked.")
        principal = Principal(
            business_id=row["business_id"], key_id=row["id"], key_prefix=row["prefix"],
            scopes=frozenset(row["scopes"].split(",")), currency=row["currency"],
            reservation_ttl_seconds=row["reservation_ttl_seconds"], key_name=row["name"])
        cache.keep(key_hash, principal)
    await note_key_used(runtime, principal.key_id)
    return principal


async def create_api_key(runtime: Runtime, principal: Principal, *, name: str,
                         scopes: list[str]) -> IssuedKey:
    principal.require(Scope.ADMIN)
    checked = _check_scopes(scopes)
    return await runtime.db.run(
        lambda conn: _issue_key(runtime, conn, principal.business_id, name, checked,
                                by=principal))


async def issue_operator_key(runtime: Runtime, business_id: uuid.UUID, *, name: str,
                             scopes: list[str]) -> IssuedKey:
    """A key issued by the operator (CLI, demo) rather than through another key."""
    checked = _check_scopes(scopes)
    return await runtime.db.run(
        lambda conn: _issue_key(runtime, conn, business_id, name, checked, by=None))


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

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        before = await store.lock_api_key(conn, principal.business_id, key_id)
        if before is None:
            raise NotFound("api_key", key_id)
        row = await store.revoke_api_key(conn, principal.business_id, key_id, now)
        assert row is not None  # locked above
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.API_KEY, entity_id=key_id,
                           action=Action.REVOKED, before=dict(before), after=dict(row), now=now)
        return dict(row)

    revoked = await runtime.db.run(work)
    forget_business_keys(runtime, principal.business_id)
    return revoked


async def shop_name(runtime: Runtime, business_id: uuid.UUID) -> str:
    """The name a buyer's page shows for the business (the caller already proved it may see
    one of the business's orders or carts)."""
    async with runtime.db.read() as conn:
        row = await store.get_business(conn, business_id)
    if row is None:
        raise NotFound("business", business_id)
    return str(row["name"])


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who a business's invoices say they are from: its name and its address lines."""

    name: str
    address: tuple[str, ...]


async def letterhead(conn: AsyncConnection, business_id: uuid.UUID) -> Letterhead:
    """The business's name and invoice address, in the caller's transaction (the worker's,
    drawing an invoice)."""
    row = await store.get_business(conn, business_id)
    if row is None:
        raise NotFound("business", business_id)
    address = tuple(line for line in (row["invoice_address"] or "").splitlines() if line)
    return Letterhead(name=str(row["name"]), address=address)


async def get_business(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await store.get_business(conn, principal.business_id)
        origins = await store.origins_of(conn, principal.business_id)
    if row is None:
        raise NotFound("business", principal.business_id)
    return {**row, "allowed_origins": origins}


async def update_settings(runtime: Runtime, principal: Principal, *,
                          name: str | None = None,
                          reservation_ttl_seconds: int | None = None,
                          development_mode: bool | None = None,
                          alert_email: str | None = None,
                          invoice_address: str | None = None,
                          prices_include_tax: bool | None = None,
                          min_order_total: int | None = None,
                          max_order_total: int | None = None,
                          max_line_quantity: int | None = None,
                          allow_free_orders: bool | None = None,
                          price_max_age_seconds: int | None = None,
                          return_coupon_on_cancel: bool | None = None,
                          confirms_per_minute: int | None = None,
                          capture_mode: str | None = None,
                          card_provider: str | None = None,
                          return_window_days: int | None = None,
                          restocking_fee_bp: int | None = None,
                          restocking_fee_fixed: int | None = None,
                          allowed_origins: list[str] | None = None) -> dict[str, Any]:
    """Change the given settings (None keeps one). ``alert_email`` "" clears it (alerts go
    to the log). ``allowed_origins`` replaces the browser origins allowed to call the API
    with this business's credentials (``[]``: none). One audit entry holds what changed.

    The checkout's numbers stay within ``CHECKOUT_SETTING_BOUNDS``, and the minimum order may
    not exceed the maximum whichever of them changes: checked after the update, in its
    transaction (the updated row stays locked until the commit, so two changes cannot cross)."""
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
    if invoice_address is not None:
        values["invoice_address"] = "\n".join(
            line.strip() for line in invoice_address.strip().splitlines()) or None
    for switch, on in (("prices_include_tax", prices_include_tax),
                       ("allow_free_orders", allow_free_orders),
                       ("return_coupon_on_cancel", return_coupon_on_cancel)):
        if on is not None:
            values[switch] = on
    if capture_mode is not None:
        if capture_mode not in {m.value for m in CaptureMode}:
            raise ValidationFailed("capture_mode is 'automatic' (card payments are captured "
                                   "when authorised) or 'manual' (captured on fulfilment).",
                                   details={"capture_mode": capture_mode})
        values["capture_mode"] = capture_mode
    if card_provider is not None:
        configured = runtime.get(CARD_PROVIDERS)()
        if card_provider not in configured or card_provider == "cod":
            raise ValidationFailed(
                f"'{card_provider}' is not a card provider of this deployment; configured: "
                + (", ".join(configured) or "none") + ".",
                details={"card_provider": card_provider, "configured": configured})
        values["card_provider"] = card_provider
    values.update(_checkout_numbers({
        "min_order_total": min_order_total, "max_order_total": max_order_total,
        "max_line_quantity": max_line_quantity, "price_max_age_seconds": price_max_age_seconds,
        "confirms_per_minute": confirms_per_minute,
        "return_window_days": return_window_days, "restocking_fee_bp": restocking_fee_bp,
        "restocking_fee_fixed": restocking_fee_fixed}))

    origins = None if allowed_origins is None else check_origins(allowed_origins)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        row = await store.get_business(conn, principal.business_id, lock=True)
        if row is None:
            raise NotFound("business", principal.business_id)
        before = {name: row[name] for name in values}
        after = dict(values)
        if values:
            await store.update_business(conn, principal.business_id, values)
        merged = {**row, **values}
        if merged["min_order_total"] > merged["max_order_total"]:
            raise ValidationFailed(
                "The minimum order total may not exceed the maximum order total.",
                details={"min_order_total": merged["min_order_total"],
                         "max_order_total": merged["max_order_total"]})
        if origins is not None:
            before["allowed_origins"] = await store.origins_of(conn, principal.business_id)
            after["allowed_origins"] = origins
            await store.replace_origins(conn, principal.business_id, origins, now)
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.BUSINESS, entity_id=principal.business_id,
                           action=Action.UPDATED, before=before, after=after, now=now)

    if values or origins is not None:
        await runtime.db.run(work)
        forget_business_keys(runtime, principal.business_id)
    return await get_business(runtime, principal)


async def origin_allowed(runtime: Runtime, origin: str, business_id: uuid.UUID | None) -> bool:
    """Whether the business (None: any business) lets pages of ``origin`` call the API."""
    async with runtime.db.read() as conn:
        return await store.origin_allowed(conn, origin, business_id)


def _checkout_numbers(given: dict[str, int | None]) -> dict[str, int]:
    values: dict[str, int] = {}
    for name, value in given.items():
        if value is None:
            continue
        low, high = {**CHECKOUT_SETTING_BOUNDS, **RETURN_SETTING_BOUNDS}[name]
        if isinstance(value, bool) or not low <= value <= high:
            raise ValidationFailed(f"{name} must be a whole number from {low} to {high}.",
                                   details={"field": name, "value": value})
        values[name] = value
    return values


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
