"""Returns (RMA) of shipped units: asked for, approved or rejected, received, refunded.

Each change is one transaction under the order's row lock (``lock_for_change``; the buyer's
request takes the same lock), so two returns of one order run one after the other and the
second sees the units the first holds: the units of a line over all its live returns never
exceed the units that shipped (``rules.check_returnable``). Each change writes the order's
history (its version moves on, so a page read before it is told), and its ``return.*`` event
goes to the outbox in the same transaction; the buyer is told of approval, rejection and
refund.

Receiving: each line is restocked at a location (``return`` movement, on_hand up) or written
off as damaged (a ``return``/``damage`` ledger pair at the level it shipped from, on_hand
unchanged), so every location's ledger still sums to its on_hand.

Refunding: the returned units are counted as refunded on their order lines with the same
conditional UPDATE a refund by lines uses (``claim_line_refund``), so a unit is never
refunded twice, whether by this return, another, or ``POST /v1/orders/{id}/refunds``; the
amount (their exact line shares less the restocking fee) is taken on the payment's intent with
a conditional UPDATE, so refunds never add up past what was received. Money received by hand
(cash, transfers) is booked as refunded in that transaction; a card refund is asked of the
provider outside it (idempotency key ``refund:<return id>``) and booked in a second one; if
the provider refuses, the units and the amount are given back and the return is ``received``
again.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.rules import MovementReason
from orderline.catalog.stock_store import LevelDelta
from orderline.core.errors import (
    FileTooLarge,
    InvalidTransition,
    NotFound,
    PaymentProviderUnavailable,
    ProofStorageUnavailable,
    RefundExceedsCaptured,
    UnsupportedFileType,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.manual_payments.files.cleaning import clean_proof
from orderline.manual_payments.files.configured import proof_storage
from orderline.manual_payments.files.storage import StorageUnavailable
from orderline.orders import store as order_store
from orderline.orders.callers import OrderCaller
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.rules import OrderStatus, ensure_transition
from orderline.orders.service import lock_for_change, note_change, save_and_show
from orderline.orders.store import OrderRow
from orderline.orders.views import shaped
from orderline.payments import service as payments
from orderline.payments import shares as money_shares
from orderline.payments import store as payment_store
from orderline.payments.providers.base import ProviderError
from orderline.payments.rules import MovementKind, RefundMethod
from orderline.payments.shares import Purse, RefundSource
from orderline.payments.store import IntentRow
from orderline.returns import store
from orderline.returns.rules import (
    MAX_PHOTOS,
    Condition,
    LineShare,
    Receipt,
    RequestedBy,
    ReturnReason,
    ReturnStatus,
    UnitsToReturn,
    check_returnable,
    check_window,
    ensure_next,
    restocking_fee,
    return_code,
    units_value,
    window_closes,
)
from orderline.returns.store import PhotoRow, ReturnLineRow, ReturnRow, ReturnWithLines
from orderline.tenancy.rules import Principal, Scope

_EVENT_OF = {ReturnStatus.REQUESTED: EventType.RETURN_REQUESTED,
             ReturnStatus.APPROVED: EventType.RETURN_APPROVED,
             ReturnStatus.REJECTED: EventType.RETURN_REJECTED,
             ReturnStatus.RECEIVED: EventType.RETURN_RECEIVED,
             ReturnStatus.REFUNDED: EventType.RETURN_REFUNDED,
             ReturnStatus.CANCELLED: EventType.RETURN_CANCELLED}


# --- views ---------------------------------------------------------------------------------

def return_view(found: ReturnWithLines, codes: dict[uuid.UUID, str], *,
                for_buyer: bool = False) -> dict[str, Any]:
    row = found.row
    view: dict[str, Any] = {
        "id": row.id, "order_id": row.order_id, "number": row.number, "code": row.code,
        "status": row.status, "reason": row.reason, "note": row.note,
        "requested_by": row.requested_by, "rejection_reason": row.rejection_reason,
        "currency": row.currency, "restocking_fee": row.restocking_fee,
        "refund_amount": row.refund_amount, "refund_method": row.refund_method,
        "created_at": row.created_at, "approved_at": row.approved_at,
        "received_at": row.received_at, "refunded_at": row.refunded_at,
        "closed_at": row.closed_at, "version": row.version,
        "exchange_id": row.exchange_id,
        "exchange_credit": row.exchange_credit if row.exchange_id else None,
        "lines": [{"sku": line.sku, "quantity": line.quantity, "condition": line.condition,
                   "location": codes.get(line.location_id) if line.location_id else None}
                  for line in found.lines],
        "photos": [{"id": p.id, "media_type": p.media_type, "size_bytes": p.size_bytes,
                    "uploaded_at": p.uploaded_at} for p in found.photos],
    }
    if not for_buyer:
        view["actor"] = row.actor
    return view


async def _codes(conn: AsyncConnection, business_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {loc["id"]: loc["code"]
            for loc in await catalog_store.list_locations(conn, business_id)}


async def _one(conn: AsyncConnection, order: OrderRow, return_id: uuid.UUID) -> ReturnWithLines:
    found = await store.returns_of(conn, order.business_id, order.id, return_id=return_id)
    if not found:
        raise NotFound("return", return_id)
    return found[0]


async def _announce(conn: AsyncConnection, order: OrderRow, found: ReturnWithLines,
                    event: EventType, *, now: datetime,
                    new: bool = False) -> dict[str, Any]:
    """The return as it now is, in the outbox with the order (the buyer's message needs it)."""
    view = return_view(found, await _codes(conn, order.business_id))
    shown = (await shaped(conn, [order]))[0]
    await emit(conn, business_id=order.business_id, type=event,
               aggregate_type=AggregateType.RETURN, aggregate_id=found.row.id,
               payload={"order": shown, "return": view}, now=now, new_aggregate=new)
    return view


def _history(found: ReturnWithLines, **more: Any) -> dict[str, Any]:
    return {"return_id": str(found.row.id), "return": found.row.code,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in found.lines],
            **more}


# --- reading -------------------------------------------------------------------------------

async def list_returns(runtime: Runtime, caller: OrderCaller) -> list[dict[str, Any]]:
    """The order's returns, first one first (the buyer's view for the buyer)."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        found = await store.returns_of(conn, caller.business_id, caller.order_id)
        codes = await _codes(conn, caller.business_id)
    return [return_view(f, codes, for_buyer=caller.is_buyer) for f in found]


async def get_return(runtime: Runtime, caller: OrderCaller,
                     return_id: uuid.UUID) -> dict[str, Any]:
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        found = await store.returns_of(conn, caller.business_id, caller.order_id,
                                       return_id=return_id)
        codes = await _codes(conn, caller.business_id)
    if not found:
        raise NotFound("return", return_id)
    return return_view(found[0], codes, for_buyer=caller.is_buyer)


async def return_options(runtime: Runtime, caller: OrderCaller) -> dict[str, Any]:
    """What may be returned now: units per line, and (for the buyer) until when."""
    caller.require(Scope.READ)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, caller.business_id, caller.order_id)
        if order is None:
            raise NotFound("order", caller.order_id)
        shipped = await shipment_store.shipped_by_sku(conn, order.id)
        returned = await store.returned_by_sku(conn, order.id)
        settings = await store.settings_of(conn, order.business_id)
        last_shipped = await _last_shipped(conn, order)
    closes = window_closes(days=settings.return_window_days, delivered_at=order.delivered_at,
                           shipped_at=last_shipped)
    return {"units": {sku: max(0, n - returned.get(sku, 0)) for sku, n in shipped.items()},
            "window_closes_at": closes,
            "buyer_may_ask": closes is not None and now <= closes,
            "restocking_fee_bp": settings.restocking_fee_bp,
            "restocking_fee_fixed": settings.restocking_fee_fixed}


async def _last_shipped(conn: AsyncConnection, order: OrderRow) -> datetime | None:
    parcels = await shipment_store.shipments_of(conn, order.business_id, order.id)
    return max((p.shipment.shipped_at for p in parcels), default=order.shipped_at)


# --- asking --------------------------------------------------------------------------------

async def request_return(runtime: Runtime, caller: OrderCaller, wanted: list[UnitsToReturn],
                         *, reason: ReturnReason, note: str | None) -> dict[str, Any]:
    """Ask to return shipped units (the buyer within the business's window; the merchant at
    any time). One transaction under the order's row lock."""
    caller.require(Scope.WRITE)
    now = runtime.clock.now()
    return_id = uuid.uuid4()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await _lock(runtime, conn, caller, "return_request")
        shipped = await shipment_store.shipped_by_sku(conn, order.id)
        check_returnable(wanted, shipped, await store.returned_by_sku(conn, order.id))
        if caller.is_buyer:
            settings = await store.settings_of(conn, order.business_id)
            check_window(days=settings.return_window_days, delivered_at=order.delivered_at,
                         shipped_at=await _last_shipped(conn, order), now=now)
        variant_of = {line.sku: line.variant_id
                      for line in await order_store.load_lines(conn, [order.id])}
        number = await store.next_number(conn, order.id)
        cleaned = (note or "").strip() or None
        row = ReturnRow(
            id=return_id, business_id=order.business_id, order_id=order.id, number=number,
            code=return_code(order.number, number), status=ReturnStatus.REQUESTED.value,
            reason=reason.value, note=cleaned,
            requested_by=(RequestedBy.BUYER if caller.is_buyer else RequestedBy.STAFF).value,
            actor=caller.actor, rejection_reason=None, restocking_fee=0, refund_amount=None,
            refund_method=None, currency=order.currency, created_at=now, approved_at=None,
            received_at=None, refunded_at=None, closed_at=None, version=1)
        lines = [ReturnLineRow(return_id=return_id, sku=w.sku, variant_id=variant_of[w.sku],
                               quantity=w.quantity, condition=None, location_id=None)
                 for w in wanted]
        await store.insert_return(conn, row, lines)
        found = ReturnWithLines(row, lines, [])
        order = await note_change(conn, order, actor=caller.actor, action="return_requested",
                                  changes=_history(found, reason=reason.value), now=now)
        view = await _announce(conn, order, found, EventType.RETURN_REQUESTED, now=now,
                               new=True)
        return {k: v for k, v in view.items() if k != "actor" or not caller.is_buyer}

    return await runtime.db.run(work)


async def open_exchange_return(conn: AsyncConnection, order: OrderRow,
                               wanted: list[UnitsToReturn], *, reason: ReturnReason,
                               note: str | None, actor: str, exchange_id: uuid.UUID,
                               value: int, credit: int,
                               now: datetime) -> tuple[OrderRow, dict[str, Any]]:
    """An exchange's return (``exchanges``), in its transaction under the order's lock, its
    units checked: created ``approved`` (the merchant agreed), with the exchange's value and
    credit; the history entry ``return_approved`` and ``return.approved`` (the buyer is told
    to send the items back). Returns the order after its history entry and the return."""
    variant_of = {line.sku: line.variant_id
                  for line in await order_store.load_lines(conn, [order.id])}
    return_id = uuid.uuid4()
    number = await store.next_number(conn, order.id)
    row = ReturnRow(
        id=return_id, business_id=order.business_id, order_id=order.id, number=number,
        code=return_code(order.number, number), status=ReturnStatus.APPROVED.value,
        reason=reason.value, note=(note or "").strip() or None,
        requested_by=RequestedBy.STAFF.value, actor=actor, rejection_reason=None,
        restocking_fee=0, refund_amount=None, refund_method=None, currency=order.currency,
        created_at=now, approved_at=now, received_at=None, refunded_at=None, closed_at=None,
        version=1, exchange_id=exchange_id, exchange_value=value, exchange_credit=credit)
    lines = [ReturnLineRow(return_id=return_id, sku=w.sku, variant_id=variant_of[w.sku],
                           quantity=w.quantity, condition=None, location_id=None)
             for w in wanted]
    await store.insert_return(conn, row, lines)
    found = ReturnWithLines(row, lines, [])
    order = await note_change(conn, order, actor=actor, action="return_approved",
                              changes=_history(found, reason=reason.value,
                                               exchange_id=str(exchange_id)), now=now)
    view = await _announce(conn, order, found, EventType.RETURN_APPROVED, now=now, new=True)
    return order, view


async def _lock(runtime: Runtime, conn: AsyncConnection, caller: OrderCaller,
                operation: str) -> OrderRow:
    if caller.principal is not None:
        return await lock_for_change(runtime, conn, caller.principal, caller.order_id, None,
                                     operation)
    order = await order_store.load_order(conn, caller.business_id, caller.order_id, lock=True)
    if order is None:
        raise NotFound("order", caller.order_id)
    await runtime.checkpoints.reach(f"{operation}.locked")
    return order


async def add_photo(runtime: Runtime, caller: OrderCaller, return_id: uuid.UUID,
                    data: bytes) -> dict[str, Any]:
    """A photo for a return not yet closed: cleaned as payment proofs are (type from the
    bytes, pixel limit, re-encoded without metadata), stored sealed, then recorded under the
    order's row lock; if that fails the stored file is deleted again."""
    caller.require(Scope.WRITE)
    now = runtime.clock.now()
    limit = runtime.settings.proof_upload_max_bytes
    if len(data) > limit:
        raise FileTooLarge(f"The file is {len(data)} bytes; at most {limit} bytes are "
                           "accepted.", details={"max_bytes": limit, "size": len(data)})
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, caller.business_id, caller.order_id)
        if order is None:
            raise NotFound("order", caller.order_id)
        _photos_accepted((await _one(conn, order, return_id)).row)
    clean = await asyncio.to_thread(clean_proof, data, max_bytes=limit)
    if not clean.media_type.startswith("image/"):
        raise UnsupportedFileType("A return photo is a JPEG, PNG or WebP picture.",
                                  details={"media_type": clean.media_type})
    photo_id = uuid.uuid4()
    key = f"returns/{caller.business_id}/{caller.order_id}/{return_id}/{photo_id}"
    storage = proof_storage(runtime)
    try:
        await storage.put(key, clean.content)
    except StorageUnavailable as exc:
        raise ProofStorageUnavailable("The photo could not be stored right now; nothing was "
                                      "recorded. Send it again in a moment.") from exc

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await _lock(runtime, conn, caller, "return_photo")
        found = await _one(conn, order, return_id)
        _photos_accepted(found.row)
        if await store.count_photos(conn, return_id) >= MAX_PHOTOS:
            raise ValidationFailed(f"A return takes at most {MAX_PHOTOS} photos.",
                                   details={"max_photos": MAX_PHOTOS})
        photo = PhotoRow(id=photo_id, business_id=order.business_id, return_id=return_id,
                         order_id=order.id, storage_key=key, media_type=clean.media_type,
                         size_bytes=len(clean.content), sha256=clean.sha256,
                         uploaded_by=caller.actor, uploaded_at=now)
        await store.insert_photo(conn, photo)
        await order_store.add_event(
            conn, business_id=order.business_id, order_id=order.id, actor=caller.actor,
            action="return_photo_added", from_status=order.status, to_status=order.status,
            changes={"return": found.row.code, "photo_id": str(photo_id),
                     "sha256": clean.sha256}, created_at=now)
        return {"id": photo_id, "media_type": photo.media_type,
                "size_bytes": photo.size_bytes, "uploaded_at": now}

    try:
        return await runtime.db.run(work)
    except BaseException:
        await storage.delete(key)
        raise


def _photos_accepted(row: ReturnRow) -> None:
    if row.status not in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED):
        raise InvalidTransition(
            f"Photos are added while a return is requested or approved; {row.code} is "
            f"'{row.status}'.", details={"current_status": row.status})


async def photo_file(runtime: Runtime, caller: OrderCaller, return_id: uuid.UUID,
                     photo_id: uuid.UUID) -> tuple[bytes, str]:
    """A return photo's cleaned bytes: the merchant's staff, or the order's buyer."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        photo = await store.load_photo(conn, caller.business_id, photo_id)
    if photo is None or photo.order_id != caller.order_id or photo.return_id != return_id:
        raise NotFound("return photo", photo_id)
    try:
        return await proof_storage(runtime).get(photo.storage_key), photo.media_type
    except StorageUnavailable as exc:
        raise ProofStorageUnavailable("The photo store did not answer; try again in a "
                                      "moment.") from exc


# --- the merchant's decisions --------------------------------------------------------------

async def _decide(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                  return_id: uuid.UUID, to: ReturnStatus, *, action: str,
                  values: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, None, action)
        found = await _one(conn, order, return_id)
        ensure_next(ReturnStatus(found.row.status), to)
        if found.row.exchange_id is not None and to == ReturnStatus.CANCELLED:
            raise InvalidTransition(
                f"{found.row.code} is an exchange's return: its units were already traded "
                "for the replacement order, so it cannot be cancelled; receive it (written "
                "off if the items never come back).",
                details={"current_status": found.row.status, "requested_status": to.value})
        stamp = {"approved_at": now} if to == ReturnStatus.APPROVED else {"closed_at": now}
        await store.update_return(conn, return_id, {"status": to.value, **stamp, **values})
        found = await _one(conn, order, return_id)
        order = await note_change(conn, order, actor=principal.actor, action=action,
                                  changes=_history(found, **more), now=now)
        if to in _EVENT_OF:
            return await _announce(conn, order, found, _EVENT_OF[to], now=now)
        return return_view(found, await _codes(conn, order.business_id))

    return await runtime.db.run(work)


async def approve_return(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                         return_id: uuid.UUID) -> dict[str, Any]:
    return await _decide(runtime, principal, order_id, return_id, ReturnStatus.APPROVED,
                         action="return_approved", values={}, more={})


async def reject_return(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        return_id: uuid.UUID, *, reason: str) -> dict[str, Any]:
    cleaned = reason.strip()
    if not cleaned:
        raise ValidationFailed("Say why the return is not accepted; the buyer is told.",
                               details={"field": "reason"})
    return await _decide(runtime, principal, order_id, return_id, ReturnStatus.REJECTED,
                         action="return_rejected", values={"rejection_reason": cleaned},
                         more={"reason": cleaned})


async def cancel_return(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        return_id: uuid.UUID) -> dict[str, Any]:
    """The units did not come back (or the buyer changed their mind): they may be returned
    again later."""
    return await _decide(runtime, principal, order_id, return_id, ReturnStatus.CANCELLED,
                         action="return_cancelled", values={}, more={})


async def receive_return(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                         return_id: uuid.UUID, receipts: list[Receipt]) -> dict[str, Any]:
    """The units are back: each line restocked at a location or written off as damaged
    (module docstring). Every line of the return is named once."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, None,
                                      "return_receive")
        found = await _one(conn, order, return_id)
        ensure_next(ReturnStatus(found.row.status), ReturnStatus.RECEIVED)
        by_sku = {r.sku: r for r in receipts}
        if len(by_sku) != len(receipts) or set(by_sku) != {ln.sku for ln in found.lines}:
            raise ValidationFailed(
                "Say what became of each line of the return, once each.",
                details={"lines": [ln.sku for ln in found.lines],
                         "given": [r.sku for r in receipts]})
        left_from = await _shipped_levels(conn, order)
        note = f"order {order.number} return {found.row.code}"
        for line in found.lines:
            receipt = by_sku[line.sku]
            source = left_from[line.sku]
            if receipt.condition == Condition.DAMAGED:
                await stock_store.write_off_returned(
                    conn, LevelDelta(source.stock_level_id, line.variant_id,
                                     source.location_id, line.quantity),
                    business_id=order.business_id, order_id=order.id,
                    actor=principal.actor, note=f"{note}: written off (damaged)", now=now)
                await store.set_line_receipt(conn, return_id, line.sku,
                                             condition=Condition.DAMAGED.value,
                                             location_id=source.location_id)
                continue
            level = await _restock_level(conn, order, line, receipt.location, source, now=now)
            await stock_store.put_back(conn, [level], business_id=order.business_id,
                                       order_id=order.id, actor=principal.actor, now=now,
                                       note=f"{note}: restocked",
                                       reason=MovementReason.RETURN)
            await store.set_line_receipt(conn, return_id, line.sku,
                                         condition=Condition.RESTOCK.value,
                                         location_id=level.location_id)
        await store.update_return(conn, return_id, {"status": ReturnStatus.RECEIVED.value,
                                                    "received_at": now})
        found = await _one(conn, order, return_id)
        codes = await _codes(conn, order.business_id)
        order = await note_change(conn, order, actor=principal.actor, action="return_received",
                                  changes=_history(found, received=return_view(
                                      found, codes)["lines"]), now=now)
        return await _announce(conn, order, found, EventType.RETURN_RECEIVED, now=now)

    return await runtime.db.run(work)


async def _shipped_levels(conn: AsyncConnection, order: OrderRow) -> dict[str, Any]:
    """Per SKU, a shipment line it left by (its stock level and location)."""
    left: dict[str, Any] = {}
    for parcel in await shipment_store.shipments_of(conn, order.business_id, order.id):
        for line in parcel.lines:
            left.setdefault(line.sku, line)
    return left


async def _restock_level(conn: AsyncConnection, order: OrderRow, line: ReturnLineRow,
                         location: str | None, source: Any, *, now: datetime) -> LevelDelta:
    if location is None:
        return LevelDelta(source.stock_level_id, line.variant_id, source.location_id,
                          line.quantity)
    found = await catalog_store.find_location(conn, order.business_id, location)
    if found is None:
        raise NotFound("location", location)
    level_id = await stock_store.ensure_level(conn, business_id=order.business_id,
                                              variant_id=line.variant_id,
                                              location_id=found["id"], now=now)
    return LevelDelta(level_id, line.variant_id, found["id"], line.quantity)


# --- the refund ----------------------------------------------------------------------------

def _net(order: OrderRow, line: Any) -> int:
    return int(line.line_total - line.discount + (0 if order.prices_include_tax else line.tax))


async def refund_preview(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                         return_id: uuid.UUID) -> dict[str, Any]:
    """What refunding the return would give back, changing nothing: the units' value, the
    restocking fee, the refund and how it is paid."""
    principal.require(Scope.WRITE)
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        found = await _one(conn, order, return_id)
        lines = await order_store.load_lines(conn, [order.id])
        settings = await store.settings_of(conn, order.business_id)
        purse = await money_shares.purse_of(conn, order)
    if found.row.exchange_id is not None:  # units counted as refunded by the exchange
        rest = _within_held(purse, found.row.exchange_value - found.row.exchange_credit)
        return {"return_id": return_id, "currency": order.currency,
                "value": found.row.exchange_value, "restocking_fee": 0,
                "refund_amount": rest,
                "refund_method": _source(purse, rest, order.currency).method.value}
    shares = [LineShare(sku=ln.sku, net=_net(order, ln), quantity=ln.quantity,
                        refunded_before=ln.refunded_quantity) for ln in lines]
    wanted = {ln.sku: ln.quantity for ln in found.lines}
    left = {ln.sku: ln.quantity - ln.refunded_quantity for ln in lines}
    if any(units > left.get(sku, 0) for sku, units in wanted.items()):
        raise RefundExceedsCaptured("Some of these units were refunded already.",
                                    details={"lines": wanted})
    value = units_value(shares, wanted)
    fee = restocking_fee(value, fee_bp=settings.restocking_fee_bp,
                         fee_fixed=settings.restocking_fee_fixed)
    source = _source(purse, value - fee, order.currency)
    return {"return_id": return_id, "currency": order.currency, "value": value,
            "restocking_fee": fee, "refund_amount": value - fee,
            "refund_method": source.method.value}


def _within_held(purse: Purse, amount: int) -> int:
    """When the money came through the ledger, never more than the payments still hold (a
    refund of an amount may have given it back already); a share of a split order is then
    checked by ``_source``."""
    if money_shares.through_ledger(purse):
        return min(amount, money_shares.held_by(purse.intents))
    return amount


def _source(purse: Purse, amount: int, currency: str) -> RefundSource:
    """The payment the refund is taken on and how (``payments.shares.refund_source``); never
    more than this order's own share, when an order was split."""
    money_shares.check_share(purse, amount, currency)
    return money_shares.refund_source(purse, amount)


async def refund_return(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        return_id: uuid.UUID) -> dict[str, Any]:
    """Refund a received return (module docstring): answers the return as it now is."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()
    taken: list[tuple[str, int]] = []
    intent_box: list[IntentRow | None] = []
    chain_box: list[tuple[uuid.UUID, ...]] = []

    async def reserve(conn: AsyncConnection) -> dict[str, Any]:
        # Retried whole on a deadlock: what an earlier attempt noted was rolled back.
        taken.clear()
        intent_box.clear()
        order = await lock_for_change(runtime, conn, principal, order_id, None,
                                      "return_refund")
        found = await _one(conn, order, return_id)
        ensure_next(ReturnStatus(found.row.status), ReturnStatus.REFUNDED)
        settings = await store.settings_of(conn, order.business_id)
        value = 0
        # An exchange's units were counted as refunded when it was made (their credit paid
        # the replacement order): only what is left of their value is refunded, no fee.
        exchanged = found.row.exchange_id is not None
        for line in ([] if exchanged else found.lines):
            after = await order_store.claim_line_refund(conn, order.id, line.sku,
                                                        line.quantity)
            if after is None:
                raise RefundExceedsCaptured(
                    f"{line.quantity} units of {line.sku} cannot be refunded: some were "
                    "refunded already.", details={"sku": line.sku, "quantity": line.quantity})
            taken.append((line.sku, line.quantity))
            value += units_value(
                [LineShare(sku=line.sku, net=_net(order, after), quantity=after.quantity,
                           refunded_before=after.refunded_quantity - line.quantity)],
                {line.sku: line.quantity})
        fee = restocking_fee(value, fee_bp=settings.restocking_fee_bp,
                             fee_fixed=settings.restocking_fee_fixed)
        amount = value - fee
        if exchanged:
            value, fee = found.row.exchange_value, 0
            amount = value - found.row.exchange_credit
        purse = await money_shares.purse_of(conn, order, lock=True)
        amount = _within_held(purse, amount)
        source = _source(purse, amount, order.currency)
        method, intent = source.method.value, source.intent
        chain_box.append(source.chain)
        if intent is not None:
            intent = await money_shares.take_refund(conn, intent.id, amount, now,
                                                    chain=chain_box[-1])
            if intent is None:  # only if the row lock was not honoured
                raise RefundExceedsCaptured(
                    f"A refund of {amount} is more than this payment has left to refund.",
                    details={"amount": amount})
        intent_box.append(intent)
        await store.update_return(conn, return_id, {
            "status": ReturnStatus.REFUNDED.value, "refunded_at": now, "restocking_fee": fee,
            "refund_amount": amount, "refund_method": method})
        found = await _one(conn, order, return_id)
        order = await note_change(conn, order, actor=principal.actor, action="return_refunded",
                                  changes=_history(found, value=value, restocking_fee=fee,
                                                   amount=amount, method=method,
                                                   currency=order.currency), now=now)
        if method == RefundMethod.CARD:
            return return_view(found, await _codes(conn, order.business_id))
        if intent is not None:
            await _book(conn, order, intent, amount, found, actor=principal.actor, now=now)
        order = await _returned_if_all_back(conn, order, actor=principal.actor, now=now)
        return await _announce(conn, order, found, EventType.RETURN_REFUNDED, now=now)

    done = await runtime.db.run(reserve)
    if done["refund_method"] != RefundMethod.CARD:
        return done
    intent = intent_box[-1]
    assert intent is not None
    amount = int(done["refund_amount"])
    try:
        gateway = payments.provider_named(runtime, intent.provider)
        await gateway.refund(intent.provider_ref or "", amount=amount,
                             idempotency_key=f"refund:{return_id}")
    except ProviderError as error:
        await runtime.db.run(lambda conn: _give_back(conn, principal, order_id, return_id,
                                                     intent, amount, taken, now=now,
                                                     chain=chain_box[-1]))
        raise PaymentProviderUnavailable(
            f"The provider did not refund ({error}); nothing was refunded and the return is "
            "'received' again: try again later.",
            details={"provider_code": error.code}) from error

    async def book(conn: AsyncConnection) -> dict[str, Any]:
        order = await order_store.load_order(conn, principal.business_id, order_id, lock=True)
        assert order is not None
        found = await _one(conn, order, return_id)
        await _book(conn, order, intent, amount, found, actor=principal.actor, now=now)
        order = await _returned_if_all_back(conn, order, actor=principal.actor, now=now)
        return await _announce(conn, order, found, EventType.RETURN_REFUNDED, now=now)

    return await runtime.db.run(book)


async def _returned_if_all_back(conn: AsyncConnection, order: OrderRow, *, actor: str,
                                now: datetime) -> OrderRow:
    """A shipped (or delivered) order every unit of which came back in refunded returns, and
    which holds none of the buyer's money any more, is ``returned`` (``order.returned``),
    in the refund's transaction. Money kept (shipping, a restocking fee) keeps its status:
    ``returned`` holds nothing, as the payments reconciliation checks; refund it first."""
    if order.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        return order
    shipped = await shipment_store.shipped_by_sku(conn, order.id)
    back = await store.refunded_by_sku(conn, order.id)
    if not shipped or any(back.get(sku, 0) < units for sku, units in shipped.items()):
        return order
    if (await money_shares.purse_of(conn, order)).own > 0:
        return order
    ensure_transition(OrderStatus(order.status), OrderStatus.RETURNED)
    await save_and_show(conn, order, actor=actor, action="status_changed",
                        values={"status": OrderStatus.RETURNED.value},
                        changes={"reason": "every shipped unit returned and refunded"},
                        now=now)
    after = await order_store.load_order(conn, order.business_id, order.id)
    assert after is not None
    return after


async def _book(conn: AsyncConnection, order: OrderRow, intent: IntentRow, amount: int,
                found: ReturnWithLines, *, actor: str, now: datetime) -> None:
    """The refund in the money ledger, and ``order.(partially_)refunded``."""
    await payment_store.add_movement(conn, {
        "business_id": intent.business_id, "order_id": order.id,
        "intent_id": intent.id, "kind": MovementKind.REFUND.value, "amount": amount,
        "source": f"refund:{found.row.id}", "actor": actor, "created_at": now})
    after = await payment_store.load_intent(conn, intent.id)
    assert after is not None
    # An order split off is fully refunded once its share of the original's payment is.
    full = (after.amount_refunded >= order.total if intent.order_id == order.id
            else (await money_shares.purse_of(conn, order)).own == 0)
    await emit(conn, business_id=order.business_id,
               type=EventType.ORDER_REFUNDED if full else EventType.ORDER_PARTIALLY_REFUNDED,
               aggregate_type=AggregateType.ORDER, aggregate_id=order.id,
               payload={"order_id": order.id, "amount": amount,
                        "refunded_total": after.amount_refunded,
                        "reason": f"return {found.row.code}", "refund_id": found.row.id,
                        "lines": [{"sku": ln.sku, "quantity": ln.quantity,
                                   "restocked": ln.condition == Condition.RESTOCK}
                                  for ln in found.lines],
                        "restocked": any(ln.condition == Condition.RESTOCK
                                         for ln in found.lines)},
               now=now)


async def _give_back(conn: AsyncConnection, principal: Principal, order_id: uuid.UUID,
                     return_id: uuid.UUID, intent: IntentRow, amount: int,
                     taken: list[tuple[str, int]], *, now: datetime,
                     chain: tuple[uuid.UUID, ...] = ()) -> None:
    order = await order_store.load_order(conn, principal.business_id, order_id, lock=True)
    assert order is not None
    if intent.order_id != order_id:  # an order split off: its original's lock too
        await order_store.load_order(conn, principal.business_id, intent.order_id, lock=True)
    await payment_store.give_back_refund(conn, intent.id, amount, now)
    await money_shares.give_back_to_chain(conn, chain, amount)
    for sku, units in taken:
        await order_store.unclaim_line_refund(conn, order_id, sku, units)
    await store.update_return(conn, return_id, {
        "status": ReturnStatus.RECEIVED.value, "refunded_at": None, "restocking_fee": 0,
        "refund_amount": None, "refund_method": None})
    await note_change(conn, order, actor=principal.actor, action="refund_failed",
                      changes={"refund_id": str(return_id), "amount": amount}, now=now)
