"""SQL for businesses, API keys and channels."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

from sqlalchemy import bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.tenancy.key_cache import KEYS_CHANNEL
from orderline.tenancy.rules import order_number_sequence_name
from orderline.tenancy.tables import (
    AllowedOrigin,
    ApiKey,
    Business,
    Channel,
    Location,
    OrderCounter,
)

businesses = table_of(Business)
api_keys = table_of(ApiKey)
channels = table_of(Channel)
counters = table_of(OrderCounter)
locations = table_of(Location)
allowed_origins = table_of(AllowedOrigin)


async def insert_business(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """The business row, its counter row (SQLite's order numbers; everyone's invoice numbers)
    and, on PostgreSQL, its order-number sequence, all in the caller's transaction."""
    await conn.execute(insert(businesses).values(**values))
    await conn.execute(insert(counters).values(business_id=values["id"], last_number=0))
    if conn.dialect.name == "postgresql":
        await create_order_number_sequence(conn, values["id"], start=1)


async def create_order_number_sequence(conn: AsyncConnection, business_id: uuid.UUID, *,
                                       start: int) -> None:
    """The business's order-number sequence (PostgreSQL), its first number ``start``; nothing
    if it exists. Transactional like any DDL: it exists for others once the caller commits."""
    name = order_number_sequence_name(business_id)  # hex digits only: safe to write in
    await conn.execute(text(
        f"CREATE SEQUENCE IF NOT EXISTS {name} AS bigint START WITH {int(start)} "
        "MINVALUE 1 NO CYCLE"))


async def order_number_sequence_exists(conn: AsyncConnection, business_id: uuid.UUID) -> bool:
    name = order_number_sequence_name(business_id)
    return (await conn.execute(select(func.to_regclass(name)))).scalar() is not None


async def get_business(conn: AsyncConnection, business_id: uuid.UUID, *,
                       lock: bool = False) -> RowMapping | None:
    """The business row; ``lock`` holds it for this transaction (FOR UPDATE on PostgreSQL;
    SQLite's write transactions are serial already), so the values a change reads as
    "before" are the ones it replaces."""
    stmt = select(businesses).where(businesses.c.id == business_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def find_business_by_name(conn: AsyncConnection, name: str) -> RowMapping | None:
    result = await conn.execute(
        select(businesses).where(businesses.c.name == name).order_by(businesses.c.created_at))
    return result.mappings().first()


async def update_business(conn: AsyncConnection, business_id: uuid.UUID,
                          values: dict[str, Any]) -> None:
    await conn.execute(update(businesses).where(businesses.c.id == business_id).values(**values))
    await announce_key_change(conn, business_id)


async def announce_key_change(conn: AsyncConnection, business_id: uuid.UUID) -> None:
    """Tell every server process, when this transaction commits, to forget the business's
    cached API keys (``tenancy.key_cache``). SQLite has one process: nothing to send."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(KEYS_CHANNEL, str(business_id))))


# What is shown of a key (never its hash).
KEY_COLUMNS = (api_keys.c.id, api_keys.c.name, api_keys.c.prefix, api_keys.c.scopes,
               api_keys.c.created_at, api_keys.c.revoked_at, api_keys.c.last_used_at)


async def insert_api_key(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(api_keys).values(**values))


_KEY_WITH_BUSINESS = (
    select(api_keys.c.id, api_keys.c.business_id, api_keys.c.prefix, api_keys.c.scopes,
           api_keys.c.name, api_keys.c.revoked_at, businesses.c.currency,
           businesses.c.reservation_ttl_seconds)
    .join(businesses, businesses.c.id == api_keys.c.business_id)
    .where(api_keys.c.key_hash == bindparam("b_key_hash")))


async def find_key_with_business(conn: AsyncConnection, key_hash: str) -> RowMapping | None:
    found = await conn.execute(_KEY_WITH_BUSINESS, {"b_key_hash": key_hash})
    return found.mappings().first()


async def list_api_keys(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(*KEY_COLUMNS)
            .where(api_keys.c.business_id == business_id).order_by(api_keys.c.created_at))
    return list((await conn.execute(stmt)).mappings())


async def lock_api_key(conn: AsyncConnection, business_id: uuid.UUID,
                       key_id: uuid.UUID) -> RowMapping | None:
    """The key as it is, held for this transaction (its hash is not read)."""
    stmt = (select(*KEY_COLUMNS)
            .where(api_keys.c.id == key_id, api_keys.c.business_id == business_id)
            .with_for_update())
    return (await conn.execute(stmt)).mappings().first()


async def revoke_api_key(conn: AsyncConnection, business_id: uuid.UUID, key_id: uuid.UUID,
                         now: datetime) -> RowMapping | None:
    stmt = (update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.business_id == business_id)
            .values(revoked_at=now)
            .returning(*KEY_COLUMNS))
    row = (await conn.execute(stmt)).mappings().first()
    await announce_key_change(conn, business_id)
    return row


async def record_key_use(conn: AsyncConnection, key_id: uuid.UUID, *, now: datetime,
                         unless_since: datetime) -> bool:
    """Set the key's last use to ``now`` unless it was recorded at or after ``unless_since``:
    one conditional statement, so processes racing for one key write it once."""
    stmt = (update(api_keys)
            .where(api_keys.c.id == key_id,
                   or_(api_keys.c.last_used_at.is_(None),
                       api_keys.c.last_used_at < unless_since))
            .values(last_used_at=now))
    return bool((await conn.execute(stmt)).rowcount)


async def list_channels(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(channels.c.code, channels.c.name, channels.c.created_at)
            .where(channels.c.business_id == business_id).order_by(channels.c.created_at,
                                                                  channels.c.code))
    return list((await conn.execute(stmt)).mappings())


_CHANNEL = select(channels.c.id).where(channels.c.business_id == bindparam("business_id"),
                                       channels.c.code == bindparam("code"))


async def channel_exists(conn: AsyncConnection, business_id: uuid.UUID, code: str) -> bool:
    found = await conn.execute(_CHANNEL, {"business_id": business_id, "code": code})
    return found.first() is not None


@dataclass(frozen=True, slots=True)
class BusinessSettings:
    """The business settings a checkout is priced and checked with (cash on delivery
    included): these columns of ``businesses``, in this order (``SETTINGS``)."""

    prices_include_tax: bool
    min_order_total: int
    max_order_total: int
    max_line_quantity: int
    allow_free_orders: bool
    price_max_age_seconds: int
    confirms_per_minute: int
    reservation_ttl_seconds: int
    return_coupon_on_cancel: bool
    cod_enabled: bool
    cod_zone_ids: list[str]
    cod_max_order_total: int | None
    cod_max_open_orders: int
    cod_min_trust_score: int
    cod_otp_above_total: int | None
    cod_otp_first_order: bool
    cod_allow_discrepancy: bool

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """From a row that holds the ``SETTINGS`` columns (and maybe others, as the checkout's
        join does)."""
        return cls(**{name: row[name] for name in SETTING_COLUMNS})


SETTING_COLUMNS = tuple(f.name for f in fields(BusinessSettings))
# The columns to select with a statement that reads the settings.
SETTINGS = tuple(businesses.c[name] for name in SETTING_COLUMNS)
_SETTINGS_OF = select(*SETTINGS).where(businesses.c.id == bindparam("b_business"))


async def business_settings(conn: AsyncConnection, business_id: uuid.UUID) -> BusinessSettings:
    return BusinessSettings.from_row((await conn.execute(
        _SETTINGS_OF, {"b_business": business_id})).mappings().one())


# --- allowed browser origins (CORS) -----------------------------------------------------------

async def origins_of(conn: AsyncConnection, business_id: uuid.UUID) -> list[str]:
    stmt = (select(allowed_origins.c.origin).where(allowed_origins.c.business_id == business_id)
            .order_by(allowed_origins.c.origin))
    return list((await conn.execute(stmt)).scalars())


async def replace_origins(conn: AsyncConnection, business_id: uuid.UUID, origins: list[str],
                          now: datetime) -> None:
    await conn.execute(delete(allowed_origins)
                       .where(allowed_origins.c.business_id == business_id))
    if origins:
        await conn.execute(insert(allowed_origins), [
            {"business_id": business_id, "origin": o, "created_at": now} for o in origins])


async def origin_allowed(conn: AsyncConnection, origin: str,
                         business_id: uuid.UUID | None) -> bool:
    """Whether this business (None: any business) allows the origin; one indexed look-up."""
    stmt = select(allowed_origins.c.origin).where(allowed_origins.c.origin == origin)
    if business_id is not None:
        stmt = stmt.where(allowed_origins.c.business_id == business_id)
    return (await conn.execute(stmt.limit(1))).first() is not None
