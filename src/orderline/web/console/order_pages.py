"""The console's order pages: the list (filters, search, cursor pages, new orders live), the
order page and its actions, and an order typed in by hand.

Each handler is as thin as an API route: it parses the query or the form (with the API's own
request models, so the same input is refused the same way), calls the use case the API calls
with the staff member's principal, and renders. An action sends the order version the page
was rendered with, as the API's If-Match; when someone changed the order first, the answer is
a 412 page naming who did what (``orders.conflicts``) with a link to reload.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from orderline.catalog import products as catalog_products
from orderline.catalog.availability import sellable_skus
from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.cod import service as cod
from orderline.cod.schemas import CollectIn, DeliveryFailedIn
from orderline.core.errors import DomainError, Forbidden, NotFound, VersionConflict
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id
from orderline.documents import service as documents
from orderline.documents.downloads import pdf_response
from orderline.documents.rules import DocumentKind, document_file_name
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments import verifications
from orderline.manual_payments.proof_store import PENDING as PENDING_PROOF
from orderline.order_changes import reading as order_changes
from orderline.order_splits import service as order_splits
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.callers import OrderCaller
from orderline.orders.fulfilment import service as shipments
from orderline.orders.fulfilment.schemas import ShipmentCreate
from orderline.orders.rules import CancelReason, OrderStatus
from orderline.orders.schemas import OrderCreate, ShippingUpdate, to_lines
from orderline.orders.store import OrderFilter
from orderline.payments import service as payments
from orderline.payments.order_detail import read_order_detail
from orderline.payments.schemas import RefundRequest
from orderline.staff.names import actor_names
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.order_rules import (
    CASH_ON_DELIVERY,
    amount_input,
    order_actions,
    parse_amount,
    split_merge_actions,
)
from orderline.web.console.pages import console_page, form_errors
from orderline.web.console.return_section import returns_section
from orderline.web.console.shop_names import ShopNames, shop_names
from orderline.web.pages import FieldError, page_locale
from orderline.web.translations import translations_for


def units_chosen(form: FormData, prefix: str) -> list[dict[str, Any]]:
    """The units a form chose per line: ``<prefix>_<sku>`` for each ``line_sku``, left out
    when empty or 0; a quantity that is not a whole number goes on as typed, for the request's
    schema to refuse with its own sentence."""
    chosen: list[dict[str, Any]] = []
    for sku in form.getlist("line_sku"):
        text = str(form.get(f"{prefix}_{sku}", "")).strip()
        if text and text != "0":
            chosen.append({"sku": str(sku), "quantity": int(text) if text.isdigit() else text})
    return chosen

router = APIRouter()
T = TypeVar("T")

PAGE_SIZE = 25
LIVE_MAX = 50
_FILTERS = ("status", "channel", "payment_method", "date_from", "date_to", "q")


# --- the list --------------------------------------------------------------------------------

def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _filters(request: Request) -> tuple[dict[str, str], OrderFilter, list[FieldError]]:
    """The list's filters as typed (to show them back) and as the use case takes them; a day
    is a UTC day, and "to" includes its whole day."""
    raw = {k: request.query_params.get(k, "").strip() for k in _FILTERS}
    problems: list[FieldError] = []
    status = raw["status"] if raw["status"] in set(OrderStatus) else None
    start = _day(raw["date_from"]) if raw["date_from"] else None
    end = _day(raw["date_to"]) if raw["date_to"] else None
    say = _words(request)
    if raw["date_from"] and start is None:
        problems.append(FieldError(say("Enter the first day as a date, like 2026-12-31."),
                                   field="date_from"))
    if raw["date_to"] and end is None:
        problems.append(FieldError(say("Enter the last day as a date, like 2026-12-31."),
                                   field="date_to"))
    f = OrderFilter(
        status=status, channel=raw["channel"] or None,
        payment_method=raw["payment_method"] or None, search=raw["q"][:200] or None,
        created_from=datetime.combine(start, datetime.min.time(), UTC) if start else None,
        created_to=(datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1)
                    if end else None))
    return raw, f, problems


# The CSV download of the list (console/csv_pages.py) takes the same filters.
order_filters = _filters


def _query(raw: Mapping[str, str], **more: str) -> str:
    from urllib.parse import urlencode
    return urlencode({**{k: v for k, v in raw.items() if v}, **more})


def _cursor_of(order: Mapping[str, Any]) -> str:
    return encode_cursor(order["created_at"], order["id"])


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request, staff: ConsoleStaffDep,
                      runtime: RuntimeDep) -> Response:
    raw, f, problems = _filters(request)
    before_text = request.query_params.get("cursor") or None
    after_text = request.query_params.get("after") or None
    try:
        before, after = decode_cursor(before_text), decode_cursor(after_text)
    except DomainError:
        before = after = None
        before_text = after_text = None
    rows = await _call(orders.list_orders(runtime, staff.principal, f, limit=PAGE_SIZE + 1,
                                          before=before if after is None else None,
                                          after=after))
    if after is not None:
        page = rows[-PAGE_SIZE:]
        newer, older = len(rows) > PAGE_SIZE, True
    else:
        page = rows[:PAGE_SIZE]
        newer, older = before is not None, len(rows) > PAGE_SIZE
    names = await _call(shop_names(runtime, staff.principal))
    context: dict[str, Any] = {
        "orders": page, "filters": raw, "statuses": [s.value for s in OrderStatus],
        "channels": names.channels, "methods": _payment_methods(names), "names": names,
        "next_url": f"/console/orders?{_query(raw, cursor=_cursor_of(page[-1]))}"
        if older and page else None,
        "previous_url": f"/console/orders?{_query(raw, after=_cursor_of(page[0]))}"
        if newer and page else None,
        # Only the first page grows live: on a later page a new order belongs to page one.
        "live_url": f"/console/orders/live?{_query(raw)}"
        if before is None and after is None else None,
        # With no row to start from, the live part asks for what arrives after this moment.
        "since": encode_cursor(runtime.clock.now(), uuid.UUID(int=0)),
        "cursor_of": _cursor_of,
        "may_write": Scope.WRITE in staff.principal.scopes,
        "download_query": _query(raw),
    }
    template = ("console/orders/_results.html" if request.headers.get("HX-Target") ==
                "order-results" else "console/orders/list.html")
    return console_page(request, staff, template, errors=problems, **context)


@router.get("/orders/live", response_class=HTMLResponse)
async def new_orders_rows(request: Request, staff: ConsoleStaffDep,
                          runtime: RuntimeDep) -> Response:
    """The rows of orders newer than ``after`` (the newest row the list shows), for the list's
    live part to put on top when the stream says an order arrived."""
    _raw, f, _problems = _filters(request)
    try:
        after = decode_cursor(request.query_params.get("after") or None)
    except DomainError:
        after = None
    rows = [] if after is None else await _call(orders.list_orders(
        runtime, staff.principal, f, limit=LIVE_MAX, before=None, after=after))
    return console_page(request, staff, "console/orders/_rows.html", orders=rows,
                        cursor_of=_cursor_of, live=True,
                        names=await _call(shop_names(runtime, staff.principal)))


# --- one order -------------------------------------------------------------------------------

async def _detail(runtime: RuntimeDep, staff: ConsoleStaff, order_id: str) -> dict[str, Any]:
    oid = await _call(_parsed(order_id))
    return await _call(read_order_detail(runtime, staff.principal, oid))


async def _order_context(runtime: RuntimeDep, staff: ConsoleStaff,
                         detail: dict[str, Any]) -> dict[str, Any]:
    order = detail["order"]
    intents = detail["payments"]["data"]
    names = await actor_names(runtime, staff.principal,
                              [e["actor"] for e in detail["history"]]
                              + [m["actor"] for m in detail["payments"]["ledger"]])
    actions = order_actions(order, intents, staff.principal.scopes, held=detail["held"])
    waiting: list[dict[str, Any]] = []
    if "mark_paid" in actions:  # a transfer awaiting payment, for someone who may verify
        caller = OrderCaller(business_id=staff.principal.business_id, order_id=order["id"],
                             principal=staff.principal)
        waiting = [p for p in await payment_proofs.list_proofs(runtime, caller)
                   if p["status"] == PENDING_PROOF]
    parcels = await shipments.list_shipments(runtime, staff.principal, order["id"])
    sent: dict[str, int] = {}
    for parcel in parcels:
        for line in parcel["lines"]:
            sent[line["sku"]] = sent.get(line["sku"], 0) + line["quantity"]
    related = await order_splits.order_links(runtime, staff.principal, order["id"])
    mergeable = (await order_splits.merge_candidates(runtime, staff.principal, order)
                 if Scope.WRITE in staff.principal.scopes
                 and order["status"] == OrderStatus.PENDING_PAYMENT else [])
    actions = actions | split_merge_actions(order, staff.principal.scopes,
                                            others_unpaid=bool(mergeable))
    return {"who": lambda actor: names.get(actor, actor), "waiting_proofs": waiting,
            "related": related["data"], "mergeable": mergeable,
            "shipments": parcels,
            "to_ship": [{"sku": line["sku"], "name": line["name"],
                         "left": line["quantity"] - sent.get(line["sku"], 0)}
                        for line in order["lines"]],
            "locations": await catalog_products.list_locations(runtime, staff.principal)
            if "ship_part" in actions else [],
            "order": order, "history": list(reversed(detail["history"])),
            "intents": intents, "ledger": detail["payments"]["ledger"],
            "actions": actions, "names": await shop_names(runtime, staff.principal),
            "held": detail["held"],
            "changes_waiting": [c for c in await order_changes.list_changes(
                runtime, staff.principal, order["id"]) if c["status"] == "awaiting_payment"],
            "total_input": amount_input(order["total"], order["currency"]),
            "cancel_reasons": [r.value for r in CancelReason
                               if r not in (CancelReason.PAYMENT_TIMEOUT,
                                            CancelReason.DELIVERY_FAILED,
                                            CancelReason.MERGED)],
            "scopes": {str(scope) for scope in staff.principal.scopes},
            "me": staff.principal.actor,
            **await returns_section(runtime, staff, order)}


@router.get("/orders/new", response_class=HTMLResponse)
async def new_order_page(request: Request, staff: ConsoleStaffDep,
                         runtime: RuntimeDep) -> Response:
    if Scope.WRITE not in staff.principal.scopes:  # a role that may not place orders
        raise HTTPException(403)
    return await _new_order_form(request, staff, runtime, values={}, errors=[])


@router.get("/orders/new/skus", response_class=HTMLResponse)
async def sku_search(request: Request, staff: ConsoleStaffDep, runtime: RuntimeDep) -> Response:
    """Live availability while typing a line: SKUs matching the text, with free stock."""
    search = (request.query_params.get("sku_search") or "")[:100]
    found = await _call(sellable_skus(runtime, staff.principal, search=search))
    return console_page(request, staff, "console/orders/_sku_results.html", skus=found,
                        search=search)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(order_id: str, request: Request, staff: ConsoleStaffDep,
                     runtime: RuntimeDep) -> Response:
    detail = await _detail(runtime, staff, order_id)
    return console_page(request, staff, "console/orders/detail.html",
                        done=request.query_params.get("done", ""),
                        **await _order_context(runtime, staff, detail))


# --- documents -------------------------------------------------------------------------------

@router.get("/orders/{order_id}/invoice.pdf", response_model=None)
async def invoice_pdf(order_id: str, staff: ConsoleStaffDep, runtime: RuntimeDep) -> Response:
    """The invoice as the worker issued it (the read scope, like the page)."""
    oid = await _call(_parsed(order_id))
    found = await _call(documents.invoice_file_for_staff(runtime, staff.principal, oid))
    return pdf_response(found.content, document_file_name(DocumentKind.INVOICE, found.number))


@router.get("/orders/{order_id}/packing-slip.pdf", response_model=None)
async def packing_slip_pdf(order_id: str, staff: ConsoleStaffDep,
                           runtime: RuntimeDep) -> Response:
    """The packing slip of the order as it is now (the read scope, like the page)."""
    oid = await _call(_parsed(order_id))
    number, content = await _call(documents.packing_slip_file(runtime, staff.principal, oid))
    return pdf_response(content, document_file_name(DocumentKind.PACKING_SLIP, number))


# --- actions ---------------------------------------------------------------------------------

# The page's input ids for the fields the actions' request models name.
_ACTION_FIELDS = {"carrier": "carrier", "tracking_number": "tracking_number",
                  "tracking_url": "tracking_url", "amount": "refund-amount",
                  "reason": "refund-reason", "note": "note", "outcome": "failed-note"}

Work = Callable[[FormData, int | None], Awaitable[Any]]


async def _act(request: Request, staff: ConsoleStaff, runtime: RuntimeDep, order_id: str,
               done: str, work: Work) -> Response:
    """Run one action with the version the page was shown with; on success back to the order
    (303) saying what was done; a stale version answers the conflict page (412); any other
    refusal shows the order again with the problem next to the action's fields."""
    oid = await _call(_parsed(order_id))
    form = await request.form()
    version_text = str(form.get("version", ""))
    version = int(version_text) if version_text.isdigit() else None
    try:
        await work(form, version)
    except VersionConflict as conflict:
        latest = conflict.details.get("latest_change") or {}
        names = await actor_names(runtime, staff.principal, [str(latest.get("actor", ""))])
        return console_page(request, staff, "console/orders/conflict.html", status_code=412,
                            order_id=str(oid), conflict=conflict.details,
                            who=lambda actor: names.get(actor, actor),
                            me=staff.principal.actor)
    except ValidationFailedOnField as unreadable:
        return await _show_problems(request, staff, runtime, order_id,
                                    [FieldError(unreadable.message, field=unreadable.field)],
                                    422)
    except ValidationError as invalid:
        return await _show_problems(request, staff, runtime, order_id,
                                    form_errors(invalid, fields=_ACTION_FIELDS), 422)
    except DomainError as refused:
        _raise_page_error(refused)
        return await _show_problems(request, staff, runtime, order_id,
                                    _plain(request, refused), 409)
    return RedirectResponse(f"/console/orders/{oid}?done={done}", status_code=303)


async def _show_problems(request: Request, staff: ConsoleStaff, runtime: RuntimeDep,
                         order_id: str, errors: list[FieldError], status: int) -> Response:
    detail = await _detail(runtime, staff, order_id)
    return console_page(request, staff, "console/orders/detail.html", status_code=status,
                        errors=errors, done="", **await _order_context(runtime, staff, detail))


@router.post("/orders/{order_id}/mark-paid", response_class=HTMLResponse)
async def mark_paid(order_id: str, request: Request, staff: ConsoleStaffDep,
                    runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        return await verifications.confirm_received(
            runtime, staff.principal, parse_id("order", order_id),
            note=str(form.get("note", "")),
            bank_reference=str(form.get("bank_reference", "")).strip() or None,
            expected_version=version)
    return await _act(request, staff, runtime, order_id, "paid", work)


@router.post("/orders/{order_id}/approve-proof", response_class=HTMLResponse)
async def approve_proof(order_id: str, request: Request, staff: ConsoleStaffDep,
                        runtime: RuntimeDep) -> Response:
    """The buyer's proof of a transfer is good: the same decision as the verifier's queue."""
    async def work(form: FormData, _version: int | None) -> Any:
        proof_id = parse_id("payment proof", str(form.get("proof_id", "")))
        return await verifications.approve(runtime, staff.principal, proof_id,
                                           note=str(form.get("note", "")).strip() or None)
    return await _act(request, staff, runtime, order_id, "paid", work)


@router.post("/orders/{order_id}/capture", response_class=HTMLResponse)
async def capture(order_id: str, request: Request, staff: ConsoleStaffDep,
                  runtime: RuntimeDep) -> Response:
    async def work(_form: FormData, _version: int | None) -> Any:
        return await payments.capture_payment(runtime, staff.principal,
                                              parse_id("order", order_id))
    return await _act(request, staff, runtime, order_id, "captured", work)


@router.post("/orders/{order_id}/ship", response_class=HTMLResponse)
async def ship(order_id: str, request: Request, staff: ConsoleStaffDep,
               runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        body = ShippingUpdate.model_validate({
            "carrier": str(form.get("carrier", "")),
            "tracking_number": str(form.get("tracking_number", "")),
            "tracking_url": str(form.get("tracking_url", "")).strip() or None})
        return await payments.ship_order(
            runtime, staff.principal, parse_id("order", order_id), carrier=body.carrier,
            tracking_number=body.tracking_number,
            tracking_url=str(body.tracking_url) if body.tracking_url else None,
            expected_version=version)
    return await _act(request, staff, runtime, order_id, "shipped", work)


@router.post("/orders/{order_id}/shipments", response_class=HTMLResponse)
async def ship_part(order_id: str, request: Request, staff: ConsoleStaffDep,
                    runtime: RuntimeDep) -> Response:
    """Ship the units typed per line (``units-<SKU>``) from the chosen location."""
    async def work(form: FormData, version: int | None) -> Any:
        prefix = "units-"
        lines = [{"sku": key[len(prefix):], "quantity": int(str(value))}
                 for key, value in form.multi_items()
                 if key.startswith(prefix) and str(value).strip().isdigit()
                 and int(str(value)) > 0]
        if not lines:
            raise ValidationFailedOnField(_words(request)(
                "Type how many units of at least one line leave in this parcel."),
                field="ship-units")
        body = ShipmentCreate.model_validate({
            "lines": lines, "location": str(form.get("location", "")).strip() or None,
            "carrier": str(form.get("carrier", "")),
            "tracking_number": str(form.get("tracking_number", "")),
            "tracking_url": str(form.get("tracking_url", "")).strip() or None})
        return await shipments.create_shipment(runtime, staff.principal,
                                               parse_id("order", order_id), body.to_parcel(),
                                               expected_version=version)
    return await _act(request, staff, runtime, order_id, "shipment", work)


@router.post("/orders/{order_id}/shipments/{shipment_id}/delivered",
             response_class=HTMLResponse)
async def shipment_delivered(order_id: str, shipment_id: str, request: Request,
                             staff: ConsoleStaffDep, runtime: RuntimeDep) -> Response:
    async def work(_form: FormData, version: int | None) -> Any:
        return await shipments.mark_delivered(
            runtime, staff.principal, parse_id("order", order_id),
            parse_id("shipment", shipment_id), expected_version=version)
    return await _act(request, staff, runtime, order_id, "shipment_delivered", work)


@router.post("/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel(order_id: str, request: Request, staff: ConsoleStaffDep,
                 runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        reason = str(form.get("reason", CancelReason.MERCHANT.value))
        return await order_status.cancel_order(
            runtime, staff.principal, parse_id("order", order_id),
            reason=CancelReason(reason) if reason in set(CancelReason) else CancelReason.OTHER,
            note=str(form.get("note", ""))[:2000], expected_version=version)
    return await _act(request, staff, runtime, order_id, "cancelled", work)


@router.post("/orders/{order_id}/refund", response_class=HTMLResponse)
async def refund(order_id: str, request: Request, staff: ConsoleStaffDep,
                 runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        currency = staff.principal.currency
        body: dict[str, Any] = {"reason": str(form.get("reason", "")),
                                "restock": form.get("restock") == "on"}
        if form.get("mode") == "lines":
            chosen = units_chosen(form, "quantity")
            body["lines"] = chosen or None
            if not chosen:
                raise ValidationFailedOnField(_words(request)(
                    "Choose how many units of at least one line to refund."), "refund-lines")
        else:
            text = str(form.get("amount", ""))
            amount = parse_amount(text, currency)
            if amount is None or amount <= 0:
                raise ValidationFailedOnField(_words(request)(
                    "Enter the amount to refund, like 12.50."), "refund-amount")
            body["amount"] = amount
        request_body = RefundRequest.model_validate(body)
        return await payments.refund_payment(
            runtime, staff.principal, parse_id("order", order_id), amount=request_body.amount,
            lines=request_body.to_lines(), restock=request_body.restock,
            reason=request_body.reason, expected_version=version)
    return await _act(request, staff, runtime, order_id, "refunded", work)


@router.post("/orders/{order_id}/cod/collect", response_class=HTMLResponse)
async def cod_collected(order_id: str, request: Request, staff: ConsoleStaffDep,
                        runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        amount = parse_amount(str(form.get("amount", "")), staff.principal.currency)
        if amount is None:
            raise ValidationFailedOnField(_words(request)(
                "Enter the cash collected, like 150000."), "collect-amount")
        body = CollectIn.model_validate({"amount": amount})
        return await cod.collect(runtime, staff.principal, parse_id("order", order_id),
                                 amount=body.amount, expected_version=version)
    return await _act(request, staff, runtime, order_id, "collected", work)


@router.post("/orders/{order_id}/cod/failed", response_class=HTMLResponse)
async def cod_failed(order_id: str, request: Request, staff: ConsoleStaffDep,
                     runtime: RuntimeDep) -> Response:
    async def work(form: FormData, version: int | None) -> Any:
        body = DeliveryFailedIn.model_validate({"outcome": str(form.get("outcome", "")),
                                                "note": str(form.get("note", ""))})
        return await cod.delivery_failed(runtime, staff.principal,
                                         parse_id("order", order_id), outcome=body.outcome,
                                         note=body.note, expected_version=version)
    return await _act(request, staff, runtime, order_id, "delivery_failed", work)


# --- an order typed in by hand ---------------------------------------------------------------

# One line row to start (a long form is a chore on a phone), "Add a line" for each more.
MAX_LINE_ROWS = 20
# A sale typed in by hand came from a chat or the counter, never from software (``api``).
HAND_TYPED_CHANNELS = ("whatsapp", "instagram", "pos")


def _payment_methods(names: ShopNames) -> list[dict[str, str]]:
    """Cash on delivery and the business's own manual methods (transfers, e-wallets) that
    are on."""
    return [{"code": CASH_ON_DELIVERY, "name": ""}] + [
        {"code": m["code"], "name": m["name"]} for m in names.manual_methods if m["enabled"]]


def _default_channel(channels: list[dict[str, Any]]) -> str:
    """The channel a hand-typed sale most likely came from: a chat (WhatsApp first), else
    the counter, else the first channel; never ``api``, which is for software, not people."""
    codes = [str(c["code"]) for c in channels]
    for preferred in HAND_TYPED_CHANNELS:
        if preferred in codes:
            return preferred
    return next((code for code in codes if code != "api"), "")


def _line_count(form: Mapping[str, Any]) -> int:
    """How many line rows the form showed: each shown row sends its ``sku_<i>``, even empty."""
    return max(1, sum(1 for i in range(MAX_LINE_ROWS) if f"sku_{i}" in form))


async def _new_order_form(request: Request, staff: ConsoleStaff, runtime: RuntimeDep, *,
                          values: Mapping[str, Any], errors: list[FieldError],
                          status_code: int = 200, line_count: int = 1,
                          focus_line: int | None = None) -> Response:
    names = await _call(shop_names(runtime, staff.principal))
    return console_page(request, staff, "console/orders/new.html", status_code=status_code,
                        errors=errors, values=values,
                        line_rows=range(min(max(1, line_count), MAX_LINE_ROWS)),
                        max_lines=MAX_LINE_ROWS, focus_line=focus_line,
                        default_channel=_default_channel(names.channels),
                        channels=names.channels, methods=_payment_methods(names))


@router.get("/orders/new/line", response_class=HTMLResponse)
async def another_line(request: Request, staff: ConsoleStaffDep) -> Response:
    """One more line row for the form ("Add a line" through htmx): the next index after the
    rows the form sends; at the maximum, the button is replaced by a note (out of band)."""
    if Scope.WRITE not in staff.principal.scopes:
        raise HTTPException(403)
    index = sum(1 for i in range(MAX_LINE_ROWS) if f"sku_{i}" in request.query_params)
    if index >= MAX_LINE_ROWS:  # the form is full already: nothing to add (htmx swaps nothing)
        return Response(status_code=204)
    return console_page(request, staff, "console/orders/_line_row.html",
                        i=index, values={}, errors=[], focus_line=index,
                        max_lines=MAX_LINE_ROWS, full=index + 1 >= MAX_LINE_ROWS)


def _order_body(form: FormData) -> dict[str, Any]:
    """The form as ``POST /v1/orders`` takes it: blank optional fields left out."""
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()
    lines = []
    for i in range(MAX_LINE_ROWS):
        sku, quantity = text(f"sku_{i}"), text(f"quantity_{i}")
        if sku or (quantity and quantity != "1"):
            lines.append({"sku": sku, "quantity": int(quantity) if quantity.isdigit()
                          else quantity})
    body: dict[str, Any] = {
        "customer": {"name": text("customer_name"), "phone": text("customer_phone") or None,
                     "email": text("customer_email") or None},
        "channel": text("channel"), "lines": lines,
        "payment_method": text("payment_method"), "note": text("note")}
    if text("address_line1") or text("address_city"):
        body["shipping_address"] = {
            "name": text("customer_name"), "line1": text("address_line1"),
            "line2": text("address_line2"), "city": text("address_city"),
            "region": text("address_region"), "postal_code": text("address_postal_code"),
            "country": text("address_country").upper(),
            "phone": text("customer_phone") or None}
    return body


@router.post("/orders/new", response_class=HTMLResponse)
async def create_order(request: Request, staff: ConsoleStaffDep,
                       runtime: RuntimeDep) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    lines_shown = _line_count(form)
    if form.get("add_line"):  # "Add a line" without JavaScript: the form again, one row more
        more = min(lines_shown + 1, MAX_LINE_ROWS)
        return await _new_order_form(request, staff, runtime, values=values, errors=[],
                                     line_count=more, focus_line=more - 1)
    try:
        body = OrderCreate.model_validate(_order_body(form))
        new = NewOrder(
            customer=body.customer.to_contact(), channel=body.channel,
            lines=to_lines(body.lines), payment_method=body.payment_method, note=body.note,
            shipping_address=body.shipping_address.to_address()
            if body.shipping_address else None)
        placed = await direct_orders.create_order(runtime, staff.principal, new)
    except ValidationError as invalid:
        return await _new_order_form(request, staff, runtime, values=values,
                                     errors=_new_order_field_errors(request, invalid),
                                     status_code=422, line_count=lines_shown)
    except DomainError as refused:
        _raise_page_error(refused)
        return await _new_order_form(request, staff, runtime, values=values,
                                     errors=_plain(request, refused), status_code=409,
                                     line_count=lines_shown)
    return RedirectResponse(f"/console/orders/{placed['id']}?done=created", status_code=303)


# The form's field id for each part of ``OrderCreate``.
_ORDER_FIELDS = {
    ("customer", "name"): "customer_name", ("customer", "phone"): "customer_phone",
    ("customer", "email"): "customer_email", ("customer",): "customer_name",
    ("payment_method",): "payment_method", ("channel",): "channel", ("lines",): "sku_0",
    ("note",): "note", ("shipping_address", "line1"): "address_line1",
    ("shipping_address", "city"): "address_city",
    ("shipping_address", "country"): "address_country",
    ("shipping_address", "postal_code"): "address_postal_code",
}


def _new_order_field_errors(request: Request, invalid: ValidationError) -> list[FieldError]:
    say = _words(request)
    found: list[FieldError] = []
    for problem in invalid.errors():
        where = tuple(str(p) for p in problem["loc"])
        if where[:1] == ("lines",) and len(where) >= 2 and where[1].isdigit():
            part = where[2] if len(where) > 2 else "sku"
            field = f"{'quantity' if part == 'quantity' else 'sku'}_{where[1]}"
            message = (say("Enter a whole number of units, 1 or more.") if part == "quantity"
                       else say("Enter the SKU of the product."))
        else:
            field = _ORDER_FIELDS.get(where[:2], _ORDER_FIELDS.get(where[:1], "customer_name"))
            message = _FIELD_WORDS.get(field, "")
            message = say(message) if message else str(problem["msg"])
        if not any(e.field == field for e in found):
            found.append(FieldError(message, field=field))
    return found


_FIELD_WORDS = {
    "customer_name": "Enter the customer's name.",
    "customer_phone": "Enter the phone number with its country code, like +628123456789.",
    "customer_email": "Enter an email address, like name@example.com.",
    "payment_method": "Choose how the customer pays.",
    "channel": "Choose the channel the sale came from.",
    "sku_0": "Add at least one line: a SKU and how many.",
    "address_line1": "Enter the street address.",
    "address_city": "Enter the town or city.",
    "address_country": "Enter the country as two letters, like ID.",
    "address_postal_code": "Enter a postal code of at most 20 characters.",
    "note": "The note is too long.",
}


# --- refusals in plain words -----------------------------------------------------------------

class ValidationFailedOnField(Exception):
    """A form value the page itself could not read (an amount), said next to its field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# What a refusal means for the person, by the API's error code; other codes keep the use
# case's own sentence.
_PLAIN = {
    "refund_first": "This order holds the buyer's money. Refund it first, then cancel it.",
    "invalid_transition": "The order cannot do that now, in its current status.",
    "amount_mismatch": "The amount is not the order's total.",
    "collected_amount_mismatch": "The cash collected is not the order's total.",
    "unknown_sku": "There is no product with this SKU: check it, or search for the product.",
    "unknown_channel": "This channel is not set up for the business.",
    "variant_archived": "A product on this order is archived and cannot be sold.",
}


def _words(request: Request) -> Callable[[str], str]:
    return translations_for(page_locale(request)).gettext


def _plain(request: Request, refused: DomainError) -> list[FieldError]:
    say = _words(request)
    field = refused.details.get("field")
    words = _PLAIN.get(refused.code)
    message = say(words) if words else refused.message
    if refused.code == "out_of_stock":
        short = ", ".join(f"{line['sku']} ({line['available']})"
                          for line in refused.details.get("lines", []))
        message = say("Not enough stock for: %(lines)s (free units in brackets).") % {
            "lines": short}
    return [FieldError(message, field=str(field) if isinstance(field, str) else None)]


def _raise_page_error(refused: DomainError) -> None:
    if isinstance(refused, NotFound):
        raise HTTPException(404)
    if isinstance(refused, Forbidden):
        raise HTTPException(403)


async def _parsed(order_id: str) -> uuid.UUID:
    return parse_id("order", order_id)


async def _call(work: Awaitable[T]) -> T:
    """A read for a page: another business's order (or none) is the 404 page, a role without
    the scope the 403 page."""
    try:
        return await work
    except (NotFound, Forbidden) as refused:
        _raise_page_error(refused)
        raise

