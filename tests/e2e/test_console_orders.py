"""The order pages' journeys in Chromium against a real ``orderline serve`` process, on each
database: a new order appears live in a second browser; an order typed in by hand is marked
paid, shipped with tracking and has a line refunded with restock; a stale version shows who
changed the order; a viewer sees no action and is refused one; another business's staff get
the 404 page. axe runs on every page, and every step is a screenshot (desktop and 375 px) in
``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixture console_server)
    ConsoleLogin,
    ConsoleShop,
    console_client,
    console_login,
    console_server_fixture,
    console_shop,
    opened,
)

pytestmark = pytest.mark.slow

WAIT_MS = 30_000  # a generous cap on waiting for a condition, never a duration that decides


@dataclass(frozen=True)
class Shops:
    shop: ConsoleShop
    operations: ConsoleLogin
    viewer: ConsoleLogin
    stranger: ConsoleShop  # another business, with its own owner


@pytest.fixture
async def shops(runtime: Runtime) -> Shops:
    shop = await console_shop(runtime, name="Toko Sari", roles=("operations", "viewer"))
    return Shops(shop=shop, operations=await console_login(runtime, shop.staff["operations"]),
                 viewer=await console_login(runtime, shop.staff["viewer"]),
                 stranger=await console_shop(runtime, name="Other shop"))


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def api(shops: Shops, console_server: str) -> Iterator[httpx.Client]:
    """The business's API (its first key) on the server the browser uses."""
    with httpx.Client(base_url=console_server, headers=shops.shop.api_headers) as client:
        yield client


def stock(api: httpx.Client, sku: str, on_hand: int = 10, price: int = 1250) -> None:
    ok(api.post("/v1/products", json={"name": f"Batik {sku.title()}", "variants": [
        {"sku": sku, "name": f"Batik {sku.title()} M", "price": price,
         "initial_stock": on_hand}]}), 201)


def paid_order(api: httpx.Client, sku: str) -> dict[str, Any]:
    order = ok(api.post("/v1/orders", json={
        "customer": {"name": "Ada Buyer", "phone": "+15550100"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": sku, "quantity": 2}]}), 201)
    return dict(ok(api.patch(f"/v1/orders/{order['id']}/payment", json={"reference": "p-1"})))


def on_hand(api: httpx.Client, sku: str) -> int:
    return int(ok(api.get(f"/v1/inventory/{sku}"))["on_hand"])


def test_a_new_order_appears_live_in_a_second_browser(
        shops: Shops, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    stock(api, "KAIN")
    earlier = paid_order(api, "KAIN")
    desk = opened(browser, console_server, shops.shop.owner_login, "/console/orders")
    phone = opened(browser, console_server, shops.operations, "/console/orders", phone=True)
    for page in (desk, phone):
        expect(page.page.locator("[data-live=open]")).to_have_count(1, timeout=WAIT_MS)
        expect(page.page.get_by_role("link", name=earlier["number"])).to_be_visible()
    desk.screenshot("list-desktop")
    phone.screenshot("list-phone")
    desk.check_accessibility()

    placed = ok(api.post("/v1/orders", json={
        "customer": {"name": "Live Buyer", "phone": "+15550199"}, "channel": "web",
        "payment_method": "card", "lines": [{"sku": "KAIN", "quantity": 1}]}), 201)

    for page in (desk, phone):
        row = page.page.locator(f"tr[data-order-id='{placed['id']}']")
        expect(row).to_be_visible(timeout=WAIT_MS)
        expect(row).to_contain_text("Live Buyer")
        first = page.page.locator("#order-rows tr").first
        expect(first).to_have_attribute("data-order-id", placed["id"])
        expect(page.page.locator(f"tr[data-order-id='{placed['id']}']")).to_have_count(1)
    desk.screenshot("list-desktop-live")
    phone.screenshot("list-phone-live")
    phone.check_accessibility()

    # Search by the customer's phone narrows the list (htmx active search, no reload).
    desk.page.get_by_label("Search by number, customer or phone").fill("0199")
    expect(desk.page.locator("#order-rows tr")).to_have_count(1, timeout=WAIT_MS)
    expect(desk.page.locator("#order-rows")).to_contain_text(placed["number"])
    desk.screenshot("list-searched")


def test_an_order_typed_in_by_hand_is_paid_shipped_and_a_line_refunded_with_restock(
        shops: Shops, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    stock(api, "SARUNG", on_hand=6)
    ok(api.post("/v1/payment-methods", json={
        "code": "bca", "name": "BCA transfer", "kind": "bank_transfer", "currency": "USD",
        "account_name": "Toko Sari", "account_number": "123 456 7890"}), 201)
    page = opened(browser, console_server, shops.shop.owner_login, "/console/orders/new")
    p = page.page
    page.screenshot("new-order-empty")
    page.check_accessibility()

    # Nothing filled in: the problems are said at the top and next to their fields.
    p.get_by_role("button", name="Create the order").click()
    expect(p.locator(".error-summary")).to_be_visible(timeout=WAIT_MS)
    expect(p.locator("#customer_name-error")).to_have_text("Enter the customer's name.")
    page.screenshot("new-order-errors")
    page.check_accessibility()

    p.get_by_label("Name", exact=True).fill("Sari Wulandari")
    p.get_by_label("Phone (with country code)").fill("+628123456789")
    p.get_by_label("Find a product by name or SKU").fill("sarung")
    add = p.get_by_role("button", name="Add SARUNG")
    expect(add).to_be_visible(timeout=WAIT_MS)
    expect(p.locator("#sku-results")).to_contain_text("6 available")
    page.screenshot("new-order-availability")
    expect(p.locator("input.line-sku")).to_have_count(1)  # one line to start, not five
    expect(p.get_by_label("Where the sale came from")).to_have_value("whatsapp")
    add.click()
    expect(p.locator("#sku_0")).to_have_value("SARUNG")
    p.locator("#quantity_0").fill("2")
    # "Add a line" (htmx, no reload) gives a second row, focused; left empty, it is ignored.
    p.get_by_role("button", name="Add a line").click()
    expect(p.locator("#sku_1")).to_be_focused(timeout=WAIT_MS)
    expect(p.locator("#sku_0")).to_have_value("SARUNG")
    p.get_by_label("BCA transfer").check()
    p.get_by_label("Street address").fill("Jl. Malioboro 12")
    p.get_by_label("Town or city").fill("Yogyakarta")
    p.get_by_label("Postal code").fill("55271")
    p.get_by_label("Country (two letters)").fill("ID")
    page.screenshot("new-order-filled")
    with p.expect_navigation():
        p.get_by_role("button", name="Create the order").click()
    expect(p.locator(".flash")).to_contain_text("The order was created.")
    number = p.locator("h1").inner_text().split()[-1]
    assert on_hand(api, "SARUNG") == 6  # held, not sold, until it is paid
    page.screenshot("order-created")
    page.check_accessibility()

    p.get_by_label("Where you saw the money").fill("BCA app, 16:40")
    with p.expect_navigation():
        p.get_by_role("button", name="Mark as paid").click()
    expect(p.locator(".flash")).to_contain_text("the order is paid")
    assert on_hand(api, "SARUNG") == 4

    p.get_by_label("Carrier").fill("JNE")
    p.get_by_label("Tracking number").fill("JNE0042")
    p.get_by_label("Tracking link (optional)").fill("https://track.example/JNE0042")
    with p.expect_navigation():
        p.get_by_role("button", name="Ship", exact=True).click()
    expect(p.locator("#tracking")).to_contain_text("JNE: JNE0042")
    page.screenshot("order-shipped")
    # The packing slip downloads from the page; no invoice yet (the worker has not run).
    expect(p.locator(".order-documents")).to_contain_text("No invoice yet")
    with p.expect_download() as slip:
        p.get_by_role("link", name="Packing slip (PDF)").click()
    assert slip.value.suggested_filename == f"packing-slip-{number}.pdf"

    p.locator("summary", has_text="Refund").click()
    p.get_by_label(re.compile(r"SARUNG\), 2 left to refund")).fill("1")
    p.get_by_label("Reason").last.fill("one was torn")
    refund_form = p.locator("form[action$='/refund']")
    with p.expect_navigation():
        refund_form.get_by_role("button", name="Refund").click()
    expect(p.locator(".flash")).to_contain_text("The refund was recorded.")
    expect(p.locator(".timeline")).to_contain_text("Refunded")
    expect(p.locator(".timeline")).to_contain_text("by you")
    assert on_hand(api, "SARUNG") == 5  # the refunded unit is back on hand
    expect(p.locator("table").first).to_contain_text("1 refunded")
    page.screenshot("order-refunded")
    page.check_accessibility()

    small = opened(browser, console_server, shops.shop.owner_login, p.url.split("?")[0]
                   .removeprefix(console_server), phone=True)
    expect(small.page.locator("h1")).to_contain_text(number)
    small.screenshot("order-phone")
    small.check_accessibility()
    small.goto("/console/orders/new")
    small.page.get_by_label("Find a product by name or SKU").fill("sar")
    expect(small.page.get_by_role("button", name="Add SARUNG")).to_be_visible(timeout=WAIT_MS)
    small.screenshot("new-order-phone")
    small.check_accessibility()


def test_a_stale_version_says_who_changed_the_order_and_offers_a_reload(
        shops: Shops, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    stock(api, "SELENDANG")
    order = paid_order(api, "SELENDANG")
    page = opened(browser, console_server, shops.shop.owner_login,
                  f"/console/orders/{order['id']}")
    p = page.page
    ok(api.patch(f"/v1/orders/{order['id']}/shipping",
                 json={"carrier": "DHL", "tracking_number": "D-77"}))  # after the page loaded

    p.locator("summary", has_text="Cancel the order").click()
    p.get_by_label("In your words (kept in the history)").fill("buyer changed their mind")
    with p.expect_navigation():
        p.locator("form[action$='/cancel']").get_by_role("button").click()
    expect(p.locator("h1")).to_have_text("Someone changed this order first")
    expect(p.locator(".conflict-who")).to_contain_text("api_key:")
    expect(p.locator(".conflict-what")).to_have_text("Shipped with tracking")
    page.screenshot("conflict")
    page.check_accessibility()
    assert ok(api.get(f"/v1/orders/{order['id']}"))["status"] == "shipped"

    with p.expect_navigation():
        p.get_by_role("button", name="Reload the order").click()
    expect(p.locator("#tracking")).to_contain_text("DHL: D-77")
    page.screenshot("reloaded")


def test_a_viewer_sees_no_action_and_another_business_gets_404(
        shops: Shops, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    stock(api, "BATIK")
    order = paid_order(api, "BATIK")
    path = f"/console/orders/{order['id']}"

    viewer = opened(browser, console_server, shops.viewer, path, phone=True)
    expect(viewer.page.locator("h1")).to_contain_text(order["number"])
    expect(viewer.page.locator("form[action^='/console/orders/']")).to_have_count(0)
    expect(viewer.page.get_by_role("heading", name="Actions")).to_have_count(0)
    viewer.screenshot("viewer-phone")
    viewer.check_accessibility()
    with console_client(console_server, shops.viewer) as forced:
        answer = forced.post(f"{path}/ship", data={
            "csrf_token": shops.viewer.csrf_token, "version": str(order["version"]),
            "carrier": "JNE", "tracking_number": "X1"})
        assert answer.status_code == 403
    assert ok(api.get(f"/v1/orders/{order['id']}"))["status"] == "paid"

    stranger = opened(browser, console_server, shops.stranger.owner_login, path, status=404)
    stranger.screenshot("another-business-404")
    stranger.check_accessibility()
