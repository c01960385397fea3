"""Settings pages for the shop's selling terms: payment methods (from the country templates),
the cash-on-delivery policy, shipping zones with their methods and tax rates, and coupons.

Amounts are typed as the merchant writes them ("12.50") and turned into minor units of the
business's currency; everything else is the use case's to check, as for the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from orderline.cod import service as cod
from orderline.cod.schemas import CodSettingsIn
from orderline.core.errors import DomainError
from orderline.core.http import get_runtime
from orderline.coupons import service as coupons
from orderline.coupons.schemas import CouponCreate, CouponUpdate
from orderline.manual_payments import methods as manual_methods
from orderline.manual_payments.schemas import MethodCreate as ManualMethodCreate
from orderline.manual_payments.schemas import ProofSettingsIn
from orderline.pricing.engine import CouponKind, ShippingKind
from orderline.shipping import service as shipping
from orderline.shipping.schemas import MethodCreate as ShippingMethodCreate
from orderline.shipping.schemas import TaxRateCreate, ZoneCreate
from orderline.tenancy import service as tenancy
from orderline.web.console.pages import console_page
from orderline.web.console.settings_forms import (
    N_,
    AdminDep,
    Posted,
    PostedDep,
    cursor_of,
    field_errors,
    form_status,
    ident,
    page_of,
    shown_amount,
)

router = APIRouter()

METHOD_FIELDS = ("template", "account_name", "account_number", "bank_name")
PROOF_FIELDS = ("proof_deadline_minutes", "proof_review_hours", "proof_max_bytes",
                "proof_retention_days", "auto_approve_threshold")
COD_FIELDS = ("max_order_total", "max_open_orders", "min_trust_score", "otp_above_total",
              "zone_ids")
ZONE_FIELDS = ("zone_name", "countries", "regions", "postal_prefixes")
SHIPPING_METHOD_FIELDS = ("method_name", "kind", "price", "free_above")
RATE_FIELDS = ("rate_name", "rate")
COUPON_FIELDS = ("code", "kind", "percent_off", "amount_off", "min_subtotal", "usage_limit",
                 "per_customer_limit")
COUPON_PAGE = 50


def _done(path: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/console/settings/{path}?done={what}", status_code=303)


async def _currency(request: Request, staff: AdminDep) -> str:
    business = await tenancy.get_business(get_runtime(request), staff.principal)
    return str(business["currency"])


# --- payment methods -----------------------------------------------------------------------

async def _payments_page(request: Request, staff: AdminDep, *, errors: Any = (),
                         values: dict[str, str] | None = None,
                         proof_values: dict[str, str] | None = None) -> Response:
    methods = await manual_methods.list_methods(get_runtime(request), staff.principal)
    if proof_values is None:
        proofs = await manual_methods.get_settings(get_runtime(request), staff.principal)
        proof_values = {k: "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
                        for k, v in proofs.items()}
    currency = await _currency(request, staff)
    # A method must be in the business's currency (the use case refuses another): only the
    # templates that can be used are offered, by country.
    countries: dict[str, list[dict[str, Any]]] = {}
    for template in manual_methods.list_templates(staff.principal, None):
        if template["currency"] == currency:
            countries.setdefault(template["country"], []).append(template)
    return console_page(request, staff, "console/settings/payments.html",
                        status_code=form_status(errors), errors=errors, methods=methods,
                        countries=countries, currency=currency, proof_values=proof_values,
                        values=values or {"enabled": "on"},
                        done=request.query_params.get("done"))


@router.get("/payments")
async def payments_page(request: Request, staff: AdminDep) -> Response:
    return await _payments_page(request, staff)


@router.post("/payments")
async def add_payment_method(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        body = ManualMethodCreate.model_validate({
            "template": form.optional("template"), "account_name": form.text("account_name"),
            "account_number": form.text("account_number"),
            "bank_name": form.optional("bank_name"), "enabled": form.checked("enabled")})
        await manual_methods.create_method(get_runtime(request), staff.principal,
                                           **body.model_dump())
    except (DomainError, ValidationError) as error:
        return await _payments_page(request, staff, values=form.values(), errors=field_errors(
            error, fields=METHOD_FIELDS, by_code={"conflict": "template"},
            aliases={"code": "template"}))
    return _done("payments", "method-added")


@router.post("/payments/proofs")
async def update_proof_settings(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    """How long buyers have to send a proof, how fast it is reviewed, the largest file, how
    long files are kept, and the score above which a proof is approved without a person."""
    try:
        changes: dict[str, Any] = {}
        for name, label in (("proof_deadline_minutes", N_("The time to send a proof")),
                            ("proof_review_hours", N_("The time to review a proof")),
                            ("proof_max_bytes", N_("The largest proof file")),
                            ("proof_retention_days", N_("How long proofs are kept"))):
            number = form.whole(name, label=label)
            if number is not None:
                changes[name] = number
        threshold = form.decimal("auto_approve_threshold", label=N_("Approve by itself from"))
        changes["auto_approve_threshold"] = None if threshold is None else float(threshold)
        body = ProofSettingsIn.model_validate(changes)
        await manual_methods.update_settings(get_runtime(request), staff.principal,
                                             body.model_dump(exclude_unset=True))
    except (DomainError, ValidationError) as error:
        return await _payments_page(request, staff, proof_values=form.values(),
                                    errors=field_errors(error, fields=PROOF_FIELDS))
    return _done("payments", "proofs-saved")


@router.post("/payments/{method_id}/{action}")
async def change_payment_method(request: Request, staff: AdminDep, method_id: str,
                                action: str) -> Response:
    runtime, method = get_runtime(request), ident("payment_method", method_id)
    try:
        if action in ("enable", "disable"):
            await manual_methods.update_method(runtime, staff.principal, method,
                                               {"enabled": action == "enable"})
        elif action == "delete":
            await manual_methods.delete_method(runtime, staff.principal, method)
        else:
            raise HTTPException(status_code=404)
    except DomainError as error:
        return await _payments_page(request, staff, errors=field_errors(error, fields=()))
    return _done("payments", f"method-{action}")


# --- cash on delivery ----------------------------------------------------------------------

async def _cod_page(request: Request, staff: AdminDep, *, errors: Any = (),
                    values: dict[str, Any] | None = None) -> Response:
    runtime = get_runtime(request)
    currency = await _currency(request, staff)
    zones = await shipping.list_zones(runtime, staff.principal)
    if values is None:
        policy = await cod.get_settings(runtime, staff.principal)
        values = {**{k: str(v) for k, v in policy.items()},
                  "enabled": "on" if policy["enabled"] else "",
                  "otp_first_order": "on" if policy["otp_first_order"] else "",
                  "allow_discrepancy": "on" if policy["allow_discrepancy"] else "",
                  "max_order_total": shown_amount(policy["max_order_total"], currency),
                  "otp_above_total": shown_amount(policy["otp_above_total"], currency),
                  "zone_ids": [str(z) for z in policy["zone_ids"]]}
    return console_page(request, staff, "console/settings/cod.html",
                        status_code=form_status(errors), errors=errors, zones=zones,
                        values=values, currency=currency, done=request.query_params.get("done"))


@router.get("/cod")
async def cod_page(request: Request, staff: AdminDep) -> Response:
    return await _cod_page(request, staff)


@router.post("/cod")
async def update_cod(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    currency = await _currency(request, staff)
    try:
        changes = {
            "enabled": form.checked("enabled"),
            "zone_ids": form.many("zone_ids"),
            "max_order_total": form.amount("max_order_total", currency,
                                           label=N_("The largest cash order")),
            "otp_above_total": form.amount("otp_above_total", currency,
                                           label=N_("The amount that needs a code")),
            "otp_first_order": form.checked("otp_first_order"),
            "allow_discrepancy": form.checked("allow_discrepancy")}
        for name, label in (("max_open_orders", N_("Open cash orders")),
                            ("min_trust_score", N_("The lowest trust score"))):
            number = form.whole(name, label=label)
            if number is not None:
                changes[name] = number
        body = CodSettingsIn.model_validate(changes)
        await cod.update_settings(get_runtime(request), staff.principal,
                                  body.model_dump(exclude_unset=True))
    except (DomainError, ValidationError) as error:
        return await _cod_page(
            request, staff, values={**form.values(), "zone_ids": form.many("zone_ids")},
            errors=field_errors(error, fields=COD_FIELDS, aliases={
                "max_open_orders_per_customer": "max_open_orders"}))
    return _done("cod", "cod-saved")


# --- shipping zones, methods and tax rates -------------------------------------------------

async def _shipping_page(request: Request, staff: AdminDep, *, errors: Any = (),
                         values: dict[str, str] | None = None,
                         zone_id: str | None = None) -> Response:
    currency = await _currency(request, staff)
    zones = await shipping.list_zones(get_runtime(request), staff.principal)
    return console_page(request, staff, "console/settings/shipping.html",
                        status_code=form_status(errors), errors=errors, zones=zones,
                        kinds=[k.value for k in ShippingKind], currency=currency,
                        shown_amount=shown_amount, values=values or {}, form_zone=zone_id,
                        done=request.query_params.get("done"))


@router.get("/shipping")
async def shipping_page(request: Request, staff: AdminDep) -> Response:
    return await _shipping_page(request, staff)


@router.post("/shipping")
async def add_zone(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    try:
        body = ZoneCreate.model_validate({
            "name": form.text("zone_name"),
            "countries": [c.upper() for c in form.lines("countries")],
            "regions": form.lines("regions"), "postal_prefixes": form.lines("postal_prefixes")})
        await shipping.create_zone(get_runtime(request), staff.principal, name=body.name,
                                   countries=body.countries, regions=body.regions,
                                   postal_prefixes=body.postal_prefixes)
    except (DomainError, ValidationError) as error:
        return await _shipping_page(request, staff, values=form.values(), errors=field_errors(
            error, fields=ZONE_FIELDS, aliases={"name": "zone_name"}))
    return _done("shipping", "zone-added")


async def _shipping_change(request: Request, staff: AdminDep, form: Posted, zone_id: str,
                           action: str) -> None:
    runtime, zone = get_runtime(request), ident("shipping_zone", zone_id)
    if action == "delete":
        await shipping.delete_zone(runtime, staff.principal, zone)
    elif action == "methods":
        currency = await _currency(request, staff)
        method = ShippingMethodCreate.model_validate({
            "name": form.text("method_name"), "kind": form.text("kind"),
            "price": form.amount("price", currency, label=N_("The price")) or 0,
            "free_above": form.amount("free_above", currency, label=N_("Free from"))})
        await shipping.add_method(runtime, staff.principal, zone, name=method.name,
                                  kind=method.kind, price=method.price,
                                  free_above=method.free_above)
    elif action == "tax-rates":
        rate = TaxRateCreate.model_validate({
            "name": form.text("rate_name"), "rate": form.text("rate"),
            "applies_to_shipping": form.checked("applies_to_shipping")})
        await shipping.add_tax_rate(runtime, staff.principal, zone, name=rate.name,
                                    rate=rate.rate, applies_to_shipping=rate.applies_to_shipping)
    else:
        raise HTTPException(status_code=404)


@router.post("/shipping/{zone_id}/{action}")
async def change_zone(request: Request, staff: AdminDep, form: PostedDep, zone_id: str,
                      action: str) -> Response:
    try:
        await _shipping_change(request, staff, form, zone_id, action)
    except (DomainError, ValidationError) as error:
        return await _shipping_page(
            request, staff, values=form.values(), zone_id=zone_id, errors=field_errors(
                error, fields=(*SHIPPING_METHOD_FIELDS, *RATE_FIELDS),
                aliases={"name": "method_name" if action == "methods" else "rate_name"}))
    return _done("shipping", f"zone-{action}")


@router.post("/shipping/{zone_id}/{kind}/{item_id}/{action}")
async def change_zone_item(request: Request, staff: AdminDep, zone_id: str, kind: str,
                           item_id: str, action: str) -> Response:
    """Switch a shipping method on or off, or delete a method or a tax rate."""
    runtime, zone = get_runtime(request), ident("shipping_zone", zone_id)
    item = ident(kind, item_id)
    try:
        if kind == "methods" and action in ("enable", "disable"):
            await shipping.update_method(runtime, staff.principal, zone, item,
                                         {"active": action == "enable"})
        elif kind == "methods" and action == "delete":
            await shipping.delete_method(runtime, staff.principal, zone, item)
        elif kind == "tax-rates" and action == "delete":
            await shipping.delete_tax_rate(runtime, staff.principal, zone, item)
        else:
            raise HTTPException(status_code=404)
    except DomainError as error:
        return await _shipping_page(request, staff, errors=field_errors(error, fields=()))
    return _done("shipping", f"{kind}-{action}")


# --- coupons -------------------------------------------------------------------------------

def _coupon_values(form: Posted, currency: str, *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if creating:
        values["code"] = form.text("code")
        values["kind"] = form.text("kind")
    kind = form.text("kind")
    if kind == CouponKind.PERCENTAGE:
        values["percent_off"] = form.decimal("percent_off", label=N_("The percentage off"))
    elif kind == CouponKind.FIXED_AMOUNT:
        values["amount_off"] = form.amount("amount_off", currency, label=N_("The amount off"))
    values["min_subtotal"] = form.amount("min_subtotal", currency,
                                         label=N_("The smallest order")) or 0
    values["usage_limit"] = form.whole("usage_limit", label=N_("Uses in all"))
    values["per_customer_limit"] = form.whole("per_customer_limit", label=N_("Uses per customer"))
    return values


async def _coupons_page(request: Request, staff: AdminDep, *, errors: Any = (),
                        values: dict[str, str] | None = None) -> Response:
    currency = await _currency(request, staff)
    rows, older = page_of(await coupons.list_coupons(
        get_runtime(request), staff.principal, active=None, limit=COUPON_PAGE + 1,
        before=cursor_of(request)), COUPON_PAGE)
    return console_page(request, staff, "console/settings/coupons.html",
                        status_code=form_status(errors), errors=errors, coupons=rows, older=older,
                        kinds=[k.value for k in CouponKind], currency=currency,
                        shown_amount=shown_amount, values=values or {"kind": "percentage"},
                        done=request.query_params.get("done"))


@router.get("/coupons")
async def coupons_page(request: Request, staff: AdminDep) -> Response:
    return await _coupons_page(request, staff)


@router.post("/coupons")
async def create_coupon(request: Request, staff: AdminDep, form: PostedDep) -> Response:
    currency = await _currency(request, staff)
    try:
        body = CouponCreate.model_validate(_coupon_values(form, currency, creating=True))
        await coupons.create_coupon(get_runtime(request), staff.principal, **body.model_dump())
    except (DomainError, ValidationError) as error:
        return await _coupons_page(request, staff, values=form.values(), errors=field_errors(
            error, fields=COUPON_FIELDS, by_code={"conflict": "code"}))
    return _done("coupons", "coupon-added")


async def _coupon_page(request: Request, staff: AdminDep, coupon_id: str, *,
                       errors: Any = (), values: dict[str, str] | None = None) -> Response:
    currency = await _currency(request, staff)
    try:
        coupon = await coupons.get_coupon(get_runtime(request), staff.principal,
                                          ident("coupon", coupon_id))
    except DomainError as error:
        field_errors(error, fields=())  # another business's coupon: the 404 page
        raise
    if values is None:
        values = {"kind": coupon["kind"],
                  "percent_off": "" if coupon["percent_off"] is None
                  else f"{coupon['percent_off']:g}",
                  "amount_off": shown_amount(coupon["amount_off"], currency),
                  "min_subtotal": shown_amount(coupon["min_subtotal"], currency),
                  "usage_limit": str(coupon["usage_limit"] or ""),
                  "per_customer_limit": str(coupon["per_customer_limit"] or "")}
    return console_page(request, staff, "console/settings/coupon.html",
                        status_code=form_status(errors), errors=errors, coupon=coupon,
                        values=values, currency=currency, shown_amount=shown_amount)


@router.get("/coupons/{coupon_id}")
async def coupon_page(request: Request, staff: AdminDep, coupon_id: str) -> Response:
    return await _coupon_page(request, staff, coupon_id)


@router.post("/coupons/{coupon_id}")
async def update_coupon(request: Request, staff: AdminDep, form: PostedDep,
                        coupon_id: str) -> Response:
    currency = await _currency(request, staff)
    try:
        changes = CouponUpdate.model_validate(_coupon_values(form, currency, creating=False))
        await coupons.update_coupon(get_runtime(request), staff.principal,
                                    ident("coupon", coupon_id),
                                    changes.model_dump(exclude_unset=True))
    except (DomainError, ValidationError) as error:
        return await _coupon_page(request, staff, coupon_id, values=form.values(),
                                  errors=field_errors(error, fields=COUPON_FIELDS))
    return _done("coupons", "coupon-saved")


@router.post("/coupons/{coupon_id}/{action}")
async def switch_coupon(request: Request, staff: AdminDep, coupon_id: str,
                        action: str) -> Response:
    runtime, coupon = get_runtime(request), ident("coupon", coupon_id)
    try:
        if action == "disable":
            await coupons.deactivate_coupon(runtime, staff.principal, coupon)
        elif action == "enable":
            await coupons.update_coupon(runtime, staff.principal, coupon, {"active": True})
        else:
            raise HTTPException(status_code=404)
    except DomainError as error:
        return await _coupons_page(request, staff, errors=field_errors(error, fields=()))
    return _done("coupons", f"coupon-{action}")
