"""Reading payment proofs in the worker, never in the upload request.

A round leases a few proofs waiting to be read (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
workers never take the same one), then for each, with no transaction open: opens the sealed
file, runs OCR, reads amounts, dates and the recipient from the text, and scores it against
what the order expects. One transaction then writes the result under the order's row lock
(only if this worker's lease still holds), audits it, announces ``payment_proof.scored``, and,
when the business turned auto-approval on and the score reaches its threshold, approves the
proof in that same transaction.

OCR that is not installed leaves the proof unscored at once; OCR that fails is tried again
(``ocr_max_attempts``), then the proof is unscored. Either way it stays in the queue for a
person: a proof is never lost because it could not be read. A worker that dies mid-read
leaves its lease to run out, and another worker reads the proof again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.events.event_types import EventType
from orderline.manual_payments import method_store as payment_method_store
from orderline.manual_payments import proof_store
from orderline.manual_payments.files.configured import proof_reader, proof_storage
from orderline.manual_payments.files.encryption import SealedDataError
from orderline.manual_payments.proof_records import announce, record
from orderline.manual_payments.review_rules import score_to_bp
from orderline.manual_payments.rules import Expected, ProofScore, read_receipt, score_receipt
from orderline.manual_payments.verifications import decide_on
from orderline.order_changes import paying as change_payments
from orderline.order_changes.paying import RequestForProof
from orderline.orders import store as order_store
from orderline.orders.store import OrderRow

log = logging.getLogger("orderline.proofs")
OCR_ACTOR = "worker:ocr"
AUTO_ACTOR = "worker:auto_approve"
LEASE = timedelta(minutes=5)
BATCH = 4
MAX_TEXT = 20_000


async def score_due(runtime: Runtime, *, limit: int = BATCH) -> int:
    """One round; returns how many proofs it finished (scored or given up on)."""
    now = runtime.clock.now()
    claimed = await runtime.db.run(lambda conn: proof_store.claim_for_reading(
        conn, now, lease_until=now + LEASE, limit=limit))
    for proof in claimed:
        await _read_one(runtime, proof)
    return len(claimed)


async def _read_one(runtime: Runtime, proof: RowMapping) -> None:
    # Imported here: the API process never loads the OCR engine's wrapper.
    from orderline.manual_payments.files.ocr import OcrFailed, OcrUnavailable

    reader = proof_reader(runtime)
    text: str | None = None
    problem: str | None = None
    retry = False
    if not reader.available():
        problem = "OCR is not installed on this worker (tesseract); review the proof by eye."
    elif proof["storage_key"] is None:
        problem = "The proof's file was deleted before it could be read."
    else:
        try:
            content = await proof_storage(runtime).get(proof["storage_key"])
            text = await reader.read_text(content, proof["media_type"])
        except OcrUnavailable:
            problem = "OCR is not installed on this worker (tesseract); review by eye."
        except OcrFailed as exc:
            problem = f"OCR could not read the file: {exc}"[:480]
            retry = proof["ocr_attempts"] < runtime.settings.ocr_max_attempts
        except (KeyError, SealedDataError) as exc:
            problem = f"The stored file cannot be read ({type(exc).__name__})."
    now = runtime.clock.now()
    try:
        await runtime.db.run(lambda conn: _write(runtime, conn, proof, text=text,
                                                 problem=problem, retry=retry, now=now))
    except DomainError as exc:  # the auto-approval was refused (say the order was cancelled)
        log.warning("proof scored; auto-approval refused", extra={
            "proof_id": str(proof["id"]), "code": exc.code})
        await runtime.db.run(lambda conn: _write(runtime, conn, proof, text=text,
                                                 problem=problem, retry=retry, now=now,
                                                 auto=False))


def expected_of(mp: RowMapping, order: OrderRow) -> Expected:
    return Expected(amount=mp["amount"], currency=mp["currency"], reference=mp["reference"],
                    window_start=(order.created_at - timedelta(days=1)).date(),
                    window_end=(mp["proof_deadline"] + timedelta(days=1)).date(),
                    account_name=str(mp["method"].get("account_name") or ""))


def expected_of_request(mp: RowMapping, request: RequestForProof) -> Expected:
    """What a proof for a change's payment request should show: the request's amount and
    reference, a date from the request's making to its deadline, the order's account."""
    return Expected(amount=request.amount, currency=request.currency,
                    reference=request.reference(mp["reference"]),
                    window_start=(request.created_at - timedelta(days=1)).date(),
                    window_end=(request.deadline + timedelta(days=1)).date(),
                    account_name=str(mp["method"].get("account_name") or ""))


def _reading_summary(text: str, currency: str) -> dict[str, Any]:
    reading = read_receipt(text, currency=currency)
    return {"amounts": list(reading.amounts), "dates": [d.isoformat() for d in reading.dates],
            "recipient": reading.recipient}


async def _write(runtime: Runtime, conn: AsyncConnection, proof: RowMapping, *,
                 text: str | None, problem: str | None, retry: bool, now: datetime,
                 auto: bool = True) -> None:
    order = await order_store.load_order(conn, proof["business_id"], proof["order_id"],
                                         lock=True)
    mp = await payment_method_store.manual_payment_of_order(conn, proof["business_id"],
                                                            proof["order_id"])
    assert order is not None and mp is not None
    values: dict[str, Any]
    score: ProofScore | None = None
    expected = expected_of(mp, order)
    if proof["payment_request_id"] is not None:
        # A proof for a change's payment request is checked against the request.
        found = await change_payments.requests_by_id(conn, proof["business_id"],
                                                     [proof["payment_request_id"]])
        request = found.get(proof["payment_request_id"])
        if request is not None:
            expected = expected_of_request(mp, request)
    if text is not None:
        score = score_receipt(read_receipt(text, currency=mp["currency"]), expected)
        values = {"ocr_status": proof_store.OCR_SCORED, "ocr_error": None,
                  "ocr_text": text[:MAX_TEXT], "score_bp": score_to_bp(score.score),
                  "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                             for c in score.checks],
                  "read": _reading_summary(text, mp["currency"]), "scored_at": now}
    elif retry:
        values = {"ocr_status": proof_store.OCR_PENDING, "ocr_error": problem,
                  "ocr_due_at": now + timedelta(seconds=30 * proof["ocr_attempts"])}
    else:
        values = {"ocr_status": proof_store.OCR_UNSCORED, "ocr_error": problem,
                  "scored_at": now}
    written = await proof_store.write_reading(conn, proof["id"], attempt=proof["ocr_attempts"],
                                              values=values)
    if written is None or retry:
        return  # another worker took the lease over, or this one tries again later
    await record(conn, business_id=proof["business_id"], proof_id=proof["id"],
                 order_id=proof["order_id"], action="scored" if score else "unscored",
                 actor=OCR_ACTOR, key_id=None, before=proof, after=written, now=now)
    await announce(conn, EventType.PAYMENT_PROOF_SCORED, written, order, actor=OCR_ACTOR,
                   now=now)
    settings = await payment_method_store.proof_settings(conn, proof["business_id"])
    threshold = settings["proof_auto_approve_bp"]
    if (auto and score is not None and threshold is not None
            and written["score_bp"] >= threshold and written["status"] == proof_store.PENDING):
        await decide_on(runtime, conn, proof["business_id"], proof["id"], approve=True,
                        actor=AUTO_ACTOR, key_id=None,
                        reason=f"score {written['score_bp'] / 10_000:.2f} at or above the "
                               f"threshold {threshold / 10_000:.2f}", now=now, auto=True)

