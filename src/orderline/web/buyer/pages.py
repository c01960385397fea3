"""Rendering a buyer's page: the language (the buyer's own pick, kept in a cookie, else the
browser's), the money formatter, and the headers a page reached by a secret link needs.

The link itself is the buyer's key, so a buyer page is never cached by anyone but the buyer's
browser (``Cache-Control: private, no-store``), never sends its address to another site
(``Referrer-Policy: no-referrer``) and is never indexed (``X-Robots-Tag: noindex``).

The language: ``?lang=id`` on any buyer page picks Bahasa Indonesia, and the choice is kept in
the ``ol_lang`` cookie (a year, this site only) for the buyer's later pages; without a choice
the page follows ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from orderline.web.console.pages import money_formatter, number_formatter
from orderline.web.pages import page_locale, render_page
from orderline.web.rules import SUPPORTED_LOCALES

LANGUAGE_COOKIE = "ol_lang"
LANGUAGE_NAMES = {"en": "English", "id": "Bahasa Indonesia"}
BUYER_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
                 "X-Robots-Tag": "noindex, nofollow"}


def chosen_language(request: Request) -> tuple[str | None, bool]:
    """The buyer's own pick, and whether it came with this request (to be kept)."""
    asked = request.query_params.get("lang")
    if asked in SUPPORTED_LOCALES:
        return asked, True
    kept = request.cookies.get(LANGUAGE_COOKIE)
    return (kept, False) if kept in SUPPORTED_LOCALES else (None, False)


def buyer_page(request: Request, template: str, *, shop_name: str | None, status_code: int = 200,
               headers: Mapping[str, str] | None = None, **context: Any) -> HTMLResponse:
    """The buyer page ``template`` (which extends ``buyer/layout.html``)."""
    chosen, new_choice = chosen_language(request)
    if chosen is not None:
        request.state.locale = chosen
    locale = page_locale(request)
    response = render_page(
        request, template, status_code=status_code, shop_name=shop_name,
        headers={**BUYER_HEADERS, **(headers or {})}, money=money_formatter(locale),
        number=number_formatter(locale), languages=LANGUAGE_NAMES, **context)
    if new_choice:
        response.set_cookie(LANGUAGE_COOKIE, locale, max_age=365 * 24 * 3600, httponly=True,
                            samesite="lax", path="/")
    return response
