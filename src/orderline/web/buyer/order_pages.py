"""The buyer's order page, ``/o/{order token}``: the status, the payment instructions and the
proof upload.

- ``GET /o/{token}``: the page. The link carries the order's access token alone; any other
  token (another order's, a made-up one) is the 404 page.
- ``GET /o/{token}/status``: the page's live part (the timeline, tracking, the proofs sent),
  asked for again by htmx when the order's stream (``/v1/orders/{id}/events``) sends an
  event, or when a proof was just sent.
- ``POST /o/{token}/proof``: a proof as a multipart form (field ``file``). Without script the
  form posts here and is sent back to the page (303), or the page again with the refusal in
  plain words; ``static/js/buyer-order.js`` posts the same form with ``Accept:
  application/json`` to show a progress bar, and gets ``{"message": ...}`` back.
- ``POST /o/{token}/changes/{id}/proof``: a proof of transfer for a change's payment request
  (an order paid by a manual method), as a multipart form (field ``file``); back to the page
  (303), or the page again with the refusal next to the change's form.
- ``GET /o/{token}/proofs/{id}``: a proof's file, for this order's token only; served as
  stored, never sniffed, in a sandbox (``Content-Security-Policy: sandbox``), a PDF as a
  download.
- ``GET /o/{token}/invoice.pdf``: the order's invoice as issued, for this order's token only
  (a download); before the worker has issued it, the error page says so (409).
- ``GET /o/sw.js``: the service worker (scope ``/o/``) that keeps the last page of each
  order link readable offline (``static/js/buyer-sw.js``).
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from orderline.core.errors import DomainError, NotFound
from orderline.core.http import RuntimeDep, parse_id
from orderline.core.runtime import Runtime
from orderline.documents import service as documents
from orderline.documents.downloads import pdf_response
from orderline.documents.rules import DocumentKind, document_file_name
from orderline.exchanges.rules import EXCHANGE_FROM
from orderline.manual_payments import change_proofs, proofs
from orderline.manual_payments.payment_codes import decimal_amount, payment_code
from orderline.order_changes import paying as change_payments
from orderline.order_changes import reading as order_changes
from orderline.order_splits import service as order_splits
from orderline.orders import reading
from orderline.orders.callers import order_caller_for_token
from orderline.payments import service as payments
from orderline.returns import service as returns
from orderline.web.assets import STATIC_DIR
from orderline.web.buyer.pages import buyer_page
from orderline.web.buyer.return_pages import (
    FIELD as RETURN_FIELD,
)
from orderline.web.buyer.return_pages import (
    RETURN_REFUSALS,
    read_return_form,
    refusal_sentence,
    returns_context,
)
from orderline.web.pages import FieldError, page_locale
from orderline.web.templating import environment

router = APIRouter()

SERVICE_WORKER = STATIC_DIR / "js" / "buyer-sw.js"
SANDBOX = "sandbox"
# The sandbox's test cards for the outcome a buyer picks on the order page.
SANDBOX_CARDS = {"succeeds": "pm_card_visa", "declined": "pm_card_declined"}
# Refusals of an upload, and the status each answers with (the API's, for the same code).
UPLOAD_REFUSALS = {"file_too_large": 413, "image_too_large": 413, "unsupported_file_type": 415,
                   "corrupt_file": 422, "proof_deadline_passed": 409, "duplicate_proof": 409,
                   "proof_not_accepted": 409, "proof_storage_unavailable": 503,
                   "validation_error": 400}


@router.get("/o/sw.js")
async def service_worker() -> Response:
    """Served from ``/o/`` so its scope is the order pages; ``no-cache``: a new version is
    picked up on the next visit."""
    return Response(SERVICE_WORKER.read_bytes(), media_type="text/javascript", headers={
        "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def _qr_image(payload: str) -> str:
    """The QR code as a ``data:`` image (the CSP admits ``img-src data:``)."""
    code = segno.make(payload, error="m")
    return str(code.svg_data_uri(scale=5, border=4, dark="#000", light="#fff"))


async def _page_context(runtime: Runtime, token: str,
                        shown: reading.BuyerOrder) -> dict[str, Any]:
    order = shown.order
    caller = await order_caller_for_token(runtime, token)
    changes = await order_changes.requests_for_buyer(runtime, caller.business_id,
                                                     caller.order_id)
    transfers = {}
    for change in changes.waiting:
        try:
            transfers[change["id"]] = await change_proofs.instructions(runtime, caller,
                                                                       change["id"])
        except DomainError:  # not paid by a manual method: the card (or the shop) it is
            continue
    pay = order["payment_instructions"]
    code = payment_code(pay) if pay is not None else None
    related = await order_splits.links_for_buyer(runtime, caller.business_id, caller.order_id)
    return {"token": token, "order": order, "pay": pay, "code": code,
            **await returns_context(runtime, shown.caller),
            "qr_image": _qr_image(code.payload) if code is not None else None,
            "amount_plain": decimal_amount(pay["amount"], pay["currency"]) if pay else "",
            "now": runtime.clock.now(), "changes_waiting": changes.waiting,
            "change_card_sandbox": changes.provider == SANDBOX,
            "change_transfers": transfers,
            "related": related, "exchange_due": _exchange_due(order, related)}


def _exchange_due(order: dict[str, Any], related: list[dict[str, Any]]) -> dict[str, int] | None:
    """A replacement order of an exchange awaiting the buyer's difference: the credit the
    returned items give and what is left to pay (what its card payment asks)."""
    if order["status"] != "pending_payment":
        return None
    credit = sum(int(link.get("amount", 0)) for link in related
                 if link["kind"] == EXCHANGE_FROM)
    if not any(link["kind"] == EXCHANGE_FROM for link in related):
        return None
    return {"credit": credit, "owed": int(order["total"]) - credit}


@router.get("/o/{token}", response_class=HTMLResponse)
async def order_page(request: Request, runtime: RuntimeDep, token: str,
                     sent: str | None = None, changed: str | None = None,
                     returned: str | None = None) -> HTMLResponse:
    shown = await reading.read_order_for_token(runtime, token)
    return buyer_page(request, "buyer/order/page.html", shop_name=shown.shop_name,
                      just_sent=sent == "1", upload_error=None, just_changed=changed == "1",
                      just_returned=returned == "1", return_error=None,
                      **await _page_context(runtime, token, shown))


@router.get("/o/{token}/status", response_class=HTMLResponse)
async def order_status(request: Request, runtime: RuntimeDep, token: str) -> HTMLResponse:
    shown = await reading.read_order_for_token(runtime, token)
    return buyer_page(request, "buyer/order/_live.html", shop_name=shown.shop_name,
                      **await _page_context(runtime, token, shown))


def _refusal_sentence(request: Request, code: str) -> str:
    """The refusal in the page's language (the sentences live in a template, so they are
    translated like every other message of the page)."""
    template = environment(page_locale(request)).get_template("buyer/order/_refusal.html")
    return template.render(code=code).strip()


async def _sent_file(request: Request, limit: int) -> bytes:
    try:
        # Two inputs named "file" (a file, or a photo taken now): the one that was filled.
        async with request.form(max_files=2, max_fields=5, max_part_size=limit + 1) as form:
            data = b""
            for part in form.getlist("file"):
                if isinstance(part, UploadFile) and not data:
                    data = await part.read()
    except MultiPartException as exc:
        too_big = "exceeded" in str(exc)
        raise _NoFile("file_too_large" if too_big else "validation_error") from exc
    if not data:
        raise _NoFile("validation_error")
    return data


class _NoFile(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@router.post("/o/{token}/proof", response_model=None)
async def send_proof(request: Request, runtime: RuntimeDep, token: str) -> Response:
    caller = await order_caller_for_token(runtime, token)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        data = await _sent_file(request, runtime.settings.proof_upload_max_bytes)
        await proofs.upload(runtime, caller, data)
    except (_NoFile, DomainError) as exc:
        if isinstance(exc, NotFound):
            raise
        code = exc.code if exc.code in UPLOAD_REFUSALS else "validation_error"
        status = UPLOAD_REFUSALS[code]
        sentence = _refusal_sentence(request, code)
        if wants_json:
            return JSONResponse({"code": code, "message": sentence}, status_code=status,
                                headers={"Cache-Control": "no-store"})
        shown = await reading.read_order_for_token(runtime, token)
        return buyer_page(request, "buyer/order/page.html", shop_name=shown.shop_name,
                          status_code=status, just_sent=False, upload_error=sentence,
                          just_returned=False, return_error=None,
                          errors=[FieldError(sentence, field="proof-file")],
                          **await _page_context(runtime, token, shown))
    if wants_json:
        return JSONResponse({"sent": True}, status_code=201, headers={"Cache-Control": "no-store"})
    return RedirectResponse(f"/o/{token}?sent=1#proofs", status_code=303)


@router.post("/o/{token}/changes/{change_id}/card", response_model=None)
async def pay_change_by_card(request: Request, runtime: RuntimeDep, token: str,
                             change_id: str) -> Response:
    """The buyer pays what a change of their order asks, by card. The sandbox has no page of
    its own (as on the checkout's card step): the buyer picks a test outcome."""
    caller = await order_caller_for_token(runtime, token)
    form = await request.form()
    outcome = str(form.get("outcome", ""))
    try:
        await change_payments.pay_by_card(
            runtime, caller.business_id, caller.order_id, parse_id("order change", change_id),
            payment_method=SANDBOX_CARDS.get(outcome, SANDBOX_CARDS["succeeds"]),
            actor=caller.actor)
    except DomainError as refused:
        if isinstance(refused, NotFound):
            raise
        shown = await reading.read_order_for_token(runtime, token)
        sentence = refused.message
        return buyer_page(request, "buyer/order/page.html", shop_name=shown.shop_name,
                          status_code=402 if refused.code == "payment_failed" else 409,
                          just_sent=False, upload_error=None, just_returned=False,
                          return_error=None, errors=[FieldError(sentence, field="change-pay")],
                          **await _page_context(runtime, token, shown))
    return RedirectResponse(f"/o/{token}?changed=1", status_code=303)


@router.post("/o/{token}/exchange/card", response_model=None)
async def pay_exchange_by_card(request: Request, runtime: RuntimeDep, token: str) -> Response:
    """The buyer pays what an exchange's replacement order has left to pay (its total less
    the returned items' credit), by card; the sandbox's test outcome as for a change."""
    caller = await order_caller_for_token(runtime, token)
    form = await request.form()
    outcome = str(form.get("outcome", ""))
    try:
        await payments.start_payment_for(
            runtime, caller.business_id, caller.order_id, actor=caller.actor,
            payment_method=SANDBOX_CARDS.get(outcome, SANDBOX_CARDS["succeeds"]))
    except DomainError as refused:
        if isinstance(refused, NotFound):
            raise
        shown = await reading.read_order_for_token(runtime, token)
        return buyer_page(request, "buyer/order/page.html", shop_name=shown.shop_name,
                          status_code=402 if refused.code == "payment_failed" else 409,
                          just_sent=False, upload_error=None, just_returned=False,
                          return_error=None,
                          errors=[FieldError(refused.message, field="exchange-pay")],
                          **await _page_context(runtime, token, shown))
    return RedirectResponse(f"/o/{token}", status_code=303)


@router.post("/o/{token}/changes/{change_id}/proof", response_model=None)
async def send_change_proof(request: Request, runtime: RuntimeDep, token: str,
                            change_id: str) -> Response:
    """A proof of transfer for what a change of the order asks (``change_proofs.upload``:
    the order upload's rules and refusals)."""
    caller = await order_caller_for_token(runtime, token)
    cid = parse_id("order change", change_id)
    try:
        data = await _sent_file(request, runtime.settings.proof_upload_max_bytes)
        await change_proofs.upload(runtime, caller, cid, data)
    except (_NoFile, DomainError) as exc:
        if isinstance(exc, NotFound):
            raise
        code = exc.code if exc.code in UPLOAD_REFUSALS else "validation_error"
        shown = await reading.read_order_for_token(runtime, token)
        return buyer_page(request, "buyer/order/page.html", shop_name=shown.shop_name,
                          status_code=UPLOAD_REFUSALS[code], just_sent=False,
                          upload_error=None, just_returned=False, return_error=None,
                          errors=[FieldError(_change_refusal(request, code),
                                             field=f"change-proof-{cid}")],
                          **await _page_context(runtime, token, shown))
    return RedirectResponse(f"/o/{token}?sent=1#change-proofs-{cid}", status_code=303)


def _change_refusal(request: Request, code: str) -> str:
    """A change proof's refusal: the order's sentences, but for the change's request."""
    template = environment(page_locale(request)).get_template(
        "buyer/order/_change_refusal.html")
    return template.render(code=code).strip() or _refusal_sentence(request, code)


@router.post("/o/{token}/returns", response_model=None)
async def ask_for_return(request: Request, runtime: RuntimeDep, token: str) -> Response:
    """The buyer asks to return units (``return_pages``): the request, then its photos."""
    caller = await order_caller_for_token(runtime, token)
    asked = False
    try:
        units, reason, note, photos = await read_return_form(
            request, runtime.settings.proof_upload_max_bytes)
        made = await returns.request_return(runtime, caller, units, reason=reason, note=note)
        asked = True
        for data in photos:
            await returns.add_photo(runtime, caller, made["id"], data)
    except DomainError as refused:
        if isinstance(refused, NotFound):
            raise
        code = refused.code if refused.code in RETURN_REFUSALS else "validation_error"
        sentence = refusal_sentence(request, code)
        shown = await reading.read_order_for_token(runtime, token)
        return buyer_page(request, "buyer/order/page.html", shop_name=shown.shop_name,
                          status_code=RETURN_REFUSALS[code], just_sent=False,
                          upload_error=None, just_returned=asked, return_error=sentence,
                          errors=[FieldError(sentence, field=RETURN_FIELD)],
                          **await _page_context(runtime, token, shown))
    return RedirectResponse(f"/o/{token}?returned=1#returns", status_code=303)


@router.get("/o/{token}/invoice.pdf", response_model=None)
async def invoice_pdf(runtime: RuntimeDep, token: str) -> Response:
    found = await documents.invoice_file_for_token(runtime, token)
    return pdf_response(found.content, document_file_name(DocumentKind.INVOICE, found.number))


@router.get("/o/{token}/proofs/{proof_id}", response_model=None)
async def proof_file(runtime: RuntimeDep, token: str, proof_id: str) -> Response:
    caller = await order_caller_for_token(runtime, token)
    content, media_type = await proofs.proof_file(runtime, caller,
                                                  parse_id("payment proof", proof_id))
    # An image is shown as itself; anything else (a PDF) is downloaded, never opened here.
    disposition = "inline" if media_type.startswith("image/") else (
        f'attachment; filename="proof-{proof_id}.pdf"')
    return Response(content, media_type=media_type, headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Content-Disposition": disposition,
        "Content-Security-Policy": "default-src 'none'; sandbox"})
