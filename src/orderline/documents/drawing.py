"""The worker's drawing job: the PDFs of issued documents, drawn off the relay's path.

Each round claims a few documents still to draw (moving their turn on by a lease, so two
workers never draw the same one at once), draws each in a thread (the worker's event loop
goes on relaying meanwhile), and keeps the PDF only if the claim is still its own. A worker
that dies mid-drawing leaves the claim to run out; a document that fails to draw is logged
and tried again when its lease has run out. A PDF is drawn from the stored snapshot alone, so
two drawings of one snapshot give the same bytes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.documents import layout
from orderline.documents import store as document_store
from orderline.documents.rules import DocumentKind, invoice_sheet
from orderline.documents.store import DocumentToDraw

log = logging.getLogger("orderline.documents")

DRAW_BATCH = 4  # documents a worker claims at a time
DRAW_LEASE_SECONDS = 120.0  # how long a claim keeps other workers off a document


def draw(kind: str, snapshot: dict[str, Any]) -> bytes:
    """The PDF of a document's snapshot (pure CPU: run in a thread)."""
    if kind != DocumentKind.INVOICE:
        raise ValueError(f"no drawing for documents of kind {kind!r}")
    seller = snapshot["seller"]
    return layout.invoice_pdf(invoice_sheet(snapshot["order"], seller_name=seller["name"],
                                            seller_address=seller["address"]))


async def draw_due(runtime: Runtime, *, limit: int = DRAW_BATCH,
                   lease_seconds: float = DRAW_LEASE_SECONDS,
                   business_id: uuid.UUID | None = None) -> int:
    """Draw the documents whose turn has come (up to ``limit``; only ``business_id``'s if
    given); returns how many were kept."""
    now = runtime.clock.now()

    async def claim(conn: AsyncConnection) -> list[DocumentToDraw]:
        return await document_store.claim_to_draw(
            conn, now=now, lease_until=now + timedelta(seconds=lease_seconds), limit=limit,
            business_id=business_id)

    kept = 0
    for document in await runtime.db.run(claim):  # committed: the lease holds meanwhile
        try:
            content = await asyncio.to_thread(draw, document.kind, document.snapshot)
        except Exception:
            log.exception("a document could not be drawn; tried again after its lease",
                          extra={"business_id": str(document.business_id),
                                 "order_id": str(document.order_id)})
            continue

        async def save(conn: AsyncConnection, document: DocumentToDraw = document,
                       content: bytes = content) -> bool:
            return await document_store.save_drawn(conn, document, content,
                                                   now=runtime.clock.now())

        kept += await runtime.db.run(save)
    return kept


async def draw_all_due(runtime: Runtime, *, business_id: uuid.UUID | None = None) -> int:
    """Draw every document whose turn has come (``orderline worker --once``; a test, for its
    own business)."""
    total = 0
    while drawn := await draw_due(runtime, business_id=business_id):
        total += drawn
    return total
