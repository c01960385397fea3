"""Manual payments: method templates, the business's methods and proof settings, and, per
order, the payment instructions and the buyer's proof upload."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from orderline.core.errors import ValidationFailed
from orderline.core.http import RuntimeDep, VersionDep, etag, parse_id, refusals
from orderline.idempotency.headers import IdempotencyKeyHeader, send
from orderline.idempotency.service import KeyedRequest, run_once
from orderline.manual_payments import change_proofs, verifications
from orderline.manual_payments import methods as manual_methods
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments.schemas import (
    ChangePaymentInstructions,
    MethodCreate,
    MethodList,
    MethodOut,
    MethodTemplateList,
    MethodUpdate,
    PaymentInstructions,
    ProofList,
    ProofOut,
    ProofSettingsIn,
    ProofSettingsOut,
    TransferReceivedIn,
)
from orderline.orders.deps import OrderCallerDep
from orderline.orders.schemas import OrderOut
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["manual payments"])

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}, "application/pdf": {}},
    "description": "The proof as stored (cleaned of metadata)."}}

# Read by hand (_file_of below), so the document says what the body may be.
_BINARY = {"schema": {"type": "string", "format": "binary"}}
PROOF_BODY: dict[str, Any] = {"required": True, "content": {
    "image/jpeg": _BINARY, "image/png": _BINARY, "image/webp": _BINARY,
    "application/pdf": _BINARY,
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}}}}


@router.get("/payment-method-templates", response_model=MethodTemplateList,
            responses=refusals(401, 403))
async def list_templates(principal: PrincipalDep, country: Annotated[
        str | None, Query(min_length=2, max_length=2, description="ISO 3166 alpha-2")] = None
        ) -> dict[str, Any]:
    return {"data": manual_methods.list_templates(principal, country)}


@router.post("/payment-methods", status_code=status.HTTP_201_CREATED, response_model=MethodOut,
             responses=refusals(401, 403, 409))
async def create_method(body: MethodCreate, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    return await manual_methods.create_method(runtime, principal, **body.model_dump())


@router.get("/payment-methods", response_model=MethodList, responses=refusals(401, 403))
async def list_methods(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"data": await manual_methods.list_methods(runtime, principal)}


@router.patch("/payment-methods/{method_id}", response_model=MethodOut,
              responses=refusals(401, 403))
async def update_method(method_id: str, body: MethodUpdate, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    return await manual_methods.update_method(runtime, principal,
                                              parse_id("payment method", method_id),
                                              body.model_dump(exclude_unset=True))


@router.delete("/payment-methods/{method_id}", response_model=MethodOut,
               responses=refusals(401, 403, 409))
async def delete_method(method_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """Delete a method no order was shown (one that was is switched off instead: 409)."""
    return await manual_methods.delete_method(runtime, principal,
                                              parse_id("payment method", method_id))


@router.get("/business/manual-payments", response_model=ProofSettingsOut,
            responses=refusals(401, 403))
async def get_proof_settings(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await manual_methods.get_settings(runtime, principal)


@router.patch("/business/manual-payments", response_model=ProofSettingsOut,
              responses=refusals(401, 403))
async def update_proof_settings(body: ProofSettingsIn, runtime: RuntimeDep,
                                principal: PrincipalDep) -> dict[str, Any]:
    return await manual_methods.update_settings(runtime, principal,
                                                body.model_dump(exclude_unset=True))


@router.get("/orders/{order_id}/payment-instructions", response_model=PaymentInstructions,
            responses=refusals(401, 403))
async def payment_instructions(runtime: RuntimeDep, caller: OrderCallerDep) -> dict[str, Any]:
    """Where and how much to pay, the reference, the deadline, and each proof's fate. The
    buyer (order access token) or the merchant only."""
    return await payment_proofs.instructions(runtime, caller)


async def _file_of(request: Request, limit: int) -> tuple[bytes, dict[str, Any]]:
    """The file (the raw request body, or the ``file`` part of a multipart form) and what
    else the request carried (its type, the form's other fields), which an
    ``Idempotency-Key``'s fingerprint covers with the file's bytes."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=5, max_part_size=limit + 1) as form:
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise ValidationFailed("Send the proof as the form field 'file'.",
                                       details={"field": "file"})
            data = await part.read()
            sent: dict[str, Any] = {
                "filename": part.filename, "content_type": part.content_type,
                "fields": sorted((k, v) for k, v in form.multi_items() if isinstance(v, str))}
    else:
        data = await request.body()
        sent = {"content_type": content_type}
    if not data:
        raise ValidationFailed("The request has no file; send the receipt image or PDF as "
                               "the body.", details={"field": "body"})
    return data, sent


# The buyer's answers leave out the merchant's fields (unset, so not sent).
@router.put("/orders/{order_id}/payment-proof", status_code=status.HTTP_201_CREATED,
            response_model=ProofOut, response_model_exclude_unset=True,
            responses=refusals(400, 401, 403, 409, 413, 415, 503),
            openapi_extra={"requestBody": PROOF_BODY})
async def upload_proof(request: Request, runtime: RuntimeDep, caller: OrderCallerDep,
                       response: Response,
                       idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """Send the payment proof (JPEG, PNG, WebP or PDF) as the body, or as the form field
    ``file``. Its type is read from its bytes; images come back without metadata. With an
    ``Idempotency-Key``, a retry of the same file and fields returns the first answer."""
    data, sent = await _file_of(request, runtime.settings.proof_upload_max_bytes)
    answer = await run_once(runtime, KeyedRequest(
        business_id=caller.business_id, operation="payment_proofs.upload", key=idempotency_key,
        request={"order_id": str(caller.order_id), "by_buyer": caller.is_buyer,
                 "sha256": hashlib.sha256(data).hexdigest(), **sent}),
        lambda claim: payment_proofs.upload(runtime, caller, data, claim=claim))
    proof: dict[str, Any] = send(response, answer)
    return proof


@router.get("/orders/{order_id}/changes/{change_id}/payment-instructions",
            response_model=ChangePaymentInstructions, response_model_exclude_unset=True,
            responses=refusals(401, 403, 409))
async def change_payment_instructions(change_id: str, runtime: RuntimeDep,
                                      caller: OrderCallerDep) -> dict[str, Any]:
    """How to pay a change's payment request by transfer (an order paid by a manual method):
    the account, the request's exact amount, its reference and deadline, and each proof sent
    for it. The buyer (order access token) or the merchant only. 409
    ``proof_not_accepted`` for an order not paid by transfer."""
    return await change_proofs.instructions(runtime, caller,
                                            parse_id("order change", change_id))


@router.post("/orders/{order_id}/changes/{change_id}/proofs",
             status_code=status.HTTP_201_CREATED, response_model=ProofOut,
             response_model_exclude_unset=True,
             responses=refusals(400, 401, 403, 409, 413, 415, 503),
             openapi_extra={"requestBody": PROOF_BODY})
async def upload_change_proof(change_id: str, request: Request, runtime: RuntimeDep,
                              caller: OrderCallerDep, response: Response,
                              idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """Send a proof of transfer for a change's payment request, as the order's proof upload
    takes it (the body or the form field ``file``; same types, limits, cleaning and
    refusals). The buyer (order access token) or a ``write`` key. It waits in the
    verification queue; approving it pays the request and applies the change. Refused:
    a change that asks nothing or belongs to another order (404), a request no longer open
    (409 ``proof_not_accepted``), past its deadline (409 ``proof_deadline_passed``), an order
    not paid by transfer (409 ``proof_not_accepted``), a receipt already sent for another
    payment (409 ``duplicate_proof``)."""
    cid = parse_id("order change", change_id)
    data, sent = await _file_of(request, runtime.settings.proof_upload_max_bytes)
    answer = await run_once(runtime, KeyedRequest(
        business_id=caller.business_id, operation="payment_proofs.upload_for_change",
        key=idempotency_key,
        request={"order_id": str(caller.order_id), "change_id": str(cid),
                 "by_buyer": caller.is_buyer, "sha256": hashlib.sha256(data).hexdigest(),
                 **sent}),
        lambda claim: change_proofs.upload(runtime, caller, cid, data, claim=claim))
    proof: dict[str, Any] = send(response, answer)
    return proof


@router.get("/orders/{order_id}/payment-proofs", response_model=ProofList,
            response_model_exclude_unset=True, responses=refusals(401, 403))
async def list_proofs(runtime: RuntimeDep, caller: OrderCallerDep) -> dict[str, Any]:
    return {"data": await payment_proofs.list_proofs(runtime, caller)}


def file_response(content: bytes, media_type: str, name: str) -> Response:
    """Served as stored, never sniffed; a PDF is a download, never rendered inline."""
    extension = media_type.split("/")[-1].replace("jpeg", "jpg")
    disposition = "attachment" if media_type == "application/pdf" else "inline"
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'{disposition}; filename="{name}.{extension}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.get("/orders/{order_id}/payment-proofs/{proof_id}/file", response_class=Response,
            responses={**FILE_RESPONSES, **refusals(401, 403, 410, 503)})
async def proof_file(proof_id: str, runtime: RuntimeDep, caller: OrderCallerDep) -> Response:
    content, media_type = await payment_proofs.proof_file(
        runtime, caller, parse_id("payment proof", proof_id))
    return file_response(content, media_type, f"proof-{proof_id}")


@router.post("/orders/{order_id}/payment/received", response_model=OrderOut,
             responses=refusals(401, 403, 409, 412))
async def transfer_received(order_id: str, body: TransferReceivedIn, runtime: RuntimeDep,
                            principal: PrincipalDep, version: VersionDep,
                            response: Response) -> dict[str, Any]:
    """The merchant saw the transfer in the bank app without a proof: needs the ``verify``
    scope (as approving a proof does). The money is booked as received by hand, the order is
    paid, and its history names who confirmed it and why."""
    order = await verifications.confirm_received(
        runtime, principal, parse_id("order", order_id), note=body.note,
        bank_reference=body.bank_reference, expected_version=version)
    response.headers["ETag"] = etag(order["version"])
    return order
