"""Who is asking about one order: its merchant (an API key) or its buyer (the order's
access token, ``oat_...``, given once when the order was placed).

A wrong token, another order's token, or another business's key all get 404, so a stranger
cannot tell whether the order exists; no credential at all is 401.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from orderline.core.errors import NotFound, Unauthorized
from orderline.core.runtime import Runtime
from orderline.orders import store as order_store
from orderline.orders.service import hash_access_token
from orderline.orders.store import OrderAccess
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal, Scope

ACCESS_TOKEN_PREFIX = "oat_"
BUYER_ACTOR = "buyer"


@dataclass(frozen=True, slots=True)
class OrderCaller:
    business_id: uuid.UUID
    order_id: uuid.UUID
    principal: Principal | None  # None: the order's buyer

    @property
    def is_buyer(self) -> bool:
        return self.principal is None

    @property
    def actor(self) -> str:
        return BUYER_ACTOR if self.principal is None else self.principal.actor

    @property
    def key_id(self) -> uuid.UUID | None:
        return None if self.principal is None else self.principal.key_id

    def require(self, scope: Scope) -> None:
        """The buyer may do what the route offers buyers; a key needs the scope."""
        if self.principal is not None:
            self.principal.require(scope)


async def order_access(runtime: Runtime, order_id: uuid.UUID, *, bearer: str | None,
                       access_token: str | None = None,
                       key_scope: Scope | None = None) -> tuple[OrderCaller, OrderAccess]:
    """Who asks about the order, and its access row (business, token hash, last event
    sequence). The buyer's token comes as ``access_token`` or as a bearer token starting
    ``oat_``; any other bearer token is an API key, which must hold ``key_scope`` if given
    (checked before the order is looked up)."""
    if access_token is None and bearer is not None and bearer.startswith(ACCESS_TOKEN_PREFIX):
        access_token, bearer = bearer, None
    principal: Principal | None = None
    if access_token is None:
        if not bearer:
            raise Unauthorized("Send your API key as 'Authorization: Bearer <key>', or the "
                               "order's access token (oat_...) as a bearer token, or as "
                               "'?access_token=oat_...' on a live stream.")
        principal = await tenancy.authenticate(runtime, bearer)
        if key_scope is not None:
            principal.require(key_scope)
    async with runtime.db.lookup() as conn:
        row = await order_store.order_access(conn, order_id)
    if principal is not None:
        if row is None or row.business_id != principal.business_id:
            raise NotFound("order", order_id)
        return OrderCaller(business_id=principal.business_id, order_id=order_id,
                           principal=principal), row
    # Hash even when there is no order, so both refusals take the same time.
    given = hash_access_token(access_token or "")
    stored = (row.access_token_hash if row is not None else None) or ""
    if row is None or not hmac.compare_digest(given.encode(), stored.encode()):
        raise NotFound("order", order_id)
    return OrderCaller(business_id=row.business_id, order_id=order_id, principal=None), row


async def order_caller(runtime: Runtime, order_id: uuid.UUID, *,
                       bearer: str | None) -> OrderCaller:
    caller, _ = await order_access(runtime, order_id, bearer=bearer)
    return caller


# An order access token as the order page's link carries it: ``oat_`` and URL-safe characters.
_TOKEN_LIMIT = 200


async def order_caller_for_token(runtime: Runtime, token: str) -> OrderCaller:
    """The buyer of the order whose access token is ``token`` (the order page's link carries
    the token alone). A made-up, malformed or revoked token is ``NotFound``, as a wrong token
    is on every other buyer route; the stored hash is compared in constant time, as
    ``order_access`` does, after the unique index found the row."""
    well_formed = token.startswith(ACCESS_TOKEN_PREFIX) and len(token) <= _TOKEN_LIMIT
    given = hash_access_token(token if well_formed else "")
    row = None
    if well_formed:
        async with runtime.db.read() as conn:
            row = await order_store.order_access_by_token_hash(conn, given)
    stored = (row.access_token_hash if row is not None else None) or ""
    if row is None or not hmac.compare_digest(given.encode(), stored.encode()):
        raise NotFound("order", "(this link)")
    return OrderCaller(business_id=row.business_id, order_id=row.id, principal=None)

