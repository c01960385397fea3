"""The buyer's returns on the order page, ``/o/{order token}``.

- ``POST /o/{token}/returns`` (in ``order_pages``, which renders the page): ask to return
  units (per line ``return_<sku>``), with a reason, a note and up to five photos (field
  ``photos``), as a multipart form, read here (``read_return_form``). The request is the use
  case the API's ``POST /v1/orders/{id}/returns`` calls, as the order's buyer; the photos go
  through the proof cleaning pipeline after it. Sent back to the page (303) with the return
  shown, or the page again with the refusal in plain words next to the form.
- ``GET /o/{token}/returns/{id}/photos/{photo id}``: a photo the buyer sent, for this order's
  token only, served as stored in a sandbox.

Like the proof upload, the form carries no CSRF token: the link's order token is the secret
(another site cannot know it), and the page's ``Referrer-Policy`` keeps it from leaking.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from orderline.core.errors import ValidationFailed
from orderline.core.http import RuntimeDep, parse_id
from orderline.core.runtime import Runtime
from orderline.orders.callers import OrderCaller, order_caller_for_token
from orderline.returns import service as returns
from orderline.returns.rules import MAX_PHOTOS, ReturnReason, UnitsToReturn
from orderline.web.pages import page_locale
from orderline.web.templating import environment

router = APIRouter()

FIELD = "return-lines"
# Refusals the form explains, and the status each answers with.
RETURN_REFUSALS = {"return_window_closed": 409, "return_exceeds_shipped": 409,
                   "file_too_large": 413, "image_too_large": 413,
                   "unsupported_file_type": 415, "corrupt_file": 422,
                   "proof_storage_unavailable": 503, "validation_error": 400}


async def returns_context(runtime: Runtime, caller: OrderCaller) -> dict[str, Any]:
    """What the order page shows of returns: the buyer's returns and what may be asked."""
    return {"returns": await returns.list_returns(runtime, caller),
            "return_options": await returns.return_options(runtime, caller),
            "return_reasons": [r.value for r in ReturnReason]}


def refusal_sentence(request: Request, code: str) -> str:
    template = environment(page_locale(request)).get_template("buyer/order/_return_refusal.html")
    return template.render(code=code).strip()


async def read_return_form(request: Request, limit: int
                           ) -> tuple[list[UnitsToReturn], ReturnReason, str | None, list[bytes]]:
    """The units chosen per line, the reason, the note and the photos' bytes."""
    try:
        async with request.form(max_files=MAX_PHOTOS, max_fields=120,
                                max_part_size=limit + 1) as form:
            units = _units(form)
            reason = str(form.get("reason", ""))
            note = str(form.get("note", "")).strip()[:2000] or None
            photos = [await part.read() for part in form.getlist("photos")
                      if isinstance(part, UploadFile) and part.filename]
    except MultiPartException as exc:
        raise ValidationFailed("The form could not be read; send it again.") from exc
    if reason not in set(ReturnReason):
        raise ValidationFailed("Choose why you are returning the items.")
    return units, ReturnReason(reason), note, [p for p in photos if p]


def _units(form: FormData) -> list[UnitsToReturn]:
    chosen: list[UnitsToReturn] = []
    for sku in form.getlist("line_sku"):
        text = str(form.get(f"return_{sku}", "")).strip()
        if text and text != "0":
            if not text.isdigit():
                raise ValidationFailed("validation_error")
            chosen.append(UnitsToReturn(sku=str(sku), quantity=int(text)))
    if not chosen:
        raise ValidationFailed("Choose at least one item to return.")
    return chosen


@router.get("/o/{token}/returns/{return_id}/photos/{photo_id}", response_model=None)
async def photo_file(runtime: RuntimeDep, token: str, return_id: str,
                     photo_id: str) -> Response:
    caller = await order_caller_for_token(runtime, token)
    content, media_type = await returns.photo_file(runtime, caller,
                                                   parse_id("return", return_id),
                                                   parse_id("return photo", photo_id))
    return Response(content, media_type=media_type, headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'; sandbox"})
