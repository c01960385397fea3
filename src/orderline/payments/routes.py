"""Card payments of an order, refunds, and the providers' webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from orderline.core.http import RuntimeDep, VersionDep, etag, parse_id, refusals
from orderline.idempotency.headers import IdempotencyKeyHeader, send
from orderline.idempotency.service import KeyedRequest, run_once
from orderline.payments import service as payments
from orderline.payments.order_detail import read_order_detail
from orderline.payments.schemas import (
    CaptureRequest,
    OrderDetail,
    OrderPayments,
    PaymentIntentOut,
    PaymentStart,
    RefundRequest,
    WebhookReceipt,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["payments"])


@router.post("/orders/{order_id}/payments", status_code=status.HTTP_201_CREATED,
             response_model=PaymentIntentOut, responses=refusals(401, 403, 402, 409, 503))
async def start_payment(order_id: str, body: PaymentStart, runtime: RuntimeDep,
                        principal: PrincipalDep, response: Response,
                        idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """A payment attempt; a declined card is 402 ``payment_failed`` with the reason."""
    order = parse_id("order", order_id)
    answer = await run_once(runtime, KeyedRequest(
        business_id=principal.business_id, operation="payments.start", key=idempotency_key,
        request={"order_id": str(order), **body.model_dump(mode="json")}),
        lambda _claim: payments.start_payment(runtime, principal, order,
                                              provider=body.provider,
                                              payment_method=body.payment_method))
    started: dict[str, Any] = send(response, answer)
    return started


@router.get("/orders/{order_id}/payments", response_model=OrderPayments,
            responses=refusals(401, 403))
async def list_payments(order_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """The order's payment attempts and its money ledger."""
    return await payments.payments_of_order(runtime, principal, parse_id("order", order_id))


@router.get("/orders/{order_id}/detail", response_model=OrderDetail, tags=["orders"],
            responses=refusals(401, 403))
async def order_detail(order_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response) -> dict[str, Any]:
    """The order, its history and its payments with their ledger, read at one moment: what
    the console's order page shows. The ETag is the order's version, for If-Match on the
    page's actions."""
    detail = await read_order_detail(runtime, principal, parse_id("order", order_id))
    response.headers["ETag"] = etag(detail["order"]["version"])
    return detail


@router.post("/orders/{order_id}/payments/capture", response_model=PaymentIntentOut,
             responses=refusals(401, 403, 409, 503))
async def capture_payment(order_id: str, body: CaptureRequest, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    return await payments.capture_payment(runtime, principal, parse_id("order", order_id),
                                          amount=body.amount)


@router.post("/orders/{order_id}/refunds", status_code=status.HTTP_201_CREATED,
             response_model=PaymentIntentOut, responses=refusals(401, 403, 409, 412, 503))
async def refund_payment(order_id: str, body: RefundRequest, runtime: RuntimeDep,
                         principal: PrincipalDep, response: Response, version: VersionDep,
                         idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """Refund an amount or lines (``restock`` puts their units back on hand; each line may
    choose for itself). Cash and verified transfers are recorded as given back by hand. The
    refund enters the order's history (who, how much, the reason) and moves its version on;
    with If-Match, a refund of an order changed since is refused (412). With an
    ``Idempotency-Key``, a retry of the same refund returns its first answer and refunds
    nothing more. An order split from a paid one is refunded from the original's payment, up
    to its own share; the original up to what its payments hold less that share (409
    ``refund_exceeds_order_share`` past it)."""
    order = parse_id("order", order_id)
    answer = await run_once(runtime, KeyedRequest(
        business_id=principal.business_id, operation="payments.refund", key=idempotency_key,
        request={"order_id": str(order), **body.model_dump(mode="json")}),
        lambda claim: payments.refund_payment(runtime, principal, order, amount=body.amount,
                                              lines=body.to_lines(), restock=body.restock,
                                              reason=body.reason, claim=claim,
                                              expected_version=version))
    refunded: dict[str, Any] = send(response, answer)
    return refunded


@router.post("/payments/webhooks/{provider}", response_model=WebhookReceipt,
             responses=refusals(400), openapi_extra={"requestBody": {
                 "required": True, "description": "The provider's signed event, as it sent it.",
                 "content": {"application/json": {"schema": {"type": "object"}}}}})
async def provider_webhook(provider: str, request: Request,
                           runtime: RuntimeDep) -> dict[str, Any]:
    """Signed by the provider, verified before anything in it is read; applied once."""
    outcome = await payments.receive_webhook(runtime, provider, dict(request.headers),
                                             await request.body())
    return {"outcome": outcome}
