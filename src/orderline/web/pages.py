"""Rendering a page: the language it is in, what every page may show (the shop's name, the
error summary, flash messages), and the HTML answer.

The language comes from ``request.state.locale`` when something before the page set it (a
person's own choice, once staff have settings), else from ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse

from orderline.web.rules import negotiate_locale
from orderline.web.templating import environment


@dataclass(frozen=True, slots=True)
class FieldError:
    """One line of the error summary; ``field`` is the id of the input it is about (the summary
    links to it), or None for a problem with the whole form."""
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Flash:
    """A message about what just happened (``Order #1042 was cancelled``)."""
    message: str
    kind: Literal["success", "info", "warning"] = "info"


def page_locale(request: Request) -> str:
    explicit = getattr(request.state, "locale", None)
    return negotiate_locale(request.headers.get("accept-language"),
                            explicit=explicit if isinstance(explicit, str) else None)


def render_page(request: Request, template: str, *, status_code: int = 200,
                shop_name: str | None = None, errors: Sequence[FieldError] = (),
                flashes: Sequence[Flash] = (), headers: Mapping[str, str] | None = None,
                **context: Any) -> HTMLResponse:
    """The page ``template`` in the request's language."""
    locale = page_locale(request)
    html = environment(locale).get_template(template).render(
        locale=locale, shop_name=shop_name, errors=list(errors), flashes=list(flashes),
        current_path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code, headers={
        "Content-Language": locale, "Vary": "Accept-Language", **(headers or {})})
