"""The console's "Edit items" in Chromium against a real ``orderline serve`` process, on each
database: on a paid order, choose new quantities and a product to add, see the difference
before anything happens, confirm it; the buyer owes money, so the order page shows the open
payment request, and recording its payment by hand applies the change. A viewer is offered
no such action and is refused it; a form without the CSRF token is refused. axe runs on each
page, and every step is a screenshot (desktop and 375 px) in
``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.e2e.conftest import ok
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    PHONE,
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixtures console_server, shop, api)
    ConsoleLogin,
    ConsoleShop,
    console_api_fixture,
    console_client,
    console_login,
    console_server_fixture,
    new_product,
    opened,
    paid_order,
    toko_sari_fixture,
)

pytestmark = pytest.mark.slow


def test_edit_items_shows_the_difference_then_asks_the_buyer_and_applies_once_paid(
        shop: ConsoleShop, runtime: Runtime, console_server: str, browser: Browsing,
        api: httpx.Client) -> None:
    from playwright.sync_api import expect

    new_product(api, "Batik", ("KAIN", "Batik Kain M", 1250, 10),
                ("SELENDANG", "Selendang", 800, 5))
    order = paid_order(api, ("KAIN", 2), payment_method="bank_transfer", reference="bank-1")
    path = f"/console/orders/{order['id']}"

    page = opened(browser, console_server, shop.owner_login, path)
    p = page.page
    p.locator("summary", has_text="Edit items").click()
    p.get_by_label(re.compile(r"New quantity of Batik Kain M")).fill("3")
    p.get_by_label("Add a product: its SKU (optional)").fill("SELENDANG")
    p.get_by_label("How many to add").fill("1")
    with p.expect_navigation():
        p.get_by_role("button", name="Show the difference").click()
    expect(p.locator("h1")).to_have_text("Edit items: check the difference")
    expect(p.locator("main")).to_contain_text("The buyer owes")
    page.screenshot("preview-desktop")
    page.check_accessibility()
    assert ok(api.get("/v1/inventory/SELENDANG"))["reserved"] == 0  # nothing yet

    phone = opened(browser, console_server, shop.owner_login, path, phone=True)
    phone.page.locator("summary", has_text="Edit items").click()
    phone.page.get_by_label(re.compile(r"New quantity of Batik Kain M")).fill("1")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Show the difference").click()
    expect(phone.page.locator("main")).to_contain_text("given back to the buyer by hand")
    phone.screenshot("preview-phone")
    phone.check_accessibility()

    with p.expect_navigation():
        p.get_by_role("button", name="Ask the buyer to pay").click()
    expect(p.locator(".flash")).to_contain_text("The change waits for the buyer's payment")
    expect(p.locator(".payment-request")).to_contain_text("The buyer owes")
    page.screenshot("order-waiting")
    page.check_accessibility()
    assert ok(api.get("/v1/inventory/SELENDANG"))["reserved"] == 1

    # The phone's preview was made at the old version: confirming it names who changed it.
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Change the items").click()
    expect(phone.page.locator("h1")).to_have_text("Someone changed this order first")

    with p.expect_navigation():
        p.get_by_role("button", name="Payment for change 1 received by hand").click()
    expect(p.locator(".flash")).to_contain_text("The payment was recorded and the change")
    expect(p.locator(".order-lines")).to_contain_text("Selendang")
    page.screenshot("order-after")
    page.check_accessibility()
    after = ok(api.get(f"/v1/orders/{order['id']}"))
    assert after["total"] == 3 * 1250 + 800
    level = ok(api.get("/v1/inventory/SELENDANG"))
    assert (level["on_hand"], level["reserved"]) == (4, 0)


async def test_a_viewer_is_not_offered_edit_items_and_is_refused_it(
        shop: ConsoleShop, runtime: Runtime, console_server: str, api: httpx.Client) -> None:
    new_product(api, "Sarung", ("SARUNG", "Batik Sarung M", 1250, 5))
    order = paid_order(api, ("SARUNG", 2), payment_method="bank_transfer", reference="bank-1")
    path = f"/console/orders/{order['id']}"
    form = {"version": str(order["version"]), "line_sku": "SARUNG", "was_SARUNG": "2",
            "edit_SARUNG": "3"}
    viewer: ConsoleLogin = await console_login(runtime, shop.staff["viewer"])
    with console_client(console_server, viewer) as client:
        shown = client.get(path)
        assert shown.status_code == 200 and "Edit items" not in shown.text
        for action in ("edit-items/preview", "edit-items"):
            refused = client.post(f"{path}/{action}",
                                  data={**form, "csrf_token": viewer.csrf_token})
            assert refused.status_code == 403
    with console_client(console_server, shop.owner_login) as owner:
        owner.headers.pop("X-CSRF-Token")
        assert owner.post(f"{path}/edit-items/preview", data=form).status_code == 403
        assert owner.post(f"{path}/edit-items", data=form).status_code == 403
    assert ok(api.get("/v1/inventory/SARUNG"))["on_hand"] == 3
    assert ok(api.get(f"/v1/orders/{order['id']}/changes"))["items"] == []


def test_the_buyer_sees_the_change_on_the_order_page_and_pays_it_by_card(
        shop: ConsoleShop, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    new_product(api, "Tenun", ("TENUN", "Tenun Ikat", 2000, 6))
    placed = paid_order(api, ("TENUN", 1), payment_method="bank_transfer", reference="bank-2")
    waiting = ok(api.post(f"/v1/orders/{placed['id']}/changes", json={
        "change": [{"sku": "TENUN", "quantity": 2}]}), 201)
    assert waiting["status"] == "awaiting_payment"
    link = f"/o/{placed['access_token']}"

    phone = browser.open(console_server, viewport=PHONE)
    phone.goto(link)
    expect(phone.page.locator(".order-change")).to_contain_text("Your order was changed")
    phone.screenshot("order-page-phone")
    phone.check_accessibility()

    page = browser.open(console_server)
    page.goto(link)
    page.screenshot("order-page-desktop")
    page.check_accessibility()
    with page.page.expect_navigation():
        page.page.get_by_role("button", name=re.compile("by card")).click()
    expect(page.page.locator(".flash")).to_contain_text("your payment for the change")
    expect(page.page.locator(".order-change")).to_have_count(0)
    page.screenshot("order-page-paid")
    after = ok(api.get(f"/v1/orders/{placed['id']}"))
    assert (after["total"], after["lines"][0]["quantity"]) == (4000, 2)
    change = ok(api.get(f"/v1/orders/{placed['id']}/changes/{waiting['id']}"))
    assert (change["status"], change["payment_request"]["paid_by"]) == ("applied", "card")
