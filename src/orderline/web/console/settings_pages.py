"""Settings pages (``/console/settings/...``), for owners and admins only: the index, the
business, API keys, and staff with their roles. The shop's selling terms (payment methods,
cash on delivery, shipping, coupons) are in ``settings_commerce_pages``, webhooks in
``settings_webhook_pages``; this router includes both.

Each handler parses the form, calls the use case the API calls with ``staff.principal`` (so
the audit log names the staff member) and renders; a refusal comes back as errors next to the
fields. A secret (an API key, an invitation link) is shown once, in the answer to the POST
that made it, never in a URL or again later.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from orderline.core.errors import DomainError, ValidationFailed
from orderline.core.http import get_runtime
from orderline.staff import service as staff_service
from orderline.staff.rules import Role
from orderline.staff.schemas import InvitationCreate
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Scope
from orderline.tenancy.schemas import ApiKeyCreate, BusinessUpdate
from orderline.web.console import settings_commerce_pages, settings_webhook_pages
from orderline.web.console.pages import console_page
from orderline.web.console.settings_forms import (
    N_,
    AdminDep,
    PostedDep,
    field_errors,
    form_status,
    ident,
    shown_amount,
)

router = APIRouter(prefix="/settings")
router.include_router(settings_commerce_pages.router)
router.include_router(settings_webhook_pages.router)

BUSINESS_FIELDS = ("name", "alert_email", "reservation_minutes", "invoice_address",
                   "allowed_origins")
RETURN_FIELDS = ("return_window_days", "restocking_fee_percent", "restocking_fee_fixed")
KEY_FIELDS = ("key_name", "scopes")
INVITE_FIELDS = ("email", "role")
SCOPES = [s.value for s in Scope]
ROLES = [r.value for r in Role]


def done(path: str, what: str) -> RedirectResponse:
    """After a change: back to the section's page, which says what was done."""
    return RedirectResponse(f"/console/settings/{path}?done={what}", status_code=303)


@router.get("")
async def settings_index(request: Request, staff: AdminDep) -> Response:
    return console_page(request, staff, "console/settings/index.html")


# --- the business --------------------------------------------------------------------------

async def _business_page(request: Request, staff: AdminDep, *, errors: Any = (),
                         values: dict[str, str] | None = None,
                         channel_values: dict[str, str] | None = None,
                         return_values: dict[str, str] | None = None) -> Response:
    runtime = get_runtime(request)
    business = await tenancy.get_business(runtime, staff.principal)
    channels = await tenancy.list_channels(runtime, staff.principal)
    if values is None:
        values = {"name": business["name"], "alert_email": business["alert_email"] or "",
                  "reservation_minutes": str(business["reservation_ttl_seconds"] // 60),
                  "invoice_address": business["invoice_address"] or "",
                  "allowed_origins": "\n".join(business["allowed_origins"])}
    if return_values is None:
        return_values = {
            "return_window_days": str(business["return_window_days"]),
            "restocking_fee_percent": str(Decimal(business["restocking_fee_bp"]) / 100),
            "restocking_fee_fixed": shown_amount(business["restocking_fee_fixed"],
                                                 business["currency"])}
    return console_page(request, staff, "console/settings/business.html",
                        status_code=form_status(errors), errors=errors,
                        return_values=return_values,
                        business=business, channels=channels, values=values,
                        channel_values=channel_values or {},
                        done=request.query_params.get("done"))


@router.get("/business")
async def business_page(request: Request, staff: AdminDep) -> Response:
    return await _business_page(request, staff)


@router.post("/business")
async def update_business(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        minutes = form.whole("reservation_minutes", label=N_("Reservation time"))
        changes: dict[str, Any] = {"name": form.text("name"),
                                   "alert_email": form.text("alert_email"),
                                   "invoice_address": form.text("invoice_address"),
                                   "allowed_origins": form.lines("allowed_origins")}
        if minutes is not None:
            changes["reservation_ttl_seconds"] = minutes * 60
        body = BusinessUpdate.model_validate(changes)
        await tenancy.update_settings(
            get_runtime(request), staff.principal, name=body.name,
            alert_email=body.alert_email, invoice_address=body.invoice_address,
            reservation_ttl_seconds=body.reservation_ttl_seconds,
            allowed_origins=body.allowed_origins)
    except (DomainError, ValidationError) as error:
        return await _business_page(request, staff, values=form.values(), errors=field_errors(
            error, fields=BUSINESS_FIELDS, aliases={
                "reservation_ttl_seconds": "reservation_minutes", "origin": "allowed_origins"}))
    return done("business", "business-saved")


@router.post("/business/returns")
async def update_returns(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    """The return window and the restocking fee (``returns``): checked by the same use case
    as ``PATCH /v1/business``."""
    try:
        days = form.whole("return_window_days", label=N_("Return window, in days"))
        percent = form.decimal("restocking_fee_percent",
                               label=N_("Restocking fee, percent of the returned value"))
        fixed = form.amount("restocking_fee_fixed", staff.principal.currency,
                            label=N_("Restocking fee, fixed amount"))
        basis_points = None if percent is None else percent * 100
        if basis_points is not None and basis_points != basis_points.to_integral_value():
            raise ValidationFailed("The percentage may have at most two decimals, such as 2.5.",
                                   details={"field": "restocking_fee_percent"})
        await tenancy.update_settings(
            get_runtime(request), staff.principal, return_window_days=days,
            restocking_fee_bp=None if basis_points is None else int(basis_points),
            restocking_fee_fixed=fixed)
    except (DomainError, ValidationError) as error:
        return await _business_page(request, staff, return_values=form.values(),
                                    errors=field_errors(error, fields=RETURN_FIELDS, aliases={
                                        "restocking_fee_bp": "restocking_fee_percent"}))
    return done("business", "returns-saved")


@router.post("/business/channels")
async def add_channel(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        await tenancy.add_channel(get_runtime(request), staff.principal,
                                  code=form.text("channel_code"),
                                  name=form.optional("channel_name"))
    except DomainError as error:
        return await _business_page(
            request, staff, channel_values=form.values(), errors=field_errors(
                error, fields=("channel_code", "channel_name"),
                by_code={"validation_error": "channel_code", "conflict": "channel_code"}))
    return done("business", "channel-added")


# --- API keys ------------------------------------------------------------------------------

async def _keys_page(request: Request, staff: AdminDep, *, errors: Any = (),
                     values: dict[str, Any] | None = None, issued: Any = None) -> Response:
    keys = await tenancy.list_api_keys(get_runtime(request), staff.principal)
    return console_page(request, staff, "console/settings/api_keys.html",
                        status_code=form_status(errors), errors=errors, keys=keys,
                        scopes=SCOPES, values=values or {"scopes": ["read"]}, issued=issued,
                        done=request.query_params.get("done"))


@router.get("/api-keys")
async def api_keys_page(request: Request, staff: AdminDep) -> Response:
    return await _keys_page(request, staff)


@router.post("/api-keys")
async def create_api_key(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        body = ApiKeyCreate.model_validate({"name": form.text("key_name"),
                                            "scopes": form.many("scopes")})
        issued = await tenancy.create_api_key(get_runtime(request), staff.principal,
                                              name=body.name, scopes=body.scopes)
    except (DomainError, ValidationError) as error:
        return await _keys_page(
            request, staff, values={**form.values(), "scopes": form.many("scopes")},
            errors=field_errors(error, fields=KEY_FIELDS, aliases={
                "name": "key_name", "unknown_scopes": "scopes"}))
    # The key itself is in this answer only: no redirect, nothing in a URL.
    return await _keys_page(request, staff, issued=issued)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(request: Request, staff: AdminDep, key_id: str) -> Response:
    try:
        await tenancy.revoke_api_key(get_runtime(request), staff.principal,
                                     ident("api_key", key_id))
    except DomainError as error:
        return await _keys_page(request, staff, errors=field_errors(error, fields=()))
    return done("api-keys", "key-revoked")


# --- staff and roles -----------------------------------------------------------------------

async def _staff_page(request: Request, staff: AdminDep, *, errors: Any = (),
                      values: dict[str, str] | None = None, issued: Any = None) -> Response:
    runtime = get_runtime(request)
    members = await staff_service.staff_activity(runtime, staff.principal)
    invitations = await staff_service.list_invitations(runtime, staff.principal)
    return console_page(request, staff, "console/settings/staff.html",
                        status_code=form_status(errors), errors=errors, members=members,
                        invitations=invitations, roles=ROLES, me=staff.principal.staff_id,
                        values=values or {"role": Role.OPERATIONS.value}, issued=issued,
                        done=request.query_params.get("done"))


@router.get("/staff")
async def staff_page(request: Request, staff: AdminDep) -> Response:
    return await _staff_page(request, staff)


@router.post("/staff/invitations")
async def invite(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        body = InvitationCreate.model_validate({"email": form.text("email"),
                                                "role": form.text("role")})
        issued = await staff_service.invite(get_runtime(request), staff.principal,
                                            email=body.email, role=body.role.value)
    except (DomainError, ValidationError) as error:
        return await _staff_page(request, staff, values=form.values(), errors=field_errors(
            error, fields=INVITE_FIELDS,
            by_code={"role_not_allowed": "role", "conflict": "email"}))
    return await _staff_page(request, staff, issued=issued)


@router.post("/staff/invitations/{invitation_id}/resend")
async def resend_invitation(request: Request, staff: AdminDep, invitation_id: str) -> Response:
    try:
        issued = await staff_service.resend_invitation(
            get_runtime(request), staff.principal, ident("staff_invitation", invitation_id))
    except DomainError as error:
        return await _staff_page(request, staff, errors=field_errors(error, fields=()))
    return await _staff_page(request, staff, issued=issued)


@router.post("/staff/invitations/{invitation_id}/revoke")
async def revoke_invitation(request: Request, staff: AdminDep, invitation_id: str) -> Response:
    try:
        await staff_service.revoke_invitation(get_runtime(request), staff.principal,
                                              ident("staff_invitation", invitation_id))
    except DomainError as error:
        return await _staff_page(request, staff, errors=field_errors(error, fields=()))
    return done("staff", "invitation-revoked")


@router.post("/staff/{staff_id}/{action}")
async def change_member(request: Request, staff: AdminDep, form: PostedDep, staff_id: str,
                        action: str) -> Response:
    """Change a member's role, disable, enable or remove them, or end their sessions (log
    them out everywhere); the staff service's rules
    (nobody grants above their own role, the last owner stays) come back as plain words."""
    runtime, member = get_runtime(request), ident("staff_member", staff_id)
    try:
        if action == "role":
            await staff_service.change_role(runtime, staff.principal, member,
                                            form.text("role"))
        elif action == "disable":
            await staff_service.disable(runtime, staff.principal, member)
        elif action == "enable":
            await staff_service.enable(runtime, staff.principal, member)
        elif action == "remove":
            await staff_service.remove(runtime, staff.principal, member)
        elif action == "end-sessions":
            await staff_service.end_sessions(runtime, staff.principal, member)
        else:
            raise HTTPException(status_code=404)
    except DomainError as error:
        return await _staff_page(request, staff, errors=field_errors(error, fields=()))
    return done("staff", f"member-{action}")
