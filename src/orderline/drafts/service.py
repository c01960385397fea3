"""The merchant's draft orders: build one (lines, buyer, delivery address, shipping, coupons,
way to pay), change it freely, see it priced, list them, cancel one.

Reached with an API key (``write`` to change, ``read`` to look) or a staff member's console
session, like orders. Each change is one transaction that first moves the draft's version on
with a statement that checks the draft may still change (``store.touch``): a draft whose link
was opened, or that is completed or cancelled, refuses with ``draft_order_closed``; ``If-Match``
makes a stale change fail with ``version_conflict``. Every change writes a
``draft_order.created``/``draft_order.updated`` event to the outbox and an entry in the audit
log, in the same transaction.

A draft holds no stock: each line shows a non-binding ``available`` figure at the business's
default location, as a cart's does. It is priced by the one pricing engine, as a checkout is
(``checkout_pricing.price_rows``): with shipping and tax once it has a delivery address the
business delivers to, and with its coupons. A price the engine refuses (a coupon that does not
apply, an address the business does not deliver to) does not hide the draft: its lines are
priced alone and ``pricing_problem`` says why, so the merchant can fix it while editing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.catalog import store as catalog_store
from orderline.catalog.archiving import refuse_archived
from orderline.checkout.cart_store import AvailableCartLine
from orderline.checkout.checkout_pricing import price_rows
from orderline.core.errors import (
    DomainError,
    DraftOrderClosed,
    NotFound,
    QuantityAboveLimit,
    UndeliverableAddress,
    UnknownChannel,
    UnknownSku,
    ValidationFailed,
    VersionConflict,
)
from orderline.core.limits import MAX_LINE_QUANTITY
from orderline.core.runtime import Runtime
from orderline.coupons.rules import normalize_code
from orderline.drafts import store
from orderline.drafts.rules import EDITABLE, DraftStatus
from orderline.drafts.store import DraftRow
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.orders import store as order_store
from orderline.orders.rules import MAX_LINES_PER_ORDER, line_total
from orderline.orders.service import Contact, check_payment_method
from orderline.pricing.engine import PriceLine, PricingInput, Quote, price
from orderline.shipping import store as shipping_store
from orderline.shipping.rules import Address, check_address, match_zone
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope

MAX_COUPON_CODES = 5
MAX_NOTE = 500

# The fields a PATCH may change (null clears the optional ones).
CHANGEABLE = frozenset({"customer", "customer_id", "address", "shipping_method_id",
                        "coupon_codes", "payment_method", "note"})


@dataclass(frozen=True, slots=True)
class DraftLineInput:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class NewDraft:
    channel: str
    lines: list[DraftLineInput]
    customer: Contact | None = None
    customer_id: uuid.UUID | None = None
    address: Address | None = None
    shipping_method_id: uuid.UUID | None = None
    coupon_codes: list[str] | None = None
    payment_method: str | None = None
    note: str = ""


# --- the draft as callers see it -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PricedDraft:
    quote: Quote
    problem: DomainError | None


async def _price(conn: AsyncConnection, draft: DraftRow, rows: list[AvailableCartLine],
                 now: datetime) -> PricedDraft:
    """The draft priced as a checkout would price it now, or its lines alone and the reason."""
    lines_only = price(PricingInput(currency=draft.currency, lines=tuple(
        PriceLine(sku=r.sku, product_id=str(r.product_id), unit_price=r.price_minor,
                  quantity=r.quantity, weight_grams=r.weight_grams or 0) for r in rows)))
    if not rows:
        return PricedDraft(lines_only, None)
    settings = await tenancy_store.business_settings(conn, draft.business_id)
    try:
        delivery = await _delivery(conn, draft)
        priced = await price_rows(conn, business_id=draft.business_id, currency=draft.currency,
                                  settings=settings, rows=list(rows), delivery=delivery,
                                  codes=list(draft.coupon_codes), customer_id=draft.customer_id,
                                  now=now)
    except DomainError as problem:
        return PricedDraft(lines_only, problem)
    return PricedDraft(priced.quote, None)


async def _delivery(conn: AsyncConnection,
                    draft: DraftRow) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The zone and shipping method a checkout of this draft would use, or None without an
    address; an address the business does not deliver to is refused as the checkout would."""
    if draft.address is None:
        return None
    address = Address.from_dict(draft.address)
    zone = match_zone(await shipping_store.zone_terms(conn, draft.business_id), address)
    if zone is None:
        raise UndeliverableAddress(f"The business does not deliver to {address.country}.",
                                   details={"address": address.as_dict()})
    if draft.shipping_method_id is not None:
        return zone.id, draft.shipping_method_id
    methods = await shipping_store.methods_of_zone(conn, draft.business_id, zone.id)
    if not methods:
        return None
    return zone.id, uuid.UUID(methods[0].method_id)


async def view_of(conn: AsyncConnection, draft: DraftRow, now: datetime) -> dict[str, Any]:
    """How a draft is shown: its lines with live availability, and its priced totals."""
    location = await catalog_store.find_location(conn, draft.business_id, None)
    if location is None:  # every business is created with one
        raise NotFound("location", "default")
    rows = await store.lines_at(conn, draft.business_id, draft.id, location["id"], now)
    priced = await _price(conn, draft, rows, now)
    problem = None if priced.problem is None else {
        "code": priced.problem.code, "message": str(priced.problem)}
    return {
        "id": draft.id, "status": draft.status, "channel": draft.channel,
        "currency": draft.currency, "version": draft.version,
        "customer": {"id": draft.customer_id, "name": draft.customer_name,
                     "phone": draft.customer_phone, "email": draft.customer_email},
        "address": draft.address, "shipping_method_id": draft.shipping_method_id,
        "coupon_codes": draft.coupon_codes, "payment_method": draft.payment_method,
        "note": draft.note,
        "lines": [{"sku": r.sku, "name": r.name, "product_id": r.product_id,
                   "quantity": r.quantity, "unit_price": r.price_minor,
                   "line_total": line_total(r.price_minor, r.quantity),
                   "available": r.available, "in_stock": r.available >= r.quantity,
                   "archived": r.archived} for r in rows],
        "totals": priced.quote.totals(), "quote": priced.quote.as_dict(),
        "pricing_problem": problem, "link_expires_at": draft.link_expires_at,
        "cart_id": draft.cart_id, "checkout_id": draft.checkout_id,
        "order_id": draft.order_id, "created_at": draft.created_at,
        "updated_at": draft.updated_at,
    }


async def _shown(conn: AsyncConnection, business_id: uuid.UUID, draft_id: uuid.UUID,
                 now: datetime) -> dict[str, Any]:
    draft = await store.get_draft(conn, business_id, draft_id)
    if draft is None:
        raise NotFound("draft_order", draft_id)
    return await view_of(conn, draft, now)


def _audited(draft: DraftRow) -> dict[str, Any]:
    return {k: v for k, v in draft.as_dict().items()
            if k not in ("version", "created_at", "updated_at", "business_id")}


async def record(conn: AsyncConnection, principal: Principal | None, *, type: EventType,
                 before: DraftRow | None, after: DraftRow, change: str, now: datetime,
                 total: int | None = None) -> None:
    """The draft's event in the outbox and (for the merchant's changes) the audit log."""
    await emit(conn, business_id=after.business_id, type=type,
               aggregate_type=AggregateType.DRAFT_ORDER, aggregate_id=after.id,
               payload={"draft_order_id": after.id, "status": after.status, "change": change,
                        "currency": after.currency, "total": total,
                        "order_id": after.order_id, "checkout_id": after.checkout_id},
               now=now, new_aggregate=before is None)
    if principal is not None:
        await audit.record(conn, principal, business_id=after.business_id,
                           entity_type=EntityType.DRAFT_ORDER, entity_id=after.id,
                           action=Action.CREATED if before is None else Action.UPDATED,
                           before=None if before is None else _audited(before),
                           after=_audited(after), now=now)


# --- checking what the merchant sends --------------------------------------------------------

def check_codes(raw: list[str]) -> list[str]:
    codes = [normalize_code(c) for c in raw if c.strip()]
    if len(codes) > MAX_COUPON_CODES:
        raise ValidationFailed(f"At most {MAX_COUPON_CODES} coupon codes per draft order.",
                               details={"field": "coupon_codes"})
    return list(dict.fromkeys(codes))


def check_note(note: str) -> str:
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"A note is at most {MAX_NOTE} characters.",
                               details={"field": "note"})
    return note


async def _customer_fields(conn: AsyncConnection, business_id: uuid.UUID,
                           customer_id: uuid.UUID | None,
                           contact: Contact | None) -> dict[str, Any]:
    """The buyer as stored on the draft: a customer of the business (their contact copied),
    or a name with a phone or email (the checkout finds or creates the customer)."""
    if customer_id is not None:
        customer = await order_store.get_customer(conn, business_id, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        if contact is None:
            contact = Contact(name=customer["name"], phone=customer["phone"],
                              email=customer["email"])
    return {"customer_id": customer_id,
            "customer_name": contact.name if contact else None,
            "customer_phone": contact.phone if contact else None,
            "customer_email": contact.email if contact else None}


async def _variant(conn: AsyncConnection, business_id: uuid.UUID, sku: str) -> uuid.UUID:
    variant = await catalog_store.get_variant_by_sku(conn, business_id, sku)
    if variant is None:
        raise UnknownSku(f"SKU {sku} is not in this business's catalog.",
                         details={"unknown_skus": [sku]})
    return uuid.UUID(str(variant["id"]))


async def _check_quantity(conn: AsyncConnection, business_id: uuid.UUID, sku: str,
                          quantity: int) -> None:
    if quantity < 1:
        raise ValidationFailed("Quantity must be at least 1; remove the line instead.",
                               details={"quantity": quantity})
    settings = await tenancy_store.business_settings(conn, business_id)
    limit = min(settings.max_line_quantity, MAX_LINE_QUANTITY)
    if quantity > limit:
        raise QuantityAboveLimit(
            f"At most {limit} units of one SKU per order; {sku} would have {quantity}.",
            details={"sku": sku, "max_line_quantity": limit, "quantity": quantity})


async def _add_line(conn: AsyncConnection, business_id: uuid.UUID, draft_id: uuid.UUID,
                    sku: str, quantity: int) -> None:
    variant_id = await _variant(conn, business_id, sku)
    await refuse_archived(conn, business_id, [variant_id])
    line = await store.line_of(conn, draft_id, variant_id)
    total = quantity + (line.quantity if line is not None else 0)
    await _check_quantity(conn, business_id, sku, total)
    if line is not None:
        await store.set_line_quantity(conn, line.id, total)
        return
    count, position = await store.line_count_and_next_position(conn, draft_id)
    if count >= MAX_LINES_PER_ORDER:
        raise ValidationFailed(f"A draft order may have at most {MAX_LINES_PER_ORDER} lines.",
                               details={"field": "lines", "max": MAX_LINES_PER_ORDER})
    await store.insert_line(conn, {"id": uuid.uuid4(), "business_id": business_id,
                                   "draft_id": draft_id, "variant_id": variant_id,
                                   "quantity": total, "position": position})


# --- use cases -------------------------------------------------------------------------------

async def create_draft(runtime: Runtime, principal: Principal, new: NewDraft) -> dict[str, Any]:
    """A new draft order (status ``draft``) with these lines and details; no stock is held."""
    principal.require(Scope.WRITE)
    business_id = principal.business_id
    contact = new.customer.check() if new.customer is not None else None
    address = check_address(new.address) if new.address is not None else None
    if new.payment_method is not None:
        check_payment_method(new.payment_method)
    codes = check_codes(new.coupon_codes or [])
    note = check_note(new.note)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        if not await tenancy_store.channel_exists(conn, business_id, new.channel):
            raise UnknownChannel(f"Channel '{new.channel}' is not set up for this business; "
                                 "add it with POST /v1/channels.",
                                 details={"channel": new.channel})
        draft = await store.insert_draft(conn, {
            "id": uuid.uuid4(), "business_id": business_id,
            "status": DraftStatus.DRAFT.value, "channel": new.channel,
            "currency": principal.currency,
            **await _customer_fields(conn, business_id, new.customer_id, contact),
            "address": address.as_dict() if address else None,
            "shipping_method_id": new.shipping_method_id, "coupon_codes": codes,
            "payment_method": new.payment_method, "note": note, "link_token_hash": None,
            "link_expires_at": None, "cart_id": None, "checkout_id": None, "order_id": None,
            "version": 1, "created_at": now, "updated_at": now})
        for line in new.lines:
            await _add_line(conn, business_id, draft.id, line.sku, line.quantity)
        shown = await view_of(conn, draft, now)
        await record(conn, principal, type=EventType.DRAFT_ORDER_CREATED, before=None,
                     after=draft, change="created", now=now, total=shown["totals"]["total"])
        return shown

    return await runtime.db.run(work)


async def get_draft(runtime: Runtime, principal: Principal,
                    draft_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return await _shown(conn, principal.business_id, draft_id, runtime.clock.now())


async def list_drafts(runtime: Runtime, principal: Principal, *, statuses: list[str],
                      limit: int, before: tuple[datetime, uuid.UUID] | None
                      ) -> list[dict[str, Any]]:
    """Newest first, each priced as it is now."""
    principal.require(Scope.READ)
    known = {s.value for s in DraftStatus}
    unknown = [s for s in statuses if s not in known]
    if unknown:
        raise ValidationFailed("status is one of " + ", ".join(sorted(known)) + ".",
                               details={"field": "status", "unknown": unknown})
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        rows = await store.list_drafts(conn, principal.business_id, statuses=statuses,
                                       limit=limit, before=before)
        return [await view_of(conn, row, now) for row in rows]


Change = Callable[[AsyncConnection, DraftRow], Awaitable[dict[str, Any] | None]]


async def _open_for_change(conn: AsyncConnection, business_id: uuid.UUID, draft_id: uuid.UUID,
                           *, expected_version: int | None, now: datetime,
                           statuses: tuple[str, ...] = EDITABLE) -> DraftRow:
    """Move the draft's version on (locking it), and return it as it was; or say why not."""
    before = await store.get_draft(conn, business_id, draft_id)
    if before is None:
        raise NotFound("draft_order", draft_id)
    if await store.touch(conn, business_id, draft_id, statuses=statuses,
                         expected_version=expected_version, now=now) is not None:
        return before
    current = await store.get_draft(conn, business_id, draft_id)
    assert current is not None
    if current.status not in statuses:
        raise DraftOrderClosed(
            f"This draft order is {current.status}; it can no longer change."
            + (" Its link was opened: cancel it and make a new one." if
               current.status == DraftStatus.OPEN else ""),
            details={"draft_order_id": str(draft_id), "status": current.status,
                     "order_id": current.order_id})
    raise VersionConflict(
        f"The draft order changed since you read it (your version {expected_version}, "
        f"current {current.version}). Fetch it again and retry.",
        details={"expected_version": expected_version, "current_version": current.version})


async def change_draft(runtime: Runtime, principal: Principal, draft_id: uuid.UUID, *,
                       expected_version: int | None, change: Change,
                       what: str) -> dict[str, Any]:
    """One transaction: open the draft for change, apply ``change`` (which may answer
    fields to write), record it, answer the draft as it now is."""
    principal.require(Scope.WRITE)
    business_id = principal.business_id
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        before = await _open_for_change(conn, business_id, draft_id,
                                        expected_version=expected_version, now=now)
        values = await change(conn, before)
        if values:
            await store.set_fields(conn, draft_id, values, now)
        after = await store.get_draft(conn, business_id, draft_id)
        assert after is not None
        shown = await view_of(conn, after, now)
        await record(conn, principal, type=EventType.DRAFT_ORDER_UPDATED, before=before,
                     after=after, change=what, now=now, total=shown["totals"]["total"])
        return shown

    return await runtime.db.run(work)


async def update_draft(runtime: Runtime, principal: Principal, draft_id: uuid.UUID,
                       fields: dict[str, Any], *,
                       expected_version: int | None = None) -> dict[str, Any]:
    """Change the buyer, address, shipping method, coupons, way to pay or note; ``None``
    clears one (the coupons with ``[]``). ``fields`` holds only what was sent."""
    unknown = set(fields) - CHANGEABLE
    if unknown:
        raise ValidationFailed("These fields cannot be changed: " + ", ".join(sorted(unknown)),
                               details={"fields": sorted(unknown)})
    values: dict[str, Any] = {}
    if "address" in fields:
        address = fields["address"]
        values["address"] = None if address is None else check_address(address).as_dict()
    if "shipping_method_id" in fields:
        values["shipping_method_id"] = fields["shipping_method_id"]
    if "coupon_codes" in fields:
        values["coupon_codes"] = check_codes(fields["coupon_codes"] or [])
    if "payment_method" in fields:
        if fields["payment_method"] is not None:
            check_payment_method(fields["payment_method"])
        values["payment_method"] = fields["payment_method"]
    if "note" in fields:
        values["note"] = check_note(fields["note"] or "")
    contact = fields.get("customer")
    if isinstance(contact, Contact):
        contact = contact.check()

    async def change(conn: AsyncConnection, before: DraftRow) -> dict[str, Any]:
        more = dict(values)
        if "customer" in fields or "customer_id" in fields:
            customer_id = fields.get("customer_id", before.customer_id)
            more.update(await _customer_fields(conn, before.business_id, customer_id, contact))
        return more

    return await change_draft(runtime, principal, draft_id, expected_version=expected_version,
                              change=change, what="details")


async def add_line(runtime: Runtime, principal: Principal, draft_id: uuid.UUID, *, sku: str,
                   quantity: int, expected_version: int | None = None) -> dict[str, Any]:
    """Add units of a SKU: a new line at the end, or more of the draft's line of it."""
    if quantity < 1:
        raise ValidationFailed("Quantity must be at least 1.", details={"quantity": quantity})

    async def change(conn: AsyncConnection, before: DraftRow) -> None:
        await _add_line(conn, before.business_id, draft_id, sku, quantity)

    return await change_draft(runtime, principal, draft_id, expected_version=expected_version,
                              change=change, what="lines")


async def _line_id(conn: AsyncConnection, draft: DraftRow, sku: str) -> uuid.UUID:
    variant_id = await _variant(conn, draft.business_id, sku)
    line = await store.line_of(conn, draft.id, variant_id)
    if line is None:
        raise NotFound("draft_order_line", sku)
    return line.id


async def set_line(runtime: Runtime, principal: Principal, draft_id: uuid.UUID, *, sku: str,
                   quantity: int, expected_version: int | None = None) -> dict[str, Any]:
    """Set the quantity of the draft's line of ``sku`` (the line keeps its place)."""
    async def change(conn: AsyncConnection, before: DraftRow) -> None:
        line_id = await _line_id(conn, before, sku)
        await _check_quantity(conn, before.business_id, sku, quantity)
        await store.set_line_quantity(conn, line_id, quantity)

    return await change_draft(runtime, principal, draft_id, expected_version=expected_version,
                              change=change, what="lines")


async def remove_line(runtime: Runtime, principal: Principal, draft_id: uuid.UUID, *, sku: str,
                      expected_version: int | None = None) -> dict[str, Any]:
    async def change(conn: AsyncConnection, before: DraftRow) -> None:
        await store.delete_line(conn, await _line_id(conn, before, sku))

    return await change_draft(runtime, principal, draft_id, expected_version=expected_version,
                              change=change, what="lines")
