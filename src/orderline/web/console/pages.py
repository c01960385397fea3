"""Rendering a console page, and turning a use case's refusal into errors next to the fields.

``console_page`` wraps ``web.pages.render_page`` with what every console page shows: the
shop's name, the navigation for the staff member's role (``templates/console/layout.html``
decides with ``may(scope)``), the CSRF token (a ``<meta>`` for htmx, and ``csrf_token`` for
forms: ``{{ csrf_field() }}``) and who is logged in; and two formatters for templates:
``money(amount_minor, currency)`` and ``number(value)``, in the page's language.

``install_console_errors`` makes a refusal on a console page a page: ``not_found`` the 404
page, ``forbidden`` the 403 page, a missing session the login redirect (``access.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from fastapi import FastAPI
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from orderline.core.errors import DomainError, Forbidden, NotFound
from orderline.core.money import currency_exponent
from orderline.web.console.access import CSRF_FIELD, ConsoleStaff, LoginRequired, login_redirect
from orderline.web.errors import error_page
from orderline.web.pages import FieldError, Flash, page_locale, render_page
from orderline.web.rules import wants_html_error
from orderline.web.translations import translations_for


def translated(request: Request, message: str, **values: object) -> str:
    """``message`` in the page's language (for errors and flashes made in Python: their
    translations are in the console's catalog like the templates' own), with ``%(name)s``
    placeholders filled from ``values``."""
    text = translations_for(page_locale(request)).gettext(message)
    return text % values if values else text


def money_formatter(locale: str) -> Callable[[int, str], str]:
    """``money(125000, "IDR")`` is ``Rp 1.250,00`` in Indonesian, ``IDR 1,250.00`` in English:
    minor units in the currency's own exponent, written the language's way."""
    def money(amount: int, currency: str) -> str:
        value = Decimal(amount).scaleb(-currency_exponent(currency))
        return format_currency(value, currency, locale=locale)

    return money


def number_formatter(locale: str) -> Callable[[int | float], str]:
    def number(value: int | float) -> str:
        return format_decimal(value, locale=locale)

    return number


def console_page(request: Request, staff: ConsoleStaff, template: str, *,
                 status_code: int = 200, errors: Sequence[FieldError] = (),
                 flashes: Sequence[Flash] = (), headers: Mapping[str, str] | None = None,
                 **context: Any) -> HTMLResponse:
    """The console page ``template`` (which extends ``console/layout.html``) for ``staff``."""
    token = staff.csrf_token

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, escape(token))

    locale = page_locale(request)
    return render_page(request, template, status_code=status_code,
                       shop_name=staff.session.business_name or None, errors=errors,
                       flashes=flashes, headers={"Cache-Control": "no-store", **(headers or {})},
                       staff=staff, may=staff.may, csrf_token=token, csrf_field=csrf_field,
                       money=money_formatter(locale), number=number_formatter(locale),
                       **context)


def _plain_field(location: Sequence[Any]) -> str | None:
    names = [str(part) for part in location if not isinstance(part, int)]
    names = [name for name in names if name not in {"body", "query", "form", "path"}]
    return names[-1] if names else None


def form_errors(problem: DomainError | ValidationError, *,
                fields: Mapping[str, str] | None = None,
                messages: Mapping[str, str] | None = None) -> list[FieldError]:
    """The errors to show for a refused form, next to their fields.

    ``fields`` maps a field name the use case or model uses (``details.field``, or a pydantic
    error's location) to the id of the page's input, when they differ; an unknown field is a
    problem with the whole form. ``messages`` maps an error code to a page's own plain
    sentence (else the error's message, which is already a sentence for a person)."""
    names = fields or {}
    wording = messages or {}
    if isinstance(problem, ValidationError):
        found = []
        for error in problem.errors():
            field = _plain_field(error.get("loc", ()))
            message = str(error.get("msg", "This value is not valid"))
            message = message[0].upper() + message[1:] if message else message
            found.append(FieldError(message.rstrip(".") + ".",
                                    field=names.get(field, field) if field else None))
        return found
    detail = problem.details.get("field")
    field = str(detail) if isinstance(detail, str) else None
    nested = problem.details.get("errors")
    if field is None and isinstance(nested, list) and nested and isinstance(nested[0], dict):
        first = nested[0].get("field")
        field = first if isinstance(first, str) else None
    message = wording.get(problem.code, problem.message)
    if field is not None and fields is not None and field not in fields:
        field = None
    return [FieldError(message, field=names.get(field, field) if field else None)]


# The console's pages and the buyer's (``/c/`` the hosted checkout, ``/o/`` the order page).
PAGE_PREFIXES = ("/console", "/c/", "/o/")


def install_console_errors(app: FastAPI) -> None:
    """Call after the API's error handlers: page requests under /console (and the buyer's
    pages, ``PAGE_PREFIXES``) get pages for the
    use cases' refusals; every other request keeps the handler that was there."""
    previous = app.exception_handlers.get(DomainError)

    async def refusal(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        on_page = request.url.path.startswith(PAGE_PREFIXES) and wants_html_error(
            request.url.path, request.headers.get("accept"))
        if on_page and isinstance(exc, NotFound | Forbidden):
            return error_page(request, 404 if isinstance(exc, NotFound) else 403)
        assert previous is not None
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return login_redirect(exc)

    app.add_exception_handler(DomainError, refusal)
    app.add_exception_handler(LoginRequired, to_login)
