"""A draft order becomes a paid order through its link, in Chromium against a real
``orderline serve`` process, on both databases: the merchant builds the draft in the console
and sends its link; the buyer, on a phone, opens it and pays with the sandbox's test card.
Every page is checked with axe; screenshots are in ``test-artifacts/screenshots/<test>/``."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.support.browser import PHONE, BrowserPage, Browsing, browser_fixture  # noqa: F401
from tests.support.console import ConsoleShop, console_server_fixture, console_shop, log_in_fast

pytestmark = pytest.mark.slow

WAIT_MS = 60_000  # a cap on waiting for a page, never a timing assertion
__all__ = ["console_server_fixture"]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def look(page: BrowserPage, step: str) -> None:
    page.screenshot(step)
    page.check_accessibility()


@pytest.fixture
async def shop(runtime: Runtime) -> ConsoleShop:
    return await console_shop(runtime, name="Toko Syal Ada")


def test_a_draft_order_becomes_a_paid_order_through_its_link(
        shop: ConsoleShop, console_server: str, browser: Browsing) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=console_server, headers=shop.api_headers, timeout=30) as api:
        ok(api.post("/v1/products", json={"name": "Silk scarf", "variants": [
            {"sku": "SCARF", "name": "Silk scarf blue", "price": 2500, "initial_stock": 3}]}),
           201)
        zone = ok(api.post("/v1/shipping-zones", json={"name": "Home",
                                                       "countries": ["US"]}), 201)
        ok(api.post(f"/v1/shipping-zones/{zone['id']}/methods", json={
            "name": "Courier", "kind": "flat", "price": 500}), 201)

    # 1. The merchant builds the draft in the console and sends its link.
    desk = browser.open(console_server)
    log_in_fast(desk, shop.owner_login)
    desk.goto("/console/drafts/new")
    d = desk.page
    d.get_by_label("SKU").fill("SCARF")
    d.get_by_label("Quantity").fill("2")
    d.get_by_label("Name").fill("Maria Santos")
    d.get_by_label("Phone (with country code)").fill("+1 555 0199")
    d.get_by_label("Street address").fill("12 Main St")
    d.get_by_label("Town or city").fill("Springfield")
    d.get_by_label("Postal code").fill("62701")
    d.get_by_label("Country (two letters)").fill("US")
    d.get_by_label("Card").check()
    look(desk, "01-new-draft")
    d.get_by_role("button", name="Create the draft").click()
    expect(d.locator("#draft-total")).to_contain_text("$55.00", timeout=WAIT_MS)
    with httpx.Client(base_url=console_server, headers=shop.api_headers) as api:
        assert ok(api.get("/v1/inventory/SCARF"))["available"] == 3  # a draft holds nothing
    d.get_by_role("button", name="Send the link").click()
    link = d.locator("#link-url")
    expect(link).to_have_value(re.compile(r"/d/dl_[A-Za-z0-9_-]+$"), timeout=WAIT_MS)
    assert d.locator("#whatsapp-share").get_attribute("href", timeout=WAIT_MS).startswith(
        "https://wa.me/?text=")
    look(desk, "02-link-sent")
    path = "/d/" + link.input_value().rsplit("/d/", 1)[1]

    # 2. The buyer opens the link on a phone, continues to the checkout and pays by card.
    buyer = browser.open(console_server, viewport=PHONE)
    buyer.goto(path)
    p = buyer.page
    expect(p.locator("#grand-total")).to_contain_text("$55.00")
    look(buyer, "03-link-opened")
    p.get_by_role("button", name="Continue to checkout").click()
    place = p.get_by_role("button", name=re.compile(r"^Place order and pay"))
    expect(place).to_contain_text("$55.00", timeout=WAIT_MS)
    look(buyer, "04-review")
    with httpx.Client(base_url=console_server, headers=shop.api_headers) as api:
        assert ok(api.get("/v1/inventory/SCARF"))["available"] == 1  # held for the buyer
    place.click()
    p.get_by_role("heading", name="Sandbox test card page").wait_for(timeout=WAIT_MS)
    p.get_by_label("The payment succeeds").check()
    p.get_by_role("button", name="Pay $55.00").click()
    p.wait_for_url(re.compile(r".*/o/oat_[A-Za-z0-9_-]+$"), timeout=WAIT_MS)
    look(buyer, "05-paid")

    with httpx.Client(base_url=console_server, headers=shop.api_headers) as api:
        [order] = ok(api.get("/v1/orders"))["data"]
        [draft] = ok(api.get("/v1/draft-orders"))["data"]
    assert (order["status"], order["total"]) == ("paid", 5500)
    assert draft["status"] == "completed" and draft["order_id"] == order["id"]

    # 3. The merchant's draft page leads to the order.
    desk.goto(f"/console/drafts/{draft['id']}")
    expect(d.locator("#draft-status")).to_contain_text("Completed")
    d.get_by_role("link", name="See the order").click()
    expect(d.locator("h1")).to_contain_text(order["number"], timeout=WAIT_MS)
    look(desk, "06-the-order")
