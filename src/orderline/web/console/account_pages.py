"""The staff member's own account page, ``/console/account``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from orderline.web.console.access import ConsoleStaffDep
from orderline.web.console.pages import console_page

router = APIRouter()


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, staff: ConsoleStaffDep) -> HTMLResponse:
    return console_page(request, staff, "console/account.html")
