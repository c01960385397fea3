"""The order pages over HTTP in the test's process (the real app over ASGI, on each database):
what each role may see and do, another business's order, the forms' refusals in plain words,
and the live part's rows. The browser journeys are in ``test_console_orders.py``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderline.api.app import create_app
from orderline.core.runtime import Runtime
from orderline.manual_payments.files.configured import PROOF_STORAGE
from orderline.tenancy import service as tenancy
from tests.conftest import Merchant
from tests.support.checkout import ADDRESS, open_shop
from tests.support.console import (
    ConsoleShop,
    async_console_client,
    console_login,
    console_shop,
)
from tests.support.manual import (
    manual_order,
    manual_shop,
    master_keys,
    receipt_for,
    sealed_storage,
    upload,
)

BASE = "http://test"


@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, roles=("viewer", "operations"))


@pytest.fixture
def transport(runtime: Runtime, tmp_path: Path) -> httpx.ASGITransport:
    runtime.put(PROOF_STORAGE, sealed_storage(tmp_path / "proofs", master_keys("k1")))
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def api(transport: httpx.ASGITransport, shop: ConsoleShop
              ) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=BASE,
                                 headers=shop.api_headers) as client:
        yield client


@pytest.fixture
async def owner(transport: httpx.ASGITransport, shop: ConsoleShop
                ) -> AsyncIterator[httpx.AsyncClient]:
    async with async_console_client(transport, BASE, shop.owner_login) as client:
        yield client


async def as_role(runtime: Runtime, transport: httpx.ASGITransport, shop: ConsoleShop,
                  role: str) -> httpx.AsyncClient:
    login = await console_login(runtime, shop.staff[role])
    return async_console_client(transport, BASE, login)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def paid_order(api: httpx.AsyncClient, sku: str = "MUG") -> dict[str, Any]:
    ok(await api.post("/v1/products", json={"name": f"Product {sku}", "variants": [
        {"sku": sku, "name": f"{sku} blue", "price": 1250, "initial_stock": 10}]}), 201)
    order = ok(await api.post("/v1/orders", json={
        "customer": {"name": "Ada Buyer", "phone": "+15550100"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": sku, "quantity": 2}]}), 201)
    return dict(ok(await api.patch(f"/v1/orders/{order['id']}/payment",
                                   json={"reference": "pay-1"})))


def form(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": client.headers["X-CSRF-Token"], **fields}



async def a_shop_selling_by_transfer(api: httpx.AsyncClient,
                                     *extra: dict[str, object]) -> None:
    """Rice (and ``extra`` variants) in stock, and a BCA transfer to pay with."""
    ok(await api.post("/v1/products", json={"name": "Rice", "variants": [
        {"sku": "RICE", "name": "Rice 5kg", "price": 1000, "initial_stock": 10}, *extra]}), 201)
    ok(await api.post("/v1/payment-methods", json={
        "code": "bca", "name": "BCA transfer", "kind": "bank_transfer", "currency": "USD",
        "account_name": "Shop", "account_number": "123"}), 201)


async def order_by_hand(owner: httpx.AsyncClient, **lines: str) -> str:
    """An order typed in on the console by Sari, paid by transfer; its page's URL."""
    created = await owner.post("/console/orders/new", data=form(
        owner, customer_name="Sari", customer_phone="+628123456789", channel="whatsapp",
        payment_method="bca", **lines))
    assert created.status_code == 303, created.text
    return str(created.headers["location"].split("?")[0])


async def page_version(owner: httpx.AsyncClient, order_url: str) -> tuple[str, int]:
    page = await owner.get(order_url)
    return page.text, int(re.findall(r'name="version" value="(\d+)"', page.text)[0])

async def test_the_list_and_the_order_page_show_the_order_with_its_actions(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    listed = await owner.get("/console/orders", params={"q": order["number"]})
    assert listed.status_code == 200, listed.text
    assert order["number"] in listed.text and "Ada Buyer" in listed.text
    page = await owner.get(f"/console/orders/{order['id']}")
    assert page.status_code == 200, page.text
    assert f'name="version" value="{order["version"]}"' in page.text
    assert f"/console/orders/{order['id']}/ship" in page.text
    assert "MUG blue" in page.text


async def test_shipping_from_the_page_saves_the_tracking_and_says_so(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    answer = await owner.post(f"/console/orders/{order['id']}/ship", data=form(
        owner, version=order["version"], carrier="JNE", tracking_number="JNE123",
        tracking_url="https://track.example/JNE123"))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/console/orders/{order['id']}?done=shipped"
    shown = ok(await api.get(f"/v1/orders/{order['id']}"))
    assert (shown["status"], shown["shipping"]["tracking_number"]) == ("shipped", "JNE123")


async def test_a_stale_version_answers_412_naming_who_changed_the_order_and_what(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    ok(await api.patch(f"/v1/orders/{order['id']}/shipping",
                       json={"carrier": "DHL", "tracking_number": "D1"}))
    answer = await owner.post(f"/console/orders/{order['id']}/cancel", data=form(
        owner, version=order["version"], reason="buyer", note="asked"))
    assert answer.status_code == 412
    assert "Someone changed this order first" in answer.text
    assert "api_key:" in answer.text and "Shipped with tracking" in answer.text
    assert f'href="/console/orders/{order["id"]}"' in answer.text
    assert ok(await api.get(f"/v1/orders/{order['id']}"))["status"] == "shipped"


async def test_cancelling_an_order_holding_money_is_refused_in_plain_words(
        owner: httpx.AsyncClient, api: httpx.AsyncClient, shop: ConsoleShop) -> None:
    await a_shop_selling_by_transfer(api)
    order_url = await order_by_hand(owner, sku_0="RICE", quantity_0="2")
    _, version = await page_version(owner, order_url)
    paid = await owner.post(f"{order_url}/mark-paid", data=form(
        owner, version=version, note="seen in the BCA app"))
    assert paid.status_code == 303, paid.text
    _, version = await page_version(owner, order_url)
    refused = await owner.post(f"{order_url}/cancel", data=form(
        owner, version=version, reason="buyer"))
    assert refused.status_code == 409
    assert "This order holds the buyer&#39;s money. Refund it first" in refused.text

    refunded = await owner.post(f"{order_url}/refund", data=form(
        owner, version=version, mode="amount", amount="20.00", reason="changed her mind"))
    assert refunded.status_code == 303, refunded.text
    _, version = await page_version(owner, order_url)
    cancelled = await owner.post(f"{order_url}/cancel", data=form(
        owner, version=version, reason="buyer", note="refunded first"))
    assert cancelled.status_code == 303, cancelled.text
    assert "refunded first" in (await owner.get(order_url)).text


async def test_a_viewer_sees_no_actions_and_is_refused_403_when_forcing_one(
        runtime: Runtime, transport: httpx.ASGITransport, shop: ConsoleShop,
        api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    async with await as_role(runtime, transport, shop, "viewer") as viewer:
        page = await viewer.get(f"/console/orders/{order['id']}")
        assert page.status_code == 200
        assert "<form method=\"post\" action=\"/console/orders/" not in page.text
        forced = await viewer.post(f"/console/orders/{order['id']}/ship", data=form(
            viewer, version=order["version"], carrier="JNE", tracking_number="X"))
        assert forced.status_code == 403
        assert (await viewer.get("/console/orders/new")).status_code == 403
        assert (await viewer.get("/console/orders/new/line")).status_code == 403
        assert "/console/orders/new" not in (await viewer.get("/console/orders")).text
        placed = await viewer.post("/console/orders/new", data=form(
            viewer, customer_name="Sneaky", customer_phone="+15550111", channel="web",
            payment_method="cod", sku_0="MUG", quantity_0="1"))
        assert placed.status_code == 403
    assert ok(await api.get(f"/v1/orders/{order['id']}"))["status"] == "paid"


async def test_another_business_s_staff_get_404_for_the_order(
        runtime: Runtime, transport: httpx.ASGITransport, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    other = await console_shop(runtime)
    async with async_console_client(transport, BASE, other.owner_login) as stranger:
        assert (await stranger.get(f"/console/orders/{order['id']}")).status_code == 404
        forced = await stranger.post(f"/console/orders/{order['id']}/cancel", data=form(
            stranger, version=order["version"]))
        assert forced.status_code == 404
        listed = await stranger.get("/console/orders")
        assert order["number"] not in listed.text


async def test_an_amount_that_is_not_money_is_refused_next_to_its_field_and_nothing_moves(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    answer = await owner.post(f"/console/orders/{order['id']}/refund", data=form(
        owner, version=order["version"], mode="amount", amount="twelve"))
    assert answer.status_code == 422
    assert 'href="#refund-amount">Enter the amount to refund, like 12.50.' in answer.text
    assert ok(await api.get(f"/v1/orders/{order['id']}"))["version"] == order["version"]


async def test_an_order_marked_paid_without_a_payment_says_so_in_its_payments_section(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)  # PATCH /payment: paid, with no payment in the ledger
    page = (await owner.get(f"/console/orders/{order['id']}")).text
    payments = page.split('id="payments-title"', 1)[1].split("</section>", 1)[0]
    assert "Paid " in payments and "pay-1" in payments
    assert "Marked paid without a recorded payment" in payments
    assert "No money has moved yet." not in payments
    in_indonesian = (await owner.get(f"/console/orders/{order['id']}",
                                     headers={"Accept-Language": "id-ID"})).text
    assert "Ditandai sudah dibayar tanpa pembayaran yang tercatat" in in_indonesian

    unpaid = ok(await api.post("/v1/orders", json={
        "customer": {"name": "Ada Buyer", "phone": "+15550100"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "MUG", "quantity": 1}]}), 201)
    page = (await owner.get(f"/console/orders/{unpaid['id']}")).text
    assert "No money has moved yet." in page
    assert "Marked paid without a recorded payment" not in page


async def test_the_pages_speak_indonesian_when_asked(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    listed = await owner.get("/console/orders", headers={"Accept-Language": "id-ID"})
    assert "Cari menurut nomor, pelanggan, atau telepon" in listed.text
    page = await owner.get(f"/console/orders/{order['id']}",
                           headers={"Accept-Language": "id-ID"})
    assert f"Pesanan {order['number']}" in page.text and "Kirim pesanan" in page.text


async def test_the_live_part_answers_only_the_orders_newer_than_the_newest_row(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    first = await paid_order(api)
    listed = await owner.get("/console/orders")
    newest = re.findall(r'data-cursor="([^"]+)"', listed.text)[0]
    assert (await owner.get("/console/orders/live", params={"after": newest})).text.strip() == ""
    second = ok(await api.post("/v1/orders", json={
        "customer": {"name": "Live Buyer", "phone": "+15550199"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "MUG", "quantity": 1}]}), 201)
    rows = (await owner.get("/console/orders/live", params={"after": newest})).text
    assert second["number"] in rows and first["number"] not in rows
    assert 'class="is-new"' in rows


async def test_cash_on_delivery_is_collected_or_its_failed_delivery_recorded_from_the_page(
        runtime: Runtime, owner: httpx.AsyncClient, api: httpx.AsyncClient,
        shop: ConsoleShop) -> None:
    merchant = Merchant(principal=await tenancy.authenticate(runtime, shop.api_key),
                        key=shop.api_key)
    placed = await open_shop(api, merchant, products={"RICE": (1000, 20)}, shipping=0,
                             tax_rate=None)
    ok(await api.patch("/v1/business/cod", json={"enabled": True,
                                                 "zone_ids": [placed.zone_id]}))
    orders = [ok(await api.post("/v1/orders", json={
        "customer": {"name": "Cash Buyer", "phone": f"+1555017{i}"}, "channel": "web",
        "payment_method": "cod", "lines": [{"sku": "RICE", "quantity": 2}],
        "shipping_address": ADDRESS}), 201) for i in range(2)]
    for order in orders:
        page = await owner.get(f"/console/orders/{order['id']}")
        assert f"/console/orders/{order['id']}/cod/collect" in page.text

    short = await owner.post(f"/console/orders/{orders[0]['id']}/cod/collect", data=form(
        owner, version=orders[0]["version"], amount="abc"))
    assert short.status_code == 422 and 'href="#collect-amount"' in short.text
    collected = await owner.post(f"/console/orders/{orders[0]['id']}/cod/collect", data=form(
        owner, version=orders[0]["version"], amount="20.00"))
    assert collected.status_code == 303, collected.text
    assert ok(await api.get(f"/v1/orders/{orders[0]['id']}"))["paid_at"] is not None

    failed = await owner.post(f"/console/orders/{orders[1]['id']}/cod/failed", data=form(
        owner, version=orders[1]["version"], outcome="refused", note="not home twice"))
    assert failed.status_code == 303, failed.text
    assert ok(await api.get(f"/v1/orders/{orders[1]['id']}"))["status"] == "cancelled"


async def test_the_api_list_takes_the_same_search_box_and_payment_method(
        api: httpx.AsyncClient) -> None:
    order = await paid_order(api)
    found = ok(await api.get("/v1/orders", params={"q": "5550100"}))["data"]
    assert [o["number"] for o in found] == [order["number"]]
    assert ok(await api.get("/v1/orders", params={"q": order["number"].lower()}))["data"]
    assert ok(await api.get("/v1/orders", params={"payment_method": "cod"}))["data"] == []
    assert len(ok(await api.get("/v1/orders", params={"payment_method": "card"}))["data"]) == 1


async def test_a_waiting_payment_proof_is_approved_from_the_order_page(
        runtime: Runtime, transport: httpx.ASGITransport) -> None:
    shop = await console_shop(runtime, currency="PHP")
    merchant = Merchant(principal=await tenancy.authenticate(runtime, shop.api_key),
                        key=shop.api_key)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as api, \
            async_console_client(transport, BASE, shop.owner_login) as owner:
        await manual_shop(api, merchant)
        order = await manual_order(api, merchant)
        ok(await upload(api, order, receipt_for(order)), 201)
        page = await owner.get(f"/console/orders/{order['id']}")
        assert page.status_code == 200, page.text
        proof_id = re.findall(r'name="proof_id" value="([^"]+)"', page.text)[0]
        assert f'href="/console/verifications/{proof_id}"' in page.text
        approved = await owner.post(f"/console/orders/{order['id']}/approve-proof", data=form(
            owner, version=order["version"], proof_id=proof_id))
        assert approved.status_code == 303, approved.text
        shown = ok(await api.get(f"/v1/orders/{order['id']}", headers=merchant.headers))
        assert shown["status"] == "paid"


async def test_a_new_order_starts_with_one_line_a_chat_channel_and_a_phone_hint(
        owner: httpx.AsyncClient) -> None:
    page = await owner.get("/console/orders/new")
    assert page.status_code == 200, page.text
    assert 'id="sku_0"' in page.text and 'id="sku_1"' not in page.text
    assert re.search(r'<option value="whatsapp"\s+selected>', page.text), page.text
    assert not re.search(r'<option value="api"\s+selected>', page.text)
    # The phone field is empty and says what to type under its label, not as a fake value.
    phone = re.findall(r'<input id="customer_phone"[^>]*>', page.text)[0]
    assert "placeholder" not in phone and 'value=""' in phone
    assert 'aria-describedby="customer_phone-hint"' in phone
    assert 'id="customer_phone-hint"' in page.text
    # "Add a line" works through htmx, and as a plain button without it.
    assert 'hx-get="/console/orders/new/line"' in page.text


async def test_add_a_line_gives_the_next_row_up_to_the_maximum_and_keeps_what_was_typed(
        owner: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    from orderline.web.console.order_pages import MAX_LINE_ROWS

    row = await owner.get("/console/orders/new/line", params={"sku_0": "MUG"})
    assert row.status_code == 200, row.text
    assert 'id="sku_1"' in row.text and 'id="quantity_1"' in row.text
    assert "autofocus" in row.text and 'id="sku_0"' not in row.text
    assert "hx-swap-oob" not in row.text
    last = await owner.get("/console/orders/new/line", params={
        f"sku_{i}": "" for i in range(MAX_LINE_ROWS - 1)})
    assert f'id="sku_{MAX_LINE_ROWS - 1}"' in last.text
    assert 'id="add-line"' in last.text and "hx-swap-oob" in last.text  # the button goes
    full = await owner.get("/console/orders/new/line", params={
        f"sku_{i}": "" for i in range(MAX_LINE_ROWS)})
    assert full.status_code == 204  # no row past the maximum

    # Without JavaScript: the button submits the form, which comes back with one more row.
    again = await owner.post("/console/orders/new", data=form(
        owner, customer_name="Sari", sku_0="RICE", quantity_0="2", add_line="1"))
    assert again.status_code == 200, again.text
    assert 'id="sku_1"' in again.text and 'value="RICE"' in again.text
    assert 'value="Sari"' in again.text and 'id="sku_2"' not in again.text
    assert ok(await api.get("/v1/orders"))["data"] == []  # nothing was placed

    # Both lines of a two-row form are ordered.
    await a_shop_selling_by_transfer(
        api, {"sku": "OIL", "name": "Oil 1l", "price": 500, "initial_stock": 10})
    order_url = await order_by_hand(owner, sku_0="RICE", quantity_0="2", sku_1="OIL",
                                    quantity_1="3")
    order_id = order_url.rsplit("/", 1)[-1]
    placed = ok(await api.get(f"/v1/orders/{order_id}"))
    assert placed["channel"] == "whatsapp"
    assert sorted((line["sku"], line["quantity"]) for line in placed["lines"]) == [
        ("OIL", 3), ("RICE", 2)]


async def test_a_line_refunded_in_part_shows_its_refunded_units_and_offers_only_the_rest(
        owner: httpx.AsyncClient, api: httpx.AsyncClient, shop: ConsoleShop) -> None:
    await a_shop_selling_by_transfer(api)
    order_url = await order_by_hand(owner, sku_0="RICE", quantity_0="3")
    html, version = await page_version(owner, order_url)
    assert "3 left to refund" not in html  # unpaid: nothing to refund yet
    # The channel and the transfer by the names the merchant gave them, not their codes.
    assert "on WhatsApp" in html and "BCA transfer" in html
    listed = (await owner.get("/console/orders")).text
    assert "<small>WhatsApp</small>" in listed and "BCA transfer" in listed
    paid = await owner.post(f"{order_url}/mark-paid", data=form(
        owner, version=version, note="seen in the BCA app"))
    assert paid.status_code == 303, paid.text
    html, version = await page_version(owner, order_url)
    assert "3 left to refund" in html and 'max="3"' in html

    refunded = await owner.post(f"{order_url}/refund", data=form(
        owner, version=version, mode="lines", line_sku="RICE", quantity_RICE="1",
        restock="on", reason="one bag torn"))
    assert refunded.status_code == 303, refunded.text
    page = (await owner.get(order_url)).text
    assert "1 refunded" in page
    assert "2 left to refund" in page and 'max="2"' in page and 'max="3"' not in page
