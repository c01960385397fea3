"""/v1/orders/{id}/invoice.pdf and /v1/orders/{id}/packing-slip.pdf."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from orderline.core.http import RuntimeDep, bind_order_id, parse_id, refusals
from orderline.documents import service as documents
from orderline.documents.downloads import pdf_response
from orderline.documents.rules import DocumentKind, document_file_name
from orderline.orders.deps import OrderCallerDep
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


def _pdf(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/pdf": {}}, "description": description}}


@router.get("/{order_id}/invoice.pdf", response_class=Response,
            responses={**_pdf("The invoice as it was issued."), **refusals(401, 403, 409)})
async def invoice_pdf(runtime: RuntimeDep, caller: OrderCallerDep) -> Response:
    """The order's invoice, for its merchant (``read`` scope) or its buyer (the order's
    access token). ``409 invoice_not_issued`` until the worker has issued it (once the
    order's money is in)."""
    found = await documents.invoice_file(runtime, caller)
    return pdf_response(found.content, document_file_name(DocumentKind.INVOICE, found.number))


@router.get("/{order_id}/packing-slip.pdf", response_class=Response,
            responses={**_pdf("The packing slip: where the parcel goes and what is in it."),
                       **refusals(401, 403)})
async def packing_slip_pdf(order_id: str, runtime: RuntimeDep,
                           principal: PrincipalDep) -> Response:
    """The order's packing slip as the order is now (``read`` scope): its lines and
    quantities and the address, no prices."""
    number, content = await documents.packing_slip_file(runtime, principal,
                                                        parse_id("order", order_id))
    return pdf_response(content, document_file_name(DocumentKind.PACKING_SLIP, number))
