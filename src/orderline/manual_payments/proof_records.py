"""How a payment proof is shown (to the merchant's queue, to the buyer), written to the
verification audit log, and announced as an event: shared by upload, reading and review.

The buyer never sees a proof's score or what was read from it (that would teach a forger
what to fix); the merchant sees both. Events about proofs have their own aggregate, so the
buyer's order stream does not carry them either.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.manual_payments import proof_store
from orderline.manual_payments.review_rules import bp_to_score
from orderline.orders.store import OrderRow


def file_url(row: Mapping[Any, Any]) -> str | None:
    if row["storage_key"] is None or row["file_deleted_at"] is not None:
        return None
    return f"/v1/orders/{row['order_id']}/payment-proofs/{row['id']}/file"


def buyer_proof_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": row["id"], "version": row["version"], "status": row["status"],
            "media_type": row["media_type"], "size_bytes": row["size_bytes"],
            "uploaded_at": row["uploaded_at"], "decided_at": row["decided_at"],
            "reason": row["reason"] if row["status"] == proof_store.REJECTED else None,
            "file_url": file_url(row), "file_deleted_at": row["file_deleted_at"],
            "payment_request_id": row.get("payment_request_id")}


def proof_view(row: Mapping[Any, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The merchant's view; ``row`` may carry the queue's order columns."""
    shown = {**buyer_proof_view(row), "order_id": row["order_id"],
             "sha256": row["sha256"], "width": row["width"], "height": row["height"],
             "uploaded_by": row["uploaded_by"], "reason": row["reason"],
             "ocr_status": row["ocr_status"], "ocr_error": row["ocr_error"],
             "score": bp_to_score(row["score_bp"]), "checks": row["checks"] or [],
             "read": row["read"], "scored_at": row["scored_at"],
             "decided_by": row["decided_by"], "auto_decided": row["auto_decided"],
             "file_deleted_reason": row["file_deleted_reason"]}
    if "order_number" in row:
        shown["order"] = {"id": row["order_id"], "number": row["order_number"],
                          "status": row["order_status"], "total": row["order_total"],
                          "currency": row["order_currency"],
                          "customer_name": row["customer_name"]}
        shown.update(method=row["method_code"], reference=row["reference"],
                     expected_amount=row["expected_amount"],
                     proof_deadline=row["proof_deadline"])
    if now is not None:
        shown["age_seconds"] = int((now - row["uploaded_at"]).total_seconds())
    return shown


def audit_state(row: Mapping[Any, Any] | None) -> dict[str, Any] | None:
    """What the audit log keeps of a proof before and after an action: never the file, the
    text read from it or anything personal, so it can outlive both."""
    if row is None:
        return None
    return {"status": row["status"], "version": row["version"], "sha256": row["sha256"],
            "ocr_status": row["ocr_status"], "score": bp_to_score(row["score_bp"]),
            "decided_by": row["decided_by"], "reason": row["reason"],
            "file": row["storage_key"] is not None and row["file_deleted_at"] is None}


async def record(conn: AsyncConnection, *, business_id: uuid.UUID, proof_id: uuid.UUID,
                 order_id: uuid.UUID, action: str, actor: str, key_id: uuid.UUID | None,
                 before: Mapping[Any, Any] | None, after: Mapping[Any, Any] | None,
                 now: datetime) -> None:
    await proof_store.add_audit(conn, {
        "business_id": business_id, "proof_id": proof_id, "order_id": order_id,
        "action": action, "actor": actor, "key_id": key_id, "before": audit_state(before),
        "after": audit_state(after), "created_at": now})


def order_brief(order: OrderRow) -> dict[str, Any]:
    return {"id": order.id, "number": order.number, "status": order.status,
            "total": order.total, "currency": order.currency,
            "customer": {"name": order.customer_name, "phone": order.customer_phone,
                         "email": order.customer_email}}


async def announce(conn: AsyncConnection, type_: EventType, proof: Mapping[Any, Any],
                   order: OrderRow, *, actor: str, now: datetime,
                   extra: Mapping[Any, Any] | None = None, first: bool = False) -> None:
    await emit(conn, business_id=proof["business_id"], type=type_,
               aggregate_type=AggregateType.PAYMENT_PROOF, aggregate_id=proof["id"],
               payload={"proof": {**proof_view(proof), **(extra or {})},
                        "order": order_brief(order), "actor": actor},
               now=now, new_aggregate=first)


async def close_pending_of_order(conn: AsyncConnection, order: OrderRow, *,
                                 actor: str, now: datetime, paid: bool = False) -> None:
    """The order was cancelled, or paid some other way (a card, a payment confirmed by
    hand): its undecided proofs leave the queue, audited."""
    status = proof_store.SUPERSEDED if paid else proof_store.CANCELLED
    for closed in await proof_store.close_pending(conn, order.id, status=status, now=now):
        await record(conn, business_id=order.business_id, proof_id=closed["id"],
                     order_id=order.id, action="order_paid" if paid else "order_cancelled",
                     actor=actor, key_id=None, before={**closed, "status": proof_store.PENDING},
                     after=closed, now=now)
