"""The console's Draft orders pages (the chat sale): the list, "New draft order", and a
draft's page where the merchant changes its lines and details while seeing it priced, sends
its link (to copy, or to share on WhatsApp) and cancels it.

Thin handlers on the use cases the API calls (``drafts.service``, ``drafts.links``), as the
staff member: changing a draft needs the write scope there (anyone else gets the 403 page),
looking needs read. Every form carries the session's CSRF token (``access``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id
from orderline.drafts import links
from orderline.drafts import service as drafts
from orderline.drafts.rules import DraftStatus, whatsapp_share_url
from orderline.drafts.service import DraftLineInput, NewDraft
from orderline.orders.service import Contact
from orderline.shipping.rules import Address
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.form_input import FormProblem, form_text, refusal_errors, whole_number
from orderline.web.console.order_pages import _default_channel, _payment_methods
from orderline.web.console.pages import console_page
from orderline.web.console.shop_names import shop_names
from orderline.web.pages import FieldError

router = APIRouter()

PAGE_SIZE = 25
ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")
# What a PATCH of a draft is, from the details form (blank optional fields clear them).
DETAIL_FIELDS = ("customer_name", "customer_phone", "customer_email", "payment_method",
                 "coupon", "note", *(f"address_{k}" for k in ADDRESS_FIELDS))


def _values(form: FormData) -> dict[str, str]:
    return {name: form_text(form, name) for name in (*DETAIL_FIELDS, "channel", "sku",
                                                     "quantity")}


def _contact(values: Mapping[str, str]) -> Contact | None:
    if not any(values[k] for k in ("customer_name", "customer_phone", "customer_email")):
        return None
    return Contact(name=values["customer_name"], phone=values["customer_phone"] or None,
                   email=values["customer_email"].lower() or None)


def _address(values: Mapping[str, str]) -> Address | None:
    if not any(values[f"address_{k}"] for k in ADDRESS_FIELDS):
        return None
    return Address(name=values["customer_name"] or "-", line1=values["address_line1"],
                   line2=values["address_line2"], city=values["address_city"],
                   region=values["address_region"], postal_code=values["address_postal_code"],
                   country=values["address_country"].upper(),
                   phone=values["customer_phone"] or None)


def _details(values: Mapping[str, str]) -> dict[str, Any]:
    """The details form as the use case's changes: every field, blank ones cleared."""
    return {"customer": _contact(values), "address": _address(values),
            "payment_method": values["payment_method"] or None,
            "coupon_codes": [values["coupon"]] if values["coupon"] else [],
            "note": values["note"]}


def _values_of(draft: Mapping[str, Any]) -> dict[str, str]:
    """The details form filled from the draft."""
    address, buyer = draft["address"] or {}, draft["customer"]
    values = {f"address_{k}": str(address.get(k) or "") for k in ADDRESS_FIELDS}
    values.update(customer_name=buyer["name"] or "", customer_phone=buyer["phone"] or "",
                  customer_email=buyer["email"] or "", payment_method=draft["payment_method"]
                  or "", coupon=(draft["coupon_codes"] or [""])[0], note=draft["note"])
    return values


async def _methods(runtime: RuntimeDep, staff: ConsoleStaff) -> list[dict[str, str]]:
    names = await shop_names(runtime, staff.principal)
    return [{"code": "card", "name": ""}, *_payment_methods(names)]


@router.get("/drafts")
async def draft_list(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                     cursor: Annotated[str | None, Query(max_length=400)] = None) -> Response:
    rows = await drafts.list_drafts(runtime, staff.principal, statuses=[],
                                    limit=PAGE_SIZE + 1, before=decode_cursor(cursor))
    page = rows[:PAGE_SIZE]
    next_cursor = (encode_cursor(page[-1]["created_at"], page[-1]["id"])
                   if len(rows) > PAGE_SIZE else None)
    return console_page(request, staff, "console/drafts/list.html", drafts=page,
                        next_cursor=next_cursor, paged=cursor is not None)


async def _new_form(request: Request, runtime: RuntimeDep, staff: ConsoleStaff, *,
                    values: Mapping[str, str], errors: list[FieldError],
                    status_code: int = 200) -> Response:
    names = await shop_names(runtime, staff.principal)
    return console_page(request, staff, "console/drafts/new.html", status_code=status_code,
                        errors=errors, values=values, channels=names.channels,
                        default_channel=_default_channel(names.channels),
                        methods=await _methods(runtime, staff))


@router.get("/drafts/new")
async def new_draft_page(request: Request, runtime: RuntimeDep,
                         staff: ConsoleStaffDep) -> Response:
    return await _new_form(request, runtime, staff, values={}, errors=[])


def _line(values: Mapping[str, str]) -> DraftLineInput:
    quantity = whole_number(values["quantity"] or "1", field="quantity", minimum=1,
                            maximum=10_000)
    return DraftLineInput(sku=values["sku"], quantity=quantity)


@router.post("/drafts/new")
async def create_draft(request: Request, runtime: RuntimeDep,
                       staff: ConsoleStaffDep) -> Response:
    """The draft with its first line and the buyer; then its page, to add more and send it."""
    values = _values(await request.form())
    try:
        lines = [_line(values)] if values["sku"] else []
        details = _details(values)
        draft = await drafts.create_draft(runtime, staff.principal, NewDraft(
            channel=values["channel"] or "web", lines=lines, customer=details["customer"],
            address=details["address"], payment_method=details["payment_method"],
            coupon_codes=details["coupon_codes"], note=details["note"]))
    except (FormProblem, DomainError) as refused:
        if isinstance(refused, DomainError) and refused.code in {"not_found", "forbidden"}:
            raise
        return await _new_form(request, runtime, staff, values=values, status_code=422,
                               errors=refusal_errors(request, refused, field="sku"))
    return RedirectResponse(f"/console/drafts/{draft['id']}", status_code=303)


async def _draft_page(request: Request, runtime: RuntimeDep, staff: ConsoleStaff,
                      draft_id: uuid.UUID, *, errors: list[FieldError] | None = None,
                      values: Mapping[str, str] | None = None, sent: dict[str, Any] | None = None,
                      status_code: int = 200) -> Response:
    draft = sent or await drafts.get_draft(runtime, staff.principal, draft_id)
    link = None
    if sent is not None:
        url = f"{runtime.settings.console_base_url.rstrip('/')}/d/{sent['link_token']}"
        link = {"url": url, "whatsapp": whatsapp_share_url(url)}
    return console_page(
        request, staff, "console/drafts/draft.html", status_code=status_code,
        errors=errors or [], draft=draft, link=link, values=values or _values_of(draft),
        methods=await _methods(runtime, staff),
        editable=draft["status"] in (DraftStatus.DRAFT, DraftStatus.SENT),
        cancellable=draft["status"] in (DraftStatus.DRAFT, DraftStatus.SENT, DraftStatus.OPEN))


@router.get("/drafts/{draft_id}")
async def draft_page(draft_id: str, request: Request, runtime: RuntimeDep,
                     staff: ConsoleStaffDep) -> Response:
    return await _draft_page(request, runtime, staff, parse_id("draft_order", draft_id))


Work = Callable[[uuid.UUID, Mapping[str, str], FormData], Awaitable[None]]


async def _change(request: Request, runtime: RuntimeDep, staff: ConsoleStaff, draft_id: str,
                  field: str, work: Work) -> Response:
    """Run a change from a form of the draft's page: back to the page, or the page with what
    was refused next to ``field``."""
    ident = parse_id("draft_order", draft_id)
    form = await request.form()
    values = _values(form)
    try:
        await work(ident, values, form)
    except (FormProblem, DomainError) as refused:
        if isinstance(refused, DomainError) and refused.code in {"not_found", "forbidden"}:
            raise
        return await _draft_page(request, runtime, staff, ident, status_code=422,
                                 values=values if field != "sku" else None,
                                 errors=refusal_errors(request, refused, field=field))
    return RedirectResponse(f"/console/drafts/{ident}", status_code=303)


@router.post("/drafts/{draft_id}/lines")
async def add_line(draft_id: str, request: Request, runtime: RuntimeDep,
                   staff: ConsoleStaffDep) -> Response:
    async def work(ident: uuid.UUID, values: Mapping[str, str], _: FormData) -> None:
        line = _line(values)
        await drafts.add_line(runtime, staff.principal, ident, sku=line.sku,
                              quantity=line.quantity)
    return await _change(request, runtime, staff, draft_id, "sku", work)


@router.post("/drafts/{draft_id}/lines/quantity")
async def set_line(draft_id: str, request: Request, runtime: RuntimeDep,
                   staff: ConsoleStaffDep) -> Response:
    """A line's new quantity; 0 removes the line."""
    async def work(ident: uuid.UUID, values: Mapping[str, str], _: FormData) -> None:
        quantity = whole_number(values["quantity"], field="sku", minimum=0, maximum=10_000)
        if quantity == 0:
            await drafts.remove_line(runtime, staff.principal, ident, sku=values["sku"])
        else:
            await drafts.set_line(runtime, staff.principal, ident, sku=values["sku"],
                                  quantity=quantity)
    return await _change(request, runtime, staff, draft_id, "sku", work)


@router.post("/drafts/{draft_id}/details")
async def change_details(draft_id: str, request: Request, runtime: RuntimeDep,
                         staff: ConsoleStaffDep) -> Response:
    async def work(ident: uuid.UUID, values: Mapping[str, str], _: FormData) -> None:
        await drafts.update_draft(runtime, staff.principal, ident, _details(values))
    return await _change(request, runtime, staff, draft_id, "customer_name", work)


@router.post("/drafts/{draft_id}/send")
async def send(draft_id: str, request: Request, runtime: RuntimeDep,
               staff: ConsoleStaffDep) -> Response:
    """A new link, shown on the page this once (only its hash is kept)."""
    ident = parse_id("draft_order", draft_id)
    try:
        sent = await links.send_draft(runtime, staff.principal, ident)
    except DomainError as refused:
        if refused.code in {"not_found", "forbidden"}:
            raise
        return await _draft_page(request, runtime, staff, ident, status_code=409,
                                 errors=refusal_errors(request, refused, field="send"))
    return await _draft_page(request, runtime, staff, ident, sent=sent)


@router.post("/drafts/{draft_id}/cancel")
async def cancel(draft_id: str, request: Request, runtime: RuntimeDep,
                 staff: ConsoleStaffDep) -> Response:
    ident = parse_id("draft_order", draft_id)
    try:
        await links.cancel_draft(runtime, staff.principal, ident)
    except DomainError as refused:
        if refused.code in {"not_found", "forbidden"}:
            raise
        return await _draft_page(request, runtime, staff, ident, status_code=409,
                                 errors=refusal_errors(request, refused, field="cancel"))
    return RedirectResponse(f"/console/drafts/{ident}", status_code=303)
