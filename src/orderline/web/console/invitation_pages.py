"""Accepting an invitation: ``/console/invitations/{token}``, the link ``orderline staff
invite`` prints (and the settings' staff page makes). The person chooses their name and a
password (twice); the account is made by the staff capability's ``accept_invitation`` and they
are logged in. An expired, used or withdrawn link says so, and what to do.

No session exists yet, so the form carries no session CSRF token: the token in the path is the
secret, and it works once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from orderline.core.errors import DomainError, InvitationExpired, InvitationInvalid
from orderline.core.http import RuntimeDep
from orderline.staff import service as staff_service
from orderline.staff import sessions
from orderline.web.console.access import set_session_cookie
from orderline.web.console.auth_pages import client_ip
from orderline.web.console.pages import form_errors, translated
from orderline.web.pages import FieldError, render_page

router = APIRouter()

FIELDS = {"name": "name", "password": "password"}


def _gone(request: Request, problem: DomainError) -> HTMLResponse:
    expired = isinstance(problem, InvitationExpired)
    return render_page(request, "console/invitation_gone.html", status_code=410,
                       expired=expired, headers={"Cache-Control": "no-store",
                                                 "Referrer-Policy": "no-referrer"})


def _form(request: Request, invitation: staff_service.InvitationPreview, *, name: str = "",
          errors: list[FieldError] | None = None, status_code: int = 200) -> HTMLResponse:
    return render_page(request, "console/invitation.html", status_code=status_code,
                       shop_name=invitation.business_name or None, invitation=invitation,
                       name=name, errors=errors or [],
                       # The token is in the path: never send it on to another page.
                       headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/invitations/{token}", response_class=HTMLResponse)
async def invitation_form(request: Request, runtime: RuntimeDep, token: str) -> HTMLResponse:
    try:
        invitation = await staff_service.look_up_invitation(runtime, token[:200])
    except (InvitationInvalid, InvitationExpired) as gone:
        return _gone(request, gone)
    return _form(request, invitation)


@router.post("/invitations/{token}", response_model=None)
async def accept(request: Request, runtime: RuntimeDep, token: str,
                 name: Annotated[str, Form(max_length=500)] = "",
                 password: Annotated[str, Form(max_length=1024)] = "",
                 password_again: Annotated[str, Form(max_length=1024)] = "") -> Response:
    try:
        invitation = await staff_service.look_up_invitation(runtime, token[:200])
    except (InvitationInvalid, InvitationExpired) as gone:
        return _gone(request, gone)
    errors = []
    if not name.strip():
        errors.append(FieldError(translated(request, "Enter your name."), field="name"))
    if not password:
        errors.append(FieldError(translated(request, "Choose a password."), field="password"))
    elif password != password_again:
        errors.append(FieldError(translated(request, "The two passwords are not the same."),
                                 field="password_again"))
    if errors:
        return _form(request, invitation, name=name, errors=errors, status_code=422)
    try:
        member = await staff_service.accept_invitation(runtime, token[:200], name, password)
    except (InvitationInvalid, InvitationExpired) as gone:
        return _gone(request, gone)
    except DomainError as refused:  # a name or password the rules refuse
        return _form(request, invitation, name=name, status_code=422,
                     errors=form_errors(refused, fields=FIELDS))
    try:
        started = await sessions.log_in(runtime, member.email, password, client_ip=client_ip(
            request), user_agent=request.headers.get("user-agent", ""),
            business_id=member.business_id)
    except DomainError:  # the account is made; a lockout of this address, say: log in later
        return RedirectResponse("/console/login", status_code=303)
    response = RedirectResponse("/console", status_code=303)
    set_session_cookie(response, request, started.token)
    return response
