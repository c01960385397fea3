"""What ``api/app.py`` calls to add the pages to the app: the page routes (the console's and
the buyer pages' too)
and the HTML error pages. Its two middleware, ``PageErrors`` and ``PageSecurityHeaders``, are
added by the app itself, where the order of its middleware is written down."""

from __future__ import annotations

from fastapi import FastAPI

from orderline.web import routes
from orderline.web.buyer import routes as buyer
from orderline.web.console import routes as console
from orderline.web.console.pages import install_console_errors
from orderline.web.errors import install_error_pages


def install_pages(app: FastAPI) -> None:
    """Call after the API's error handlers are installed."""
    app.include_router(routes.router)
    app.include_router(console.router)
    app.include_router(buyer.router)
    install_error_pages(app)
    install_console_errors(app)
