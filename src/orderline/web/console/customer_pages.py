"""The console's Customers pages: search by name, phone or email; a customer's page with their
orders and totals and their cash-on-delivery trust score; their personal data exported as a
JSON download, and erased after a typed confirmation.

Thin handlers on the use cases the API calls (``orders.customers``, ``privacy.service``), as
the staff member: export and erasure need the admin scope there, so only owners and admins see
them (anyone else forcing the URL gets the 403 page).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from orderline.core.errors import DomainError
from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id
from orderline.orders import customers
from orderline.privacy import service as personal_data
from orderline.privacy.schemas import PersonalData
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.form_input import FormProblem, form_text, refusal_errors
from orderline.web.console.pages import console_page
from orderline.web.pages import FieldError

router = APIRouter()

PAGE_SIZE = 25
ORDERS_PAGE = 20


def _page(request: Request, staff: ConsoleStaff, template: str, **context: Any) -> Response:
    return console_page(request, staff, template,
                        may_manage_data=staff.may(Scope.ADMIN), **context)


@router.get("/customers")
async def customer_list(
    request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    rows = await customers.find_customers(runtime, staff.principal, phone=None, email=None,
                                          search=q.strip() or None, limit=PAGE_SIZE + 1,
                                          after=decode_cursor(cursor))
    page = rows[:PAGE_SIZE]
    next_cursor = (encode_cursor(page[-1]["created_at"], page[-1]["id"])
                   if len(rows) > PAGE_SIZE else None)
    return _page(request, staff, "console/customers/list.html", customers=page, q=q,
                 next_cursor=next_cursor, paged=cursor is not None)


@router.get("/customers/{customer_id}")
async def customer_page(customer_id: str, request: Request, runtime: RuntimeDep,
                        staff: ConsoleStaffDep,
                        cursor: Annotated[str | None, Query(max_length=400)] = None,
                        done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    ident = parse_id("customer", customer_id)
    customer = await customers.get_customer(runtime, staff.principal, ident)
    orders = await customers.orders_of_customer(runtime, staff.principal, ident,
                                                limit=ORDERS_PAGE + 1,
                                                before=decode_cursor(cursor))
    page = orders[:ORDERS_PAGE]
    next_cursor = (encode_cursor(page[-1]["created_at"], page[-1]["id"])
                   if len(orders) > ORDERS_PAGE else None)
    return _page(request, staff, "console/customers/customer.html", customer=customer,
                 orders=page, next_cursor=next_cursor, paged=cursor is not None, done=done)


@router.get("/customers/{customer_id}/personal-data")
async def export_personal_data(customer_id: str, runtime: RuntimeDep,
                               staff: ConsoleStaffDep) -> Response:
    """Everything held about the customer, the API's export, as a file to keep or send."""
    ident = parse_id("customer", customer_id)
    data = PersonalData.model_validate(
        await personal_data.export(runtime, staff.principal, ident))
    return Response(data.model_dump_json(indent=2), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="customer-{ident}.json"',
        "Cache-Control": "no-store"})


def _same_text(typed: str, expected: str) -> bool:
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return bool(typed.strip()) and norm(typed) == norm(expected)


async def _erase_page(request: Request, runtime: RuntimeDep, staff: ConsoleStaff,
                      customer_id: str, *, errors: list[FieldError] | None = None,
                      typed: str = "", status_code: int = 200) -> Response:
    customer = await customers.get_customer(runtime, staff.principal,
                                            parse_id("customer", customer_id))
    return _page(request, staff, "console/customers/erase.html", customer=customer,
                 errors=errors or [], typed=typed, status_code=status_code)


@router.get("/customers/{customer_id}/erase")
async def confirm_erasure(customer_id: str, request: Request, runtime: RuntimeDep,
                          staff: ConsoleStaffDep) -> Response:
    staff.principal.require(Scope.ADMIN)
    return await _erase_page(request, runtime, staff, customer_id)


@router.post("/customers/{customer_id}/erase")
async def erase(customer_id: str, request: Request, runtime: RuntimeDep,
                staff: ConsoleStaffDep) -> Response:
    """Erases once the customer's name is typed as it is shown (any case or spacing)."""
    staff.principal.require(Scope.ADMIN)
    ident = parse_id("customer", customer_id)
    typed = form_text(await request.form(), "confirm_name")
    try:
        customer = await customers.get_customer(runtime, staff.principal, ident)
        if not _same_text(typed, customer["name"]):
            raise FormProblem("confirm_name", "erase_confirm")
        await personal_data.erase(runtime, staff.principal, ident)
    except (FormProblem, DomainError) as refused:
        if isinstance(refused, DomainError) and refused.code in {"not_found", "forbidden"}:
            raise
        return await _erase_page(request, runtime, staff, customer_id, typed=typed,
                                 status_code=422,
                                 errors=refusal_errors(request, refused, field="confirm_name"))
    return RedirectResponse(f"/console/customers/{ident}?done=erased", status_code=303)
