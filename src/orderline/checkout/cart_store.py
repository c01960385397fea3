"""SQL of server-side carts and their lines.

Every change of a cart starts with ``touch``: one UPDATE that checks the cart is still open
(and, when the caller sent one, at the version it read) and moves ``version`` on. It also
takes the cart's row lock until COMMIT, so the statements that follow in the same transaction
(reading the lines, counting them, writing one) never interleave with another change of the
same cart, nor with the checkout that converts it (``close_cart`` updates the same row).

Lines are shown by their variant's SKU, name and *current* price (a cart is not a price
promise); ``cart_lines.sku`` is only the SKU as it was added.

Rows come back typed: ``CartRow`` (what callers see of a cart), ``PricedCartLine`` and
``AvailableCartLine`` (a line with its variant now), and the small ``CartOwner`` and
``CartLineQuantity``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Select, bindparam, delete, exists, func, insert, literal, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from orderline.catalog.rules import ReservationStatus
from orderline.catalog.stock_store import held_sum
from orderline.catalog.tables import Product, Reservation, StockLevel, Variant
from orderline.checkout.tables import Cart, CartLine
from orderline.core.db import direct
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.orders.tables import Customer
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.store import BusinessSettings
from orderline.tenancy.tables import Business, Channel, Location

carts = table_of(Cart)
cart_lines = table_of(CartLine)
variants = table_of(Variant)
products = table_of(Product)
levels = table_of(StockLevel)
reservations = table_of(Reservation)
locations = table_of(Location)
businesses = table_of(Business)
channels = table_of(Channel)
customers = table_of(Customer)

OPEN = "open"
CONVERTED = "converted"
ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class CartRow(StoredRow):
    """What callers see of a cart: every column of ``carts`` but the token's hash, the
    business and what made it, in table order (the cart shown keeps that order of keys)."""

    id: uuid.UUID
    customer_id: uuid.UUID | None
    channel: str
    currency: str
    status: str
    version: int
    order_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


CART_COLUMNS = CartRow.columns()
CART_VIEW = [carts.c[name] for name in CART_COLUMNS]


@dataclass(frozen=True, slots=True)
class CartOwner:
    """The cart a buyer's token opens: its id and business."""

    id: uuid.UUID
    business_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class CartLineQuantity:
    """A cart's line of one variant: its id and quantity."""

    id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedCartLine(StoredRow):
    """A cart line with its variant now and its stock level at a location (``None`` when the
    variant was never stocked there): the columns of ``_lines_at``, in that order."""

    sku: str
    variant_id: uuid.UUID
    product_id: uuid.UUID
    name: str
    price_minor: int
    weight_grams: int
    quantity: int
    stock_level_id: uuid.UUID | None
    low_stock_threshold: int | None
    position: int
    location_id: uuid.UUID | None  # the location the stock level is at
    free_seen: int | None  # on hand less reserved there when read, unlocked (None: no level)


@dataclass(frozen=True, slots=True)
class CheckedCartLine(PricedCartLine):
    """A ``PricedCartLine`` read under a share lock on its variant's and product's rows, with
    whether either is archived (``priced_lines(..., check_archived=True)``)."""

    archived: bool

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls(**{**row, "archived": bool(row["archived"])})


@dataclass(frozen=True, slots=True)
class AvailableCartLine(PricedCartLine):
    """A ``PricedCartLine`` with what is available at the location (0 where never stocked),
    and whether its variant or product is archived (a checkout would refuse it)."""

    available: int
    archived: bool

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        # A sum may come back as PostgreSQL's numeric (a Decimal): the figure is whole units.
        return cls(**{**row, "available": int(row["available"]),
                      "archived": bool(row["archived"])})


# The buyer path's statements are built once, with bound parameters: SQLAlchemy then reuses
# their compiled form and cache key instead of building both again on every call (about 0.15
# ms of CPU per statement; see docs/benchmarks.md, "Statements built once").
_INSERT_CART = insert(carts).returning(*CART_VIEW)
_CART = select(*CART_VIEW).where(carts.c.business_id == bindparam("b_business"),
                                 carts.c.id == bindparam("b_cart"))
_LOCKED_CART = _CART.with_for_update()
_CART_OF_TOKEN = select(carts.c.id, carts.c.business_id).where(
    carts.c.token_hash == bindparam("b_token_hash"))


async def insert_cart(conn: AsyncConnection, values: dict[str, Any]) -> CartRow:
    return CartRow.from_row((await direct.execute(conn, _INSERT_CART, values)).one())


def _insert_if_referred() -> Any:
    """A new cart's INSERT that writes it only if the business has its channel and customer
    (when one is named): what ``new_cart_refs`` checks, in the INSERT itself."""
    names = [c.name for c in carts.c]
    values = select(*(bindparam(name, type_=carts.c[name].type) for name in names)).where(
        exists().where(channels.c.business_id == bindparam("business_id"),
                       channels.c.code == bindparam("channel")),
        bindparam("customer_id", type_=carts.c.customer_id.type).is_(None) | exists().where(
            customers.c.business_id == bindparam("business_id"),
            customers.c.id == bindparam("customer_id")))
    return insert(carts).from_select(names, values).returning(*CART_VIEW)


_INSERT_IF_REFERRED = _insert_if_referred()


async def insert_cart_if_referred(conn: AsyncConnection,
                                  values: dict[str, Any]) -> CartRow | None:
    """Write the cart (every column given) if the business has its channel and its customer
    (when one is named); None if not (``new_cart_refs`` tells which): one statement."""
    return CartRow.from_optional(
        (await direct.execute(conn, _INSERT_IF_REFERRED, values)).first())


_CHANNEL_AND_CUSTOMER = select(
    exists().where(channels.c.business_id == bindparam("business_id"),
                   channels.c.code == bindparam("channel")).label("channel"),
    exists().where(customers.c.business_id == bindparam("business_id"),
                   customers.c.id == bindparam("customer_id")).label("customer"),
    select(businesses.c.cart_token_key).where(businesses.c.id == bindparam("business_id"))
    .scalar_subquery().label("cart_token_key"))
_CART_TOKEN_KEY = select(businesses.c.cart_token_key).where(
    businesses.c.id == bindparam("b_business"))


@dataclass(frozen=True, slots=True)
class NewCartRefs:
    """What a new cart refers to: whether the business has the channel and the customer
    (True when none is given), and the key that signs its carts' tokens."""

    has_channel: bool
    has_customer: bool
    cart_token_key: str | None


async def new_cart_refs(conn: AsyncConnection, business_id: uuid.UUID, channel: str,
                        customer_id: uuid.UUID | None) -> NewCartRefs:
    """What a new cart refers to, in one statement."""
    row = (await direct.execute(conn, _CHANNEL_AND_CUSTOMER, {
        "business_id": business_id, "channel": channel, "customer_id": customer_id})).one()
    return NewCartRefs(has_channel=bool(row["channel"]),
                       has_customer=customer_id is None or bool(row["customer"]),
                       cart_token_key=row["cart_token_key"])


async def cart_token_key(conn: AsyncConnection, business_id: uuid.UUID) -> str | None:
    """The key that signs the business's cart tokens (None: no such business, or no key)."""
    return (await conn.execute(_CART_TOKEN_KEY, {"b_business": business_id})).scalar()


async def get_cart(conn: AsyncConnection, business_id: uuid.UUID,
                   cart_id: uuid.UUID) -> CartRow | None:
    found = await conn.execute(_CART, {"b_business": business_id, "b_cart": cart_id})
    return CartRow.from_optional(found.mappings().first())


async def lock_cart(conn: AsyncConnection, business_id: uuid.UUID,
                    cart_id: uuid.UUID) -> CartRow | None:
    """The cart, locked until this transaction ends (no lock on SQLite: one writer at a time)."""
    found = await conn.execute(_LOCKED_CART, {"b_business": business_id, "b_cart": cart_id})
    return CartRow.from_optional(found.mappings().first())


_LOCKED_CART_WITH_SETTINGS = (
    select(*CART_VIEW, *tenancy_store.SETTINGS)
    .join(businesses, businesses.c.id == carts.c.business_id)
    .where(carts.c.business_id == bindparam("b_business"), carts.c.id == bindparam("b_cart"))
    .with_for_update(of=carts))


async def lock_cart_with_settings(conn: AsyncConnection, business_id: uuid.UUID,
                                  cart_id: uuid.UUID
                                  ) -> tuple[CartRow, BusinessSettings] | None:
    """``lock_cart``, with its business's checkout settings read in the same statement."""
    row = (await direct.execute(conn, _LOCKED_CART_WITH_SETTINGS,
                                {"b_business": business_id, "b_cart": cart_id})).first()
    if row is None:
        return None
    return (CartRow(**{name: row[name] for name in CART_COLUMNS}),
            BusinessSettings.from_row(row))


async def find_by_token_hash(conn: AsyncConnection, token_hash: str) -> CartOwner | None:
    """The cart a buyer's token opens: its id and business."""
    row = (await conn.execute(_CART_OF_TOKEN, {"b_token_hash": token_hash})).first()
    return None if row is None else CartOwner(id=row.id, business_id=row.business_id)


def _touch_statement(*, at_version: bool) -> Any:
    conditions = [carts.c.id == bindparam("b_cart"),
                  carts.c.business_id == bindparam("b_business"), carts.c.status == OPEN]
    if at_version:
        conditions.append(carts.c.version == bindparam("b_version"))
    return (update(carts).where(*conditions)
            .values(version=carts.c.version + 1, updated_at=bindparam("b_now"))
            .returning(*CART_VIEW))


_TOUCH = _touch_statement(at_version=False)
_TOUCH_AT_VERSION = _touch_statement(at_version=True)


async def touch(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID, *,
                expected_version: int | None, now: datetime,
                values: dict[str, Any] | None = None) -> CartRow | None:
    """Move an open cart to its next version (writing ``values`` too) in one statement that
    checks it is open and, if ``expected_version`` is given, still at that version.

    Returns the cart as it now is, or None when nothing was changed (no such cart in this
    business, not open, or at another version: the caller reads the cart to tell which)."""
    params = {"b_cart": cart_id, "b_business": business_id, "b_now": now,
              "b_version": expected_version}
    stmt = _TOUCH if expected_version is None else _TOUCH_AT_VERSION
    if values:  # a status change (abandoning): not on the buyer's path
        return CartRow.from_optional(
            (await conn.execute(stmt.values(**values), params)).mappings().first())
    return CartRow.from_optional((await direct.execute(conn, stmt, params)).first())


async def close_cart(conn: AsyncConnection, cart_id: uuid.UUID, order_id: uuid.UUID,
                     now: datetime) -> bool:
    """Mark an open cart converted into ``order_id``; False if it was not open (already
    converted by a concurrent confirm, or abandoned)."""
    closed = await conn.execute(CLOSE_CART, {"b_cart": cart_id, "b_order": order_id,
                                             "b_now": now})
    return closed.scalar_one_or_none() is not None


CLOSE_CART = (update(carts).where(carts.c.id == bindparam("b_cart"), carts.c.status == OPEN)
              .values(status=CONVERTED, order_id=bindparam("b_order"),
                      version=carts.c.version + 1, updated_at=bindparam("b_now"))
              .returning(carts.c.id))


# --- lines -----------------------------------------------------------------------------------

async def line_of(conn: AsyncConnection, cart_id: uuid.UUID,
                  variant_id: uuid.UUID) -> CartLineQuantity | None:
    stmt = select(cart_lines.c.id, cart_lines.c.quantity).where(
        cart_lines.c.cart_id == cart_id, cart_lines.c.variant_id == variant_id)
    row = (await conn.execute(stmt)).first()
    return None if row is None else CartLineQuantity(id=row.id, quantity=row.quantity)


@dataclass(frozen=True, slots=True)
class LinePlan:
    """What adding units of a SKU to a cart depends on, read in one statement: the variant
    and whether it or its product is archived (under a share lock on both rows, as
    ``catalog.store.archived_skus_locked`` takes it, so an archive waits for this line), the
    cart's line of that variant (if any), how many lines the cart has and the next position,
    and the business's cap on units of one SKU."""

    variant_id: uuid.UUID
    archived: bool
    line: CartLineQuantity | None
    count: int
    next_position: int
    max_line_quantity: int


def _line_plan_statement() -> Select[Any]:
    def scalar(*columns: Any, of_variant: bool = False) -> Any:
        where = [cart_lines.c.cart_id == bindparam("cart_id")]
        if of_variant:
            where.append(cart_lines.c.variant_id == variants.c.id)
        return select(*columns).where(*where).scalar_subquery()

    return (select(
        variants.c.id, variants.c.archived_at,
        products.c.archived_at.label("product_archived_at"),
        scalar(cart_lines.c.id, of_variant=True).label("line_id"),
        scalar(cart_lines.c.quantity, of_variant=True).label("line_quantity"),
        scalar(func.count(cart_lines.c.id)).label("count"),
        scalar(func.max(cart_lines.c.position)).label("last_position"),
        select(businesses.c.max_line_quantity)
        .where(businesses.c.id == bindparam("business_id")).scalar_subquery()
        .label("max_line_quantity"))
        .join(products, products.c.id == variants.c.product_id)
        .where(variants.c.business_id == bindparam("business_id"),
               variants.c.sku == bindparam("sku"))
        .with_for_update(read=True))


_LINE_PLAN = _line_plan_statement()


async def line_plan(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID,
                    sku: str) -> LinePlan | None:
    """The plan for adding units of ``sku`` to the cart; None if the business has no such
    SKU."""
    row = (await direct.execute(conn, _LINE_PLAN, {"cart_id": cart_id, "sku": sku,
                                                   "business_id": business_id})).first()
    if row is None:
        return None
    line = (None if row["line_id"] is None
            else CartLineQuantity(id=row["line_id"], quantity=int(row["line_quantity"])))
    last = row["last_position"]
    return LinePlan(variant_id=row["id"],
                    archived=(row["archived_at"] is not None
                              or row["product_archived_at"] is not None),
                    line=line, count=int(row["count"]),
                    next_position=0 if last is None else int(last) + 1,
                    max_line_quantity=int(row["max_line_quantity"]))


_INSERT_LINE = insert(cart_lines)


async def insert_line(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await direct.execute(conn, _INSERT_LINE, values)


async def set_line_quantity(conn: AsyncConnection, line_id: uuid.UUID, quantity: int) -> None:
    await conn.execute(update(cart_lines).where(cart_lines.c.id == line_id)
                       .values(quantity=quantity))


async def delete_line(conn: AsyncConnection, line_id: uuid.UUID) -> None:
    await conn.execute(delete(cart_lines).where(cart_lines.c.id == line_id))


def _lines_at(business_id: Any, cart_id: Any, location_id: Any) -> Select[Any]:
    """The cart's lines with their variant now and its stock level at the location (the
    business's default location when None; None when the variant was never stocked there),
    in the order they were added. Values or bound parameters."""
    at: Any
    if location_id is None:
        at = (select(locations.c.id).where(locations.c.business_id == business_id,
                                           locations.c.is_default).scalar_subquery())
    elif isinstance(location_id, BindParameter):
        at = location_id
    else:
        at = literal(location_id, locations.c.id.type)
    return (select(variants.c.sku, variants.c.id.label("variant_id"), variants.c.product_id,
                   variants.c.name, variants.c.price_minor, variants.c.weight_grams,
                   cart_lines.c.quantity, levels.c.id.label("stock_level_id"),
                   variants.c.low_stock_threshold, cart_lines.c.position,
                   at.label("location_id"),
                   (levels.c.on_hand - levels.c.reserved).label("free_seen"))
            .select_from(cart_lines)
            .join(variants, variants.c.id == cart_lines.c.variant_id)
            .outerjoin(levels, (levels.c.variant_id == variants.c.id)
                       & (levels.c.location_id == at))
            .where(cart_lines.c.cart_id == cart_id, cart_lines.c.business_id == business_id)
            .order_by(cart_lines.c.position))


def _best_level_free() -> Any:
    """The most units free at any one of the variant's levels: where a checkout's line is
    held when the default location is short (``orders.service.allocate_lines``)."""
    other = levels.alias("any_level")
    held_there = (select(func.coalesce(func.sum(reservations.c.quantity), 0))
                  .where(reservations.c.stock_level_id == other.c.id,
                         reservations.c.status == ReservationStatus.ACTIVE.value,
                         reservations.c.expires_at > bindparam("b_now"))
                  .scalar_subquery())
    return (select(func.max(other.c.on_hand - held_there))
            .where(other.c.variant_id == variants.c.id).scalar_subquery())


def _with_availability(stmt: Select[Any], *, anywhere: bool) -> Select[Any]:
    at_level = levels.c.on_hand - held_sum(bindparam("b_now"))
    available = func.coalesce(_best_level_free() if anywhere else at_level, 0)
    product_archived = (select(products.c.archived_at)
                        .where(products.c.id == variants.c.product_id).scalar_subquery())
    archived = variants.c.archived_at.is_not(None) | product_archived.is_not(None)
    return stmt.add_columns(available.label("available"), archived.label("archived"))


_B_BUSINESS: BindParameter[Any] = bindparam("b_business")
_B_CART: BindParameter[Any] = bindparam("b_cart")
_B_LOCATION = bindparam("b_location", type_=locations.c.id.type)
# By location: a given one, or the default one (None).
_PRICED = {True: _lines_at(_B_BUSINESS, _B_CART, _B_LOCATION),
           False: _lines_at(_B_BUSINESS, _B_CART, None)}
# A checkout's start: at the default location, with whether each variant or its product is
# archived, under a share lock on both rows (as ``catalog.store.archived_skus_locked`` takes
# it: an archive waits for this checkout, and it for an archive that went first).
_CHECKED = (_PRICED[False].join(products, products.c.id == variants.c.product_id)
            .add_columns((variants.c.archived_at.is_not(None)
                          | products.c.archived_at.is_not(None)).label("archived"))
            .with_for_update(read=True, of=[variants, products]))
# At a given location, what is free there; else the most free at any one location.
_AVAILABLE = {given: _with_availability(stmt, anywhere=not given)
              for given, stmt in _PRICED.items()}


def _params(business_id: uuid.UUID, cart_id: uuid.UUID, location_id: uuid.UUID | None,
            now: datetime | None = None) -> dict[str, Any]:
    return {"b_business": business_id, "b_cart": cart_id, "b_location": location_id,
            "b_now": now}


async def priced_lines(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID,
                       location_id: uuid.UUID | None, *,
                       check_archived: bool = False) -> list[PricedCartLine]:
    """One statement: sku, variant_id, product_id, name, price_minor, weight_grams, quantity,
    stock_level_id, low_stock_threshold, position and location_id of each line, by position,
    at the location (the business's default location when None). ``check_archived`` (at the
    default location only) reads ``CheckedCartLine``s: each variant and product under a share
    lock, and whether either is archived."""
    if check_archived:
        assert location_id is None
        checked = await direct.execute(conn, _CHECKED, _params(business_id, cart_id, None))
        return [CheckedCartLine.from_row(r) for r in checked]
    found = await direct.execute(conn, _PRICED[location_id is not None],
                                 _params(business_id, cart_id, location_id))
    return [PricedCartLine.from_row(r) for r in found]


async def lines_with_availability(conn: AsyncConnection, business_id: uuid.UUID,
                                  cart_id: uuid.UUID, location_id: uuid.UUID | None,
                                  now: datetime) -> list[AvailableCartLine]:
    """``priced_lines`` plus ``available`` and whether the variant or its product is
    archived. ``available`` is on hand less what active, unexpired reservations hold (0 where
    never stocked): at the location when one is given; else the most at any one location of
    the business, which a checkout can hold (the default location first, else the one with
    the most free units)."""
    found = await direct.execute(conn, _AVAILABLE[location_id is not None],
                                 _params(business_id, cart_id, location_id, now))
    return [AvailableCartLine.from_row(r) for r in found]
