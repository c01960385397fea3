"""The page routes of the foundation: the front page, the offline API docs and the static files.

None of them is part of the API's OpenAPI document (``include_in_schema=False``).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from orderline.web.assets import asset_index
from orderline.web.pages import render_page
from orderline.web.rules import IMMUTABLE, content_security_policy

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def front_page(request: Request) -> HTMLResponse:
    return render_page(request, "front_page.html")


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI from the vendored files (FastAPI's own page loads it from a CDN and starts it
    with an inline script, which the pages' CSP forbids)."""
    return render_page(request, "api_docs/swagger_ui.html", openapi_url=_openapi_url(request))


# What ReDoc 2.5.4 (static/vendor/redoc) needs beyond the pages' policy. Its bundle inserts the
# perfect-scrollbar stylesheet as a <style> element when it loads, before a nonce can be given
# (the two hashes: that element empty, then filled); its styled-components take the nonce; its
# search index runs in a worker made from a blob. Scripts stay files of this origin.
REDOC_STYLE_HASHES = ("'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
                      "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='")


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc from the vendored standalone bundle; its <style> elements carry a nonce fresh for
    each answer, which js/redoc-init.js hands to ReDoc."""
    nonce = secrets.token_urlsafe(18)
    policy = content_security_policy(also={
        "style-src": [f"'nonce-{nonce}'", *REDOC_STYLE_HASHES], "worker-src": ["'self'", "blob:"]})
    return render_page(request, "api_docs/redoc.html", openapi_url=_openapi_url(request),
                       style_nonce=nonce, headers={"Content-Security-Policy": policy,
                                                   "Cache-Control": "no-store"})


def _openapi_url(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + (request.app.openapi_url or "/openapi.json")


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
async def static_file(path: str) -> FileResponse:
    """A shipped static file: by its fingerprinted name, cached for a year (the name changes
    with the content); by its plain name, revalidated each time."""
    index = asset_index()
    asset = index.by_fingerprint.get(path)
    cache = IMMUTABLE
    if asset is None:
        asset = index.by_path.get(path)
        cache = "no-cache"
    if asset is None:
        raise HTTPException(status_code=404)
    return FileResponse(asset.file, headers={"Cache-Control": cache,
                                             "X-Content-Type-Options": "nosniff"})
