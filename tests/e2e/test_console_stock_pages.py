"""The console's Stock, Catalog and Customers pages over HTTP (the real app over ASGI, on each
database): what each role may read and change, another business's ids as 404, forms that
refuse bad input next to the field and change nothing, and changes that land in the same
use cases as the API (the ledger, the audit log, the personal-data export and erasure).
The browser journeys are in test_console_stock.py."""

from __future__ import annotations

import html as html_text
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from orderline.api.app import create_app
from orderline.catalog import inventory
from orderline.catalog import products as catalog
from orderline.catalog.products import NewVariant
from orderline.catalog.tables import StockLevel
from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from orderline.orders.status import cancel_order
from tests.support.console import (
    ConsoleLogin,
    ConsoleShop,
    async_console_client,
    console_login,
    console_shop,
)

BASE = "http://test"


@dataclass(frozen=True)
class Shop:
    console: ConsoleShop
    product_id: uuid.UUID
    order_id: uuid.UUID
    customer_id: uuid.UUID


async def mug_shop(runtime: Runtime, *, roles: tuple[str, ...] = ()) -> Shop:
    """A shop selling an enamel mug in red (10 in stock) and blue (2, under its threshold of
    5), with one order of a red mug by Siti."""
    shop = await console_shop(runtime, roles=roles)
    owner = shop.owner_login.principal
    product = await catalog.create_product(runtime, owner, name="Enamel mug",
                                           description="Holds 350 ml", variants=[
        NewVariant(sku="MUG-RED", name="Red", price=1200, low_stock_threshold=3,
                   initial_stock=10),
        NewVariant(sku="MUG-BLUE", name="Blue", price=1300, low_stock_threshold=5,
                   initial_stock=2)])
    order = await direct_orders.create_order(runtime, owner, NewOrder(
        customer=Contact(name="Siti Rahma", phone="+62 812 5550 1234",
                         email="siti@example.com"),
        channel="whatsapp", lines=[RequestedLine("MUG-RED", 1)], payment_method="card"))
    return Shop(console=shop, product_id=product["id"], order_id=order["id"],
                customer_id=order["customer_id"])


@pytest.fixture
async def shop(runtime: Runtime) -> Shop:
    return await mug_shop(runtime, roles=("viewer", "operations"))


@pytest.fixture
def transport(runtime: Runtime) -> httpx.ASGITransport:
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def owner(transport: httpx.ASGITransport, shop: Shop) -> AsyncIterator[httpx.AsyncClient]:
    async with async_console_client(transport, BASE, shop.console.owner_login) as client:
        yield client


async def login_of(runtime: Runtime, shop: Shop, role: str) -> ConsoleLogin:
    return await console_login(runtime, shop.console.staff[role])


def field_error(html: str, field: str) -> str:
    """The error shown next to the input ``field``."""
    found = re.search(rf'<small class="field-error" id="{field}-error">([^<]*)</small>', html)
    assert found, f"no error next to {field}"
    return html_text.unescape(found.group(1))


async def stock_of(runtime: Runtime, shop: Shop, sku: str) -> int:
    on_hand: int = (await inventory.stock_of(runtime, shop.console.owner_login.principal,
                                             sku))["on_hand"]
    return on_hand


# --- stock -----------------------------------------------------------------------------------

async def test_the_stock_page_marks_low_stock_and_filters_it(owner: httpx.AsyncClient) -> None:
    page = await owner.get("/console/stock")
    assert page.status_code == 200, page.text
    rows = re.findall(
        r'<tr( class="low-stock")?>\s*<td class="sku-cell">\s*<a href="/console/stock/([^"]+)"',
        page.text)
    assert ("", "MUG-RED") in rows and (' class="low-stock"', "MUG-BLUE") in rows
    assert "Low stock (threshold 5)" in page.text

    low = (await owner.get("/console/stock", params={"low": "true"})).text
    assert "/console/stock/MUG-BLUE" in low and "/console/stock/MUG-RED" not in low


async def test_an_adjustment_and_a_stock_take_change_the_levels_and_show_in_the_ledger(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    added = await owner.post("/console/stock/MUG-RED/adjust", data={
        "kind": "delta", "delta": "5", "reason": "receipt", "note": "From the supplier"})
    assert added.status_code == 303
    assert added.headers["location"] == "/console/stock/MUG-RED?done=adjusted"
    assert await stock_of(runtime, shop, "MUG-RED") == 15

    counted = await owner.post("/console/stock/MUG-RED/adjust",
                               data={"kind": "count", "counted": "12"})
    assert counted.status_code == 303
    assert await stock_of(runtime, shop, "MUG-RED") == 12

    page = (await owner.get("/console/stock/MUG-RED?done=counted")).text
    assert "The stock-take was recorded." in page
    ledger = page[page.index("Movements"):]
    assert ledger.index("-3") < ledger.index("+5") < ledger.index("+10")  # newest first
    assert "From the supplier" in ledger
    assert "<td>You</td>" in ledger  # the movements are the owner's own


async def test_an_adjustment_sent_twice_from_the_same_form_adjusts_once(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    page = (await owner.get("/console/stock/MUG-RED")).text
    key = re.search(r'name="request_key" value="([0-9a-f]{32})"', page)
    assert key
    form = {"kind": "delta", "delta": "4", "reason": "receipt", "request_key": key.group(1)}
    for _ in range(2):  # a double click, or the browser sending the form again
        assert (await owner.post("/console/stock/MUG-RED/adjust", data=form)).status_code == 303
    assert await stock_of(runtime, shop, "MUG-RED") == 14
    again = (await owner.get("/console/stock/MUG-RED")).text
    assert key.group(1) not in again  # the next form is a new adjustment


async def test_a_bad_adjustment_is_refused_next_to_its_field_and_changes_nothing(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    not_a_number = await owner.post("/console/stock/MUG-RED/adjust", data={
        "kind": "delta", "delta": "five", "reason": "receipt"})
    assert not_a_number.status_code == 422
    assert field_error(not_a_number.text, "delta") == "Enter a whole number, like 5"
    assert 'class="error-summary"' in not_a_number.text

    # 10 on hand, 1 held by Siti's order: 9 may go.
    too_many = await owner.post("/console/stock/MUG-RED/adjust", data={
        "kind": "delta", "delta": "-10", "reason": "damage"})
    assert too_many.status_code == 422
    assert "9 are free to remove" in field_error(too_many.text, "delta")

    negative_count = await owner.post("/console/stock/MUG-RED/adjust",
                                      data={"kind": "count", "counted": "-1"})
    assert negative_count.status_code == 422
    assert field_error(negative_count.text, "counted")
    assert await stock_of(runtime, shop, "MUG-RED") == 10


async def test_the_reconciliation_says_whether_the_books_balance_and_what_to_do_if_not(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    fragment = await owner.get("/console/stock-reconciliation", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "The books balance" in fragment.text and "<html" not in fragment.text
    page = await owner.get("/console/stock-reconciliation")
    assert "The books balance" in page.text and "<html" in page.text

    levels = table_of(StockLevel)
    business = shop.console.business_id
    async with runtime.db.write() as conn:  # a change behind the ledger's back
        await conn.execute(update(levels).where(levels.c.business_id == business,
                                                levels.c.on_hand == 10).values(on_hand=13))
    try:
        drift = (await owner.get("/console/stock-reconciliation")).text
    finally:
        async with runtime.db.write() as conn:  # put the books straight for other tests
            await conn.execute(update(levels).where(levels.c.business_id == business,
                                                    levels.c.on_hand == 13).values(on_hand=10))
    assert "Some levels disagree with their ledger." in drift and "What to do" in drift
    row = re.search(r'<tr>\s*<td><a href="/console/stock/MUG-RED">MUG-RED</a></td>(.*?)</tr>',
                    drift, re.S)
    assert row and re.findall(r'<td class="number">(\d+)</td>', row.group(1)) == [
        "13", "10", "1", "1"]


# --- catalog ---------------------------------------------------------------------------------

async def test_a_price_typed_in_major_units_is_saved_in_minor_units_and_audited_to_the_person(
        owner: httpx.AsyncClient, transport: httpx.ASGITransport, runtime: Runtime,
        shop: Shop) -> None:
    url = f"/console/catalog/{shop.product_id}/variant?sku=MUG-RED"
    form = (await owner.get(url)).text
    assert 'value="12.00"' in form

    refused = await owner.post(url, data={"name": "Red", "price": "12,50", "threshold": "3"})
    assert refused.status_code == 422
    assert "like 12.50" in field_error(refused.text, "price")

    saved = await owner.post(url, data={"name": "Red", "price": "15.5", "threshold": "3"})
    assert saved.status_code == 303
    owner_principal = shop.console.owner_login.principal
    product = await catalog.get_product(runtime, owner_principal, shop.product_id)
    red = next(v for v in product["variants"] if v["sku"] == "MUG-RED")
    assert red["price_minor"] == 1550
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as api:
        audit = await api.get("/v1/audit", headers=shop.console.api_headers,
                              params={"entity_type": "variant", "entity_id": str(red["id"])})
    [entry] = audit.json()["data"]
    # Only what changed is written: the price, by this person.
    assert (entry["before"], entry["after"]) == ({"price_minor": 1200}, {"price_minor": 1550})
    assert entry["actor_staff_id"] == str(shop.console.owner.row.id)


async def test_a_product_with_two_variants_is_created_from_the_form(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    taken = await owner.post("/console/catalog/new", data={
        "name": "Teapot", "v0_sku": "POT-1", "v0_name": "Small", "v0_price": "20",
        "v1_sku": "MUG-RED", "v1_name": "Large", "v1_price": "30"})
    assert taken.status_code == 422
    assert "already used" in field_error(taken.text, "v1_sku")

    created = await owner.post("/console/catalog/new", data={
        "name": "Teapot", "description": "Cast iron", "v0_sku": "POT-S", "v0_name": "Small",
        "v0_price": "20", "v0_threshold": "2", "v0_stock": "4", "v1_sku": "POT-L",
        "v1_name": "Large", "v1_price": "30.25"})
    assert created.status_code == 303
    product_id = created.headers["location"].split("/")[-1].split("?")[0]
    product = await catalog.get_product(runtime, shop.console.owner_login.principal,
                                        uuid.UUID(product_id))
    assert sorted((v["sku"], v["price_minor"], v["low_stock_threshold"])
                  for v in product["variants"]) == [("POT-L", 3025, None), ("POT-S", 2000, 2)]
    assert await stock_of(runtime, shop, "POT-S") == 4


async def test_a_variant_archived_leaves_the_lists_until_asked_for_and_comes_back(
        owner: httpx.AsyncClient, shop: Shop) -> None:
    product_url = f"/console/catalog/{shop.product_id}"
    confirm = await owner.get(f"{product_url}/archive?sku=MUG-BLUE")
    assert "Archive MUG-BLUE?" in confirm.text
    archived = await owner.post(f"{product_url}/archive", data={"sku": "MUG-BLUE"})
    assert archived.headers["location"] == f"{product_url}?done=variant_archived"

    assert "MUG-BLUE" not in (await owner.get("/console/catalog")).text
    assert "MUG-BLUE" in (await owner.get("/console/catalog?archived=true")).text
    assert "/console/stock/MUG-BLUE" not in (await owner.get("/console/stock")).text

    await owner.post(f"{product_url}/unarchive", data={"sku": "MUG-BLUE"})
    assert "MUG-BLUE" in (await owner.get("/console/catalog")).text


# --- customers -------------------------------------------------------------------------------

async def test_a_customer_is_found_by_phone_and_their_data_exported_then_erased(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    found = (await owner.get("/console/customers", params={"q": "5550 1234"})).text
    assert f"/console/customers/{shop.customer_id}" in found

    page = (await owner.get(f"/console/customers/{shop.customer_id}")).text
    assert "Siti Rahma" in page and "Trust score" in page
    assert f"/console/orders/{shop.order_id}" in page

    export = await owner.get(f"/console/customers/{shop.customer_id}/personal-data")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    data: dict[str, Any] = json.loads(export.text)
    assert data["customer"]["email"] == "siti@example.com"
    assert [o["id"] for o in data["orders"]] == [str(shop.order_id)]

    erase = f"/console/customers/{shop.customer_id}/erase"
    still_open = await owner.post(erase, data={"confirm_name": "siti  rahma"})
    assert still_open.status_code == 422
    assert "still open" in field_error(still_open.text, "confirm_name")

    await cancel_order(runtime, shop.console.owner_login.principal, shop.order_id)
    wrong_name = await owner.post(erase, data={"confirm_name": "Siti"})
    assert wrong_name.status_code == 422
    assert field_error(wrong_name.text, "confirm_name").startswith("Type the customer's name")

    erased = await owner.post(erase, data={"confirm_name": "siti  rahma"})
    assert erased.status_code == 303
    after = (await owner.get(f"/console/customers/{shop.customer_id}")).text
    assert "Siti Rahma" not in after and "siti@example.com" not in after


# --- who may do what -------------------------------------------------------------------------

async def test_a_viewer_reads_every_page_without_forms_and_is_refused_every_change(
        transport: httpx.ASGITransport, runtime: Runtime, shop: Shop) -> None:
    login = await login_of(runtime, shop, "viewer")
    product_url = f"/console/catalog/{shop.product_id}"
    async with async_console_client(transport, BASE, login) as viewer:
        for url in ("/console/stock", "/console/stock/MUG-RED", "/console/catalog",
                    product_url, f"{product_url}/variant?sku=MUG-RED", "/console/customers",
                    f"/console/customers/{shop.customer_id}"):
            page = await viewer.get(url)
            assert page.status_code == 200, url
            # The one form is the layout's log-out button.
            assert page.text.count('method="post"') == 1, f"a form on {url}"
        for url in ("/console/catalog/new", f"{product_url}/archive",
                    f"/console/customers/{shop.customer_id}/erase",
                    f"/console/customers/{shop.customer_id}/personal-data"):
            assert (await viewer.get(url)).status_code == 403, url
        for url, data in [
                ("/console/stock/MUG-RED/adjust", {"kind": "delta", "delta": "5",
                                                   "reason": "receipt"}),
                (f"{product_url}/variant?sku=MUG-RED", {"name": "Red", "price": "1"}),
                (product_url, {"name": "Free mug"}),
                (f"{product_url}/archive", {}),
                (f"{product_url}/variants", {"v0_sku": "X", "v0_name": "X", "v0_price": "1"}),
                ("/console/catalog/new", {"name": "X", "v0_sku": "X", "v0_name": "X",
                                          "v0_price": "1"}),
                (f"/console/customers/{shop.customer_id}/erase",
                 {"confirm_name": "Siti Rahma"})]:
            refused = await viewer.post(url, data=data)
            assert refused.status_code == 403, url
    assert await stock_of(runtime, shop, "MUG-RED") == 10
    product = await catalog.get_product(runtime, shop.console.owner_login.principal,
                                        shop.product_id)
    assert (product["name"], product["archived_at"]) == ("Enamel mug", None)
    assert {v["price_minor"] for v in product["variants"]} == {1200, 1300}


async def test_operations_change_stock_and_prices_but_not_personal_data(
        transport: httpx.ASGITransport, runtime: Runtime, shop: Shop) -> None:
    login = await login_of(runtime, shop, "operations")
    async with async_console_client(transport, BASE, login) as operations:
        adjusted = await operations.post("/console/stock/MUG-RED/adjust", data={
            "kind": "delta", "delta": "1", "reason": "return"})
        assert adjusted.status_code == 303
        page = (await operations.get(f"/console/customers/{shop.customer_id}")).text
        assert "/personal-data" not in page
        export = await operations.get(f"/console/customers/{shop.customer_id}/personal-data")
        assert export.status_code == 403
    assert await stock_of(runtime, shop, "MUG-RED") == 11


async def test_another_business_ids_answer_the_not_found_page(
        owner: httpx.AsyncClient, runtime: Runtime, shop: Shop) -> None:
    rival = await mug_shop(runtime)
    rival_product = f"/console/catalog/{rival.product_id}"
    rival_customer = f"/console/customers/{rival.customer_id}"
    for url in (rival_product, f"{rival_product}/variant?sku=MUG-RED",
                f"{rival_product}/archive", rival_customer, f"{rival_customer}/personal-data",
                f"{rival_customer}/erase", "/console/stock/NOT-OURS",
                f"/console/catalog/{shop.product_id}/variant?sku=NOT-OURS", "/console/catalog/x"):
        answer = await owner.get(url)
        assert answer.status_code == 404, url
        assert "text/html" in answer.headers["content-type"]
    for url, data in [(f"{rival_product}/variant?sku=MUG-RED", {"name": "Mine",
                                                                 "price": "1"}),
                      (f"{rival_product}/archive", {}),
                      (rival_product, {"name": "Mine"}),
                      (f"{rival_customer}/erase", {"confirm_name": "Siti Rahma"})]:
        assert (await owner.post(url, data=data)).status_code == 404, url
    product = await catalog.get_product(runtime, rival.console.owner_login.principal,
                                        rival.product_id)
    assert (product["name"], product["archived_at"]) == ("Enamel mug", None)
