"""/v1/verifications: the queue of payment proofs waiting for a person (verify scope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from sse_starlette import EventSourceResponse

from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id, refusals
from orderline.events import live
from orderline.events.event_types import PROOF_EVENTS
from orderline.events.routes import SSE_RESPONSES, respond
from orderline.manual_payments import verifications
from orderline.manual_payments.proof_store import QueueFilter
from orderline.manual_payments.review_rules import Period, score_to_bp
from orderline.manual_payments.routes import FILE_RESPONSES, file_response
from orderline.manual_payments.schemas import (
    ApproveIn,
    BulkIn,
    BulkResults,
    QueueStats,
    RejectIn,
    VerificationDetail,
    VerificationOut,
    VerificationPage,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/verifications", tags=["verification queue"])

Score = Annotated[float | None, Query(ge=0, le=1)]
Minutes = Annotated[int | None, Query(ge=0, le=60 * 24 * 365)]


@router.get("", response_model=VerificationPage, responses=refusals(401, 403))
async def list_queue(
    runtime: RuntimeDep, principal: PrincipalDep,
    status: Literal["pending", "approved", "rejected", "superseded", "cancelled",
                    "all"] = "pending",
    method: Annotated[str | None, Query(max_length=40)] = None,
    min_score: Score = None, max_score: Score = None,
    scored: bool | None = None,
    older_than_minutes: Minutes = None, newer_than_minutes: Minutes = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Oldest first. Filters: status, method code, score range (unscored proofs have no
    score), age in minutes."""
    now = runtime.clock.now()
    f = QueueFilter(
        status=None if status == "all" else status, method=method,
        min_score_bp=None if min_score is None else score_to_bp(min_score),
        max_score_bp=None if max_score is None else score_to_bp(max_score), scored=scored,
        uploaded_before=(None if older_than_minutes is None
                         else now - timedelta(minutes=older_than_minutes)),
        uploaded_after=(None if newer_than_minutes is None
                        else now - timedelta(minutes=newer_than_minutes)))
    rows = await verifications.list_queue(runtime, principal, f, after=decode_cursor(cursor),
                                          limit=limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return {"data": page, "next_cursor": encode_cursor(page[-1]["uploaded_at"], page[-1]["id"])
            if more else None}


@router.get("/stats", response_model=QueueStats, responses=refusals(401, 403))
async def queue_stats(runtime: RuntimeDep, principal: PrincipalDep,
                      days: Annotated[int | None, Query(ge=1, le=365)] = None,
                      period: Period | None = None) -> dict[str, Any]:
    """Pending count, median time to a decision, approval rate, and how often the score
    agreed with the person who decided, over the last ``days`` (default 30); with
    ``period=day|week|month`` also for each period (UTC), over 30 days, 12 weeks or a year
    unless ``days`` says otherwise."""
    return await verifications.stats(runtime, principal, days=days, period=period)


@router.get("/events", response_class=EventSourceResponse,
            responses={**SSE_RESPONSES, **refusals(401, 403)})
async def queue_events(
    runtime: RuntimeDep, principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """The queue, live: a proof arrived, was scored, or was decided (by anyone)."""
    stream = await live.open_merchant_stream(runtime, principal,
                                             types=sorted(PROOF_EVENTS),
                                             last_event_id=last_event_id)
    return respond(live.merchant_events(runtime, stream),
                   runtime.settings.live_heartbeat_seconds)


@router.post("/bulk", response_model=BulkResults,
             response_model_exclude_unset=True,  # a result has verification or error
             responses=refusals(401, 403))
async def bulk_decide(body: BulkIn, runtime: RuntimeDep,
                      principal: PrincipalDep) -> dict[str, Any]:
    """Many decisions at once; each result is reported separately (``ok`` and the proof, or
    the error), and one refusal does not undo the others."""
    return {"results": await verifications.bulk(runtime, principal,
                                                [d.model_dump() for d in body.decisions])}


@router.get("/{proof_id}", response_model=VerificationDetail, responses=refusals(401, 403))
async def get_verification(proof_id: str, runtime: RuntimeDep,
                           principal: PrincipalDep) -> dict[str, Any]:
    """One proof with what OCR read and its audit trail."""
    return await verifications.get_verification(runtime, principal,
                                                parse_id("verification", proof_id))


@router.get("/{proof_id}/file", response_class=Response,
            responses={**FILE_RESPONSES, **refusals(401, 403, 410, 503)})
async def verification_file(proof_id: str, runtime: RuntimeDep,
                            principal: PrincipalDep) -> Response:
    content, media_type = await verifications.proof_file(runtime, principal,
                                                         parse_id("verification", proof_id))
    return file_response(content, media_type, f"proof-{proof_id}")


@router.post("/{proof_id}/approve", response_model=VerificationOut,
             responses=refusals(401, 403, 409))
async def approve(proof_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                  body: ApproveIn | None = None) -> dict[str, Any]:
    """The money is in: the order is paid and the transfer booked in the payments ledger."""
    return await verifications.approve(runtime, principal, parse_id("verification", proof_id),
                                       body.note if body else None)


@router.post("/{proof_id}/reject", response_model=VerificationOut,
             responses=refusals(401, 403, 409))
async def reject(proof_id: str, body: RejectIn, runtime: RuntimeDep,
                 principal: PrincipalDep) -> dict[str, Any]:
    """The buyer is told the reason and may send a new proof until the deadline."""
    return await verifications.reject(runtime, principal, parse_id("verification", proof_id),
                                      body.reason)
