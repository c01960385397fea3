"""Browser journeys through the console's Stock, Catalog and Customers pages (Chromium against
a real ``orderline serve``, on SQLite and PostgreSQL): an owner edits a price (and the API's
audit log names them), adjusts and counts stock, sees low stock and archives a variant; a
customer is found and their data downloaded; a viewer cannot change a price, and another
shop's product is not found. Every page is checked with axe, and photographed on a laptop and
at 375 px."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.e2e.test_console_stock_pages import Shop, login_of, mug_shop
from tests.support.browser import (  # noqa: F401 (the browser fixture)
    PHONE,
    BrowserPage,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the console_server fixture)
    ConsoleLogin,
    console_server_fixture,
    log_in_fast,
)

WAIT = 30_000  # ms: a generous cap on waiting for a condition, never a timing assertion


@pytest.fixture
async def shop(runtime: Runtime) -> Shop:
    return await mug_shop(runtime, roles=("viewer",))


@pytest.fixture
async def viewer(runtime: Runtime, shop: Shop) -> ConsoleLogin:
    return await login_of(runtime, shop, "viewer")


@pytest.fixture
async def rival(runtime: Runtime) -> Shop:
    return await mug_shop(runtime)


def look(page: BrowserPage, step: str) -> None:
    """Photograph this step and check it with axe."""
    page.screenshot(step)
    page.check_accessibility()


def test_an_owner_edits_a_price_counts_stock_and_archives_a_variant(
        shop: Shop, console_server: str, browser: Browsing) -> None:
    page = browser.open(console_server)
    log_in_fast(page, shop.console.owner_login)
    p = page.page

    page.goto("/console/catalog")
    look(page, "01-catalog")
    p.get_by_role("link", name="Enamel mug").click()
    p.get_by_role("heading", name="Enamel mug", level=1).wait_for(timeout=WAIT)
    look(page, "02-product")

    # Edit a price: a comma is refused next to the field, a dot is taken.
    p.get_by_role("link", name="Edit MUG-RED").click()
    price = p.get_by_label("Price in USD")
    price.fill("12,50")
    p.get_by_role("button", name="Save the variant").click()
    p.locator("#price-error").wait_for(timeout=WAIT)
    assert "like 12.50" in p.locator("#price-error").inner_text()
    assert p.locator(".error-summary a[href='#price']").is_visible()
    look(page, "03-price-refused")
    p.get_by_label("Price in USD").fill("15.50")
    p.get_by_role("button", name="Save the variant").click()
    p.get_by_text("The variant was saved.").wait_for(timeout=WAIT)
    assert p.get_by_role("cell", name="$15.50").is_visible()
    look(page, "04-price-saved")

    # The API's audit log says who changed it, and from what.
    product = httpx.get(f"{console_server}/v1/products/{shop.product_id}",
                        headers=shop.console.api_headers).json()
    red = next(v for v in product["variants"] if v["sku"] == "MUG-RED")
    entries = httpx.get(f"{console_server}/v1/audit", headers=shop.console.api_headers,
                        params={"entity_type": "variant", "entity_id": red["id"]}).json()
    [entry] = entries["data"]
    assert (entry["before"], entry["after"]) == ({"price_minor": 1200}, {"price_minor": 1550})
    assert entry["actor_staff_id"] == str(shop.console.owner.row.id)

    # Low stock is highlighted, and the filter keeps only it.
    page.goto("/console/stock")
    blue = p.locator("tr.low-stock", has_text="MUG-BLUE")
    blue.wait_for(timeout=WAIT)
    assert "Low stock" in blue.inner_text()
    p.get_by_text("The books balance").wait_for(timeout=WAIT)  # the htmx section loaded
    look(page, "05-stock")
    p.get_by_label("Only low stock").check()
    p.get_by_role("button", name="Show").click()
    p.wait_for_url(re.compile(r"low=true"), timeout=WAIT)
    assert p.locator("a", has_text="MUG-RED").count() == 0

    # An adjustment and a stock-take change the levels and show in the ledger.
    page.goto("/console/stock/MUG-RED")
    p.get_by_label("Change in units").fill("5")
    p.get_by_label("Reason").select_option("receipt")
    p.get_by_role("button", name="Adjust stock").click()
    p.get_by_text("The stock was adjusted.").wait_for(timeout=WAIT)
    on_hand = p.locator("tr.total td").nth(1)
    assert on_hand.inner_text() == "15"
    p.get_by_label("Units counted").fill("12")
    p.get_by_role("button", name="Record the count").click()
    p.get_by_text("The stock-take was recorded.").wait_for(timeout=WAIT)
    assert on_hand.inner_text() == "12"
    ledger = p.locator("table.ledger tbody tr")
    assert [ledger.nth(i).locator("td").nth(1).inner_text() for i in range(3)] == [
        "-3", "+5", "+10"]
    assert "Correction" in ledger.first.inner_text()
    look(page, "06-sku-ledger")

    # Archive a variant, after a confirmation.
    page.goto(f"/console/catalog/{shop.product_id}")
    p.get_by_role("link", name="Archive MUG-BLUE").click()
    p.get_by_role("heading", name="Archive MUG-BLUE?").wait_for(timeout=WAIT)
    look(page, "07-archive-confirmation")
    p.get_by_role("button", name="Yes, archive it").click()
    p.get_by_text("The variant was archived").wait_for(timeout=WAIT)
    look(page, "08-archived")
    page.goto("/console/catalog")
    assert p.get_by_text("MUG-BLUE").count() == 0
    p.get_by_label("Show archived items").check()
    p.get_by_role("button", name="Search").click()
    p.locator("tr.archived", has_text="MUG-BLUE").wait_for(timeout=WAIT)

    # The new-product form, and the pages on a phone.
    page.goto("/console/catalog/new")
    look(page, "09-new-product")
    phone = browser.open(console_server, viewport=PHONE)
    log_in_fast(phone, shop.console.owner_login)
    for step, url in [("phone-stock", "/console/stock"),
                      ("phone-sku", "/console/stock/MUG-RED"),
                      ("phone-catalog", "/console/catalog"),
                      ("phone-product", f"/console/catalog/{shop.product_id}"),
                      ("phone-variant", f"/console/catalog/{shop.product_id}/variant?sku=MUG-RED"),
                      ("phone-new-product", "/console/catalog/new"),
                      ("phone-reconciliation", "/console/stock-reconciliation")]:
        phone.goto(url)
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        wide = phone.page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect()"
            ".right > 376).slice(0, 5).map(e => e.tagName + '.' + e.className)")
        assert width <= PHONE["width"], f"{url} is {width} px wide on a phone: {wide}"
        look(phone, step)
    page.assert_clean()
    phone.assert_clean()


def test_a_customer_is_found_and_their_data_downloaded(
        shop: Shop, console_server: str, browser: Browsing, tmp_path: Path) -> None:
    page = browser.open(console_server)
    log_in_fast(page, shop.console.owner_login)
    p = page.page

    page.goto("/console/customers")
    p.get_by_label("Name, phone or email").fill("siti@example")
    p.get_by_role("button", name="Search").click()
    p.wait_for_url(re.compile(r"q=siti"), timeout=WAIT)
    look(page, "01-search")
    p.get_by_role("link", name="Siti Rahma").click()
    p.get_by_role("heading", name="Siti Rahma", level=1).wait_for(timeout=WAIT)
    assert p.locator(".trust-score").inner_text() == "0"
    look(page, "02-customer")

    with p.expect_download(timeout=WAIT) as download:
        p.get_by_role("button", name="Download their data (JSON)").click()
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["customer"]["phone"] == "+62 812 5550 1234"

    # Erasure explains itself and waits for the open order.
    p.get_by_role("button", name="Erase their personal data").click()
    p.get_by_text("Erasing cannot be undone").wait_for(timeout=WAIT)
    look(page, "03-erase")
    p.get_by_label(re.compile("To confirm, type the customer's name")).fill("Siti Rahma")
    p.get_by_role("button", name="Erase their personal data").click()
    p.locator("#confirm_name-error").wait_for(timeout=WAIT)
    assert "still open" in p.locator("#confirm_name-error").inner_text()
    look(page, "04-erase-refused")

    phone = browser.open(console_server, viewport=PHONE)
    log_in_fast(phone, shop.console.owner_login)
    for step, url in [("phone-customers", "/console/customers"),
                      ("phone-customer", f"/console/customers/{shop.customer_id}"),
                      ("phone-erase", f"/console/customers/{shop.customer_id}/erase")]:
        phone.goto(url)
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{url} is {width} px wide on a phone"
        look(phone, step)
    page.assert_clean()
    phone.assert_clean()


def test_a_viewer_cannot_change_a_price_and_another_shops_product_is_not_found(
        shop: Shop, viewer: ConsoleLogin, rival: Shop, console_server: str,
        browser: Browsing) -> None:
    page = browser.open(console_server, viewport=PHONE, locale="id-ID")
    log_in_fast(page, viewer)
    p = page.page

    variant = f"/console/catalog/{shop.product_id}/variant?sku=MUG-RED"
    page.goto(variant)
    assert p.locator("form input[name='price']").count() == 0
    look(page, "01-viewer-variant-id")
    forced = p.request.post(console_server + variant, form={
        "csrf_token": viewer.csrf_token, "name": "Red", "price": "0.01"},
        headers={"Accept": "text/html"})
    assert forced.status == 403
    product = httpx.get(f"{console_server}/v1/products/{shop.product_id}",
                        headers=shop.console.api_headers).json()
    assert {v["price_minor"] for v in product["variants"]} == {1200, 1300}

    page.goto(f"/console/catalog/{rival.product_id}", expect_status=404)
    look(page, "02-other-shop-product")
    page.assert_clean()
