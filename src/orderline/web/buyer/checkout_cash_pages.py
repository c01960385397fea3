"""Cash on delivery's one-time code on the hosted checkout: ``/c/{token}/review/{id}/code``.

The review already said that the buyer pays on delivery, and how much. When the business's
policy asks for a code (a first cash order, a large one), the confirm answers
``otp_required`` and the buyer comes here with the review's Idempotency-Key: ask for a code
(sent to the checkout's phone), type it, and the order is placed with that same key. The page
shows the limits: how many more codes may be asked for, how many wrong tries are left, and
when the limit is reached, in how many seconds a new code may be asked for.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from orderline.checkout import cash_codes, hosted
from orderline.checkout.confirm import ConfirmRequest
from orderline.core.errors import DomainError, NotFound
from orderline.core.http import RuntimeDep
from orderline.web.buyer.checkout_forms import FormRefused, code_of, confirm_form
from orderline.web.buyer.checkout_links import after_order, buyer_locale, checkout_id_of
from orderline.web.buyer.pages import buyer_page
from orderline.web.buyer.refusals import refusal_of
from orderline.web.pages import FieldError

router = APIRouter()
CODE = "/c/{token}/review/{checkout_id}/code"
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _key(raw: str) -> str:
    return raw if raw and set(raw) <= _KEY_CHARS else ""


async def code_page(request: Request, runtime: RuntimeDep, token: str, checkout_id: uuid.UUID,
                    *, key: str, errors: list[FieldError] | None = None, sent: bool = False,
                    status_code: int = 200) -> HTMLResponse:
    review, status = await hosted.open_code_step(runtime, token, checkout_id)
    return buyer_page(
        request, "buyer/checkout_code.html", shop_name=review.hosted.shop_name,
        status_code=status_code, errors=errors or [], token=token, checkout=review.checkout,
        status=status, key=_key(key) or str(uuid.uuid4()), just_sent=sent,
        field_errors={e.field: e.message for e in errors or [] if e.field})


@router.get(CODE)
async def code_step(token: str, checkout_id: str, request: Request, runtime: RuntimeDep,
                    key: Annotated[str, Query(max_length=64)] = "",
                    sent: Annotated[bool, Query()] = False) -> Response:
    return await code_page(request, runtime, token, checkout_id_of(checkout_id), key=key,
                           sent=sent)


@router.post(CODE + "/send")
async def send_code(token: str, checkout_id: str, request: Request,
                    runtime: RuntimeDep) -> Response:
    """Send a code (or a new one) to the checkout's phone."""
    form = await request.form()
    kid = checkout_id_of(checkout_id)
    key = form.get("key")
    key = _key(key[:64]) if isinstance(key, str) else ""
    caller = await hosted.buyer_of(runtime, token)
    try:
        await cash_codes.send_code(runtime, caller, kid)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        return await code_page(
            request, runtime, token, kid, key=key,
            errors=[FieldError(refusal_of(error, buyer_locale(request)).sentence)],
            status_code=429 if error.code == "rate_limited" else 409)
    return Response(status_code=303, headers={
        "Location": f"/c/{token}/review/{kid}/code?key={key}&sent=true"})


@router.post(CODE)
async def enter_code(token: str, checkout_id: str, request: Request,
                     runtime: RuntimeDep) -> Response:
    """Check the code and place the order with the review's key."""
    form = await request.form()
    locale = buyer_locale(request)
    kid = checkout_id_of(checkout_id)
    raw_key = form.get("key")
    key = _key(raw_key[:64]) if isinstance(raw_key, str) else ""
    caller = await hosted.buyer_of(runtime, token)
    try:
        sent = confirm_form(form, locale)
        code = code_of(form, locale)
        done = await cash_codes.confirm_with_code(runtime, caller, code, ConfirmRequest(
            checkout_id=kid, idempotency_key=sent.key, totals={"total": sent.total},
            client_ip=request.client.host if request.client else "unknown"))
    except FormRefused as refused:
        return await code_page(request, runtime, token, kid, key=key, errors=refused.errors,
                               status_code=422)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        field = "code" if error.code.startswith("otp_") else None
        return await code_page(
            request, runtime, token, kid, key=key,
            errors=[FieldError(refusal_of(error, locale).sentence, field=field)],
            status_code=429 if error.code == "rate_limited" else 422)
    return after_order(token, done)
