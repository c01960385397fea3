"""The verifier's queue: ``/console/verifications`` lists the payment proofs waiting for a
person (oldest first, the buyer who waited longest served first), read-only for now; each
opens ``/console/verifications/{id}`` with what the proof says and its file. Deciding comes
with the verification workspace (issue 14). The queue is live: when the business's stream
says a proof arrived, was scored or decided, the page asks ``/console/verifications/rows`` for
the same page of the queue again and swaps it in (htmx's SSE extension).

Everything here needs the verify scope (owners, admins, verifiers): the manual-payments use
cases check it. Another business's proof is the 404 page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from orderline.core.errors import ValidationFailed
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id
from orderline.events.event_types import EventType
from orderline.manual_payments import verifications
from orderline.manual_payments.proof_store import QueueFilter
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.pages import console_page

router = APIRouter()

PAGE_SIZE = 50


# Proofs arriving, scored and decided change the queue (and need the verify scope to hear).
LIVE_TYPES = tuple(t.value for t in (
    EventType.PAYMENT_PROOF_SUBMITTED, EventType.PAYMENT_PROOF_SCORED,
    EventType.PAYMENT_PROOF_APPROVED, EventType.PAYMENT_PROOF_REJECTED))


async def _queue_page(runtime: RuntimeDep, staff: ConsoleStaff,
                      cursor: str | None) -> dict[str, Any]:
    try:
        after = decode_cursor(cursor)
    except ValidationFailed:
        raise HTTPException(status_code=400) from None
    rows = await verifications.list_queue(runtime, staff.principal, QueueFilter(),
                                          after=after, limit=PAGE_SIZE + 1)
    page = rows[:PAGE_SIZE]
    next_cursor = (encode_cursor(page[-1]["uploaded_at"], page[-1]["id"])
                   if len(rows) > PAGE_SIZE else None)
    return {"proofs": page, "next_cursor": next_cursor, "first_page": cursor is None,
            "cursor": cursor}


@router.get("/verifications", response_class=HTMLResponse)
async def queue(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                cursor: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    return console_page(request, staff, "console/verifications.html",
                        live_types=LIVE_TYPES, **await _queue_page(runtime, staff, cursor))


@router.get("/verifications/rows", response_class=HTMLResponse)
async def queue_rows(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                     cursor: Annotated[str | None, Query(max_length=500)] = None
                     ) -> HTMLResponse:
    """The same page of the queue again, alone, when the stream says a proof moved."""
    return console_page(request, staff, "console/_verification_rows.html",
                        **await _queue_page(runtime, staff, cursor))


@router.get("/verifications/{proof_id}", response_class=HTMLResponse)
async def proof(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                proof_id: str) -> HTMLResponse:
    shown = await verifications.get_verification(runtime, staff.principal,
                                                 parse_id("verification", proof_id))
    return console_page(request, staff, "console/verification.html", proof=shown)


@router.get("/verifications/{proof_id}/file")
async def proof_file(runtime: RuntimeDep, staff: ConsoleStaffDep, proof_id: str) -> Response:
    content, media_type = await verifications.proof_file(runtime, staff.principal,
                                                         parse_id("verification", proof_id))
    # An image is shown in the page; anything else (a PDF) is downloaded, never run here.
    disposition = "inline" if media_type.startswith("image/") else (
        f'attachment; filename="proof-{proof_id}"')
    return Response(content, media_type=media_type, headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": disposition,
        "Content-Security-Policy": "default-src 'none'; sandbox"})
