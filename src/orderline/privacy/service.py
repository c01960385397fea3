"""A customer's personal data: exported as JSON on request, or erased.

Erasure keeps what the books need (orders with their numbers, lines, amounts, taxes and the
country taxed; the payments ledger; the proofs' hashes and the verification audit log) and
removes what names or reaches the person: name, phone and email on the customer, orders and
checkouts; addresses but for their country; order notes; one-time-code phone numbers; queued
and sent notifications; the text OCR read; the proof files themselves; and the contact in
every event and history entry of their orders. It is refused while an order still needs the
address (not yet delivered, cancelled or returned).

The rows change in one transaction; the proof files are deleted after it commits (the rows
already say they are gone, and the retention job finishes any file a crash left behind).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import CustomerHasOpenOrders, NotFound
from orderline.core.runtime import Runtime
from orderline.documents.service import rewrite_invoices
from orderline.manual_payments import proof_store
from orderline.manual_payments.proof_records import buyer_proof_view, record
from orderline.manual_payments.retention import remove_marked_files
from orderline.manual_payments.review_rules import FINAL_ORDER_STATUSES
from orderline.orders import store as order_store
from orderline.privacy import store
from orderline.privacy.rules import ERASED_NAME, scrub
from orderline.tenancy.rules import Principal, Scope

ORDER_FIELDS = ("id", "number", "status", "channel", "customer_name", "customer_phone",
                "customer_email", "shipping_address", "note", "currency", "total",
                "payment_method", "payment_reference", "created_at", "paid_at", "shipped_at",
                "delivered_at", "cancelled_at")


async def export(runtime: Runtime, principal: Principal,
                 customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything the business holds about the customer, in one JSON document."""
    principal.require(Scope.ADMIN)

    async def read(conn: AsyncConnection) -> dict[str, Any]:
        customer = await order_store.get_customer(conn, principal.business_id, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        orders = await store.orders_of(conn, customer_id)
        order_ids = [o["id"] for o in orders]
        checkouts = await store.checkouts_of(conn, customer_id)
        messages = await store.notifications_of(conn, order_ids)
        proofs = await store.proofs_of(conn, order_ids)
        return {"customer": dict(customer), "exported_at": runtime.clock.now(),
                "orders": [{k: o[k] for k in ORDER_FIELDS} for o in orders],
                "checkouts": [dict(c) for c in checkouts],
                "notifications": [dict(m) for m in messages],
                "payment_proofs": [{**buyer_proof_view(p), "order_id": p["order_id"],
                                    "sha256": p["sha256"], "read": p["read"]}
                                   for p in proofs]}
    return await runtime.db.read_from_replica(principal.business_id, read)


async def erase(runtime: Runtime, principal: Principal,
                customer_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        customer = await store.lock_customer(conn, principal.business_id, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        orders = await store.orders_of(conn, customer_id)
        open_orders = [o["number"] for o in orders if o["status"] not in FINAL_ORDER_STATUSES]
        if open_orders:
            raise CustomerHasOpenOrders(
                "These orders still need the customer's contact and address: "
                + ", ".join(open_orders) + ". Deliver or cancel them, then erase.",
                details={"orders": open_orders})
        order_ids = [o["id"] for o in orders]
        await store.anonymise(conn, customer_id, order_ids, name=ERASED_NAME,
                              values={"erased_at": now})
        history, events = await store.events_naming(conn, order_ids)
        for entry in history:
            await store.rewrite_history(conn, entry["id"], scrub(entry["changes"]))
        proofs = await store.proofs_of(conn, order_ids)
        for event in [*events, *await store.proof_events(conn, [p["id"] for p in proofs])]:
            await store.rewrite_event(conn, event["id"], scrub(event["payload"]))
        # The invoices stay (the books need them); their PDFs go at once, and the worker
        # draws them again without the person.
        await rewrite_invoices(conn, principal.business_id, order_ids, scrub, now=now)
        marked = await proof_store.mark_files_deleted(conn, [p["id"] for p in proofs],
                                                      reason="erasure", now=now)
        after = {row["id"]: row for row in marked}
        for before in proofs:
            await record(conn, business_id=principal.business_id, proof_id=before["id"],
                         order_id=before["order_id"], action="personal_data_erased",
                         actor=principal.actor, key_id=principal.key_id, before=before,
                         after=after.get(before["id"], before), now=now)
        return {"customer_id": customer_id, "erased_at": now, "orders": len(order_ids),
                "proof_files_deleted": len(marked)}

    done = await runtime.db.run(work)
    await remove_marked_files(runtime)
    return done
