"""Who is using the console: the session cookie becomes a ``ConsoleStaff`` (the session and the
staff member as a ``Principal`` of every use case), and every unsafe request carries the
session's CSRF token.

- No cookie, or a session that ended (logged out, idle, past its absolute lifetime, member
  disabled): a 303 to ``/console/login?next=<path>``; an htmx request gets ``HX-Redirect``
  instead (htmx follows it with a full page load). The stale cookie is cleared.
- POST, PUT, PATCH and DELETE must carry the session's CSRF token, as the form field
  ``csrf_token`` or the header ``X-CSRF-Token`` (``static/js/console.js`` sets it on every htmx
  request from ``<meta name="csrf-token">``); else the 403 page, and nothing runs.
- The cookie: ``orderline_session``, HttpOnly, SameSite=Lax, Path=/console, Secure when the
  request came over HTTPS. Its value is the session token; only its hash is stored.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from orderline.core.errors import SessionExpired
from orderline.core.http import RuntimeDep, bind_business
from orderline.staff.sessions import StaffSession, principal_for, resume_session
from orderline.tenancy.rules import Principal, Scope

SESSION_COOKIE = "orderline_session"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/console/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ConsoleStaff:
    """The staff member behind this request: their session, and themselves as the caller of
    every use case (``principal``: their role's scopes, ``staff:<id>`` as the actor)."""

    session: StaffSession
    principal: Principal
    csrf_token: str

    def may(self, scope: Scope | str) -> bool:
        """Whether their role has ``scope`` (write implies read, as for an API key)."""
        scopes = self.principal.scopes
        return scope in scopes or (scope == Scope.READ and Scope.WRITE in scopes)


class LoginRequired(Exception):
    """No live session: the answer is the way to the login page (see ``login_redirect``)."""

    def __init__(self, next_path: str, *, htmx: bool, clear_cookie: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.htmx = htmx
        self.clear_cookie = clear_cookie


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path inside the console, never another site."""
    if not value:
        return "/console"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/console") or "\\" in value:
        return "/console"
    return value


def login_url(next_path: str) -> str:
    target = safe_next(next_path)
    return LOGIN_PATH if target == "/console" else f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def login_redirect(problem: LoginRequired) -> Response:
    url = login_url(problem.next_path)
    response: Response
    if problem.htmx:
        response = Response(status_code=401, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if problem.clear_cookie:
        forget_session_cookie(response)
    return response


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """The session cookie (no Max-Age: the server decides when a session ends)."""
    response.set_cookie(SESSION_COOKIE, token, path=COOKIE_PATH, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def forget_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


def _requested_path(request: Request) -> str:
    if request.method not in SAFE_METHODS:
        # After logging in, come back to the page the form was on, not to the form's action.
        referer = urlsplit(request.headers.get("referer") or "")
        return referer.path if referer.path.startswith("/console") else "/console"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def current_session(request: Request, runtime: RuntimeDep) -> StaffSession:
    """The live session of the request's cookie, else ``LoginRequired``."""
    token = request.cookies.get(SESSION_COOKIE)
    try:
        return await resume_session(runtime, token)
    except SessionExpired:
        raise LoginRequired(_requested_path(request),
                            htmx=request.headers.get("HX-Request") == "true",
                            clear_cookie=token is not None) from None


async def submitted_csrf_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette keeps it: the route reads the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def csrf_matches(expected: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


async def console_staff(request: Request,
                        session: Annotated[StaffSession, Depends(current_session)]
                        ) -> ConsoleStaff:
    """The dependency of every console page: a live session, and on unsafe methods its CSRF
    token (else the 403 page)."""
    if request.method not in SAFE_METHODS and not csrf_matches(
            session.csrf_token, await submitted_csrf_token(request)):
        await request.close()  # the files of a multipart form read for its token
        raise HTTPException(status_code=403, detail="The form's security token is missing or "
                                                    "out of date; reload the page.")
    principal = principal_for(session)
    # Logs name the business, and its writes fence its reads from a read replica.
    bind_business(request, principal.business_id)
    return ConsoleStaff(session=session, principal=principal, csrf_token=session.csrf_token)


ConsoleStaffDep = Annotated[ConsoleStaff, Depends(console_staff)]
