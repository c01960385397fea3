"""Invoices and packing slips: the worker draws an order's invoice when its number is given,
and keeps it; the merchant (an API key, a console member) and the order's buyer (its access
token) download it. A packing slip is drawn when it is asked for, from the order as it is.

The invoice is drawn from the order as the ``invoiced`` change announced it (the event's
``order``), so what is printed is the order at the moment its number was given, even if the
worker reaches the event later. It is drawn in its own event's transaction, not in the one
that took the number: that one holds the business's invoice counter locked until it
commits, and drawing takes a tenth of a second or more. The inbox runs the handler once per
event, and a stored invoice is never drawn again (an invoice does not change once issued).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.documents import layout
from orderline.documents import store as document_store
from orderline.documents.downloads import PDF
from orderline.documents.rules import (
    DocumentKind,
    InvoiceNotIssued,
    invoice_sheet,
    packing_slip_sheet,
)
from orderline.documents.store import DocumentRow
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.orders import service as orders
from orderline.orders import views as orders_view
from orderline.orders.callers import OrderCaller, order_caller_for_token
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal, Scope

INVOICED = "invoiced"  # the history action of orders/invoices.py


async def draw_invoice(ctx: HandlerContext, conn: AsyncConnection, event: StoredEvent) -> None:
    """On the ``order.updated`` that announced an invoice number: draw that invoice and keep
    it."""
    if event.payload.get("action") != INVOICED:
        return
    order = event.payload["order"]
    order_id = uuid.UUID(str(order["id"]))
    if await document_store.has_document(conn, event.business_id, order_id,
                                         DocumentKind.INVOICE):
        return
    seller = await tenancy.letterhead(conn, event.business_id)
    sheet = invoice_sheet(order, seller_name=seller.name, seller_address=seller.address)
    await document_store.add_document(conn, DocumentRow(
        business_id=event.business_id, order_id=order_id, kind=DocumentKind.INVOICE,
        number=sheet.invoice_number, media_type=PDF, content=layout.invoice_pdf(sheet),
        created_at=ctx.now))


INVOICE_DOCUMENTS = Handler("invoice_documents", frozenset({EventType.ORDER_UPDATED}),
                            draw_invoice)


async def redraw_erased_invoices(conn: AsyncConnection, business_id: uuid.UUID,
                                 order_ids: Sequence[uuid.UUID]) -> int:
    """Draw again the stored invoices of ``order_ids`` from the orders as a customer's erasure
    left them (``privacy/service.py``, in its transaction): the same number, dates, lines,
    taxes and totals (none of them changes once the money is in), without the name, contact
    and address. Returns how many were drawn again."""
    invoiced = await document_store.documented_orders(conn, business_id, order_ids,
                                                      DocumentKind.INVOICE)
    if not invoiced:
        return 0
    seller = await tenancy.letterhead(conn, business_id)
    for order in await orders_view.shown_orders(conn, business_id, invoiced):
        sheet = invoice_sheet(order, seller_name=seller.name, seller_address=seller.address)
        await document_store.replace_content(conn, business_id, uuid.UUID(str(order["id"])),
                                             DocumentKind.INVOICE, layout.invoice_pdf(sheet))
    return len(invoiced)


async def invoice_file(runtime: Runtime, caller: OrderCaller) -> DocumentRow:
    """The order's invoice as issued: for its merchant (the read scope) or its buyer.
    ``InvoiceNotIssued`` until the worker has drawn it. A stored invoice is the caller's
    business's by its key; on a miss, a caller not proven to hold the order (a console member
    naming an id) is told ``NotFound`` for another business's order."""
    caller.require(Scope.READ)
    async with runtime.db.read() as conn:
        found = await document_store.load_document(conn, caller.business_id, caller.order_id,
                                                   DocumentKind.INVOICE)
    if found is None:
        if caller.principal is not None:  # a member's own business: another's order is 404
            await orders.get_order(runtime, caller.principal, caller.order_id)
        raise InvoiceNotIssued(
            "This order has no invoice yet: it is issued once the order's money is in "
            "(paid, or cash collected on delivery), usually within seconds after that.",
            details={"order_id": str(caller.order_id)})
    return found


async def invoice_file_for_staff(runtime: Runtime, principal: Principal,
                                 order_id: uuid.UUID) -> DocumentRow:
    """The invoice for a console member (the read scope); another business's order is
    ``NotFound``, as it is for an API key."""
    return await invoice_file(runtime, OrderCaller(business_id=principal.business_id,
                                                   order_id=order_id, principal=principal))


async def invoice_file_for_token(runtime: Runtime, token: str) -> DocumentRow:
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
