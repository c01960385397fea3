"""One error shape for every refusal: ``{"error": {"code", "message", "details"}}``.

The table below is the only place where an error code meets an HTTP status. Every code a
``DomainError`` subclass declares has its row (``tests/unit/test_error_codes.py`` checks it), and
``docs/errors.md`` is generated from this table and the error classes' docstrings
(``scripts/gen-docs``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orderline.core.errors import DomainError

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    # Roots of the error tree: only their subclasses are raised. 400 is what an unmapped code
    # answered before every code had to have a row.
    "domain_error": 400,
    "proof_refused": 400,
    "validation_error": 422,
    "malformed_json": 400,
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "out_of_stock": 409,
    "insufficient_stock": 409,
    "invalid_transition": 409,
    "order_not_editable": 409,
    "order_not_changeable": 409,
    "order_change_open": 409,
    "order_change_closed": 409,
    "shipment_exceeds_order": 409,
    "cancel_exceeds_remaining": 409,
    "line_partly_refunded": 409,
    "return_exceeds_shipped": 409,
    "return_window_closed": 409,
    "exchange_not_allowed": 409,
    "split_exceeds_remaining": 409,
    "split_takes_everything": 409,
    "split_not_allowed": 409,
    "orders_not_mergeable": 409,
    "payment_shared_with_split": 409,
    "payment_deadline_passed": 409,
    "conflict": 409,
    "invoice_not_issued": 409,
    "version_conflict": 412,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "unknown_sku": 422,
    "variant_archived": 409,
    "unknown_channel": 422,
    "amount_mismatch": 422,
    "invalid_webhook_url": 422,
    "unsafe_webhook_url": 422,
    "webhook_delivery_already_succeeded": 409,
    "webhook_endpoint_disabled": 409,
    "invalid_last_event_id": 422,
    "cart_empty": 422,
    "cart_closed": 409,
    "draft_order_closed": 409,
    "draft_link_expired": 410,
    "cart_changed": 409,
    "quantity_above_limit": 422,
    "below_minimum_order": 422,
    "above_maximum_order": 422,
    "zero_total_order": 422,
    "undeliverable_address": 422,
    "shipping_method_unavailable": 422,
    "invalid_coupon": 422,
    "coupon_not_started": 422,
    "coupon_expired": 422,
    "coupon_minimum_not_met": 422,
    "coupon_not_applicable": 422,
    "coupon_exhausted": 409,
    "coupon_customer_limit_reached": 409,
    "checkout_expired": 409,
    "checkout_superseded": 409,
    "checkout_already_confirmed": 409,
    "price_changed": 409,
    "idempotency_key_required": 400,
    "idempotency_key_reused": 422,
    "request_in_progress": 409,
    "confirm_in_flight": 409,
    "rate_limited": 429,
    "payment_failed": 402,
    "otp_required": 409,
    "payment_in_progress": 409,
    "payment_not_capturable": 409,
    "refund_exceeds_captured": 409,
    "refund_exceeds_order_share": 409,
    "refund_first": 409,
    "payment_provider_unavailable": 503,
    "unknown_payment_provider": 422,
    "signature_missing": 400,
    "signature_invalid": 400,
    "timestamp_outside_tolerance": 400,
    "payload_invalid": 400,
    "messaging_signature_invalid": 401,
    "messaging_verify_token_invalid": 403,
    "message_not_sent": 503,
    "payment_ledger_violation": 409,
    "cod_unavailable": 422,
    "cod_disabled": 422,
    "cod_zone_not_allowed": 422,
    "cod_total_above_limit": 422,
    "cod_too_many_open_orders": 409,
    "cod_trust_too_low": 422,
    "collected_amount_mismatch": 422,
    "otp_rejected": 422,
    "otp_expired": 409,
    "otp_locked": 409,
    "otp_invalid": 422,
    "otp_already_used": 409,
    "file_too_large": 413,
    "image_too_large": 413,
    "unsupported_file_type": 415,
    "corrupt_file": 422,
    "proof_deadline_passed": 409,
    "duplicate_proof": 409,
    "proof_not_accepted": 409,
    "already_verified": 409,
    "payment_method_unavailable": 422,
    "customer_has_open_orders": 409,
    "proof_file_deleted": 410,
    "proof_storage_unavailable": 503,
    "login_failed": 401,
    "second_factor_required": 401,
    "too_many_login_attempts": 429,
    "session_expired": 401,
    "invitation_invalid": 404,
    "invitation_expired": 410,
    "role_not_allowed": 403,
    "last_owner": 409,
    "second_factor_invalid": 422,
    "import_rejected": 422,
    "import_unreadable": 422,
    "import_too_many_rows": 422,
    "import_too_large": 413,
    "internal_error": 500,
    "database_busy": 503,
}

# What the codes that the HTTP layer gives by itself (not from a DomainError) mean; the errors
# page lists them beside the domain's codes.
HTTP_LAYER_CODES: dict[str, str] = {
    "malformed_json": "The request body is not valid JSON.",
    "bad_request": "The request could not be read (a header or form the framework refused).",
    "method_not_allowed": "This HTTP method is not allowed on this endpoint.",
    "payload_too_large": "The request body is larger than ``ORDERLINE_MAX_BODY_BYTES``.",
    "unsupported_media_type": "The request's content type is not one this endpoint reads.",
    "internal_error": "An unexpected failure on the server's side; it was logged. Retry later.",
    "database_busy": "The database would not give a connection (its limit reached, or "
                     "starting up); nothing was changed. Retry after ``Retry-After`` seconds.",
}

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large",
               415: "unsupported_media_type"}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_of(code: str) -> int:
    """The HTTP status of an error code. A code without a row is a bug that
    ``tests/unit/test_error_codes.py`` catches; should one slip through anyway, it answers 500 and
    logs an error, rather than passing quietly for the caller's fault as a 400."""
    status = STATUS_BY_CODE.get(code)
    if status is None:
        log.error("error code %r has no HTTP status in STATUS_BY_CODE; answering 500", code)
        return 500
    return status


def error_response(code: str, message: str, details: dict[str, Any] | None = None,
                   status: int | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if code == "unauthorized" else None
    return JSONResponse(error_body(code, message, details),
                        status_code=status or status_of(code), headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc.code, exc.message, _jsonable(exc.details))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return error_response("malformed_json", "The request body is not valid JSON.",
                                  {"position": _jsonable(err.get("ctx", {}))})
        problems.append({"field": ".".join(str(p) for p in err.get("loc", ())[1:]) or "body",
                         "problem": err.get("msg", "invalid"), "type": err.get("type")})
    first = problems[0] if problems else {"field": "body", "problem": "invalid"}
    return error_response("validation_error",
                          f"Invalid request: {first['field']}: {first['problem']}.",
                          {"errors": problems})


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = {404: "No such endpoint. See /docs for the API.",
               405: "This method is not allowed on this endpoint."}.get(
        exc.status_code, str(exc.detail))
    return error_response(code, message, status=exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
