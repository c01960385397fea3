"""The verification workspace: what a person needs on screen to decide payment proofs quickly,
and deciding them from it (the console's ``/console/verifications`` pages).

- ``queue_page``: a page of the queue (oldest first, the API's filters as a ``QueueAsk``) with
  the count of pending proofs, the oldest one's age, and the business's method codes.
- ``review_proof``: one proof beside what the order expects: what was read from it (amount,
  reference, date, recipient), each marked as matching or not; the order's amount,
  reference, deadline and buyer; the order's earlier proofs and why they were rejected; and
  the previous and next pending proofs in the queue's order (under the same filters).
- ``decide``: approve or reject one (``verifications.approve`` / ``reject``, so the one-winner
  rule and its refusal naming who decided are theirs), then the next pending proof to open.
- ``decide_many``: the same for many at once (``verifications.bulk``), each result with its
  order's number.

Every function needs the ``verify`` scope; another business's proof is ``not_found``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.manual_payments import method_store as payment_method_store
from orderline.manual_payments import proof_store, verifications
from orderline.manual_payments.proof_records import proof_view
from orderline.orders import store as order_store
from orderline.tenancy.rules import Principal, Scope

STATUSES = ("pending", "approved", "rejected", "superseded", "cancelled", "all")

# Why a proof is refused, in the words the buyer reads (the console offers them as a list;
# "other" takes the person's own words).
REJECTION_REASONS: dict[str, str] = {
    "wrong_amount": "The amount on the receipt is not the order's total.",
    "wrong_reference": "The payment reference on the receipt is not this order's.",
    "unreadable": "The receipt cannot be read; please send a clearer picture.",
    "duplicate": "This receipt was already sent for another payment.",
    "not_a_receipt": "This is not a payment receipt.",
    "wrong_recipient": "The money was not sent to the shop's account.",
    "not_received": "The money has not arrived in the shop's account.",
}
OTHER_REASON = "other"


@dataclass(frozen=True, slots=True)
class QueueAsk:
    """The queue's filters as a person sets them: a status (``all`` for any), a method code,
    a score range in percent, only unscored proofs, and a least age in minutes."""

    status: str = "pending"
    method: str | None = None
    min_score: int | None = None
    max_score: int | None = None
    unscored: bool = False
    older_than_minutes: int | None = None

    def to_filter(self, now: datetime) -> proof_store.QueueFilter:
        if self.status not in STATUSES:
            raise ValidationFailed("Pick a status from the list.", details={"field": "status"})
        for name, value in (("min_score", self.min_score), ("max_score", self.max_score)):
            if value is not None and not 0 <= value <= 100:
                raise ValidationFailed("A score is between 0 and 100.",
                                       details={"field": name})
        if self.older_than_minutes is not None and not (
                0 <= self.older_than_minutes <= 60 * 24 * 365):
            raise ValidationFailed("An age is between 0 minutes and a year.",
                                   details={"field": "older_than"})
        return proof_store.QueueFilter(
            status=None if self.status == "all" else self.status, method=self.method or None,
            min_score_bp=None if self.min_score is None else self.min_score * 100,
            max_score_bp=None if self.max_score is None else self.max_score * 100,
            scored=False if self.unscored else None,
            uploaded_before=(None if self.older_than_minutes is None
                             else now - timedelta(minutes=self.older_than_minutes)))


def rejection_reason(picked: str | None, typed: str | None) -> str:
    """The sentence the buyer reads: a reason picked from the list, with the person's own
    words after it when they typed some (or alone, for "other")."""
    words = (typed or "").strip()
    code = (picked or "").strip()
    if code and code != OTHER_REASON:
        if code not in REJECTION_REASONS:
            raise ValidationFailed("Pick a reason from the list.", details={"field": "reason"})
        sentence = REJECTION_REASONS[code]
        return f"{sentence} {words}" if words else sentence
    if not words:
        raise ValidationFailed("Pick a reason from the list or write one: the buyer reads it.",
                               details={"field": "reason"})
    return words


# --- reading ----------------------------------------------------------------------------------

async def queue_page(runtime: Runtime, principal: Principal, ask: QueueAsk, *,
                     after: tuple[datetime, uuid.UUID] | None, limit: int) -> dict[str, Any]:
    """A page of the queue (``limit`` rows; ask one more to know there is a next page), how
    many proofs wait and for how long the oldest has, and the method codes to filter by."""
    principal.require(Scope.VERIFY)
    now = runtime.clock.now()
    f = ask.to_filter(now)

    async def read(conn: AsyncConnection
                   ) -> tuple[list[dict[str, Any]], RowMapping, list[RowMapping]]:
        rows = await proof_store.queue(conn, principal.business_id, f, after=after,
                                       limit=limit)
        return (await verifications.with_changes(conn, principal.business_id,
                                                 [proof_view(r, now=now) for r in rows]),
                await proof_store.pending_figures(conn, principal.business_id),
                await payment_method_store.list_methods(conn, principal.business_id))
    shown, pending, methods = await runtime.db.read_from_replica(principal.business_id, read)
    oldest = pending["oldest"]
    return {"proofs": shown,
            "pending": int(pending["pending"]),
            "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else None,
            "methods": [{"code": m["code"], "name": m["name"]} for m in methods]}


def _matching(checks: Sequence[Mapping[str, Any]], name: str) -> bool | None:
    for check in checks:
        if check.get("name") == name:
            return bool(check.get("passed"))
    return None


def compared_with_order(read: Mapping[str, Any] | None, checks: Sequence[Mapping[str, Any]],
                        *, reference: str, account_name: str) -> list[dict[str, Any]]:
    """What was read from the proof beside what the order expects, one line each for the
    amount, the reference, the date and the recipient; ``matches`` is None when nothing was
    read (the proof is not scored)."""
    seen = read or {}
    return [
        {"name": "amount", "read": list(seen.get("amounts") or []),
         "matches": _matching(checks, "amount")},
        {"name": "reference", "read": reference if _matching(checks, "reference") else None,
         "expected": reference, "matches": _matching(checks, "reference")},
        {"name": "date", "read": list(seen.get("dates") or []),
         "matches": _matching(checks, "date")},
        {"name": "recipient", "read": seen.get("recipient"), "expected": account_name,
         "matches": _matching(checks, "recipient")},
    ]


async def _neighbours(conn: AsyncConnection, business_id: uuid.UUID,
                      f: proof_store.QueueFilter, row: Mapping[Any, Any]
                      ) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    at = (row["uploaded_at"], row["id"])
    later = await proof_store.queue(conn, business_id, f, after=at, limit=1)
    earlier = await proof_store.queue_before(conn, business_id, f, before=at)
    return (earlier["id"] if earlier else None), (later[0]["id"] if later else None)


async def review_proof(runtime: Runtime, principal: Principal, proof_id: uuid.UUID,
                       ask: QueueAsk | None = None) -> dict[str, Any]:
    """One proof with everything needed to decide it (see the module's docstring)."""
    principal.require(Scope.VERIFY)
    now = runtime.clock.now()
    f = (ask or QueueAsk()).to_filter(now)
    async with runtime.db.read() as conn:
        row = await proof_store.load_proof(conn, principal.business_id, proof_id)
        if row is None:
            raise NotFound("verification", proof_id)
        order = await order_store.load_order(conn, principal.business_id, row["order_id"])
        mp = await payment_method_store.manual_payment_of_order(
            conn, principal.business_id, row["order_id"])
        others = await proof_store.proofs_of_order(conn, principal.business_id,
                                                   row["order_id"])
        previous, following = await _neighbours(conn, principal.business_id, f, row)
        shown = (await verifications.with_changes(conn, principal.business_id,
                                                  [proof_view(row, now=now)]))[0]
    assert order is not None and mp is not None  # a proof's order and payment stay
    method = mp["method"] or {}
    shown.update(
        ocr_text=row["ocr_text"], decided_at=row["decided_at"],
        compared=compared_with_order(row["read"], shown["checks"], reference=shown["reference"],
                                     account_name=str(method.get("account_name") or "")),
        buyer={"name": order.customer_name, "phone": order.customer_phone},
        method_name=method.get("name") or mp["method_code"],
        account_name=method.get("account_name"),
        earlier=[proof_view(p) for p in others
                 if p["id"] != proof_id and p["version"] < row["version"]],
        previous_id=previous, next_id=following)
    return shown


# --- deciding ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Decision:
    proof: dict[str, Any]
    next_id: uuid.UUID | None  # the pending proof to open next, None when none is left


async def _next_pending(runtime: Runtime, principal: Principal, f: proof_store.QueueFilter,
                        decided: Mapping[Any, Any]) -> uuid.UUID | None:
    """The pending proof after the decided one in the queue's order, else the oldest one
    left (one skipped earlier), under the page's filters."""
    pending = replace(f, status=proof_store.PENDING)
    async with runtime.db.read() as conn:
        later = await proof_store.queue(conn, principal.business_id, pending,
                                        after=(decided["uploaded_at"], decided["id"]), limit=1)
        if not later:
            later = await proof_store.queue(conn, principal.business_id, pending, after=None,
                                            limit=1)
    return later[0]["id"] if later else None


async def decide(runtime: Runtime, principal: Principal, proof_id: uuid.UUID, *,
                 approve: bool, reason: str | None = None, picked: str | None = None,
                 ask: QueueAsk | None = None) -> Decision:
    """Approve, or reject with a reason (``picked`` from ``REJECTION_REASONS`` and/or typed
    as ``reason``); then the next pending proof. Someone deciding first is
    ``already_verified`` naming them (``verifications.decide_on``)."""
    principal.require(Scope.VERIFY)
    f = (ask or QueueAsk()).to_filter(runtime.clock.now())
    if approve:
        shown = await verifications.approve(runtime, principal, proof_id)
    else:
        shown = await verifications.reject(runtime, principal, proof_id,
                                           rejection_reason(picked, reason))
    return Decision(proof=shown, next_id=await _next_pending(runtime, principal, f, shown))


async def decide_many(runtime: Runtime, principal: Principal, ids: Sequence[uuid.UUID], *,
                      approve: bool, reason: str | None = None,
                      picked: str | None = None) -> list[dict[str, Any]]:
    """Each proof decided on its own (``verifications.bulk``): one refusal does not undo the
    others; each result carries its order's number."""
    principal.require(Scope.VERIFY)
    if not ids:
        raise ValidationFailed("Select at least one proof.", details={"field": "id"})
    sentence = None if approve else rejection_reason(picked, reason)
    unique = list(dict.fromkeys(ids))
    results = await verifications.bulk(runtime, principal, [
        {"id": i, "action": "approve" if approve else "reject", "reason": sentence}
        for i in unique])
    async with runtime.db.read() as conn:
        numbers = {}
        for proof_id in unique:
            row = await proof_store.load_proof(conn, principal.business_id, proof_id)
            numbers[proof_id] = row["order_number"] if row is not None else None
    return [{**r, "order_number": numbers.get(r["id"])} for r in results]
