"""The staff member's own account: ``/console/account`` (who they are, their sessions, log out
everywhere) and ``/console/account/second-factor`` (owners and admins: set up an
authenticator app, confirm it with a code, turn it off).

Every action calls the staff capability's use cases with the session's principal; the rules
(who may have a second factor, a code used once) are theirs.
"""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from orderline.core.errors import Conflict, SecondFactorInvalid
from orderline.core.http import RuntimeDep
from orderline.staff import second_factor, sessions
from orderline.staff.rules import SECOND_FACTOR_ROLES
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep, forget_session_cookie
from orderline.web.console.pages import console_page, form_errors, translated
from orderline.web.pages import FieldError, Flash

router = APIRouter()

CODE_MESSAGES = {
    "second_factor_invalid": "This code is not right, or was already used. Enter the code "
                             "your app shows now.",
}


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                  done: str | None = None) -> HTMLResponse:
    flashes = []
    if done in FLASHES:
        flashes.append(Flash(translated(request, FLASHES[done]), kind="success"))
    logins = await sessions.my_sessions(runtime, staff.principal)
    return console_page(request, staff, "console/account.html", logins=logins,
                        flashes=flashes, current_session=staff.session.session_id,
                        second_factor_allowed=staff.session.role in SECOND_FACTOR_ROLES)


FLASHES = {
    "second-factor-on": "Your second factor is on. From now on, logging in asks for a code.",
    "second-factor-off": "Your second factor is off.",
}


@router.post("/account/logout-everywhere")
async def log_out_everywhere(runtime: RuntimeDep, staff: ConsoleStaffDep) -> RedirectResponse:
    await sessions.log_out_everywhere(runtime, staff.principal)
    response = RedirectResponse("/console/login?ended=everywhere", status_code=303)
    forget_session_cookie(response)
    return response


def _second_factor_page(request: Request, staff: ConsoleStaff, *, status_code: int = 200,
                        setup: second_factor.SecondFactorSetup | None = None,
                        errors: list[FieldError] | None = None,
                        confirming: bool = False) -> HTMLResponse:
    if staff.session.role not in SECOND_FACTOR_ROLES:
        raise HTTPException(status_code=403)
    qr = None
    if setup is not None:
        qr = segno.make(setup.uri, error="m").svg_data_uri(scale=5, border=2)
    return console_page(request, staff, "console/second_factor.html", status_code=status_code,
                        setup=setup, qr=qr, errors=errors or [],
                        confirming=confirming or setup is not None,
                        second_factor_on=staff.session.second_factor)


@router.get("/account/second-factor", response_class=HTMLResponse)
async def second_factor_page(request: Request, staff: ConsoleStaffDep) -> HTMLResponse:
    """Owners and admins only (the roles a second factor is for); others get the 403 page."""
    return _second_factor_page(request, staff)


@router.post("/account/second-factor", response_class=HTMLResponse)
async def set_up(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep
                 ) -> HTMLResponse:
    """A new secret, shown this once as text, as an otpauth:// link and as a QR code."""
    if staff.session.role not in SECOND_FACTOR_ROLES:
        raise HTTPException(status_code=403)
    try:
        setup = await second_factor.set_up_second_factor(runtime, staff.principal)
    except Conflict as refused:
        return _second_factor_page(request, staff, status_code=409,
                                   errors=form_errors(refused))
    return _second_factor_page(request, staff, setup=setup)


async def _switch(request: Request, runtime: RuntimeDep, staff: ConsoleStaff, code: str, *,
                  on: bool) -> HTMLResponse | RedirectResponse:
    if staff.session.role not in SECOND_FACTOR_ROLES:
        raise HTTPException(status_code=403)
    if not code.strip():
        return _second_factor_page(request, staff, status_code=422, confirming=on,
                                   errors=[FieldError(translated(
                                       request, "Enter the code from your authenticator app."),
                                       field="code")])
    try:
        if on:
            await second_factor.confirm_second_factor(runtime, staff.principal, code.strip())
        else:
            await second_factor.disable_second_factor(runtime, staff.principal, code.strip())
    except (SecondFactorInvalid, Conflict) as refused:
        wording = {code_: translated(request, text) for code_, text in CODE_MESSAGES.items()}
        errors = form_errors(refused, fields={"code": "code"}, messages=wording)
        if isinstance(refused, SecondFactorInvalid):
            errors = [FieldError(error.message, field="code") for error in errors]
        return _second_factor_page(request, staff, status_code=422, errors=errors,
                                   confirming=on and isinstance(refused, SecondFactorInvalid))
    done = "second-factor-on" if on else "second-factor-off"
    return RedirectResponse(f"/console/account?done={done}", status_code=303)


@router.post("/account/second-factor/confirm", response_model=None)
async def confirm(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                  code: Annotated[str, Form(max_length=20)] = ""
                  ) -> HTMLResponse | RedirectResponse:
    return await _switch(request, runtime, staff, code, on=True)


@router.post("/account/second-factor/disable", response_model=None)
async def disable(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                  code: Annotated[str, Form(max_length=20)] = ""
                  ) -> HTMLResponse | RedirectResponse:
    return await _switch(request, runtime, staff, code, on=False)
