"""Invoices and packing slips over HTTP, on each database: the API (its merchant's key with
the read scope, or its buyer's order token for the invoice), the console's order page and
the buyer's order page; each stays inside its business, and the invoice answers
``invoice_not_issued`` until the worker has issued it."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from orderline.api.app import create_app
from orderline.core.runtime import Runtime
from orderline.documents.drawing import draw_all_due
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant
from tests.e2e.conftest import add_product, error_of, ok, order_body, pay
from tests.e2e.test_api_order_page import staff_key
from tests.support.console import (
    ConsoleShop,
    async_console_client,
    console_login,
    console_shop,
)

BASE = "http://test"


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["x-content-type-options"] == "nosniff"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def placed(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = order_body(("MUG", 2), name="Nguyễn Thị Hoa")
    order: dict[str, Any] = ok(await client.post("/v1/orders", headers=headers, json=body), 201)
    return order


async def invoiced(runtime: Runtime, client: httpx.AsyncClient, merchant: Merchant, *,
                   stock: bool = True) -> dict[str, Any]:
    """A paid order of two mugs, invoiced by the worker; with its buyer's access token."""
    if stock:
        await add_product(client, merchant, "MUG", 10, price=1250)
    order = await placed(client, merchant.headers)
    await pay(client, merchant, order)
    await default_relay(runtime).relay_until_idle()  # the number, and the invoice issued
    await draw_all_due(runtime, business_id=merchant.principal.business_id)  # the worker's job
    shown = ok(await client.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
    return {**shown, "access_token": order["access_token"]}


async def test_the_invoice_is_not_issued_before_the_money_is_in(
        client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 10)
    order = await placed(client, merchant.headers)
    answer = await client.get(f"/v1/orders/{order['id']}/invoice.pdf", headers=merchant.headers)
    details = error_of(answer, 409, "invoice_not_issued")
    assert details == {"order_id": order["id"]}
    assert "no invoice yet" in answer.json()["error"]["message"]
    buyer = await client.get(f"/v1/orders/{order['id']}/invoice.pdf",
                             headers=bearer(order["access_token"]))
    error_of(buyer, 409, "invoice_not_issued")


async def test_the_invoice_downloads_for_its_merchant_and_buyer_and_no_one_else(
        runtime: Runtime, client: httpx.AsyncClient, merchant: Merchant,
        rival: Merchant) -> None:
    order = await invoiced(runtime, client, merchant)
    url = f"/v1/orders/{order['id']}/invoice.pdf"
    answer = await client.get(url, headers=merchant.headers)
    text = pdf_text(answer)
    assert 'filename="INV-000001.pdf"' in answer.headers["content-disposition"]
    for expected in ("INV-000001", order["number"], "Nguyễn Thị Hoa", "MUG",
                     "Total 25.00 USD", "Paid"):
        assert expected in text, (expected, text)

    as_buyer = await client.get(url, headers=bearer(order["access_token"]))
    assert as_buyer.content == answer.content
    reader, _ = await staff_key(client, merchant, "read")
    assert (await client.get(url, headers=reader)).content == answer.content

    error_of(await client.get(url, headers=rival.headers), 404, "not_found")
    error_of(await client.get(url, headers=bearer("oat_made-up")), 404, "not_found")
    verifier, _ = await staff_key(client, merchant, "verify")
    error_of(await client.get(url, headers=verifier), 403, "forbidden")
    error_of(await client.get(url), 401, "unauthorized")


async def test_the_packing_slip_lists_lines_and_address_without_prices(
        runtime: Runtime, client: httpx.AsyncClient, merchant: Merchant,
        rival: Merchant) -> None:
    await add_product(client, merchant, "MUG", 10, price=1250)
    order = await placed(client, merchant.headers)
    url = f"/v1/orders/{order['id']}/packing-slip.pdf"
    answer = await client.get(url, headers=merchant.headers)
    text = pdf_text(answer)
    assert f'filename="packing-slip-{order["number"]}.pdf"' in (
        answer.headers["content-disposition"])
    for expected in ("Packing slip", order["number"], "Nguyễn Thị Hoa", "MUG"):
        assert expected in text, (expected, text)
    assert "USD" not in text and "12.50" not in text  # no prices

    error_of(await client.get(url, headers=rival.headers), 404, "not_found")
    verifier, _ = await staff_key(client, merchant, "verify")
    error_of(await client.get(url, headers=verifier), 403, "forbidden")
    # The buyer's token opens the invoice, not the packing slip.
    error_of(await client.get(url, headers=bearer(order["access_token"])), 401, "unauthorized")
    missing = f"/v1/orders/{uuid.uuid4()}/packing-slip.pdf"
    error_of(await client.get(missing, headers=merchant.headers), 404, "not_found")


async def test_the_buyer_page_links_the_invoice_once_issued(
        runtime: Runtime, client: httpx.AsyncClient, merchant: Merchant) -> None:
    await add_product(client, merchant, "MUG", 10)
    unpaid = await placed(client, merchant.headers)
    page = await client.get(f"/o/{unpaid['access_token']}")
    assert page.status_code == 200 and "invoice.pdf" not in page.text

    order = await invoiced(runtime, client, merchant, stock=False)
    token = order["access_token"]
    page = await client.get(f"/o/{token}")
    assert f'href="/o/{token}/invoice.pdf"' in page.text
    assert order["invoice_number"] == "INV-000001"  # the unpaid order has none
    assert "Download invoice INV-000001 (PDF)" in page.text
    assert "INV-000001" in pdf_text(await client.get(f"/o/{token}/invoice.pdf"))
    assert (await client.get(f"/o/{unpaid['access_token']}/invoice.pdf")).status_code == 409
    assert (await client.get("/o/oat_made-up/invoice.pdf")).status_code == 404


# --- the console ---------------------------------------------------------------------------

@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, roles=("verifier", "viewer"))


@pytest.fixture
async def console(runtime: Runtime) -> AsyncIterator[httpx.ASGITransport]:
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    yield httpx.ASGITransport(app=app)


async def test_the_console_order_page_offers_both_documents_to_roles_that_read_orders(
        runtime: Runtime, client: httpx.AsyncClient, shop: ConsoleShop,
        console: httpx.ASGITransport, rival: Merchant) -> None:
    owner = Merchant(principal=shop.owner_login.principal, key=shop.api_key)
    order = await invoiced(runtime, client, owner)
    base = f"/console/orders/{order['id']}"
    viewer_login = await console_login(runtime, shop.staff["viewer"])
    verifier_login = await console_login(runtime, shop.staff["verifier"])
    async with async_console_client(console, BASE, viewer_login) as viewer, \
            async_console_client(console, BASE, verifier_login) as verifier:
        page = await viewer.get(base)
        assert page.status_code == 200
        assert f'href="{base}/invoice.pdf"' in page.text
        assert f'href="{base}/packing-slip.pdf"' in page.text
        assert "INV-000001" in pdf_text(await viewer.get(f"{base}/invoice.pdf"))
        assert "Packing slip" in pdf_text(await viewer.get(f"{base}/packing-slip.pdf"))
        # A role that may not read orders, and another business's order.
        assert (await verifier.get(f"{base}/invoice.pdf")).status_code == 403
        assert (await verifier.get(f"{base}/packing-slip.pdf")).status_code == 403
        await add_product(client, rival, "MUG", 5)
        theirs = await placed(client, rival.headers)
        for kind in ("invoice", "packing-slip"):
            answer = await viewer.get(f"/console/orders/{theirs['id']}/{kind}.pdf")
            assert answer.status_code == 404
