"""The console's first page, ``/console``: the dashboard."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from orderline.web.console.access import ConsoleStaffDep
from orderline.web.console.pages import console_page

router = APIRouter()


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request, staff: ConsoleStaffDep) -> HTMLResponse:
    return console_page(request, staff, "console/dashboard.html")
