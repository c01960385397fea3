"""A draft order's link, ``/d/{link token}``: what the shop prepared for the buyer, and the
button that opens it as a checkout.

``GET`` only shows the draft (items and totals): chat apps fetch a link to preview it, and a
preview must not hold stock. ``POST .../open`` opens it (``drafts.links.open_link``): the cart
and, with the draft's address, the checkout holding the stock; the buyer lands on the hosted
checkout's review (or its details form), ``/c/{cart token}``. Opening again resumes the same
checkout. A checkout that cannot hold the stock shows the cart page with the checkout's own
refusal, next to the lines.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from orderline.core.errors import DomainError, DraftLinkExpired, DraftOrderClosed
from orderline.core.http import RuntimeDep
from orderline.drafts import links
from orderline.web.buyer.checkout_forms import DETAIL_FIELDS
from orderline.web.buyer.checkout_links import buyer_locale, checkout_url, see_other
from orderline.web.buyer.checkout_pages import refused_cart_page
from orderline.web.buyer.pages import buyer_page
from orderline.web.buyer.refusals import refusal_of

router = APIRouter()
LINK = "/d/{token}"


def details_of_draft(draft: dict[str, Any]) -> dict[str, str]:
    """The checkout's details form filled from the draft."""
    values = dict.fromkeys(DETAIL_FIELDS, "")
    address, buyer = draft["address"] or {}, draft["customer"] or {}
    values.update({k: str(address.get(k) or "") for k in (
        "line1", "line2", "city", "region", "postal_code", "country")})
    values.update(name=buyer.get("name") or "", phone=buyer.get("phone") or "",
                  email=buyer.get("email") or "", payment_method=draft["payment_method"] or "",
                  shipping_method_id=str(draft["shipping_method_id"] or ""),
                  coupon=(draft["coupon_codes"] or [""])[0])
    return values


async def _landing(request: Request, runtime: RuntimeDep, token: str, *,
                   problem: str | None = None, status_code: int = 200) -> Response:
    seen = await links.landing(runtime, token)
    return buyer_page(request, "buyer/draft_link.html", shop_name=seen.shop_name,
                      status_code=status_code, token=token, draft=seen.draft,
                      quote=seen.draft["quote"], currency=seen.draft["currency"],
                      expired=seen.expired, problem=problem)


@router.get(LINK)
async def draft_link(token: str, request: Request, runtime: RuntimeDep) -> Response:
    return await _landing(request, runtime, token)


@router.post(LINK + "/open")
async def open_draft_link(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """Open the link: the checkout's review (or its details form), or why not."""
    try:
        opened = await links.open_link(runtime, token)
    except (DraftLinkExpired, DraftOrderClosed) as closed:
        return await _landing(request, runtime, token,
                              problem=refusal_of(closed, buyer_locale(request)).sentence,
                              status_code=410 if closed.code == "draft_link_expired" else 409)
    except DomainError as error:
        if error.code == "not_found":
            raise
        return await _landing(request, runtime, token,
                              problem=refusal_of(error, buyer_locale(request)).sentence,
                              status_code=422)
    if opened.refusal is not None:
        seen = await links.landing(runtime, token)
        return await refused_cart_page(request, runtime, opened.cart_token, opened.refusal,
                                       details_of_draft(seen.draft))
    if opened.checkout_id is not None:
        return see_other(checkout_url(opened.cart_token, "review", str(opened.checkout_id)))
    return see_other(checkout_url(opened.cart_token))
