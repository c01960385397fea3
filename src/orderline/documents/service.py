"""Invoices and packing slips: an invoice is issued when its number is given, drawn by the
worker, kept, and downloaded by the merchant (an API key, a console member) and the order's
buyer (its access token). A packing slip is drawn when it is asked for, from the order as it
is.

Issuing is cheap and happens on the relay's path: on the ``order.updated`` that announced
the number (action ``invoiced``), the handler writes the invoice's row with what it prints
(the order as that change showed it, and the business's name and address then), so the
invoice says what the order was when it was invoiced, whenever it is drawn. Drawing costs a
tenth of a second or more of CPU, so it is the drawing job's (``documents/drawing.py``), off
the relay: webhooks and notifications never wait behind a PDF. Until it is drawn, a download
answers ``invoice_not_issued``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.documents import layout
from orderline.documents import store as document_store
from orderline.documents.downloads import PDF
from orderline.documents.rules import DocumentKind, InvoiceNotIssued, packing_slip_sheet
from orderline.documents.store import IssuedDocument
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.orders import service as orders
from orderline.orders.callers import OrderCaller, order_caller_for_token
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal, Scope

INVOICED = "invoiced"  # the history action of orders/invoices.py


@dataclass(frozen=True, slots=True)
class IssuedFile:
    """A drawn document to download: its number (the file's name) and the PDF."""

    number: str
    content: bytes


async def issue_invoice(ctx: HandlerContext, conn: AsyncConnection, event: StoredEvent) -> None:
    """On the ``order.updated`` that announced an invoice number: write the invoice's row,
    to be drawn by the worker."""
    if event.payload.get("action") != INVOICED:
        return
    order = event.payload["order"]
    order_id = uuid.UUID(str(order["id"]))
    if await document_store.has_document(conn, event.business_id, order_id,
                                         DocumentKind.INVOICE):
        return
    seller = await tenancy.letterhead(conn, event.business_id)
    await document_store.add_document(conn, IssuedDocument(
        business_id=event.business_id, order_id=order_id, kind=DocumentKind.INVOICE,
        number=str(order["invoice_number"]), media_type=PDF,
        snapshot={"order": order, "seller": {"name": seller.name,
                                             "address": list(seller.address)}},
        created_at=ctx.now, draw_after=ctx.now))


INVOICE_DOCUMENTS = Handler("invoice_documents", frozenset({EventType.ORDER_UPDATED}),
                            issue_invoice)


async def rewrite_invoices(conn: AsyncConnection, business_id: uuid.UUID,
                           order_ids: Sequence[uuid.UUID],
                           rewrite: Callable[[dict[str, Any]], dict[str, Any]], *,
                           now: datetime) -> int:
    """Rewrite what the invoices of ``order_ids`` print (``privacy/service.py`` takes the
    buyer's personal data out, in its transaction): each PDF drawn from the old snapshot is
    gone at once, and the worker draws the new one (same number and figures). Returns how
    many invoices were rewritten."""
    found = await document_store.snapshots_of(conn, business_id, order_ids,
                                              DocumentKind.INVOICE)
    for order_id, snapshot in found:
        await document_store.replace_snapshot(conn, business_id, order_id,
                                              DocumentKind.INVOICE, rewrite(snapshot), now=now)
    return len(found)


async def invoice_file(runtime: Runtime, caller: OrderCaller) -> IssuedFile:
    """The order's invoice as issued: for its merchant (the read scope) or its buyer.
    ``InvoiceNotIssued`` until the worker has drawn it. A stored invoice is the caller's
    business's by its key; on a miss, a caller not proven to hold the order (a console member
    naming an id) is told ``NotFound`` for another business's order."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        found = await document_store.load_file(conn, caller.business_id, caller.order_id,
                                               DocumentKind.INVOICE)
    if found is None and caller.principal is not None:
        await orders.get_order(runtime, caller.principal, caller.order_id)  # 404 if not theirs
    if found is None or found.content is None:
        raise InvoiceNotIssued(
            "This order has no invoice yet: it is issued once the order's money is in "
            "(paid, or cash collected on delivery), usually within seconds after that.",
            details={"order_id": str(caller.order_id)})
    return IssuedFile(number=found.number, content=found.content)


async def invoice_file_for_staff(runtime: Runtime, principal: Principal,
                                 order_id: uuid.UUID) -> IssuedFile:
    """The invoice for a console member (the read scope); another business's order is
    ``NotFound``, as it is for an API key."""
    return await invoice_file(runtime, OrderCaller(business_id=principal.business_id,
                                                   order_id=order_id, principal=principal))


async def invoice_file_for_token(runtime: Runtime, token: str) -> IssuedFile:
    """The invoice of the order whose access token is ``token`` (the buyer's order page)."""
    return await invoice_file(runtime, await order_caller_for_token(runtime, token))


async def packing_slip_file(runtime: Runtime, principal: Principal,
                            order_id: uuid.UUID) -> tuple[str, bytes]:
    """The order's packing slip as it is now (file name, PDF), drawn in a thread so the
    event loop goes on serving while fontTools subsets the fonts."""
    order = await orders.get_order(runtime, principal, order_id)  # the read scope, 404
    shop = await tenancy.shop_name(runtime, principal.business_id)
    sheet = packing_slip_sheet(order, seller_name=shop)
    return sheet.order_number, await asyncio.to_thread(layout.packing_slip_pdf, sheet)
