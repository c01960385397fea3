"""The journey "ship in two parts" in Chromium against a real ``orderline serve`` process, on
each database: a paid order of three units leaves in two parcels from two locations through
the order page's form, the first parcel is marked delivered, and the page lists both with
their tracking. axe runs on the page (desktop and 375 px); each step is a screenshot in
``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import ok
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    Browsing,
    browser_fixture,
)
from tests.support.console import (  # noqa: F401 (the fixtures console_server, shop, api)
    ConsoleShop,
    console_api_fixture,
    console_server_fixture,
    new_product,
    opened,
    paid_order,
    toko_sari_fixture,
)

pytestmark = pytest.mark.slow


def test_an_order_ships_in_two_parts_from_the_order_page(
        shop: ConsoleShop, console_server: str, browser: Browsing, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    new_product(api, "Batik", ("BATIK", "Batik M", 1250, 10))
    ok(api.post("/v1/locations", json={"code": "north", "name": "North store"}), 201)
    ok(api.post("/v1/inventory/adjustments", json={
        "sku": "BATIK", "location": "north", "delta": 5, "reason": "receipt"}))
    order = paid_order(api, ("BATIK", 3))

    page = opened(browser, console_server, shop.owner_login, f"/console/orders/{order['id']}")
    p = page.page

    # Part one: two units from the North store.
    p.get_by_text("Ship some units").click()
    p.get_by_label("BATIK (3 left to ship)").fill("2")
    p.get_by_label("Ship from").select_option("north")
    p.locator("#part-carrier").fill("JNE")
    p.locator("#part-tracking").fill("JNE-001")
    p.locator("#part-url").fill("https://track.example/JNE-001")
    page.screenshot("part-one-filled")
    with p.expect_navigation():
        p.get_by_role("button", name="Ship these units").click()
    expect(p.locator(".flash")).to_contain_text("The parcel was shipped")
    expect(p.locator(".status").first).to_contain_text("Partly shipped")
    page.screenshot("part-one-shipped")
    page.check_accessibility()

    # Part two: the last unit, from where it was sold (the form stays open while units
    # wait).
    p.get_by_label("BATIK (1 left to ship)").fill("1")
    p.locator("#part-carrier").fill("SiCepat")
    p.locator("#part-tracking").fill("SC-002")
    with p.expect_navigation():
        p.get_by_role("button", name="Ship these units").click()
    expect(p.locator(".status").first).to_contain_text("Shipped")
    parcels = p.locator(".order-shipments li.shipment")
    expect(parcels).to_have_count(2)
    expect(parcels.nth(0)).to_contain_text("JNE-001")
    expect(parcels.nth(1)).to_contain_text("SC-002")
    expect(p.get_by_text("Ship some units")).to_have_count(0)

    with p.expect_navigation():
        p.get_by_role("button", name="Mark parcel 1 delivered").click()
    expect(p.locator(".flash")).to_contain_text("The parcel was marked delivered.")
    expect(p.get_by_role("button", name="Mark parcel 1 delivered")).to_have_count(0)
    page.screenshot("two-parts-shipped")
    page.check_accessibility()

    phone = opened(browser, console_server, shop.owner_login,
                   f"/console/orders/{order['id']}", phone=True)
    expect(phone.page.locator(".order-shipments")).to_be_visible()
    phone.screenshot("two-parts-phone")
    phone.check_accessibility()

    shipped = ok(api.get(f"/v1/orders/{order['id']}/shipments"))["data"]
    assert [(s["number"], s["status"], s["location"]) for s in shipped] == [
        (1, "delivered", "north"), (2, "shipped", None)]
    stock = ok(api.get("/v1/inventory/BATIK"))
    assert {loc["location"]: loc["on_hand"] for loc in stock["locations"]} == {
        "main": 9, "north": 3}
