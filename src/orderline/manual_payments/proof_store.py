"""SQL for payment proofs: the rows, their one-winner decision, the duplicate fingerprints,
the OCR work queue (leased), retention, and the verification audit log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.tables import table_of
from orderline.manual_payments.tables import (
    ManualPayment,
    PaymentProof,
    ProofFingerprint,
    VerificationAudit,
)
from orderline.orders.figures_store import WaitingOrder, WaitingOrders
from orderline.orders.tables import Order

proofs = table_of(PaymentProof)
fingerprints = table_of(ProofFingerprint)
audit = table_of(VerificationAudit)
orders = table_of(Order)
manual_payments = table_of(ManualPayment)

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
SUPERSEDED = "superseded"
CANCELLED = "cancelled"  # its order was cancelled before anyone decided
DECIDED = (APPROVED, REJECTED)

OCR_PENDING = "pending"
OCR_RUNNING = "running"
OCR_SCORED = "scored"
OCR_UNSCORED = "unscored"

# What the queue shows of each proof's order and manual payment, beside the proof itself.
_QUEUE_COLUMNS = (*proofs.c, orders.c.number.label("order_number"),
                  orders.c.status.label("order_status"), orders.c.total.label("order_total"),
                  orders.c.currency.label("order_currency"),
                  orders.c.customer_name.label("customer_name"),
                  manual_payments.c.reference.label("reference"),
                  manual_payments.c.method_code.label("method_code"),
                  manual_payments.c.amount.label("expected_amount"),
                  manual_payments.c.proof_deadline.label("proof_deadline"))


def _joined() -> Any:
    return proofs.join(orders, orders.c.id == proofs.c.order_id).join(
        manual_payments, manual_payments.c.id == proofs.c.manual_payment_id)


async def insert_proof(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(proofs).values(**values))


async def load_proof(conn: AsyncConnection, business_id: uuid.UUID,
                     proof_id: uuid.UUID) -> RowMapping | None:
    """The proof with its order's and manual payment's queue columns."""
    stmt = (select(*_QUEUE_COLUMNS).select_from(_joined())
            .where(proofs.c.business_id == business_id, proofs.c.id == proof_id))
    return (await conn.execute(stmt)).mappings().first()


async def proofs_of_order(conn: AsyncConnection, business_id: uuid.UUID,
                          order_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(proofs).where(proofs.c.business_id == business_id,
                                 proofs.c.order_id == order_id).order_by(proofs.c.version))
    return list((await conn.execute(stmt)).mappings())


async def close_pending(conn: AsyncConnection, order_id: uuid.UUID, *, status: str,
                        now: datetime) -> list[RowMapping]:
    """Take every undecided proof of the order out of the queue (a newer proof replaced it,
    or the order was cancelled); returns them as they were."""
    stmt = (update(proofs).where(proofs.c.order_id == order_id, proofs.c.status == PENDING)
            .values(status=status, decided_at=now).returning(*proofs.c))
    return list((await conn.execute(stmt)).mappings())


async def close_pending_of_request(conn: AsyncConnection, request_id: uuid.UUID, *,
                                   status: str, now: datetime) -> list[RowMapping]:
    """Take the undecided proofs sent for one payment request out of the queue (a newer
    proof for it replaced them); returns them as they were."""
    stmt = (update(proofs).where(proofs.c.payment_request_id == request_id,
                                 proofs.c.status == PENDING)
            .values(status=status, decided_at=now).returning(*proofs.c))
    return list((await conn.execute(stmt)).mappings())


async def sent_for_another_payment(conn: AsyncConnection, order_id: uuid.UUID, sha256: str,
                                   request_id: uuid.UUID | None) -> bool:
    """This content was already sent for another payment of the same order (the order's
    own, or another change's): one receipt pays one thing."""
    other: Any = (proofs.c.payment_request_id.is_not(None) if request_id is None else
                  or_(proofs.c.payment_request_id.is_(None),
                      proofs.c.payment_request_id != request_id))
    stmt = select(proofs.c.id).where(proofs.c.order_id == order_id, proofs.c.sha256 == sha256,
                                     other).limit(1)
    return (await conn.execute(stmt)).first() is not None


async def claim_decision(conn: AsyncConnection, proof_id: uuid.UUID, *, status: str,
                         values: dict[str, Any]) -> RowMapping | None:
    """Decide the proof only if it is still pending: one statement, so of two people acting
    at once exactly one gets the row back."""
    stmt = (update(proofs).where(proofs.c.id == proof_id, proofs.c.status == PENDING)
            .values(status=status, **values).returning(*proofs.c))
    return (await conn.execute(stmt)).mappings().first()


# --- duplicates -------------------------------------------------------------------------------

async def fingerprint_owner(conn: AsyncConnection, business_id: uuid.UUID,
                            sha256: str) -> RowMapping | None:
    stmt = select(fingerprints).where(fingerprints.c.business_id == business_id,
                                      fingerprints.c.sha256 == sha256)
    return (await conn.execute(stmt)).mappings().first()


async def claim_fingerprint(conn: AsyncConnection, *, business_id: uuid.UUID, sha256: str,
                            order_id: uuid.UUID, proof_id: uuid.UUID,
                            now: datetime) -> RowMapping:
    """Record that this order sent this content, unless an order did first; returns the
    first sender. Two concurrent senders: the second INSERT waits for the first's commit
    (PostgreSQL's unique index) and then finds its row."""
    await insert_ignoring_conflict(conn, fingerprints, {
        "business_id": business_id, "sha256": sha256, "order_id": order_id,
        "proof_id": proof_id, "created_at": now})
    owner = await fingerprint_owner(conn, business_id, sha256)
    assert owner is not None
    return owner


# --- the queue --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: str | None = PENDING
    method: str | None = None
    min_score_bp: int | None = None
    max_score_bp: int | None = None
    scored: bool | None = None
    uploaded_before: datetime | None = None  # older than an age
    uploaded_after: datetime | None = None  # younger than an age
    order_id: uuid.UUID | None = None


async def queue(conn: AsyncConnection, business_id: uuid.UUID, f: QueueFilter, *,
                after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[RowMapping]:
    """Oldest first: the buyer who waited longest is served first."""
    stmt = _filtered(select(*_QUEUE_COLUMNS).select_from(_joined()).where(
        proofs.c.business_id == business_id), f)
    if after is not None:
        stmt = stmt.where(or_(proofs.c.uploaded_at > after[0],
                              and_(proofs.c.uploaded_at == after[0], proofs.c.id > after[1])))
    stmt = stmt.order_by(proofs.c.uploaded_at, proofs.c.id).limit(limit)
    return list((await conn.execute(stmt)).mappings())


def _filtered(stmt: Any, f: QueueFilter) -> Any:
    if f.status is not None:
        stmt = stmt.where(proofs.c.status == f.status)
    if f.method is not None:
        stmt = stmt.where(manual_payments.c.method_code == f.method)
    if f.min_score_bp is not None:
        stmt = stmt.where(proofs.c.score_bp >= f.min_score_bp)
    if f.max_score_bp is not None:
        stmt = stmt.where(proofs.c.score_bp <= f.max_score_bp)
    if f.scored is not None:
        stmt = stmt.where(proofs.c.score_bp.is_not(None) if f.scored
                          else proofs.c.score_bp.is_(None))
    if f.uploaded_before is not None:
        stmt = stmt.where(proofs.c.uploaded_at <= f.uploaded_before)
    if f.uploaded_after is not None:
        stmt = stmt.where(proofs.c.uploaded_at >= f.uploaded_after)
    if f.order_id is not None:
        stmt = stmt.where(proofs.c.order_id == f.order_id)
    return stmt


async def queue_before(conn: AsyncConnection, business_id: uuid.UUID, f: QueueFilter, *,
                       before: tuple[datetime, uuid.UUID]) -> RowMapping | None:
    """The proof just before ``before`` in the queue's order (oldest first), if any."""
    stmt = _filtered(select(*_QUEUE_COLUMNS).select_from(_joined()).where(
        proofs.c.business_id == business_id), f)
    stmt = stmt.where(or_(proofs.c.uploaded_at < before[0],
                          and_(proofs.c.uploaded_at == before[0], proofs.c.id < before[1])))
    stmt = stmt.order_by(proofs.c.uploaded_at.desc(), proofs.c.id.desc()).limit(1)
    return (await conn.execute(stmt)).mappings().first()


async def pending_figures(conn: AsyncConnection, business_id: uuid.UUID) -> RowMapping:
    stmt = select(func.count().label("pending"),
                  func.count(proofs.c.score_bp).label("scored"),
                  func.min(proofs.c.uploaded_at).label("oldest")).where(
        proofs.c.business_id == business_id, proofs.c.status == PENDING)
    row: RowMapping = (await conn.execute(stmt)).mappings().one()
    return row


async def orders_awaiting_verification(conn: AsyncConnection, business_id: uuid.UUID, *,
                                       first: int) -> WaitingOrders:
    """How many proofs wait for a person, and the orders of the ``first`` (the longest
    waiting first): each order as its waiting lists show it, since its proof came."""
    pending = [proofs.c.business_id == business_id, proofs.c.status == PENDING]
    count = (await conn.execute(select(func.count()).select_from(proofs).where(*pending))
             ).scalar_one()
    stmt = (select(orders.c.id, orders.c.number, orders.c.status, orders.c.customer_name,
                   orders.c.total, orders.c.currency, proofs.c.uploaded_at.label("since"),
                   orders.c.payment_deadline.label("due_at"))
            .select_from(proofs.join(orders, orders.c.id == proofs.c.order_id))
            .where(*pending).order_by(proofs.c.uploaded_at, proofs.c.id).limit(first))
    rows = [WaitingOrder.from_row(r) for r in (await conn.execute(stmt)).mappings()]
    return WaitingOrders(count=int(count), first=rows)


async def decided_since(conn: AsyncConnection, business_id: uuid.UUID, since: datetime,
                        limit: int) -> list[RowMapping]:
    stmt = (select(proofs.c.status, proofs.c.uploaded_at, proofs.c.decided_at,
                   proofs.c.score_bp, proofs.c.auto_decided)
            .where(proofs.c.business_id == business_id, proofs.c.status.in_(DECIDED),
                   proofs.c.decided_at >= since)
            .order_by(proofs.c.decided_at.desc()).limit(limit))
    return list((await conn.execute(stmt)).mappings())


async def waiting_since(conn: AsyncConnection, business_id: uuid.UUID,
                        since: datetime) -> list[tuple[datetime, datetime | None]]:
    """When each proof that waited at some moment from ``since`` on came and left the queue
    (``decided_at``, which every way out of ``pending`` sets; None while it waits): one
    statement, two columns a proof, for the pending-over-time figures."""
    stmt = (select(proofs.c.uploaded_at, proofs.c.decided_at)
            .where(proofs.c.business_id == business_id,
                   or_(proofs.c.status == PENDING, proofs.c.decided_at >= since)))
    return [(r.uploaded_at, r.decided_at) for r in await conn.execute(stmt)]


# --- reading proofs (the worker) ------------------------------------------------------------

async def claim_for_reading(conn: AsyncConnection, now: datetime, *, lease_until: datetime,
                            limit: int) -> list[RowMapping]:
    """Lease proofs waiting to be read (or whose reader's lease ran out): their attempt count
    rises, and the new count is the lease's token for writing the result back."""
    pick = (select(proofs.c.id)
            .where(proofs.c.ocr_status.in_((OCR_PENDING, OCR_RUNNING)),
                   proofs.c.ocr_due_at <= now)
            .order_by(proofs.c.ocr_due_at).limit(limit))
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = [r.id for r in await conn.execute(pick)]
    if not ids:
        return []
    stmt = (update(proofs).where(proofs.c.id.in_(ids))
            .values(ocr_status=OCR_RUNNING, ocr_due_at=lease_until,
                    ocr_attempts=proofs.c.ocr_attempts + 1)
            .returning(*proofs.c))
    return list((await conn.execute(stmt)).mappings())


async def write_reading(conn: AsyncConnection, proof_id: uuid.UUID, *, attempt: int,
                        values: dict[str, Any]) -> RowMapping | None:
    """Write a reader's result only if its lease still holds (no other reader took over)."""
    stmt = (update(proofs).where(proofs.c.id == proof_id, proofs.c.ocr_status == OCR_RUNNING,
                                 proofs.c.ocr_attempts == attempt)
            .values(**values).returning(*proofs.c))
    return (await conn.execute(stmt)).mappings().first()


# --- retention ------------------------------------------------------------------------------

async def files_past_retention(conn: AsyncConnection, business_id: uuid.UUID,
                               final_before: datetime, limit: int) -> list[RowMapping]:
    """Proofs still holding a file whose order ended (delivered, cancelled, returned) before
    ``final_before``."""
    final_at = func.coalesce(orders.c.delivered_at, orders.c.cancelled_at)
    stmt = (select(proofs.c.id, proofs.c.order_id, proofs.c.sha256, proofs.c.storage_key)
            .select_from(proofs.join(orders, orders.c.id == proofs.c.order_id))
            .where(proofs.c.business_id == business_id, proofs.c.file_deleted_at.is_(None),
                   orders.c.status.in_(("delivered", "cancelled", "returned")),
                   final_at < final_before)
            .order_by(final_at).limit(limit))
    return list((await conn.execute(stmt)).mappings())


async def mark_files_deleted(conn: AsyncConnection, proof_ids: Sequence[uuid.UUID], *,
                             reason: str, now: datetime) -> list[RowMapping]:
    """The files are to go (the commit is the decision; deleting them follows)."""
    if not proof_ids:
        return []
    stmt = (update(proofs).where(proofs.c.id.in_(proof_ids), proofs.c.file_deleted_at.is_(None))
            .values(file_deleted_at=now, file_deleted_reason=reason, ocr_text=None, read=None)
            .returning(*proofs.c))
    return list((await conn.execute(stmt)).mappings())


async def files_to_remove(conn: AsyncConnection, limit: int) -> list[RowMapping]:
    """Files whose deletion was decided but not yet done (also after a crash in between)."""
    stmt = (select(proofs.c.id, proofs.c.storage_key)
            .where(proofs.c.file_deleted_at.is_not(None), proofs.c.storage_key.is_not(None))
            .limit(limit))
    return list((await conn.execute(stmt)).mappings())


async def forget_file(conn: AsyncConnection, proof_id: uuid.UUID) -> None:
    await conn.execute(update(proofs).where(proofs.c.id == proof_id).values(storage_key=None))


async def stored_files(conn: AsyncConnection, after: uuid.UUID | None, limit: int, *,
                       business_id: uuid.UUID | None = None) -> list[RowMapping]:
    """Every proof that still has a file, by id (for re-wrapping under a new master key)."""
    stmt = select(proofs.c.id, proofs.c.storage_key).where(proofs.c.storage_key.is_not(None),
                                                         proofs.c.file_deleted_at.is_(None))
    if business_id is not None:
        stmt = stmt.where(proofs.c.business_id == business_id)
    if after is not None:
        stmt = stmt.where(proofs.c.id > after)
    return list((await conn.execute(stmt.order_by(proofs.c.id).limit(limit))).mappings())


# --- audit ----------------------------------------------------------------------------------

async def add_audit(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(audit).values(**values))


async def audit_of_proof(conn: AsyncConnection, business_id: uuid.UUID,
                         proof_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(audit).where(audit.c.business_id == business_id,
                                audit.c.proof_id == proof_id).order_by(audit.c.id))
    return list((await conn.execute(stmt)).mappings())
