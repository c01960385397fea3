"""Server-side carts: what a buyer means to order, before checkout.

Who may reach a cart (``CartCaller``):

- a merchant API key (a storefront backend, a chat bot): any cart of its business, ``read``
  to look and ``write`` to change; creating a cart always needs a key with ``write``, since
  only the key says which business the cart belongs to;
- the cart's own token (``X-Cart-Token: ct_...``, shown once when the cart is created and
  stored as its SHA-256; it names its cart, signed with the business's key, so a server
  process checks it without a lookup: ``cart_tokens``): that one cart only, to look and to
  change. A token never opens another cart (404, as for another business's cart).

A cart promises neither price nor stock: each line shows the variant's current price and a
non-binding ``available`` figure at the business's default location (carts have no location
of their own), and ``preview`` is the pricing engine's quote for the lines alone (no coupons,
shipping or tax: those come with checkout). Stock is held only by a checkout.

Every change is one transaction that first moves the cart's ``version`` on with a statement
that checks it is open (see ``cart_store.touch``), so a converted or abandoned cart refuses
with ``cart_closed`` and nothing changes; ``If-Match`` makes a stale change fail with
``version_conflict``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import store as catalog_store
from orderline.catalog.archiving import refuse_these_archived
from orderline.checkout import cart_store, cart_tokens
from orderline.checkout.cart_store import AvailableCartLine, CartLineQuantity, CartRow
from orderline.core.errors import (
    CartClosed,
    NotFound,
    QuantityAboveLimit,
    Unauthorized,
    UnknownChannel,
    UnknownSku,
    ValidationFailed,
    VersionConflict,
)
from orderline.core.limits import MAX_LINE_QUANTITY
from orderline.core.runtime import Runtime
from orderline.orders.rules import MAX_LINES_PER_ORDER, line_total
from orderline.pricing.engine import PriceLine, PricingInput, price
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope, hash_api_key

CART_TOKEN_PREFIX = cart_tokens.PREFIX


def new_cart_token() -> str:
    """The buyer's key to one cart: random, shown once when the cart is created."""
    return CART_TOKEN_PREFIX + secrets.token_urlsafe(24)


def hash_cart_token(token: str) -> str:
    return hash_api_key(token)


@dataclass(frozen=True, slots=True)
class CartCaller:
    """Who is reaching a cart: a merchant's API key (``principal``), or a buyer holding the
    token of the one cart ``cart_id``."""

    business_id: uuid.UUID
    cart_id: uuid.UUID | None
    principal: Principal | None

    @classmethod
    def merchant(cls, principal: Principal) -> CartCaller:
        return cls(business_id=principal.business_id, cart_id=None, principal=principal)

    @property
    def actor(self) -> str:
        """Who made a change, for history entries: the key's prefix, or the buyer's cart."""
        if self.principal is not None:
            return self.principal.actor
        return f"cart_token:{self.cart_id}"

    def require(self, *, write: bool) -> None:
        """A key needs the scope (``write`` to change, else ``read``); a cart token may read
        and change its cart (``reach`` also checks which cart)."""
        if self.principal is not None:
            self.principal.require(Scope.WRITE if write else Scope.READ)

    def reach(self, cart_id: uuid.UUID, *, write: bool) -> None:
        """Refuse unless this caller may reach ``cart_id``: a token of another cart names
        nothing (404, like another business's cart), and a key needs its scope."""
        if self.cart_id is not None and self.cart_id != cart_id:
            raise NotFound("cart", cart_id)
        self.require(write=write)


async def caller_for_token(runtime: Runtime, token: str | None) -> CartCaller:
    """The buyer holding ``token``: 401 when there is none or it opens no cart. A signed
    token is checked with its business's key (``cart_tokens``); another is looked up."""
    if not token:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>', or the cart's "
                           "token as 'X-Cart-Token: ct_...'.")
    if not token.startswith(CART_TOKEN_PREFIX):
        raise Unauthorized("This cart token is not one the API gave out.")
    signed = cart_tokens.read_signed(token)
    if signed is not None:
        key = await _cart_token_key(runtime, signed.business_id)
        if key is None or not cart_tokens.signature_holds(key, signed):
            raise Unauthorized("This cart token is not one the API gave out.")
        return CartCaller(business_id=signed.business_id, cart_id=signed.cart_id,
                          principal=None)
    token_hash = hash_cart_token(token)
    known = _token_owners.get(token_hash)
    if known is None:
        async with runtime.db.lookup() as conn:
            row = await cart_store.find_by_token_hash(conn, token_hash)
        if row is None:
            raise Unauthorized("This cart token is not one the API gave out.")
        known = (row.business_id, row.id)
        _remember(_token_owners, token_hash, known)
    return CartCaller(business_id=known[0], cart_id=known[1], principal=None)


async def _cart_token_key(runtime: Runtime, business_id: uuid.UUID) -> str | None:
    key = _token_keys.get(business_id)
    if key is None:
        async with runtime.db.lookup() as conn:
            key = await cart_store.cart_token_key(conn, business_id)
        if key is not None:
            _remember(_token_keys, business_id, key)
    return key


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Keep ``value`` in one of this module's caches, dropping its oldest entry when full."""
    if len(cache) >= _TOKEN_CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


# A business's token key never changes, so each process reads it once.
_token_keys: dict[uuid.UUID, str] = {}


# Which cart a token opens never changes (its cart's status is checked by every use), so the
# answer is kept in this process: a buyer's requests skip that lookup after the first.
_TOKEN_CACHE_SIZE = 10_000
_token_owners: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}


# --- the cart as callers see it --------------------------------------------------------------

async def _view(conn: AsyncConnection, business_id: uuid.UUID, cart: CartRow,
                now: datetime) -> dict[str, Any]:
    """The cart with its lines at the default location: one statement."""
    return _shaped(cart, await cart_store.lines_with_availability(conn, business_id, cart.id,
                                                                  None, now))


def _shaped(cart: CartRow, rows: list[AvailableCartLine]) -> dict[str, Any]:
    lines = [{"sku": r.sku, "name": r.name, "product_id": r.product_id,
              "quantity": r.quantity, "unit_price": r.price_minor,
              "line_total": line_total(r.price_minor, r.quantity),
              "available": r.available, "in_stock": r.available >= r.quantity,
              "archived": r.archived} for r in rows]
    preview = price(PricingInput(currency=cart.currency, lines=tuple(
        PriceLine(sku=r.sku, product_id=str(r.product_id), unit_price=r.price_minor,
                  quantity=r.quantity, weight_grams=r.weight_grams) for r in rows)))
    return {**cart.as_dict(), "lines": lines, "subtotal": sum(x["line_total"] for x in lines),
            "preview": preview.as_dict()}


async def _shown(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID,
                 now: datetime) -> dict[str, Any]:
    cart = await cart_store.get_cart(conn, business_id, cart_id)
    if cart is None:
        raise NotFound("cart", cart_id)
    return await _view(conn, business_id, cart, now)


async def create_cart(runtime: Runtime, principal: Principal, *, channel: str,
                      customer_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A new, empty cart; the answer holds its token, which is never shown again."""
    principal.require(Scope.WRITE)
    business_id = principal.business_id
    now = runtime.clock.now()

    def row(cart_id: uuid.UUID, token: str) -> dict[str, Any]:
        return {"id": cart_id, "business_id": business_id,
                "token_hash": hash_cart_token(token), "customer_id": customer_id,
                "channel": channel, "currency": principal.currency, "status": cart_store.OPEN,
                "version": 1, "order_id": None, "created_at": now, "updated_at": now,
                "made_by": None}

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        cart_id = uuid.uuid4()
        known_key = _token_keys.get(business_id)
        if known_key is not None:  # the usual case: the INSERT checks what the cart names
            token = cart_tokens.signed_token(known_key, business_id, cart_id)
            written = await cart_store.insert_cart_if_referred(conn, row(cart_id, token))
            if written is not None:
                return {**_shaped(written, []), "token": token}  # no lines to read yet
        refs = await cart_store.new_cart_refs(conn, business_id, channel, customer_id)
        if not refs.has_channel:
            raise UnknownChannel(f"Channel '{channel}' is not set up for this business; "
                                 "add it with POST /v1/channels.", details={"channel": channel})
        if not refs.has_customer:
            raise NotFound("customer", customer_id)
        if refs.cart_token_key is None:
            token = new_cart_token()
        else:
            _remember(_token_keys, business_id, refs.cart_token_key)
            token = cart_tokens.signed_token(refs.cart_token_key, business_id, cart_id)
        cart = await cart_store.insert_cart(conn, row(cart_id, token))
        return {**_shaped(cart, []), "token": token}  # a new cart has no lines to read

    return await runtime.db.run(work)


@dataclass(frozen=True, slots=True)
class CartLineToAdd:
    variant_id: uuid.UUID
    sku: str
    quantity: int


async def create_cart_in(conn: AsyncConnection, *, business_id: uuid.UUID, token: str,
                         channel: str, currency: str, customer_id: uuid.UUID | None,
                         lines: list[CartLineToAdd], now: datetime, made_by: str) -> CartRow:
    """A new open cart with these lines, in the caller's transaction (a draft order's link
    makes one, with a token the link gives): the caller checked the lines already.
    ``made_by`` names the caller, whose checkout hooks the cart's confirm runs."""
    cart = await cart_store.insert_cart(conn, {
        "id": uuid.uuid4(), "business_id": business_id, "token_hash": hash_cart_token(token),
        "customer_id": customer_id, "channel": channel, "currency": currency,
        "status": cart_store.OPEN, "version": 1, "order_id": None, "created_at": now,
        "updated_at": now, "made_by": made_by})
    for position, line in enumerate(lines):
        await cart_store.insert_line(conn, {
            "id": uuid.uuid4(), "business_id": business_id, "cart_id": cart.id,
            "variant_id": line.variant_id, "sku": line.sku, "quantity": line.quantity,
            "position": position, "added_at": now})
    return cart


async def lock_open_cart(conn: AsyncConnection, business_id: uuid.UUID,
                         cart_id: uuid.UUID) -> bool:
    """Lock the cart until the transaction ends; whether it is still open."""
    cart = await cart_store.lock_cart(conn, business_id, cart_id)
    return cart is not None and cart.status == cart_store.OPEN


async def get_cart(runtime: Runtime, caller: CartCaller, cart_id: uuid.UUID) -> dict[str, Any]:
    caller.reach(cart_id, write=False)
    async with runtime.db.read() as conn:
        return await _shown(conn, caller.business_id, cart_id, runtime.clock.now())


# --- changes ---------------------------------------------------------------------------------

async def _open_for_change(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID,
                           *, expected_version: int | None, now: datetime,
                           values: dict[str, Any] | None = None) -> CartRow:
    """Move the cart's version on (and lock it to this transaction) and return it as it now
    is, or say why not."""
    moved = await cart_store.touch(conn, business_id, cart_id,
                                   expected_version=expected_version, now=now, values=values)
    if moved is not None:
        return moved
    cart = await cart_store.get_cart(conn, business_id, cart_id)
    if cart is None:
        raise NotFound("cart", cart_id)
    if cart.status != cart_store.OPEN:
        raise CartClosed(f"This cart is {cart.status}; it can no longer change.",
                         details={"cart_id": str(cart_id), "status": cart.status,
                                  "order_id": cart.order_id})
    raise VersionConflict(
        f"The cart changed since you read it (your version {expected_version}, current "
        f"{cart.version}). Fetch it again and retry.",
        details={"expected_version": expected_version, "current_version": cart.version})


Change = Callable[[AsyncConnection], Awaitable[None]]


async def _change(runtime: Runtime, caller: CartCaller, cart_id: uuid.UUID, *,
                  expected_version: int | None, change: Change) -> dict[str, Any]:
    """One transaction: open the cart for change, apply ``change``, answer the cart as it now
    is. A refusal anywhere rolls the version back with everything else."""
    caller.reach(cart_id, write=True)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        # The cart row as the version moved on: a line change leaves its columns as they are.
        cart = await _open_for_change(conn, caller.business_id, cart_id,
                                      expected_version=expected_version, now=now)
        await change(conn)
        return await _view(conn, caller.business_id, cart, now)

    return await runtime.db.run(work)


async def _variant(conn: AsyncConnection, business_id: uuid.UUID, sku: str) -> RowMapping:
    variant = await catalog_store.get_variant_by_sku(conn, business_id, sku)
    if variant is None:
        raise UnknownSku(f"SKU {sku} is not in this business's catalog.",
                         details={"unknown_skus": [sku]})
    return variant


async def _check_quantity(conn: AsyncConnection, business_id: uuid.UUID, sku: str,
                          quantity: int) -> None:
    business = await tenancy_store.get_business(conn, business_id)
    assert business is not None  # the cart's business, whose row the cart references
    _refuse_above(int(business["max_line_quantity"]), sku, quantity)


def _refuse_above(max_line_quantity: int, sku: str, quantity: int) -> None:
    limit = min(max_line_quantity, MAX_LINE_QUANTITY)
    if quantity > limit:
        raise QuantityAboveLimit(
            f"At most {limit} units of one SKU per order; {sku} would have {quantity}.",
            details={"sku": sku, "max_line_quantity": limit, "quantity": quantity})


async def _line(conn: AsyncConnection, business_id: uuid.UUID, cart_id: uuid.UUID,
                sku: str) -> CartLineQuantity:
    """The cart's line of ``sku``: unknown_sku if no such SKU, 404 if not in this cart."""
    variant = await _variant(conn, business_id, sku)
    line = await cart_store.line_of(conn, cart_id, variant["id"])
    if line is None:
        raise NotFound("cart_line", sku)
    return line


async def add_line(runtime: Runtime, caller: CartCaller, cart_id: uuid.UUID, *, sku: str,
                   quantity: int, expected_version: int | None = None) -> dict[str, Any]:
    """Add ``quantity`` units of ``sku``: a new line at the end, or more of the line there.
    An archived SKU (or one of an archived product) is refused with ``variant_archived``."""
    if quantity < 1:
        raise ValidationFailed("Quantity must be at least 1.", details={"quantity": quantity})
    business_id = caller.business_id
    now = runtime.clock.now()

    async def change(conn: AsyncConnection) -> None:
        # The variant under a share lock (an archive of it or its product waits for this
        # line), and the cart's lines, whose row ``touch`` locked: they cannot change until
        # COMMIT.
        plan = await cart_store.line_plan(conn, business_id, cart_id, sku)
        if plan is None:
            raise UnknownSku(f"SKU {sku} is not in this business's catalog.",
                             details={"unknown_skus": [sku]})
        refuse_these_archived([sku] if plan.archived else [])
        await runtime.checkpoints.reach("cart.variant_checked")
        line = plan.line
        total = quantity + (line.quantity if line is not None else 0)
        _refuse_above(plan.max_line_quantity, sku, total)
        if line is not None:
            await cart_store.set_line_quantity(conn, line.id, total)
            return
        if plan.count >= MAX_LINES_PER_ORDER:
            raise ValidationFailed(f"A cart may have at most {MAX_LINES_PER_ORDER} lines.",
                                   details={"field": "lines", "max": MAX_LINES_PER_ORDER})
        await cart_store.insert_line(conn, {
            "id": uuid.uuid4(), "business_id": business_id, "cart_id": cart_id,
            "variant_id": plan.variant_id, "sku": sku, "quantity": total,
            "position": plan.next_position, "added_at": now})

    return await _change(runtime, caller, cart_id, expected_version=expected_version,
                         change=change)


async def set_line(runtime: Runtime, caller: CartCaller, cart_id: uuid.UUID, *, sku: str,
                   quantity: int, expected_version: int | None = None) -> dict[str, Any]:
    """Set the quantity of the cart's line of ``sku`` (the line keeps its place)."""
    if quantity < 1:
        raise ValidationFailed("Quantity must be at least 1; remove the line instead.",
                               details={"quantity": quantity})
    business_id = caller.business_id

    async def change(conn: AsyncConnection) -> None:
        line = await _line(conn, business_id, cart_id, sku)
        await _check_quantity(conn, business_id, sku, quantity)
        await cart_store.set_line_quantity(conn, line.id, quantity)

    return await _change(runtime, caller, cart_id, expected_version=expected_version,
                         change=change)


async def remove_line(runtime: Runtime, caller: CartCaller, cart_id: uuid.UUID, *, sku: str,
                      expected_version: int | None = None) -> dict[str, Any]:
    business_id = caller.business_id

    async def change(conn: AsyncConnection) -> None:
        line = await _line(conn, business_id, cart_id, sku)
        await cart_store.delete_line(conn, line.id)

    return await _change(runtime, caller, cart_id, expected_version=expected_version,
                         change=change)


async def abandon_cart(runtime: Runtime, caller: CartCaller, cart_id: uuid.UUID, *,
                       expected_version: int | None = None) -> dict[str, Any]:
    """Give up an open cart: it can no longer change, nor be checked out. Abandoning an
    abandoned cart answers it as it is; a converted cart refuses with ``cart_closed``."""
    caller.reach(cart_id, write=True)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        cart = await cart_store.get_cart(conn, caller.business_id, cart_id)
        if cart is not None and cart.status == cart_store.ABANDONED:
            return await _view(conn, caller.business_id, cart, now)
        abandoned = await _open_for_change(conn, caller.business_id, cart_id,
                                           expected_version=expected_version, now=now,
                                           values={"status": cart_store.ABANDONED})
        return await _view(conn, caller.business_id, abandoned, now)

    return await runtime.db.run(work)
