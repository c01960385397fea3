"""Where the hosted checkout's steps live and lead: their URLs, and the redirects between
them (shared by the checkout's page modules)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import RedirectResponse

from orderline.checkout.confirm import Confirmed
from orderline.core.errors import NotFound
from orderline.web.buyer.pages import chosen_language
from orderline.web.pages import page_locale


def buyer_locale(request: Request) -> str:
    """The page's language as ``buyer_page`` will pick it (the buyer's own choice first), for
    the sentences a handler writes before it renders."""
    chosen, _ = chosen_language(request)
    if chosen is not None:
        request.state.locale = chosen
    return page_locale(request)


def checkout_url(token: str, *parts: str) -> str:
    return "/".join((f"/c/{token}", *parts))


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def checkout_id_of(raw: str) -> uuid.UUID:
    """A checkout id from the path; anything else names no checkout (the 404 page)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("checkout", raw[:40]) from None


def after_order(token: str, done: Confirmed) -> RedirectResponse:
    """Where the buyer goes once the order is placed (or the same key replayed it): the card
    step for a card order, else the order page."""
    access_token = str(done.body["access_token"])
    if done.body.get("payment_method") == "card":
        return see_other(checkout_url(token, "pay", access_token))
    return see_other(f"/o/{access_token}")
