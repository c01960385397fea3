"""The console as an app on a phone's home screen: its web app manifest
(``/console/manifest.webmanifest``), its service worker (``/console/sw.js``, scope
``/console``: the console's own page and everything under it) and the page the worker shows
when a console page cannot be reached (``/console/offline``).

None of them needs a session, and none holds anything of a business: a browser fetches the
manifest without cookies, and the worker is the same file for everyone. The worker
(``static/js/console-sw.js``, registered by ``static/js/console-app.js``) keeps only the
console's fingerprinted static files and the offline page in its cache; console pages go to
the network every time (they are ``no-store`` and hold staff data) and proof files are never
touched. When a console page cannot be loaded, the offline page answers in its place.

The worker is served with the list of files to keep written at its top, so it changes (and
the browser installs the new one) whenever one of those files does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from orderline.web.assets import asset_index, static_url
from orderline.web.console.pages import translated
from orderline.web.pages import render_page

router = APIRouter()

WORKER_FILE = "js/console-sw.js"
OFFLINE_URL = "/console/offline"
# "/console", not "/console/": the start URL (the dashboard, or a verifier's queue) is
# "/console" itself, which a scope ending in "/" would leave out (the manifest's scope would
# be void, and the worker would not answer for that page).
SCOPE = "/console"
THEME_COLOUR = "#1d4ed8"
# The static files every console page may load: the layout's, the console's own (css/console*,
# js/console*), the dashboard's and the charts'. Licence texts and the API docs' bundles stay out.
SHELL_PREFIXES = ("vendor/pico/", "vendor/htmx.org/", "vendor/htmx-ext-sse/", "vendor/uplot/",
                  "css/orderline.css", "css/console", "js/pages.js", "js/console",
                  "js/dashboard.js", "img/")
SHELL_SUFFIXES = (".css", ".js", ".png", ".svg")
NO_CACHE = "no-cache"


def shell_paths(paths: Iterable[str]) -> list[str]:
    """Which static files the worker keeps (the worker itself is never one)."""
    return sorted(p for p in paths if p.startswith(SHELL_PREFIXES)
                  and p.endswith(SHELL_SUFFIXES) and p != WORKER_FILE)


def worker_script() -> str:
    """The worker's file, with what it keeps (fingerprinted URLs) and the cache's version."""
    index = asset_index()
    files = [static_url(p) for p in shell_paths(index.by_path)]
    source = index.by_path[WORKER_FILE].file.read_text(encoding="utf-8")
    version = hashlib.sha256(json.dumps([files, source]).encode()).hexdigest()[:12]
    shell = {"version": version, "files": files, "offline": OFFLINE_URL}
    return f"var ORDERLINE_SHELL = {json.dumps(shell)};\n{source}"


def manifest(request: Request) -> dict[str, Any]:
    return {
        "id": "/console",
        "name": translated(request, "Orderline console"),
        "short_name": "Orderline",
        "description": translated(request, "Run your shop: orders, stock and payment proofs."),
        "start_url": "/console",
        "scope": SCOPE,
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": "#ffffff",
        "icons": [
            {"src": static_url("img/console-icon-192.png"), "sizes": "192x192",
             "type": "image/png", "purpose": "any"},
            {"src": static_url("img/console-icon-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "any"},
            {"src": static_url("img/console-icon-maskable-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
        ],
    }


@router.get("/manifest.webmanifest")
async def web_app_manifest(request: Request) -> Response:
    return Response(json.dumps(manifest(request), ensure_ascii=False),
                    media_type="application/manifest+json",
                    headers={"Cache-Control": NO_CACHE, "Vary": "Accept-Language"})


@router.get("/sw.js")
async def service_worker() -> Response:
    return Response(worker_script(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": NO_CACHE, "Service-Worker-Allowed": SCOPE,
                             "X-Content-Type-Options": "nosniff"})


@router.get("/offline", response_class=HTMLResponse)
async def offline_page(request: Request) -> HTMLResponse:
    """What the worker shows for a console page it could not reach; nothing of a business."""
    return render_page(request, "console/offline.html", headers={"Cache-Control": NO_CACHE})
