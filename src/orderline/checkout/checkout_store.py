"""SQL for checkouts: write one, lock it with its cart and its business's settings, move its
status with a conditional UPDATE, and find the lapsed ones.

Rows come back typed: ``CheckoutRow`` (every column of ``checkouts``) and, from ``load``,
``CheckoutWithCart`` (that row with its cart's state and the business's ``BusinessSettings``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import String, bindparam, case, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.checkout import cart_store
from orderline.checkout.tables import Cart, Checkout
from orderline.core.db import direct
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.orders.service import ChannelFunnel
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import order_number_sequence_name
from orderline.tenancy.store import BusinessSettings
from orderline.tenancy.tables import Business

checkouts = table_of(Checkout)
carts = table_of(Cart)
businesses = table_of(Business)

OPEN = "open"
CONVERTED = "converted"
EXPIRED = "expired"
SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class CheckoutRow(StoredRow):
    """A checkout as stored: every column of ``checkouts``, in table order."""

    id: uuid.UUID
    business_id: uuid.UUID
    cart_id: uuid.UUID
    cart_version: int
    status: str
    customer_name: str
    customer_phone: str | None
    customer_email: str | None
    customer_id: uuid.UUID
    address: dict[str, Any]
    zone_id: uuid.UUID
    shipping_method_id: uuid.UUID
    coupon_codes: list[str]
    payment_method: str
    location_id: uuid.UUID
    currency: str
    quote: dict[str, Any]
    total: int
    prices_validated_at: datetime
    expires_at: datetime
    order_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    channel: str


CHECKOUT_COLUMNS = CheckoutRow.columns()


@dataclass(frozen=True, slots=True)
class CheckoutWithCart(CheckoutRow):
    """What ``load`` reads in one statement: the checkout (with its cart's channel), its
    cart's status, version, customer and maker, and the business's checkout settings."""

    cart_status: str
    current_cart_version: int
    cart_customer_id: uuid.UUID | None
    cart_made_by: str | None  # what made the cart (``carts.made_by``), if not /v1/carts
    settings: BusinessSettings

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls(**{name: row[name] for name in CHECKOUT_COLUMNS},
                   cart_status=row["cart_status"],
                   current_cart_version=row["current_cart_version"],
                   cart_customer_id=row["cart_customer_id"],
                   cart_made_by=row["cart_made_by"],
                   settings=BusinessSettings.from_row(row))


@dataclass(frozen=True, slots=True)
class LapsedCheckout:
    """An open checkout past its deadline (``lapsed_open``)."""

    id: uuid.UUID
    business_id: uuid.UUID


# The buyer path's statements are built once, with bound parameters (see cart_store).
_INSERT = insert(checkouts)


async def insert_checkout(conn: AsyncConnection, row: CheckoutRow) -> None:
    await conn.execute(_INSERT, row.as_dict())


async def insert_superseding(conn: AsyncConnection, row: CheckoutRow) -> list[uuid.UUID]:
    """Write the cart's new checkout and supersede its open ones (whose ids come back: their
    stock is the caller's to release); one statement on PostgreSQL, where the UPDATE does not
    see the row its WITH writes."""
    if conn.dialect.name != "postgresql":  # SQLite writes no rows from a WITH
        earlier = await supersede_open(conn, row.cart_id, row.created_at)
        await insert_checkout(conn, row)
        return earlier
    values = {f"c_{name}": value for name, value in row.as_dict().items()}
    found = await direct.execute(conn, _INSERT_SUPERSEDING, {
        **values, "b_cart": row.cart_id, "b_now": row.created_at})
    return found.scalars()


async def load(conn: AsyncConnection, business_id: uuid.UUID, checkout_id: uuid.UUID, *,
               lock: bool = False) -> CheckoutWithCart | None:
    """The checkout with its cart's status, version and customer, and the business's checkout
    settings: one statement. ``lock`` takes the checkout's and the cart's row locks, which
    serialise every confirm of that cart."""
    found = await conn.execute(_LOCKED_LOAD if lock else _LOAD,
                               {"b_business": business_id, "b_checkout": checkout_id})
    return CheckoutWithCart.from_optional(found.mappings().first())


_LOAD = (select(checkouts, carts.c.status.label("cart_status"),
                carts.c.version.label("current_cart_version"),
                carts.c.customer_id.label("cart_customer_id"),
                carts.c.made_by.label("cart_made_by"), *tenancy_store.SETTINGS)
         .join(carts, carts.c.id == checkouts.c.cart_id)
         .join(businesses, businesses.c.id == checkouts.c.business_id)
         .where(checkouts.c.business_id == bindparam("b_business"),
                checkouts.c.id == bindparam("b_checkout")))
_LOCKED_LOAD = _LOAD.with_for_update(of=[checkouts, carts])
# A confirm's load also takes the business's next order number from its sequence (NULL when
# the sequence is missing): a round trip less, at the cost of a gap in the numbers for each
# confirm refused after it (numbers are unique and increasing, not gapless: see
# ``orders.store.next_order_sequence``).
_CONFIRM_LOAD = _LOCKED_LOAD.add_columns(
    func.nextval(func.to_regclass(bindparam("b_sequence", type_=String))).label("taken"))


async def load_to_confirm(conn: AsyncConnection, business_id: uuid.UUID,
                          checkout_id: uuid.UUID) -> tuple[CheckoutWithCart | None, int | None]:
    """``load`` with both locks, and on PostgreSQL the business's next order number (None on
    SQLite, or when the business's sequence is missing): one statement."""
    if conn.dialect.name != "postgresql":
        return await load(conn, business_id, checkout_id, lock=True), None
    found = (await direct.execute(conn, _CONFIRM_LOAD, {
        "b_business": business_id, "b_checkout": checkout_id,
        "b_sequence": order_number_sequence_name(business_id)})).first()
    if found is None:
        return None, None
    return CheckoutWithCart.from_row(found), found["taken"]


async def open_of_cart(conn: AsyncConnection, business_id: uuid.UUID,
                       cart_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the cart's open checkout (at most one: a newer one supersedes it)."""
    stmt = (select(checkouts.c.id)
            .where(checkouts.c.business_id == business_id, checkouts.c.cart_id == cart_id,
                   checkouts.c.status == OPEN)
            .order_by(checkouts.c.created_at.desc()).limit(1))
    return (await conn.execute(stmt)).scalar_one_or_none()


async def supersede_open(conn: AsyncConnection, cart_id: uuid.UUID,
                         now: datetime) -> list[uuid.UUID]:
    """Close the cart's open checkouts (a new one replaces them); returns their ids."""
    return list((await conn.execute(_SUPERSEDE, {"b_cart": cart_id, "b_now": now})).scalars())


_SUPERSEDE = (update(checkouts)
              .where(checkouts.c.cart_id == bindparam("b_cart"), checkouts.c.status == OPEN)
              .values(status=SUPERSEDED, updated_at=bindparam("b_now"),
                      version=checkouts.c.version + 1)
              .returning(checkouts.c.id))


_INSERT_SUPERSEDING = _SUPERSEDE.add_cte(insert(checkouts).values(
    {c.name: bindparam(f"c_{c.name}", type_=c.type) for c in checkouts.c}).cte("written"))


async def update_open(conn: AsyncConnection, checkout_id: uuid.UUID, values: dict[str, Any],
                      now: datetime) -> bool:
    stmt = (update(checkouts)
            .where(checkouts.c.id == checkout_id, checkouts.c.status == OPEN)
            .values(**values, updated_at=now, version=checkouts.c.version + 1)
            .returning(checkouts.c.id))
    return (await conn.execute(stmt)).first() is not None


async def convert(conn: AsyncConnection, checkout_id: uuid.UUID, *, cart_id: uuid.UUID,
                  order_id: uuid.UUID, quote: dict[str, Any], total: int,
                  now: datetime) -> bool:
    """The checkout became this order, and its cart is converted into it (the confirm holds
    both rows' locks): one statement on PostgreSQL. False if the cart was not open."""
    values = {"b_checkout": checkout_id, "b_order": order_id, "b_quote": quote,
              "b_total": total, "b_now": now, "b_cart": cart_id}
    if conn.dialect.name == "postgresql":
        return (await direct.execute(conn, _CONVERT_WITH_CART, values)).first() is not None
    await conn.execute(_CONVERT, values)  # SQLite writes no rows from a WITH
    return await cart_store.close_cart(conn, cart_id, order_id, now)


_CONVERT = (update(checkouts).where(checkouts.c.id == bindparam("b_checkout")).values(
    status=CONVERTED, order_id=bindparam("b_order"), quote=bindparam("b_quote"),
    total=bindparam("b_total"), prices_validated_at=bindparam("b_now"),
    updated_at=bindparam("b_now"), version=checkouts.c.version + 1))
_CONVERT_WITH_CART = cart_store.CLOSE_CART.add_cte(_CONVERT.cte("converted"))


async def lapsed_open(conn: AsyncConnection, now: datetime,
                      limit: int) -> list[LapsedCheckout]:
    stmt = (select(checkouts.c.id, checkouts.c.business_id)
            .where(checkouts.c.status == OPEN, checkouts.c.expires_at <= now)
            .order_by(checkouts.c.expires_at).limit(limit))
    return [LapsedCheckout(id=r.id, business_id=r.business_id)
            for r in await conn.execute(stmt)]


async def expire_if_lapsed(conn: AsyncConnection, checkout_id: uuid.UUID,
                           now: datetime) -> bool:
    stmt = (update(checkouts)
            .where(checkouts.c.id == checkout_id, checkouts.c.status == OPEN,
                   checkouts.c.expires_at <= now)
            .values(status=EXPIRED, updated_at=now, version=checkouts.c.version + 1)
            .returning(checkouts.c.id))
    return (await conn.execute(stmt)).first() is not None


async def funnel_by_channel(conn: AsyncConnection, business_id: uuid.UUID,
                            created_from: datetime | None, created_to: datetime | None
                            ) -> dict[str, ChannelFunnel]:
    """By channel: the carts whose checkout started in the period, and those converted into
    an order. A cart that started several counts once: each new checkout of a cart supersedes
    the one before, so a cart's checkouts but its last are ``superseded``, and its last one is
    the one counted (in the period it started). One pass over the period's checkouts with no
    join and no DISTINCT; on PostgreSQL an index-only scan of ``ix_checkouts_business_created``
    (which includes the channel and status)."""
    stmt = (select(checkouts.c.channel,
                   func.coalesce(func.sum(case((checkouts.c.status != SUPERSEDED, 1),
                                               else_=0)), 0).label("started"),
                   func.coalesce(func.sum(case((checkouts.c.status == CONVERTED, 1),
                                               else_=0)), 0).label("placed"))
            .where(checkouts.c.business_id == business_id)
            .group_by(checkouts.c.channel))
    if created_from is not None:
        stmt = stmt.where(checkouts.c.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(checkouts.c.created_at < created_to)
    return {r.channel: ChannelFunnel(checkouts_started=int(r.started),
                                     orders_placed=int(r.placed))
            for r in await conn.execute(stmt)}
