"""The buyer's side of a manual payment: the instructions for their order, sending a proof
(receipt screenshot or PDF), and getting the files back.

Sending a proof, in order:
1. checks that need no lock (the order takes a proof, the deadline, the size), so a refusal
   costs nothing;
2. cleans the file off the event loop (type from the bytes, pixel limit, re-encoded without
   metadata) and refuses a file already sent for another order;
3. stores it sealed (AES-GCM, its own data key) under a key naming the proof;
4. one transaction, under the order's row lock: the same checks again, the content's
   fingerprint claimed (so of two orders sending one receipt at once exactly one keeps it),
   any undecided earlier proof superseded, the proof row, the order held for review, the
   audit entry, the order's history, and ``payment_proof.submitted`` in the outbox.
If that transaction fails the stored file is deleted again; a crash between 3 and 4 leaves a
sealed file no row names (never a row without its file).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import (
    DuplicateProof,
    FileTooLarge,
    NotFound,
    ProofDeadlinePassed,
    ProofFileDeleted,
    ProofNotAccepted,
    ProofStorageUnavailable,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import EventType
from orderline.idempotency.service import NO_KEY, Claim
from orderline.manual_payments import method_store as payment_method_store
from orderline.manual_payments import proof_store
from orderline.manual_payments.files.cleaning import CleanProof, clean_proof
from orderline.manual_payments.files.configured import proof_storage
from orderline.manual_payments.files.encryption import SealedDataError
from orderline.manual_payments.files.storage import StorageUnavailable
from orderline.manual_payments.methods import instructions_view
from orderline.manual_payments.proof_records import announce, buyer_proof_view, proof_view, record
from orderline.manual_payments.review_rules import held_until
from orderline.orders import store as order_store
from orderline.orders.callers import OrderCaller
from orderline.orders.rules import OrderStatus
from orderline.orders.store import OrderRow
from orderline.tenancy.rules import Scope

T = TypeVar("T")


def storage_key(business_id: uuid.UUID, order_id: uuid.UUID, proof_id: uuid.UUID) -> str:
    return f"{business_id}/{order_id}/{proof_id}"


async def _manual_payment(conn: AsyncConnection, caller: OrderCaller) -> RowMapping:
    mp = await payment_method_store.manual_payment_of_order(conn, caller.business_id,
                                                            caller.order_id)
    if mp is None:
        raise NotFound("manual payment of order", caller.order_id)
    return mp


async def instructions(runtime: Runtime, caller: OrderCaller) -> dict[str, Any]:
    """How to pay this order by hand: only its buyer and its merchant get here."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        mp = await _manual_payment(conn, caller)
        rows = await proof_store.proofs_of_order(conn, caller.business_id, caller.order_id)
    return instructions_view(mp, proofs=[buyer_proof_view(r) for r in rows])


def _check_accepts(order: OrderRow, mp: RowMapping, now: datetime) -> None:
    if order.status != OrderStatus.PENDING_PAYMENT or mp["status"] == "approved":
        raise ProofNotAccepted(
            f"Order {order.number} is {order.status}; it takes no payment proof now.",
            details={"order_status": order.status, "payment_status": mp["status"]})
    if now >= mp["proof_deadline"]:
        raise ProofDeadlinePassed(
            f"The time to send a payment proof for order {order.number} ended at "
            f"{mp['proof_deadline'].isoformat()}; the order will be cancelled. Place a new "
            "order, or contact the shop if you already paid.",
            details={"proof_deadline": mp["proof_deadline"]})


def _duplicate(owner: RowMapping | None, order_id: uuid.UUID) -> None:
    if owner is not None and owner["order_id"] != order_id:
        raise DuplicateProof("This exact file was already sent as the payment proof of "
                             "another order; send the receipt of this order's payment.",
                             details={"sha256_prefix": str(owner["sha256"])[:12]})


async def upload(runtime: Runtime, caller: OrderCaller, data: bytes, *,
                 claim: Claim = NO_KEY) -> dict[str, Any]:
    caller.require(Scope.WRITE)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, caller.business_id, caller.order_id)
        if order is None:
            raise NotFound("order", caller.order_id)
        mp = await _manual_payment(conn, caller)
        settings = await payment_method_store.proof_settings(conn, caller.business_id)
    _check_accepts(order, mp, now)
    clean = await cleaned(runtime, settings, data)
    async with runtime.db.read() as conn:
        _duplicate(await proof_store.fingerprint_owner(conn, caller.business_id, clean.sha256),
                   caller.order_id)
    proof_id = uuid.uuid4()

    async def work(conn: AsyncConnection, key: str) -> dict[str, Any]:
        row = await _record_upload(runtime, conn, caller, proof_id=proof_id, key=key,
                                   clean=clean, review_hours=settings["proof_review_hours"],
                                   now=now)
        # The answer is kept with an Idempotency-Key in the upload's own transaction.
        return await claim.keep(conn, proof_view(row) if not caller.is_buyer
                                else buyer_proof_view(row))

    return await store_and_record(runtime, caller, proof_id, clean, work)


async def cleaned(runtime: Runtime, settings: RowMapping, data: bytes) -> CleanProof:
    """The file as it is kept: refused past the shop's size limit (and the server's), then
    cleaned off the event loop. ``settings`` are the shop's ``proof_settings``."""
    limit = min(settings["proof_max_bytes"], runtime.settings.proof_upload_max_bytes)
    if len(data) > limit:
        raise FileTooLarge(f"The file is {len(data)} bytes; this shop accepts at most "
                           f"{limit} bytes.", details={"max_bytes": limit, "size": len(data)})
    return await asyncio.to_thread(clean_proof, data, max_bytes=limit)


async def store_and_record(runtime: Runtime, caller: OrderCaller, proof_id: uuid.UUID,
                           clean: CleanProof,
                           work: Callable[[AsyncConnection, str], Awaitable[T]]) -> T:
    """Put the cleaned file in the proof store, then run ``work`` (the upload's transaction,
    given the file's storage key); the file is deleted again if the transaction fails, so a
    file is kept exactly when its proof row is."""
    key = storage_key(caller.business_id, caller.order_id, proof_id)
    storage = proof_storage(runtime)
    try:
        await storage.put(key, clean.content)
    except StorageUnavailable as exc:
        raise ProofStorageUnavailable("The proof could not be stored right now; nothing was "
                                      "recorded. Send it again in a moment.") from exc
    try:
        return await runtime.db.run(lambda conn: work(conn, key))
    except BaseException:
        await storage.delete(key)
        raise


def new_proof_row(caller: OrderCaller, *, proof_id: uuid.UUID, manual_payment_id: uuid.UUID,
                  version: int, key: str, clean: CleanProof, now: datetime,
                  **more: Any) -> dict[str, Any]:
    """A proof just sent, waiting to be read and decided, as ``payment_proofs`` keeps it
    (``more``: the columns only some proofs have, such as a change's payment request)."""
    return {
        "id": proof_id, "business_id": caller.business_id, "order_id": caller.order_id,
        "manual_payment_id": manual_payment_id, **more, "version": version,
        "status": proof_store.PENDING,
        "storage_key": key, "media_type": clean.media_type, "size_bytes": len(clean.content),
        "width": clean.width, "height": clean.height, "sha256": clean.sha256,
        "uploaded_by": caller.actor, "uploaded_at": now,
        "ocr_status": proof_store.OCR_PENDING, "ocr_attempts": 0, "ocr_due_at": now,
        "ocr_error": None, "ocr_text": None, "score_bp": None, "checks": None, "read": None,
        "scored_at": None, "decided_by": None, "decided_key_id": None, "decided_at": None,
        "reason": None, "auto_decided": False, "file_deleted_at": None,
        "file_deleted_reason": None}


async def _record_upload(runtime: Runtime, conn: AsyncConnection, caller: OrderCaller, *,
                         proof_id: uuid.UUID, key: str, clean: CleanProof, review_hours: int,
                         now: datetime) -> dict[str, Any]:
    order = await order_store.load_order(conn, caller.business_id, caller.order_id, lock=True)
    if order is None:
        raise NotFound("order", caller.order_id)
    await runtime.checkpoints.reach("proof_upload.locked")
    mp = await _manual_payment(conn, caller)
    _check_accepts(order, mp, now)
    _duplicate(await proof_store.claim_fingerprint(
        conn, business_id=caller.business_id, sha256=clean.sha256, order_id=caller.order_id,
        proof_id=proof_id, now=now), caller.order_id)
    for earlier in await proof_store.close_pending(conn, caller.order_id,
                                                   status=proof_store.SUPERSEDED, now=now):
        await record(conn, business_id=caller.business_id, proof_id=earlier["id"],
                     order_id=caller.order_id, action="superseded", actor=caller.actor,
                     key_id=caller.key_id, before={**earlier, "status": proof_store.PENDING},
                     after=earlier, now=now)
    version = await payment_method_store.count_submission(conn, mp["id"], now)
    values = new_proof_row(caller, proof_id=proof_id, manual_payment_id=mp["id"],
                           version=version, key=key, clean=clean, now=now)
    await proof_store.insert_proof(conn, values)
    await order_store.set_hold(conn, caller.order_id, held_until(
        proof_deadline=mp["proof_deadline"], now=now, review_hours=review_hours,
        proof_pending=True))
    await record(conn, business_id=caller.business_id, proof_id=proof_id,
                 order_id=caller.order_id, action="submitted", actor=caller.actor,
                 key_id=caller.key_id, before=None, after=values, now=now)
    await order_store.add_event(
        conn, business_id=caller.business_id, order_id=caller.order_id, actor=caller.actor,
        action="payment_proof_submitted", from_status=order.status, to_status=order.status,
        changes={"proof_id": str(proof_id), "version": version, "sha256": clean.sha256},
        created_at=now)
    await announce(conn, EventType.PAYMENT_PROOF_SUBMITTED, values, order, actor=caller.actor,
                   now=now, first=True)
    # As the queue shows it (the columns load_proof joins in), without reading it back.
    return {**values, "order_number": order.number, "order_status": order.status,
            "order_total": order.total, "order_currency": order.currency,
            "customer_name": order.customer_name, "reference": mp["reference"],
            "method_code": mp["method_code"], "expected_amount": mp["amount"],
            "proof_deadline": mp["proof_deadline"]}


async def list_proofs(runtime: Runtime, caller: OrderCaller) -> list[dict[str, Any]]:
    """Every version sent for the order, oldest first (the buyer's view for the buyer)."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        rows = await proof_store.proofs_of_order(conn, caller.business_id, caller.order_id)
    return [buyer_proof_view(r) if caller.is_buyer else proof_view(r) for r in rows]


async def proof_file(runtime: Runtime, caller: OrderCaller,
                     proof_id: uuid.UUID) -> tuple[bytes, str]:
    """The proof's cleaned bytes and media type, opened from sealed storage."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await proof_store.load_proof(conn, caller.business_id, proof_id)
    if row is None or row["order_id"] != caller.order_id:
        raise NotFound("payment proof", proof_id)
    return await open_file(runtime, row, actor=caller.actor, key_id=caller.key_id)


async def open_file(runtime: Runtime, row: RowMapping, *, actor: str,
                    key_id: uuid.UUID | None) -> tuple[bytes, str]:
    """The file, and an audit entry that this caller saw it (a receipt is personal data)."""
    content = await read_file(runtime, row)

    async def audit(conn: AsyncConnection) -> None:
        await record(conn, business_id=row["business_id"], proof_id=row["id"],
                     order_id=row["order_id"], action="file_viewed", actor=actor,
                     key_id=key_id, before=None, after=None, now=runtime.clock.now())

    await runtime.db.run(audit)
    return content, row["media_type"]


async def read_file(runtime: Runtime, row: RowMapping) -> bytes:
    if row["storage_key"] is None or row["file_deleted_at"] is not None:
        raise ProofFileDeleted(
            "This proof's file was deleted "
            f"({row['file_deleted_reason'] or 'retention'}); its record and hash remain.",
            details={"sha256": row["sha256"], "deleted_at": row["file_deleted_at"]})
    try:
        return await proof_storage(runtime).get(row["storage_key"])
    except StorageUnavailable as exc:
        raise ProofStorageUnavailable("The proof store did not answer; try again in a "
                                      "moment.") from exc
    except (KeyError, SealedDataError) as exc:
        # The row says the file exists: storage lost it or cannot open it. Say so plainly.
        raise ProofFileDeleted("This proof's file cannot be read from storage; an operator "
                               "should check the proof storage and its master keys.",
                               details={"sha256": row["sha256"],
                                        "problem": type(exc).__name__}) from None
