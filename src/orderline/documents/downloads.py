"""How a document is sent to whoever downloads it (the API, the console, the buyer's page)."""

from __future__ import annotations

from starlette.responses import Response

PDF = "application/pdf"


def pdf_response(content: bytes, file_name: str) -> Response:
    """A PDF to save, never sniffed nor run as a page, never kept by a shared cache."""
    return Response(content, media_type=PDF, headers={
        "Content-Disposition": f'attachment; filename="{file_name}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; sandbox"})
