"""Logging in and out of the console.

- ``GET/POST /console/login``: email and password; when the account has a second factor, a
  second step asks for the authenticator code. Every failure says the same ("The email or
  password is not right."), and a lockout says when to try again. A login always starts a new
  session (a new cookie value), whatever cookie came with it.
- ``POST /console/logout``: ends this session (CSRF-checked like every form).

The login form has no session yet, so its CSRF defence is a double-submit cookie:
``orderline_login`` (HttpOnly, SameSite=Strict, Path=/console/login) holds a random value the
form repeats; a login posted from another site lacks it (login CSRF).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from orderline.core.errors import LoginFailed, SecondFactorRequired, TooManyLoginAttempts
from orderline.core.http import RuntimeDep
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.encryption import SealedDataError, open_sealed, seal
from orderline.staff import sessions
from orderline.staff.second_factor import STAFF_KEYS
from orderline.web.console.access import (
    SESSION_COOKIE,
    ConsoleStaffDep,
    forget_session_cookie,
    safe_next,
    set_session_cookie,
)
from orderline.web.console.pages import translated
from orderline.web.pages import FieldError, Flash, render_page

router = APIRouter()

LOGIN_COOKIE = "orderline_login"
LOGIN_COOKIE_PATH = "/console/login"
SAME_ANSWER = "The email or password is not right."
SECOND_STEP_MINUTES = 5
_LOGIN_STATE = b"console-login-second-step"


def seal_login_state(runtime: Runtime, email: str, password: str) -> str:
    """The first step's email and password for the second step's form, sealed with the
    deployment's master keys (the secret keys of the second factors) and valid for a few
    minutes: the password never appears in the page as text."""
    expires = runtime.clock.now() + timedelta(minutes=SECOND_STEP_MINUTES)
    data = json.dumps({"email": email, "password": password, "expires": expires.timestamp()})
    sealed = seal(data.encode(), runtime.get(STAFF_KEYS), associated_data=_LOGIN_STATE)
    return base64.urlsafe_b64encode(sealed).decode()


def open_login_state(runtime: Runtime, state: str) -> tuple[str, str] | None:
    """The email and password of a second step's form, or None when it is not ours or
    too old."""
    try:
        data = json.loads(open_sealed(base64.urlsafe_b64decode(state.encode()),
                                      runtime.get(STAFF_KEYS), associated_data=_LOGIN_STATE))
    except (SealedDataError, binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or data.get("expires", 0) < runtime.clock.now().timestamp():
        return None
    email, password = data.get("email"), data.get("password")
    return (email, password) if isinstance(email, str) and isinstance(password, str) else None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, *, next_path: str, email: str = "",
                errors: list[FieldError] | None = None, login_state: str = "",
                status_code: int = 200, flashes: list[Flash] | None = None) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render_page(request, "console/login.html", status_code=status_code,
                           errors=errors or [], flashes=flashes or [], next_path=next_path,
                           email=email, login_token=token, second_step=bool(login_state),
                           login_state=login_state,
                           headers={"Cache-Control": "no-store"})
    response.set_cookie(LOGIN_COOKIE, token, path=LOGIN_COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request,
                     next_path: Annotated[str | None, Query(alias="next",
                                                            max_length=2000)] = None,
                     ended: Annotated[str | None, Query(max_length=20)] = None
                     ) -> HTMLResponse:
    ended_how = {"logout": "You are logged out.",
                 "everywhere": "You are logged out on every device."}
    flashes = ([Flash(translated(request, ended_how[ended]), kind="info")]
               if ended in ended_how else [])
    return _login_page(request, next_path=safe_next(next_path), flashes=flashes)


@router.post("/login", response_model=None)
async def log_in(
    request: Request, runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    login_state: Annotated[str, Form(max_length=4000)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/console",
) -> Response:
    target = safe_next(next_path)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not (cookie and login_token and hmac.compare_digest(cookie, login_token)):
        return _login_page(request, next_path=target, email=email, status_code=403, errors=[
            FieldError(translated(request, "The login form had expired. Enter your email "
                                           "and password again."))])
    if login_state:
        opened = open_login_state(runtime, login_state)
        if opened is None:
            return _login_page(request, next_path=target, email=email, status_code=403,
                               errors=[FieldError(translated(
                                   request, "The login form had expired. Enter your email "
                                            "and password again."))])
        email, password = opened
        if not code.strip():
            return _login_page(request, next_path=target, email=email, status_code=422,
                               login_state=login_state, errors=[FieldError(translated(
                                   request, "Enter the code from your authenticator app."),
                                   field="code")])
    if not email.strip() or not password:
        errors = []
        if not email.strip():
            errors.append(FieldError(translated(request, "Enter your email address."),
                                     field="email"))
        if not password:
            errors.append(FieldError(translated(request, "Enter your password."),
                                     field="password"))
        return _login_page(request, next_path=target, email=email, errors=errors,
                           status_code=422)
    try:
        started = await sessions.log_in(
            runtime, email, password, code.strip() or None, client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""))
    except SecondFactorRequired:
        return _login_page(request, next_path=target, email=email,
                           login_state=seal_login_state(runtime, email, password))
    except LoginFailed:
        return _login_page(request, next_path=target, email=email, status_code=401,
                           errors=[FieldError(translated(request, SAME_ANSWER),
                                              field="email")])
    except TooManyLoginAttempts as refused:
        seconds = int(refused.details.get("retry_after_seconds") or 60)
        minutes = max(1, -(-seconds // 60))
        when = (runtime.clock.now() + timedelta(seconds=seconds)).strftime("%H:%M UTC")
        return _login_page(request, next_path=target, email=email, status_code=429, errors=[
            FieldError(translated(request, "Too many failed logins. Try again in "
                                           "%(minutes)s minutes (after %(time)s).",
                                  minutes=minutes, time=when))])
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, started.token)
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_COOKIE_PATH)
    return response


@router.post("/logout")
async def log_out(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep
                  ) -> RedirectResponse:
    await sessions.log_out(runtime, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/login?ended=logout", status_code=303)
    forget_session_cookie(response)
    return response
