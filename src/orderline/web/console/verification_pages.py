"""The verification workspace: ``/console/verifications`` is the queue of payment proofs
waiting for a person (oldest first, the buyer who waited longest served first), with the
API's filters as a GET form kept in the URL, the count of pending proofs and the oldest one's
age, and a checkbox on each row to approve or reject many at once (``/bulk``, each result
shown on its own). ``/console/verifications/{id}`` shows one proof (zoom and rotate its image,
a PDF in a frame) beside what the order expects, with Approve and Reject; after a decision
the next pending proof opens. Someone deciding first is named ("Already approved by ...").

The queue is live: when the business's stream says a proof arrived, was scored or decided,
the page asks ``/console/verifications/rows`` (with the same filters) for its rows again and
swaps them in (htmx's SSE extension). Keyboard shortcuts and the image's zoom are in
``static/js/console-verify.js``.

Everything here needs the verify scope (owners, admins, verifiers): the manual-payments use
cases (``manual_payments.workspace``) check it. Another business's proof is the 404 page.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orderline.core.errors import (
    AlreadyVerified,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id
from orderline.events.event_types import EventType
from orderline.manual_payments import verifications, workspace
from orderline.manual_payments.workspace import QueueAsk
from orderline.staff.names import decider_names
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.pages import console_page, form_errors, translated
from orderline.web.pages import FieldError, Flash

router = APIRouter()

PAGE_SIZE = 50
AGES = (15, 60, 240, 1440)  # the "waiting at least" choices, in minutes
# The queue page's fields by the names the use cases give them (a problem with the selection
# itself is about the whole form).
QUEUE_FIELDS = {"min_score": "min_score", "max_score": "max_score", "status": "status",
                "older_than": "older_than", "reason": "bulk-reason-code"}

# Proofs arriving, scored and decided change the queue (and need the verify scope to hear).
LIVE_TYPES = tuple(t.value for t in (
    EventType.PAYMENT_PROOF_SUBMITTED, EventType.PAYMENT_PROOF_SCORED,
    EventType.PAYMENT_PROOF_APPROVED, EventType.PAYMENT_PROOF_REJECTED))


# --- the queue's filters, in the URL --------------------------------------------------------

def _whole(value: str | None, field: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationFailed("Write a whole number.", details={"field": field}) from None


def queue_ask(request: Request) -> QueueAsk:
    """The filters of the queue's GET form (``status``, ``method``, ``min_score`` and
    ``max_score`` in percent, ``unscored``, ``older_than`` minutes)."""
    q = request.query_params
    return QueueAsk(status=q.get("status") or "pending", method=(q.get("method") or "")[:40]
                    or None, min_score=_whole(q.get("min_score"), "min_score"),
                    max_score=_whole(q.get("max_score"), "max_score"),
                    unscored=q.get("unscored") == "1",
                    older_than_minutes=_whole(q.get("older_than"), "older_than"))


def ask_query(ask: QueueAsk) -> str:
    """The filters as a query string (empty for the default queue), to keep them in links,
    in the live refresh and across a decision."""
    pairs: list[tuple[str, str]] = []
    if ask.status != "pending":
        pairs.append(("status", ask.status))
    if ask.method:
        pairs.append(("method", ask.method))
    for name, value in (("min_score", ask.min_score), ("max_score", ask.max_score),
                        ("older_than", ask.older_than_minutes)):
        if value is not None:
            pairs.append((name, str(value)))
    if ask.unscored:
        pairs.append(("unscored", "1"))
    return urlencode(pairs)


def _with(path: str, query: str, **more: str) -> str:
    extra = urlencode(more)
    joined = "&".join(part for part in (query, extra) if part)
    return f"{path}?{joined}" if joined else path


async def _queue_context(runtime: RuntimeDep, staff: ConsoleStaff, request: Request,
                         cursor: str | None) -> tuple[dict[str, Any], list[FieldError]]:
    try:
        after = decode_cursor(cursor)
    except ValidationFailed:
        raise HTTPException(status_code=400) from None
    errors: list[FieldError] = []
    try:
        ask = queue_ask(request)
        found = await workspace.queue_page(runtime, staff.principal, ask, after=after,
                                           limit=PAGE_SIZE + 1)
    except ValidationFailed as problem:
        errors = form_errors(problem, fields=QUEUE_FIELDS)
        ask = QueueAsk()
        found = await workspace.queue_page(runtime, staff.principal, ask, after=after,
                                           limit=PAGE_SIZE + 1)
    page = found["proofs"][:PAGE_SIZE]
    next_cursor = (encode_cursor(page[-1]["uploaded_at"], page[-1]["id"])
                   if len(found["proofs"]) > PAGE_SIZE else None)
    query = ask_query(ask)
    return {**found, "proofs": page, "next_cursor": next_cursor, "first_page": cursor is None,
            "cursor": cursor, "ask": ask, "query": query, "ages": AGES,
            "method_names": {m["code"]: m["name"] for m in found["methods"]},
            "statuses": workspace.STATUSES, "raw": request.query_params}, errors


def _done_flash(request: Request) -> list[Flash]:
    done = request.query_params.get("done")
    number = (request.query_params.get("order") or "")[:40]
    if done == "approved":
        return [Flash(translated(request, "Order %(number)s: proof approved.", number=number),
                      "success")]
    if done == "rejected":
        return [Flash(translated(request, "Order %(number)s: proof rejected; the buyer is "
                                          "told why.", number=number), "success")]
    if done == "empty":
        return [Flash(translated(request, "That was the last proof waiting: the queue is "
                                          "empty."), "success")]
    return []


@router.get("/verifications", response_class=HTMLResponse)
async def queue(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                cursor: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    context, errors = await _queue_context(runtime, staff, request, cursor)
    return console_page(request, staff, "console/verifications.html", live_types=LIVE_TYPES,
                        errors=errors, flashes=_done_flash(request),
                        status_code=400 if errors else 200, **context)


@router.get("/verifications/rows", response_class=HTMLResponse)
async def queue_rows(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                     cursor: Annotated[str | None, Query(max_length=500)] = None
                     ) -> HTMLResponse:
    """The same page of the queue again, alone, when the stream says a proof moved."""
    context, _ = await _queue_context(runtime, staff, request, cursor)
    return console_page(request, staff, "console/_verification_rows.html", **context)


# --- many at once -------------------------------------------------------------------------------

@router.post("/verifications/bulk", response_class=HTMLResponse)
async def bulk(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep) -> Response:
    form = await request.form()
    action = form.get("action")
    if action not in ("approve", "reject"):
        raise HTTPException(status_code=400)
    ids = []
    for value in form.getlist("id"):
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            raise HTTPException(status_code=400) from None
    picked, typed = str(form.get("reason_code") or ""), str(form.get("reason") or "")
    try:
        results = await workspace.decide_many(runtime, staff.principal, ids,
                                              approve=action == "approve", reason=typed,
                                              picked=picked)
    except ValidationFailed as problem:
        context, _ = await _queue_context(runtime, staff, request, None)
        return console_page(request, staff, "console/verifications.html",
                            live_types=LIVE_TYPES, status_code=400,
                            errors=form_errors(problem, fields=QUEUE_FIELDS), **context)
    names = await decider_names(runtime, staff.principal, [
        str((r.get("error") or {}).get("details", {}).get("decided_by") or "") for r in results])
    return console_page(request, staff, "console/verification_bulk.html", results=results,
                        names=names,
                        approved=action == "approve",
                        succeeded=sum(1 for r in results if r["ok"]))


# --- one proof ------------------------------------------------------------------------------

async def _proof_page(request: Request, runtime: RuntimeDep, staff: ConsoleStaff,
                      proof_id: uuid.UUID, *, errors: list[FieldError] | None = None,
                      status_code: int = 200, typed: str = "", picked: str = ""
                      ) -> HTMLResponse:
    try:
        ask = queue_ask(request)
    except ValidationFailed:
        ask = QueueAsk()
    shown = await workspace.review_proof(runtime, staff.principal, proof_id, ask)
    actors = [shown["decided_by"] or ""] + [p["decided_by"] or "" for p in shown["earlier"]]
    names = await decider_names(runtime, staff.principal, actors)
    return console_page(request, staff, "console/verification.html", proof=shown,
                        names=names, query=ask_query(ask), errors=errors or [],
                        flashes=_done_flash(request), status_code=status_code,
                        reasons=workspace.REJECTION_REASONS, typed=typed, picked=picked)


@router.get("/verifications/{proof_id}", response_class=HTMLResponse)
async def proof(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                proof_id: str) -> HTMLResponse:
    return await _proof_page(request, runtime, staff, parse_id("verification", proof_id))


@router.get("/verifications/{proof_id}/file")
async def proof_file(runtime: RuntimeDep, staff: ConsoleStaffDep, proof_id: str) -> Response:
    content, media_type = await verifications.proof_file(runtime, staff.principal,
                                                         parse_id("verification", proof_id))
    # Shown in the proof page, never run: an image as an <img>; a PDF in an <iframe> of this
    # origin only (frame-ancestors 'self'), with no script, style or request of its own.
    # Chromium shows no PDF in a sandboxed document, so only images get ``sandbox``; a PDF
    # is never HTML here (nosniff, its checked media type).
    if media_type.startswith("image/"):
        policy = "default-src 'none'; sandbox"
    else:
        policy = "default-src 'none'; frame-ancestors 'self'"
    return Response(content, media_type=media_type, headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="proof-{proof_id}"',
        "X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": policy})


async def _decide(request: Request, runtime: RuntimeDep, staff: ConsoleStaff, proof_id: str,
                  *, approve: bool) -> Response:
    pid = parse_id("verification", proof_id)
    form = await request.form()
    picked, typed = str(form.get("reason_code") or ""), str(form.get("reason") or "")
    try:
        ask = queue_ask(request)
    except ValidationFailed:
        ask = QueueAsk()
    try:
        decision = await workspace.decide(runtime, staff.principal, pid, approve=approve,
                                          reason=typed, picked=picked, ask=ask)
    except AlreadyVerified as refusal:
        details = refusal.details
        names = await decider_names(runtime, staff.principal,
                                    [str(details.get("decided_by") or "")])
        who = names.get(str(details.get("decided_by")), str(details.get("decided_by")))
        at = details.get("decided_at")
        when = at.strftime("%Y-%m-%d %H:%M UTC") if isinstance(at, datetime) else str(at)
        message = (translated(request, "Already approved by %(name)s at %(time)s.",
                              name=who, time=when)
                   if details.get("status") == "approved" else
                   translated(request, "Already rejected by %(name)s at %(time)s.",
                              name=who, time=when))
        return await _proof_page(request, runtime, staff, pid, status_code=409,
                                 errors=[FieldError(message)])
    except DomainError as problem:
        if isinstance(problem, NotFound | Forbidden):
            raise
        return await _proof_page(request, runtime, staff, pid, status_code=(
            400 if isinstance(problem, ValidationFailed) else 409),
            errors=form_errors(problem, fields={"reason": "reason-code"}), typed=typed,
            picked=picked)
    query = ask_query(ask)
    number = str((decision.proof.get("order") or {}).get("number") or "")
    done = "approved" if approve else "rejected"
    if decision.next_id is None:
        return RedirectResponse(_with("/console/verifications", query, done="empty"),
                                status_code=303)
    return RedirectResponse(_with(f"/console/verifications/{decision.next_id}", query,
                                  done=done, order=number), status_code=303)


@router.post("/verifications/{proof_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                  proof_id: str) -> Response:
    return await _decide(request, runtime, staff, proof_id, approve=True)


@router.post("/verifications/{proof_id}/reject", response_class=HTMLResponse)
async def reject(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                 proof_id: str) -> Response:
    return await _decide(request, runtime, staff, proof_id, approve=False)
