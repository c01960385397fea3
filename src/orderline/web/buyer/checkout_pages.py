"""The hosted checkout, ``/c/{cart token}``: the buyer's cart, address, shipping, coupon and
payment method, then the order.

The steps, each a plain form that POSTs and redirects (htmx swaps a part when JS is on):

1. ``GET /c/{token}``: the lines with their live availability (quantity and remove forms),
   and the details form: the buyer, the address (whether the shop delivers there is answered
   as it is typed, ``GET .../delivery``), the delivery option, a coupon and the way to pay.
2. ``POST .../details`` starts a checkout (the stock is held) and redirects to
   ``GET .../review/{checkout id}``: the totals, the coupons (added or removed there,
   refused with the reason) and the button that places the order. The form carries an
   Idempotency-Key made when the review renders, so a double tap or a retry places one order.
3. ``POST .../review/{id}/confirm``: the order. Cash on delivery may need the one-time code
   first (``checkout_cash_pages``); a card order goes on to the card step
   (``checkout_card_pages``); any other order lands on the order page, ``/o/{access token}``.

Every refusal is a sentence with the next step (``refusals``), next to its field.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from orderline.checkout import carts, hosted
from orderline.checkout.checkouts import NewCheckout, start_checkout
from orderline.checkout.confirm import ConfirmRequest, confirm_checkout
from orderline.core.errors import DomainError, NotFound, OtpRequired
from orderline.core.http import RuntimeDep
from orderline.web.buyer import checkout_card_pages, checkout_cash_pages
from orderline.web.buyer.checkout_forms import (
    DETAIL_FIELDS,
    FormRefused,
    checkout_body,
    confirm_form,
    details_of,
    new_attempt_key,
    quantity_of,
    refusal_errors,
    text,
)
from orderline.web.buyer.checkout_links import (
    after_order,
    buyer_locale,
    checkout_id_of,
    checkout_url,
    is_htmx,
    see_other,
)
from orderline.web.buyer.pages import buyer_page
from orderline.web.buyer.refusals import refusal_of
from orderline.web.pages import FieldError

router = APIRouter()
CART = "/c/{token}"
MAX_COUPONS = 5


def _lines_with_notes(cart: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**line, "short": line["available"] < line["quantity"]} for line in cart["lines"]]


def details_from_checkout(checkout: dict[str, Any] | None) -> dict[str, str]:
    """The details form filled from an earlier checkout (``Change`` on the review)."""
    values = dict.fromkeys(DETAIL_FIELDS, "")
    if checkout is None:
        return values
    address, buyer = checkout["address"] or {}, checkout["customer"] or {}
    method = checkout.get("shipping_method") or {}
    values.update({k: str(address.get(k) or "") for k in (
        "line1", "line2", "city", "region", "postal_code", "country")})
    values.update(name=buyer.get("name") or "", phone=buyer.get("phone") or "",
                  email=buyer.get("email") or "", payment_method=checkout["payment_method"],
                  shipping_method_id=str(method.get("id") or ""),
                  coupon=(checkout["coupon_codes"] or [""])[0])
    return values


async def _cart_page(request: Request, runtime: RuntimeDep, token: str, *,
                     values: dict[str, str] | None = None, errors: list[FieldError] | None = None,
                     status_code: int = 200, line_problem: str | None = None,
                     checkout_id: uuid.UUID | None = None) -> Response:
    if checkout_id is not None:
        review = await hosted.open_review(runtime, token, checkout_id)
        cart, earlier = review.hosted, review.checkout
    else:
        cart, earlier = await hosted.open_cart(runtime, token), None
    form = values or details_from_checkout(earlier)
    delivery = None
    if form["country"]:
        delivery = await hosted.delivery_to(runtime, cart.caller, country=form["country"],
                                            region=form["region"],
                                            postal_code=form["postal_code"])
    field_errors = {e.field: e.message for e in errors or [] if e.field}
    return buyer_page(
        request, "buyer/checkout.html", shop_name=cart.shop_name, status_code=status_code,
        errors=errors or [], token=token, cart=cart.cart, lines=_lines_with_notes(cart.cart),
        open=cart.is_open, choices=cart.payment_choices, form=form, delivery=delivery,
        field_errors=field_errors, line_problem=line_problem,
        headers={"Vary": "HX-Request"})


async def refused_cart_page(request: Request, runtime: RuntimeDep, token: str,
                            error: DomainError, values: dict[str, str]) -> Response:
    """The cart page with a refusal of starting its checkout (a draft order's link that could
    not hold the stock, say), the details form filled with ``values``."""
    return await _cart_page(request, runtime, token, values=values,
                            errors=refusal_errors(error, buyer_locale(request)),
                            status_code=409 if error.code == "out_of_stock" else 422)


@router.get(CART)
async def cart_page(token: str, request: Request, runtime: RuntimeDep,
                    k: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """The cart and the details form (filled from the checkout ``k`` when the buyer comes
    back from the review to change something)."""
    return await _cart_page(request, runtime, token,
                            checkout_id=checkout_id_of(k) if k else None)


@router.get(CART + "/lines")
async def lines_now(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """The cart's lines with the stock as it is now: asked for again (htmx) when the buyer
    comes back to the page from another app, since stock may have sold meanwhile."""
    cart = await hosted.open_cart(runtime, token)
    return buyer_page(request, "buyer/_checkout_lines.html", shop_name=cart.shop_name,
                      token=token, cart=cart.cart, lines=_lines_with_notes(cart.cart),
                      open=cart.is_open, line_problem=None)


@router.post(CART + "/lines/{sku}")
async def change_line(token: str, sku: str, request: Request, runtime: RuntimeDep) -> Response:
    """Set a line's quantity, or remove it (``remove`` pressed); htmx gets the lines back."""
    form = await request.form()
    locale = buyer_locale(request)
    caller = await hosted.buyer_of(runtime, token)
    assert caller.cart_id is not None
    problem = None
    try:  # the cart is the token's own; a NotFound here is a line no longer in it
        if form.get("remove"):
            await carts.remove_line(runtime, caller, caller.cart_id, sku=sku[:200])
        else:
            await carts.set_line(runtime, caller, caller.cart_id, sku=sku[:200],
                                 quantity=quantity_of(form, locale))
    except FormRefused as refused:
        problem = refused.errors[0].message
    except DomainError as error:
        problem = refusal_of(error, locale).sentence
    if is_htmx(request):
        cart = await hosted.open_cart(runtime, token)
        return buyer_page(request, "buyer/_checkout_lines.html", shop_name=cart.shop_name,
                          token=token, cart=cart.cart, lines=_lines_with_notes(cart.cart),
                          open=cart.is_open, line_problem=problem,
                          status_code=200)
    if problem is not None:
        return await _cart_page(request, runtime, token, line_problem=problem,
                                status_code=422)
    return see_other(checkout_url(token))


@router.get(CART + "/delivery")
async def delivery(token: str, request: Request, runtime: RuntimeDep,
                   country: Annotated[str, Query(max_length=60)] = "",
                   region: Annotated[str, Query(max_length=200)] = "",
                   postal_code: Annotated[str, Query(max_length=40)] = "",
                   shipping_method_id: Annotated[str, Query(max_length=40)] = "") -> Response:
    """Whether the shop delivers to this country, region and postal code, and how (the part
    htmx swaps in as the buyer types the address)."""
    cart = await hosted.open_cart(runtime, token)
    answer = None
    if country.strip() and "\x00" not in country + region + postal_code:
        answer = await hosted.delivery_to(runtime, cart.caller, country=country, region=region,
                                          postal_code=postal_code)
    return buyer_page(request, "buyer/_checkout_delivery.html", shop_name=cart.shop_name,
                      delivery=answer, currency=cart.cart["currency"],
                      chosen=shipping_method_id, field_errors={})


@router.post(CART + "/details")
async def submit_details(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """Start the checkout with these details; the review, or the form with what is wrong."""
    form = await request.form()
    locale = buyer_locale(request)
    caller = await hosted.buyer_of(runtime, token)
    assert caller.cart_id is not None
    values = None
    try:
        values = details_of(form, locale)
        body = checkout_body(caller.cart_id, values, locale)
        started = await start_checkout(runtime, caller, NewCheckout(
            cart_id=body.cart_id, address=body.address.to_address(),
            shipping_method_id=body.shipping_method_id, payment_method=body.payment_method,
            coupon_codes=body.coupon_codes,
            customer=body.customer.to_contact() if body.customer else None))
    except FormRefused as refused:
        return await _cart_page(request, runtime, token, values=values or dict.fromkeys(
            DETAIL_FIELDS, ""), errors=refused.errors, status_code=422)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        return await _cart_page(request, runtime, token, values=values,
                                errors=refusal_errors(error, locale),
                                status_code=422 if error.code != "out_of_stock" else 409)
    return see_other(checkout_url(token, "review", str(started["id"])))


# --- the review and the confirm ---------------------------------------------------------------

async def review_page(request: Request, runtime: RuntimeDep, token: str,
                      checkout_id: uuid.UUID, *, errors: list[FieldError] | None = None,
                      coupon_error: str | None = None, coupon: str = "",
                      status_code: int = 200,
                      template: str = "buyer/checkout_review.html") -> HTMLResponse:
    review = await hosted.open_review(runtime, token, checkout_id)
    cart, checkout = review.hosted, review.checkout
    names = {line["sku"]: line["name"] for line in cart.cart["lines"]}
    choice = next((c for c in cart.payment_choices if c.code == checkout["payment_method"]),
                  None)
    return buyer_page(
        request, template, shop_name=cart.shop_name, currency=checkout["currency"],
        status_code=status_code, errors=errors or [], token=token, checkout=checkout,
        quote=checkout["quote"], names=names, payment=choice,
        key=new_attempt_key(), coupon_error=coupon_error, coupon=coupon,
        placed=checkout["status"] == "converted", is_open=checkout["status"] == "open")


@router.get(CART + "/review/{checkout_id}")
async def review(token: str, checkout_id: str, request: Request,
                 runtime: RuntimeDep) -> Response:
    return await review_page(request, runtime, token, checkout_id_of(checkout_id))


@router.post(CART + "/review/{checkout_id}/coupons")
async def change_coupons(token: str, checkout_id: str, request: Request,
                         runtime: RuntimeDep) -> Response:
    """Add the coupon typed (``coupon``) or remove one (``remove``): a new checkout at the new
    totals, or the coupon's refusal next to the field."""
    form = await request.form()
    locale = buyer_locale(request)
    kid = checkout_id_of(checkout_id)
    caller = await hosted.buyer_of(runtime, token)
    typed = ""
    try:
        typed = text(form, "coupon", locale, limit=60)
        removed = text(form, "remove", locale, limit=60)
        current = [c for c in text(form, "codes", locale).split() if c][:MAX_COUPONS]
        codes = [c for c in current if c != removed] + ([typed] if typed else [])
        started = await hosted.change_coupons(runtime, caller, kid, codes)
    except FormRefused as refused:
        return await review_page(request, runtime, token, kid, status_code=422,
                                 coupon_error=refused.errors[0].message)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        if is_htmx(request):  # the coupon box alone, with the reason next to the field
            return await review_page(request, runtime, token, kid, coupon=typed,
                                     coupon_error=refusal_of(error, locale).sentence,
                                     template="buyer/_checkout_coupon.html")
        return await review_page(request, runtime, token, kid, coupon=typed,
                                 coupon_error=refusal_of(error, locale).sentence,
                                 status_code=422)
    url = checkout_url(token, "review", str(started["id"]))
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return see_other(url)


@router.post(CART + "/review/{checkout_id}/confirm")
async def confirm(token: str, checkout_id: str, request: Request,
                  runtime: RuntimeDep) -> Response:
    """Place the order at the total the review showed, with the review's Idempotency-Key: the
    same form sent twice places one order and both answers lead to it."""
    form = await request.form()
    locale = buyer_locale(request)
    kid = checkout_id_of(checkout_id)
    caller = await hosted.buyer_of(runtime, token)
    try:
        sent = confirm_form(form, locale)
        done = await confirm_checkout(runtime, caller, ConfirmRequest(
            checkout_id=kid, idempotency_key=sent.key, totals={"total": sent.total},
            client_ip=request.client.host if request.client else "unknown"))
    except FormRefused as refused:
        return await review_page(request, runtime, token, kid, errors=refused.errors,
                                 status_code=422)
    except OtpRequired:
        return see_other(checkout_url(token, "review", str(kid), "code") + f"?key={sent.key}")
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        refusal = refusal_of(error, locale)
        return await review_page(request, runtime, token, kid,
                                 errors=[FieldError(refusal.sentence)],
                                 status_code=429 if error.code == "rate_limited" else 409)
    return after_order(token, done)


router.include_router(checkout_cash_pages.router)
router.include_router(checkout_card_pages.router)
